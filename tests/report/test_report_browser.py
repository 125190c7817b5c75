"""The HTML report in a real headless Chromium: bars, nesting, a click, attributes, 5,000 spans.

Runs in ``nox -s browser`` (which installs Debian's ``chromium``), where
``AGENT_INSTRUMENTORS_BROWSER=1``; skipped elsewhere, like the e2e suite. Screenshots
and measurements go to ``AGENT_INSTRUMENTORS_ARTIFACTS`` (default ``build/test-artifacts``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import instrumentors
from instrumentors.report import write_report
from tests._examples import ROOT, run_example
from tests.report._chromium import Chromium, Page, executable

BROWSER_ENV = "AGENT_INSTRUMENTORS_BROWSER"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        os.environ.get(BROWSER_ENV) != "1",
        reason=f"headless Chromium: set {BROWSER_ENV}=1 or run `nox -s browser`",
    ),
]
ARTIFACTS = Path(os.environ.get("AGENT_INSTRUMENTORS_ARTIFACTS", ROOT / "build" / "test-artifacts"))
OPEN_BUDGET_S = 2.0
SIZE_BUDGET = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    binary = executable()
    assert binary, "Debian's chromium is not installed (nox -s browser installs it)"
    browser = Chromium(binary)
    yield browser
    browser.close()


@pytest.fixture
def page(chromium: Chromium) -> Iterator[Page]:
    tab = chromium.page()
    yield tab
    tab.close()


@pytest.fixture(scope="module")
def openai_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of examples/openai_agent.py, written at exit by AGENT_INSTRUMENTORS_REPORT."""
    target = tmp_path_factory.mktemp("report") / "openai-agent.html"
    run_example("openai_agent.py", env={"AGENT_INSTRUMENTORS_REPORT": str(target)})
    return target


ROWS = """[...document.querySelectorAll('.row')].map(r => {
  const bar = r.querySelector('.lane .bar').getBoundingClientRect();
  return {name: r.querySelector('.name').textContent, depth: Number(r.dataset.depth),
          indent: parseFloat(r.querySelector('.label').style.paddingLeft),
          left: bar.left, right: bar.right, width: bar.width,
          error: r.querySelector('.lane .bar').classList.contains('error'),
          colour: getComputedStyle(r.querySelector('.lane .bar')).backgroundColor,
          marks: r.querySelectorAll('.mark').length, hidden: r.offsetParent === null};
})"""


def _row_centre(page: Page, name: str, nth: int = 0) -> tuple[float, float]:
    box = page.evaluate(
        f"""(() => {{
      const row = [...document.querySelectorAll('.row')]
        .filter(r => r.querySelector('.name').textContent === {json.dumps(name)})[{nth}];
      row.scrollIntoView({{block: 'center'}});
      const b = row.querySelector('.name').getBoundingClientRect();
      return [b.x + b.width / 2, b.y + b.height / 2];
    }})()"""
    )
    return box[0], box[1]


def test_bars_nesting_click_and_attributes(page: Page, openai_report: Path) -> None:
    seconds = page.open(openai_report.as_uri())
    rows = page.evaluate(ROWS)
    assert page.evaluate("document.querySelectorAll('.lane .bar').length") == len(rows) >= 8
    names = [r["name"] for r in rows]
    assert names[0] == "openai-agent run"
    assert names.count("chat gpt-4o-mini") == 2 and names.count("execute_tool get_forecast") == 2
    # Nesting: each row is indented one level under its parent, and its bar lies inside the
    # parent's bar on the time axis.
    stack: list[dict] = []
    for row in rows:
        del stack[row["depth"] :]
        if stack:
            parent = stack[-1]
            assert row["depth"] == parent["depth"] + 1 and row["indent"] > parent["indent"]
            assert row["left"] >= parent["left"] - 1 and row["right"] <= parent["right"] + 2
        stack.append(row)
    assert rows[0]["width"] > 0.9 * max(r["width"] for r in rows)
    failed = [r for r in rows if r["error"]]
    assert [r["name"] for r in failed] == ["execute_tool get_forecast"]
    assert failed[0]["colour"] == "rgb(214, 58, 58)"  # errors in red
    assert {r["colour"] for r in rows if r["name"].startswith("chat")} == {"rgb(59, 111, 216)"}
    assert rows[0]["marks"] >= 1  # the retry event, as a mark on the run's bar

    page.click(*_row_centre(page, "execute_tool get_weather"))
    panel = page.evaluate(
        """(() => {
      const d = document.getElementById('detail');
      const attrs = {};
      d.querySelectorAll('h4 + table.kv tr').forEach(tr => {
        attrs[tr.cells[0].textContent] = tr.cells[1].textContent; });
      return {hidden: d.hidden, title: d.querySelector('h3').textContent, attrs,
              links: [...d.querySelectorAll('button.link')].map(b => b.textContent),
              selected: document.querySelector('.row.selected .name').textContent};
    })()"""
    )
    assert panel["hidden"] is False and panel["title"] == "execute_tool get_weather"
    assert panel["selected"] == "execute_tool get_weather"
    assert panel["attrs"]["gen_ai.tool.name"] == "get_weather"
    assert panel["attrs"]["gen_ai.tool.call.id"].startswith("call_")
    assert panel["attrs"]["request.parameters.hash"].startswith("sha256:")
    assert "request.parameters" not in panel["attrs"]  # content capture was off
    assert panel["links"] == ["chat gpt-4o-mini"]

    page.screenshot(ARTIFACTS / "report-openai-agent.png")
    # Following the link selects the chat span that asked for the call.
    link = page.evaluate(
        "(() => { const b = document.querySelector('#detail button.link').getBoundingClientRect();"
        " return [b.x + b.width / 2, b.y + b.height / 2]; })()"
    )
    page.click(*link)
    assert page.evaluate("document.querySelector('#detail h3').textContent") == "chat gpt-4o-mini"
    assert "gen_ai.usage.input_tokens" in page.evaluate(
        "document.getElementById('detail').innerText"
    )
    page.send("Input.dispatchKeyEvent", type="keyDown", key="Escape", code="Escape")
    assert page.evaluate("document.getElementById('detail').hidden") is True
    assert seconds < OPEN_BUDGET_S


def test_collapsing_a_span_hides_its_subtree(page: Page, openai_report: Path) -> None:
    page.open(openai_report.as_uri())
    twisty = page.evaluate(
        "(() => { const t = document.querySelector('.row .twisty');"
        " const b = t.getBoundingClientRect();"
        " return [b.x + b.width / 2, b.y + b.height / 2]; })()"
    )
    page.click(*twisty)
    rows = page.evaluate(ROWS)
    assert not rows[0]["hidden"] and all(r["hidden"] for r in rows[1:])
    assert (
        page.evaluate("document.getElementById('detail').hidden") is True
    )  # a toggle, not a click
    page.click(*twisty)
    assert not any(r["hidden"] for r in page.evaluate(ROWS))


def _big_run(exporter, steps: int = 500, tools: int = 8) -> list:
    """One trace of 5,001 real spans: an agent, steps, a chat span and tool calls per step."""
    from instrumentors.telemetry import ToolCallRequest, default

    core = default()

    @instrumentors.tool
    def lookup(index: int) -> int:
        return index * 2

    with instrumentors.session("load-session"), instrumentors.agent("load-agent"):
        for step in range(steps):
            with instrumentors.agent_step(f"step {step}"):
                chat = core.llm("openai", "gpt-4o-mini")
                chat.set_usage(input_tokens=100 + step, output_tokens=20)
                calls = [ToolCallRequest("lookup", f"call_{step}_{i}") for i in range(tools)]
                chat.register_tool_calls(calls)
                chat.stop()
                for call in calls:
                    with instrumentors.tool_call_id(call.id or ""):
                        lookup(step)
                if step % 50 == 0:
                    instrumentors.record_retry(attempt=1, delay_s=0.1, error_type="TimeoutError")
    return list(exporter.get_finished_spans())


def test_five_thousand_spans_open_in_under_two_seconds(
    page: Page, exporter, tmp_path: Path, request
) -> None:
    spans = _big_run(exporter)
    assert len(spans) >= 5_000
    target = write_report(spans, tmp_path / "big.html")
    size = target.stat().st_size
    seconds = page.open(target.as_uri())
    drawn = page.evaluate("document.querySelectorAll('.lane .bar').length")
    render_ms = float(page.evaluate("document.body.dataset.renderMs"))
    page.screenshot(ARTIFACTS / "report-5000-spans.png")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    line = (
        f"report with {len(spans)} spans: {size / 1e6:.2f} MB, opened in {seconds:.2f} s "
        f"(script {render_ms:.0f} ms) in headless Chromium"
    )
    (ARTIFACTS / "report-5000-spans.txt").write_text(line + "\n")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    assert drawn == len(spans)
    assert size < SIZE_BUDGET
    assert seconds < OPEN_BUDGET_S


def test_hostile_span_names_stay_text(page: Page, exporter, tmp_path: Path) -> None:
    hostile = (
        '<img src=x onerror="document.body.dataset.pwned=1">'
        "<script>document.body.dataset.pwned=2</script>"
    )
    with instrumentors.agent(hostile):
        pass
    target = write_report(list(exporter.get_finished_spans()), tmp_path / "hostile.html")
    page.open(target.as_uri())
    time.sleep(0.2)  # an injected image's onerror would have fired by now
    assert page.evaluate("document.body.dataset.pwned") is None
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert (
        page.evaluate("document.querySelector('.row .name').textContent")
        == f"invoke_agent {hostile}"
    )


def test_a_failed_span_shows_its_error_and_exception_event(
    page: Page, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The basic example's report, a failed tool clicked: docs/report.png is this screenshot."""
    target = tmp_path_factory.mktemp("basic") / "run.html"
    run_example("basic_agent.py", env={"AGENT_INSTRUMENTORS_REPORT": str(target)})
    page.open(target.as_uri(), width=1280, height=640)
    page.click(*_row_centre(page, "execute_tool get_forecast", nth=0))
    panel = page.evaluate("document.getElementById('detail').innerText")
    assert "ERROR" in panel and "TimeoutError" in panel
    assert "exception" in panel and "exception.type" in panel
    assert (
        page.evaluate("document.querySelector('.row.selected .lane .bar').className") == "bar error"
    )
    page.screenshot(ARTIFACTS / "report-basic-agent.png")
