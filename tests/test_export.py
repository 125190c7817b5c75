"""The tree view: buffering per trace, rendering, bounds."""

from __future__ import annotations

import io

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from instrumentors import export
from instrumentors.export import TreeSpanExporter


def make(out: io.StringIO) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(TreeSpanExporter(out)))
    return provider


def test_prints_a_tree_when_the_root_ends() -> None:
    out = io.StringIO()
    tracer = make(out).get_tracer("t")
    with tracer.start_as_current_span("invoke_agent weather"):
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attribute("gen_ai.usage.input_tokens", 12)
        with tracer.start_as_current_span("execute_tool get_weather") as tool:
            tool.add_event("retry.attempted", {"retry.attempt": 1})
            tool.set_attribute("gen_ai.tool.call.id", "call_1")
        assert out.getvalue() == ""  # nothing until the trace's root ends
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("trace ") and "(3 spans)" in lines[0]
    assert lines[1].startswith("└─ invoke_agent weather")
    assert lines[2].startswith("   ├─ chat gpt-4o") and "in=12" in lines[2]
    assert lines[3].startswith("   └─ execute_tool get_weather")
    assert "call=call_1" in lines[3] and "retry.attempted attempt=1" in lines[3]


def test_error_spans_show_status_and_type() -> None:
    out = io.StringIO()
    tracer = make(out).get_tracer("t")
    try:
        with tracer.start_as_current_span("execute_tool boom") as span:
            span.set_attribute("error.type", "ValueError")
            raise ValueError("x")
    except ValueError:
        pass
    assert "ERROR ValueError" in out.getvalue()


def test_remote_parent_counts_as_local_root() -> None:
    out = io.StringIO()
    tracer = make(out).get_tracer("t")
    remote = SpanContext(trace_id=1, span_id=2, is_remote=True, trace_flags=TraceFlags(1))
    with tracer.start_as_current_span(
        "tools/call get_weather", context=set_span_in_context(NonRecordingSpan(remote))
    ):
        pass
    assert "tools/call get_weather" in out.getvalue()


def test_orphans_flushed_at_shutdown_and_buffer_bounded(monkeypatch) -> None:
    monkeypatch.setattr(export, "MAX_TRACES", 3)
    out = io.StringIO()
    exporter = TreeSpanExporter(out)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    roots = [tracer.start_span(f"root-{i}") for i in range(5)]
    for i, root in enumerate(roots):
        tracer.start_span(f"child-{i}", context=set_span_in_context(root)).end()
    assert out.getvalue().count("trace ") == 2  # the two oldest pushed out by the cap
    provider.shutdown()
    assert out.getvalue().count("trace ") == 5
    assert exporter.export(()).name == "FAILURE"
