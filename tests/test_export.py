"""The tree view: buffering per trace, rendering, bounds."""

from __future__ import annotations

import io
import os
import select
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
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


# --- values from the network are shown escaped ----------------------------------


def test_control_characters_cannot_inject_lines() -> None:
    out = io.StringIO()
    tracer = make(out).get_tracer("t")
    hostile = "sess-1\n└─ execute_tool fake  1.0 ms\x1b[2J\u202e"
    with tracer.start_as_current_span("invoke_agent\nINJECTED root") as root:
        root.set_attribute("agent.session_id", hostile)
        with tracer.start_as_current_span("execute_tool evil\r\nX") as tool:
            tool.add_event("retry.attempted", {"error.type": "Boom\nline"})
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # the header, the root, the tool: nothing injected
    assert lines[1].startswith("└─ invoke_agent\\nINJECTED root")
    assert "session=sess-1\\n└─ execute_tool fake  1.0 ms\\x1b[2J\\u202e" in lines[1]
    assert "execute_tool evil\\r\\nX" in lines[2] and "type=Boom\\nline" in lines[2]


def test_long_values_are_cut() -> None:
    assert export.shown("x" * 10_000) == "x" * export.MAX_VALUE_SHOWN + "…"
    assert export.shown("plain text, ünïcode") == "plain text, ünïcode"
    assert export.shown(3) == "3"


# --- output never blocks the agent ------------------------------------------------


@pytest.fixture
def unread_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[int, Callable[[], None]]]:
    """Makes sys.stderr a pipe, in the test's call phase (pytest's capture resets it per
    phase); the test gets the read end and reads it only when it wants."""
    read_fd, write_fd = os.pipe()
    stream = open(write_fd, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    yield read_fd, lambda: monkeypatch.setattr(sys, "stderr", stream)
    os.close(read_fd)  # a writer still blocked on the full pipe gets EPIPE and moves on
    stream.close()
    os.close(write_fd)


def export_traces(exporter: TreeSpanExporter, count: int) -> float:
    """End ``count`` one-span traces; the slowest span end, in seconds. Fails, rather than
    hangs, when the exporter blocks (the work runs in a thread the test can give up on)."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    times: list[float] = []

    def work() -> None:
        for i in range(count):
            start = time.perf_counter()
            tracer.start_span(f"execute_tool t{i}", attributes={"agent.session_id": "s" * 99}).end()
            times.append(time.perf_counter() - start)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), f"blocked writing the tree view after {len(times)} traces"
    return max(times)


def drain(fd: int, into: bytearray, stop: threading.Event) -> None:
    """Read ``fd`` until ``stop`` is set and nothing is left to read."""
    while True:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            into.extend(os.read(fd, 65536))
        elif stop.is_set():
            return


def test_a_full_stderr_pipe_drops_and_counts_lines_instead_of_blocking(
    unread_stderr: tuple[int, Callable[[], None]],
) -> None:
    unread_stderr[1]()
    exporter = TreeSpanExporter()
    slowest = export_traces(exporter, 3_000)  # about 600 KB of trees for a 64 KB pipe
    assert slowest < 0.5
    assert exporter.dropped_lines > 0
    start = time.perf_counter()
    exporter.close(timeout=0.3)  # nobody reads: gives up, does not hang
    assert time.perf_counter() - start < 1.0


def test_dropped_lines_are_reported_once_at_the_end(
    unread_stderr: tuple[int, Callable[[], None]],
) -> None:
    read_fd, redirect = unread_stderr
    redirect()
    exporter = TreeSpanExporter()
    export_traces(exporter, 3_000)
    dropped = exporter.dropped_lines
    assert dropped > 0
    received = bytearray()
    stop = threading.Event()
    reader = threading.Thread(target=drain, args=(read_fd, received, stop))
    reader.start()  # the reader wakes up late: what was queued still gets through
    try:
        exporter.close(timeout=10)  # returns once everything is in the pipe
    finally:
        stop.set()
        reader.join()
    text = received.decode()
    assert text.count("trace ") >= 1
    assert text.rstrip().splitlines()[-1] == (
        f"(instrumentors: the tree view dropped {dropped} lines: its output was not being read)"
    )
    assert text.count("the tree view dropped") == 1
    exporter.close(timeout=1)  # idempotent: no second report
    assert exporter.dropped_lines == dropped


def test_a_forked_child_does_not_print_the_parents_buffered_traces() -> None:
    out = io.StringIO()
    exporter = TreeSpanExporter(out)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    root = tracer.start_span("root")
    tracer.start_span("child", context=set_span_in_context(root)).end()  # buffered
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: flush what it holds, report it, leave at once
        exporter.force_flush()
        os.write(write_fd, out.getvalue().encode() or b"<nothing>")
        os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    with os.fdopen(read_fd, "rb") as child_out:
        assert child_out.read() == b"<nothing>"
    root.end()
    assert "child" in out.getvalue()  # the parent still prints its own
