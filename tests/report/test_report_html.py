"""The HTML report's text: self-contained, the run's data in tree order, no content unless
captured."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from instrumentors import config
from instrumentors.report import render_report, write_report
from instrumentors.sli import Objective, SLIProcessor
from tests.report._runs import agent_run

SECRET = "hunter2-secret"


def page_data(html: str) -> dict:
    match = re.search(
        r'<script id="report-data" type="application/json">(.*?)</script>', html, re.DOTALL
    )
    assert match is not None
    return json.loads(match.group(1))


def spans_of(data: dict, trace: int = 0) -> list[dict]:
    fields = data["fields"]
    out = []
    for raw in data["traces"][trace]["spans"]:
        span = dict(zip(fields, raw, strict=True))
        pairs = span["attributes"]
        span["attributes"] = {data["keys"][pairs[i]]: pairs[i + 1] for i in range(0, len(pairs), 2)}
        out.append(span)
    return out


def test_self_contained_no_network(exporter) -> None:
    html = render_report(agent_run(exporter))
    assert html.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    # Nothing to fetch: no external script, stylesheet, image, font or import.
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html)
    assert not re.search(r"https?://", html)
    assert "@import" not in html and "url(" not in html
    assert "/*{{" not in html and "{{DATA}}" not in html


def test_traces_in_tree_order_with_times_relative_to_the_trace(exporter) -> None:
    spans = agent_run(exporter)
    data = page_data(render_report(spans))
    assert data["spanCount"] == len(spans) == 7 and data["errorCount"] == 1
    rows = spans_of(data)
    assert [(r["depth"], r["name"]) for r in rows] == [
        (0, "invoke_agent weather-agent"),
        (1, "chat gpt-4o-mini"),
        (1, "act"),
        (2, "execute_tool get_weather"),
        (1, "act"),
        (2, "execute_tool book_table"),
        (1, "embeddings text-embedding-3-small"),
    ]
    root, chat, _, weather, step, booking, _ = rows
    assert root["start"] == 0 and root["parent"] == ""
    assert weather["parent"] != "" and chat["kind"] == "client"
    assert 0 < weather["start"] < root["duration"] and weather["duration"] >= 2000  # µs
    assert booking["error"] == 1 and booking["attributes"]["error.type"] == "RuntimeError"
    (link,) = weather["links"]
    assert link[1] == chat["id"]
    (event,) = step["events"]
    assert event[0] == "retry.attempted" and event[1] > 0
    assert data["services"] == [spans[0].resource.attributes["service.name"]]


def test_sli_table_from_the_spans_with_the_minimum_calls_rule(exporter) -> None:
    data = page_data(render_report(agent_run(exporter)))
    sli = data["sli"]
    assert sli["headers"][:5] == ["operation", "name", "calls", "errors", "error rate"]
    rows = {(r[0], r[1]): r for r in sli["rows"]}
    booking = rows[("execute_tool", "book_table")]
    assert booking[2:5] == ["1", "1", "100%"]
    assert booking[sli["headers"].index("budget left")] == "n<20"
    assert ("chat", "gpt-4o-mini") in rows and ("embeddings", "text-embedding-3-small") in rows


def test_the_runs_own_sli_processor_is_used(exporter) -> None:
    spans = agent_run(exporter)
    sli = SLIProcessor(default=Objective(success_rate=0.5), min_calls=1)
    for span in spans:
        sli.on_end(span)
    data = page_data(render_report(spans, sli=sli))
    (booking,) = [r for r in data["sli"]["rows"] if r[1] == "book_table"]
    cells = dict(zip(data["sli"]["headers"], booking, strict=True))
    # The budget shows: 1 call is enough here.
    assert (cells["budget left"], cells["burn"]) == ("-100%", "2.00")


def _with_capture(monkeypatch: pytest.MonkeyPatch, exporter) -> list[ReadableSpan]:
    monkeypatch.setenv(config.CAPTURE_MESSAGE_CONTENT, "true")
    config.reload()
    from instrumentors import telemetry

    telemetry.reset_default()
    spans = agent_run(exporter, secret=SECRET)
    assert any(SECRET in json.dumps(dict(s.attributes)) for s in spans)  # captured on the spans
    return spans


def test_no_raw_content_unless_capture_was_on(exporter) -> None:
    spans = agent_run(exporter, secret=SECRET)
    html = render_report(spans)
    assert SECRET not in html
    assert page_data(html)["content"] is False


def test_captured_content_is_shown_only_when_capture_is_on(monkeypatch, exporter) -> None:
    spans = _with_capture(monkeypatch, exporter)
    shown = render_report(spans)  # capture on in this process: shown
    assert SECRET in shown and page_data(shown)["content"] is True
    hidden = render_report(spans, include_content=False)
    assert SECRET not in hidden
    data = page_data(hidden)
    (note,) = data["notes"]
    assert "content attributes" in note and "hidden" in note
    keys = set(data["keys"])
    assert not keys & {"gen_ai.input.messages", "request.parameters", "gen_ai.tool.call.arguments"}


def test_hostile_values_cannot_leave_the_data_element(exporter) -> None:
    spans = agent_run(exporter)
    hostile = '</script><script>alert(1)</script><!-- & "quoted"'
    span = spans[0]
    spans.append(
        ReadableSpan(
            name=hostile,
            context=span.context.__class__(span.context.trace_id, 0xABC, is_remote=False),
            parent=span.context,
            resource=span.resource,
            attributes={"tool.name": hostile},
            start_time=span.start_time,
            end_time=span.end_time,
        )
    )
    html = render_report(spans, title=hostile)
    assert html.count("</script>") == 2  # the data element's and the code's own
    assert "<script>alert(1)" not in html and "<!--" not in html
    assert "<title>&lt;/script&gt;" in html
    names = [s["name"] for s in spans_of(page_data(html))]
    assert hostile in names


def test_cost_attributes_reach_the_page(exporter) -> None:
    spans = agent_run(exporter)
    chat = next(s for s in spans if s.name.startswith("chat"))
    priced = ReadableSpan(
        name=chat.name,
        context=chat.context,
        parent=chat.parent,
        resource=chat.resource,
        attributes={
            **chat.attributes,
            "gen_ai.usage.cost.amount": 0.00042,
            "gen_ai.usage.cost.currency": "USD",
        },
        kind=chat.kind,
        start_time=chat.start_time,
        end_time=chat.end_time,
    )
    data = page_data(render_report([priced if s is chat else s for s in spans]))
    (row,) = [r for r in spans_of(data) if r["name"] == chat.name]
    assert row["attributes"]["gen_ai.usage.cost.amount"] == 0.00042


def test_write_report_replaces_the_file_whole(exporter, tmp_path: Path) -> None:
    target = tmp_path / "nested" / "run.html"
    path = write_report(agent_run(exporter), target)
    assert path == target and target.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["run.html"]  # no temporary left


def test_an_empty_run_still_writes_a_page(tmp_path: Path) -> None:
    data = page_data(render_report([]))
    assert data["traces"] == [] and data["sli"] is None
