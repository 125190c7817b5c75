"""One rule for a missing OTLP exporter: the tree view, and the command that installs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_setup import run_agent

INSTALL = "pip install 'agent-instrumentors[otlp]'"


@pytest.fixture
def no_otlp(tmp_path: Path) -> dict[str, str]:
    """An environment whose interpreter cannot import the OTLP exporters."""
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.startswith('opentelemetry.exporter.otlp'):\n"
        "            raise ImportError('blocked for the test')\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    return {"PYTHONPATH": str(tmp_path)}


@pytest.mark.parametrize(
    "env",
    [
        {"OTEL_TRACES_EXPORTER": "otlp"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
    ],
    ids=["OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_ENDPOINT"],
)
def test_missing_otlp_exporters_fall_back_to_the_tree_with_the_fix(
    no_otlp: dict[str, str], env: dict[str, str]
) -> None:
    result = run_agent({**no_otlp, **env})
    assert json.loads(result.stdout)["exporters"] == ["agent_tree"]
    assert "execute_tool get_weather" in result.stderr  # the trace was printed, not lost
    assert INSTALL in result.stderr
    assert result.stderr.count(INSTALL) == 1


def test_an_unknown_exporter_name_falls_back_without_an_otlp_hint() -> None:
    result = run_agent({"OTEL_TRACES_EXPORTER": "no_such_exporter"})
    assert json.loads(result.stdout)["exporters"] == ["agent_tree"]
    assert "no_such_exporter" in result.stderr and INSTALL not in result.stderr


def test_a_dead_backend_costs_one_line_and_a_bounded_exit() -> None:
    """``examples/basic_agent.py`` with an OTLP endpoint nobody listens on: before, ten
    retry warnings and a 23 s exit; now one line saying what was dropped and why."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_"))}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
        AGENT_INSTRUMENTORS_SHUTDOWN_TIMEOUT="1",
    )
    result = subprocess.run(
        [sys.executable, str(root / "examples" / "basic_agent.py")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "gave up waiting for the exporter after 1 s" in lines[0]
    assert "spans were dropped" in lines[0] and "Connection refused" in lines[0]
