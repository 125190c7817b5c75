"""OTLP JSON lines: what the agent_jsonl exporter writes reads back as the same spans."""

from __future__ import annotations

import base64
import json
from importlib.metadata import entry_points
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanKind, StatusCode

from instrumentors import config
from instrumentors.jsonl import JSONLinesSpanExporter
from instrumentors.report import FormatError, loads_line, read_jsonl
from instrumentors.report._otlp_json import encode_request
from tests.report._runs import agent_run

# One line as the OpenTelemetry Collector's file exporter writes it (OTLP/JSON mapping).
COLLECTOR_LINE = {
    "resourceSpans": [
        {
            "resource": {
                "attributes": [{"key": "service.name", "value": {"stringValue": "svc-a"}}]
            },
            "scopeSpans": [
                {
                    "scope": {"name": "io.opentelemetry.okhttp", "version": "1.0"},
                    "spans": [
                        {
                            "traceId": "5b8efff798038103d269b633813fc60c",
                            "spanId": "eee19b7ec3c1b174",
                            "parentSpanId": "eee19b7ec3c1b173",
                            "name": "GET /weather",
                            "kind": 3,
                            "startTimeUnixNano": "1544712660000000000",
                            "endTimeUnixNano": "1544712661000000000",
                            "attributes": [
                                {"key": "http.response.status_code", "value": {"intValue": "429"}},
                                {"key": "retry", "value": {"boolValue": True}},
                                {"key": "ratio", "value": {"doubleValue": 0.5}},
                                {
                                    "key": "tags",
                                    "value": {
                                        "arrayValue": {
                                            "values": [{"stringValue": "a"}, {"stringValue": "b"}]
                                        }
                                    },
                                },
                                {
                                    "key": "meta",
                                    "value": {
                                        "kvlistValue": {
                                            "values": [{"key": "k", "value": {"intValue": "1"}}]
                                        }
                                    },
                                },
                            ],
                            "events": [
                                {
                                    "timeUnixNano": "1544712660500000000",
                                    "name": "rate.limit.invoked",
                                    "attributes": [
                                        {"key": "retry.after_s", "value": {"doubleValue": 2.0}}
                                    ],
                                }
                            ],
                            "links": [
                                {
                                    "traceId": "5b8efff798038103d269b633813fc60c",
                                    "spanId": "eee19b7ec3c1b170",
                                }
                            ],
                            "status": {"code": 2, "message": "Too Many Requests"},
                        }
                    ],
                }
            ],
        }
    ]
}


def test_a_collector_file_line_reads_as_a_span() -> None:
    (span,) = loads_line(json.dumps(COLLECTOR_LINE))
    assert span.name == "GET /weather" and span.kind is SpanKind.CLIENT
    assert f"{span.context.trace_id:032x}" == "5b8efff798038103d269b633813fc60c"
    assert f"{span.parent.span_id:016x}" == "eee19b7ec3c1b173"
    assert span.resource.attributes["service.name"] == "svc-a"
    assert span.instrumentation_scope.name == "io.opentelemetry.okhttp"
    assert span.attributes["http.response.status_code"] == 429
    assert span.attributes["retry"] is True and span.attributes["ratio"] == 0.5
    assert span.attributes["tags"] == ("a", "b")
    assert json.loads(span.attributes["meta"]) == {"k": 1}
    assert span.end_time - span.start_time == 1_000_000_000
    (event,) = span.events
    assert event.name == "rate.limit.invoked" and event.attributes["retry.after_s"] == 2.0
    (link,) = span.links
    assert f"{link.context.span_id:016x}" == "eee19b7ec3c1b170"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "Too Many Requests"


def test_snake_case_enum_names_and_base64_ids_are_read_too() -> None:
    trace_id = bytes(range(16))
    raw = {
        "resource_spans": [
            {
                "scope_spans": [
                    {
                        "spans": [
                            {
                                "trace_id": base64.b64encode(trace_id).decode(),
                                "span_id": base64.b64encode(bytes(range(8))).decode(),
                                "name": "proto-json",
                                "kind": "SPAN_KIND_SERVER",
                                "start_time_unix_nano": 5,
                                "end_time_unix_nano": 9,
                                "status": {"code": "STATUS_CODE_OK"},
                            }
                        ]
                    }
                ]
            }
        ]
    }
    (span,) = loads_line(json.dumps(raw))
    assert span.context.trace_id == int.from_bytes(trace_id, "big")
    assert span.kind is SpanKind.SERVER and span.status.status_code is StatusCode.OK
    assert (span.start_time, span.end_time) == (5, 9)


def _same(a: ReadableSpan, b: ReadableSpan) -> None:
    assert (a.name, a.kind, a.start_time, a.end_time) == (b.name, b.kind, b.start_time, b.end_time)
    assert a.context.trace_id == b.context.trace_id and a.context.span_id == b.context.span_id
    assert (a.parent.span_id if a.parent else None) == (b.parent.span_id if b.parent else None)
    assert dict(a.attributes) == dict(b.attributes)
    assert [(e.name, dict(e.attributes), e.timestamp) for e in a.events] == [
        (e.name, dict(e.attributes), e.timestamp) for e in b.events
    ]
    assert [(x.context.span_id, dict(x.attributes)) for x in a.links] == [
        (x.context.span_id, dict(x.attributes)) for x in b.links
    ]
    assert a.status.status_code is b.status.status_code
    assert a.instrumentation_scope.name == b.instrumentation_scope.name


def test_round_trip_through_the_exporter_file(exporter, tmp_path: Path) -> None:
    spans = agent_run(exporter)
    path = tmp_path / "traces.jsonl"
    writer = JSONLinesSpanExporter(path)
    assert writer.export(spans[:3]) is SpanExportResult.SUCCESS
    assert writer.export(spans[3:]) is SpanExportResult.SUCCESS
    lines = path.read_text().splitlines()
    assert len(lines) == 2  # one ExportTraceServiceRequest per export call
    read = read_jsonl(path)
    assert read.bad_lines == []
    assert len(read.spans) == len(spans)
    for original, back in zip(spans, read.spans, strict=True):
        _same(original, back)
    # Numbers stay numbers, and 64-bit integers travel as strings, as OTLP/JSON says.
    first = json.loads(lines[0])["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert isinstance(first["startTimeUnixNano"], str) and len(first["traceId"]) == 32


def test_non_finite_doubles_and_bytes_stay_valid_json(exporter) -> None:
    spans = agent_run(exporter)
    span = spans[0]
    odd = ReadableSpan(
        name="odd",
        context=span.context,
        attributes={"nan": float("nan"), "inf": float("inf"), "big": 2**62},
        start_time=1,
        end_time=2,
    )
    line = json.dumps(encode_request([odd]), allow_nan=False)
    (back,) = loads_line(line)
    assert back.attributes["inf"] == float("inf") and back.attributes["big"] == 2**62
    assert back.attributes["nan"] != back.attributes["nan"]  # NaN


def test_bad_lines_are_listed_not_fatal(exporter, tmp_path: Path) -> None:
    spans = agent_run(exporter)
    path = tmp_path / "mixed.jsonl"
    JSONLinesSpanExporter(path).export(spans)
    with path.open("a") as stream:
        stream.write("not json\n\n{}\n")
        stream.write(
            json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]})
        )
    read = read_jsonl(path)
    assert len(read.spans) == len(spans)
    assert [number for number, _ in read.bad_lines] == [2, 4, 5]


def test_loads_line_raises_format_error() -> None:
    for text in ("[]", '{"resourceSpans": 3}', "{"):
        try:
            loads_line(text)
        except FormatError:
            continue
        raise AssertionError(f"{text!r} was accepted")


def test_exporter_failure_never_raises(tmp_path: Path, exporter, caplog) -> None:
    spans = agent_run(exporter)
    (tmp_path / "a-file").write_text("")
    writer = JSONLinesSpanExporter(tmp_path / "a-file" / "traces.jsonl")  # not a directory
    assert writer.export(spans) is SpanExportResult.FAILURE
    assert writer.export(spans) is SpanExportResult.FAILURE
    assert sum("could not write spans" in r.getMessage() for r in caplog.records) == 1
    writer.shutdown()
    assert writer.export(spans) is SpanExportResult.FAILURE


def test_entry_point_and_default_path(monkeypatch, tmp_path: Path) -> None:
    (ep,) = [
        e for e in entry_points(group="opentelemetry_traces_exporter") if e.name == "agent_jsonl"
    ]
    assert ep.load() is JSONLinesSpanExporter
    monkeypatch.setenv(config.JSONL, str(tmp_path / "chosen.jsonl"))
    config.reload()
    assert JSONLinesSpanExporter().path == tmp_path / "chosen.jsonl"
    monkeypatch.delenv(config.JSONL)
    config.reload()
    assert JSONLinesSpanExporter().path == Path("traces.jsonl")
