"""``setup(report=...)`` / ``AGENT_INSTRUMENTORS_REPORT`` and ``python -m instrumentors report``,
each in its own process as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.report.test_report_html import page_data, spans_of
from tests.report.test_report_otlp_json import COLLECTOR_LINE

AGENT = """
import os, sys
import instrumentors

handle = instrumentors.setup(service_name="report-test", {argument})

@instrumentors.tool
def lookup(city: str) -> str:
    return city.upper()

with instrumentors.agent("reporter"):
    lookup("paris")
{tail}
"""


def run(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_INSTR"))}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


def test_setup_report_writes_every_trace_at_exit(tmp_path: Path) -> None:
    target = tmp_path / "run.html"
    code = AGENT.format(
        argument=f"report={str(target)!r}",
        tail="assert not os.path.exists(" + repr(str(target)) + ")",
    )
    result = run(code, tmp_path)
    assert result.returncode == 0, result.stderr
    rows = spans_of(page_data(target.read_text()))
    assert [(r["depth"], r["name"]) for r in rows] == [
        (0, "invoke_agent reporter"),
        (1, "execute_tool lookup"),
    ]
    # The tree view on stderr says where the report went, before the SLI table.
    assert f"report: {target} (2 spans)" in result.stderr
    assert result.stderr.index("report: ") < result.stderr.index("SLIs")


def test_the_environment_variable_does_the_same(tmp_path: Path) -> None:
    result = run(
        AGENT.format(argument="", tail=""), tmp_path, AGENT_INSTRUMENTORS_REPORT="env.html"
    )
    assert result.returncode == 0, result.stderr
    data = page_data((tmp_path / "env.html").read_text())
    assert data["spanCount"] == 2 and data["services"] == ["report-test"]


def test_handle_shutdown_writes_it_once(tmp_path: Path) -> None:
    tail = (
        "handle.shutdown()\n"
        "first = os.path.getmtime('once.html')\n"
        "os.remove('once.html')\n"
        "handle.shutdown()\n"
        "assert not os.path.exists('once.html')\n"
    )
    result = run(AGENT.format(argument="report='once.html'", tail=tail), tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "once.html").exists()  # not rewritten by the exit hook


def test_a_forked_child_leaves_the_report_to_its_parent(tmp_path: Path) -> None:
    tail = (
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    lookup('child')\n"
        "    handle.shutdown()\n"
        "    os._exit(0 if not os.path.exists('forked.html') else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "assert os.waitstatus_to_exitcode(status) == 0\n"
    )
    result = run(AGENT.format(argument="report='forked.html'", tail=tail), tmp_path)
    assert result.returncode == 0, result.stderr
    assert page_data((tmp_path / "forked.html").read_text())["spanCount"] == 2


def test_cli_turns_agent_jsonl_output_into_a_report(tmp_path: Path) -> None:
    agent = run(
        AGENT.format(argument="", tail=""),
        tmp_path,
        OTEL_TRACES_EXPORTER="agent_jsonl",
        AGENT_INSTRUMENTORS_JSONL="out/traces.jsonl",
    )
    assert agent.returncode == 0, agent.stderr
    lines = (tmp_path / "out" / "traces.jsonl").read_text().splitlines()
    assert len(lines) >= 1
    cli = subprocess.run(
        [sys.executable, "-m", "instrumentors", "report", "out/traces.jsonl", "-o", "run.html"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.strip() == "wrote run.html (1 trace, 2 spans)"
    rows = spans_of(page_data((tmp_path / "run.html").read_text()))
    assert [r["name"] for r in rows] == ["invoke_agent reporter", "execute_tool lookup"]


def test_cli_reports_bad_input_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text("nope\n")
    missing = subprocess.run(
        [sys.executable, "-m", "instrumentors", "report", "absent.jsonl", "-o", "x.html"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert missing.returncode == 2 and "cannot read absent.jsonl" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "instrumentors", "report", "bad.jsonl", "-o", "x.html"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert bad.returncode == 0 and "bad.jsonl:1: skipped" in bad.stderr
    assert page_data((tmp_path / "x.html").read_text())["notes"] == [
        "1 lines of bad.jsonl were not OTLP JSON: skipped."
    ]


def test_cli_reads_standard_input(tmp_path: Path) -> None:
    cli = subprocess.run(
        [sys.executable, "-m", "instrumentors", "report", "-", "-o", "stdin.html", "--title", "CI"],
        input=json.dumps(COLLECTOR_LINE) + "\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    data = page_data((tmp_path / "stdin.html").read_text())
    assert data["title"] == "CI" and data["services"] == ["svc-a"]
