"""What every icount driver shares: argument parsing, tracing setup and the measured loop.

A driver is run as ``python benchmarks/icount/<workload>.py MODE CALLS``: it builds
the workload for MODE (imports, setup, a warm-up of ``warmup`` calls), then makes
CALLS measured calls and prints one JSON line (mode, calls, spans exported during
the measured calls, spans of our instrumentation). ``run.py`` runs each driver
under callgrind twice, with CALLS = N and CALLS = 0, and divides the difference by
N: everything but the measured calls cancels out.

When ``ICOUNT_HELPER`` names the compiled ``_client_requests.c``, the measured loop
is bracketed by callgrind client requests (valgrind then runs with
``--instr-atstart=no``, so imports and warm-up are not even instrumented); without
it, the whole process is counted and the subtraction alone isolates the loop.

The drivers import ``instrumentors`` from wherever ``PYTHONPATH`` points, so the
same driver measures any tree that has the public API used here.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from http.server import ThreadingHTTPServer
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(BENCHMARKS)
# The workloads of the timing benchmarks (``benchmarks/*.py``) and the test fakes.
for path in (BENCHMARKS, REPO):
    if path not in sys.path:
        sys.path.append(path)


class Discard(SpanExporter):
    """Counts spans and drops them: no heap growing with the calls, nothing to clear."""

    def __init__(self) -> None:
        self.count = 0
        self.ours = 0
        self.last: dict[str, ReadableSpan] = {}  # by name, kept only while capturing
        self.capturing = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        for span in spans:
            scope = span.instrumentation_scope
            if scope is not None and scope.name.startswith("instrumentors"):
                self.ours += 1
            if self.capturing:
                self.last[span.name] = span
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def tracing() -> tuple[TracerProvider, Discard]:
    """A global SDK provider exporting through a SimpleSpanProcessor to ``Discard``."""
    exporter = Discard()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider, exporter


def attributes_of(exporter: Discard, call: Callable[[], object]) -> dict[str, dict[str, Any]]:
    """The attributes of each span ``call`` exports, by span name (for the bare references)."""
    exporter.capturing = True
    try:
        call()
    finally:
        exporter.capturing = False
    found = {name: dict(span.attributes or {}) for name, span in exporter.last.items()}
    exporter.last.clear()
    return found


def attributes_of_one(exporter: Discard, call: Callable[[], object], name: str) -> dict[str, Any]:
    """The attributes of the one span ``call`` exports, which must be named ``name``."""
    before = exporter.count
    captured = attributes_of(exporter, call)
    spans = exporter.count - before
    if set(captured) != {name} or spans != 1:
        raise SystemExit(f"expected our one span {name!r} per call, got {spans}: {captured}")
    return captured[name]


def check_spans(mode: str, fn: Callable[[], object], exporter: Discard, expected: int) -> None:
    """One call of ``fn`` (outside the count) must export ``expected`` spans."""
    before = exporter.count
    fn()
    emitted = exporter.count - before
    if emitted != expected:
        raise SystemExit(f"{mode}: {emitted} span(s) per call, expected {expected}")


def parse_args(modes: Sequence[str]) -> tuple[str, int]:
    """``MODE CALLS`` from the command line."""
    if len(sys.argv) != 3 or sys.argv[1] not in modes:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(modes)}}} CALLS")
    return sys.argv[1], int(sys.argv[2])


class _Requests:
    """Callgrind's start/stop requests through the compiled helper, or no-ops."""

    def __init__(self) -> None:
        path = os.environ.get("ICOUNT_HELPER")
        lib = ctypes.CDLL(path) if path else None
        self.start: Callable[[], object] = lib.icount_start if lib else _nothing
        self.stop: Callable[[], object] = lib.icount_stop if lib else _nothing


def _nothing() -> None:
    return None


def serve_quietly(fake: Any, handler: type) -> Any:
    """Start one of the fake API servers of ``tests/fakes`` in a daemon thread, its accept
    loop blocking without a poll timeout: an idle wait then costs no instructions (a timed
    poll would add counts that depend on how long the run takes). Never shut down."""
    bound = type("_BoundHandler", (handler,), {"fake": fake})
    fake._httpd = httpd = ThreadingHTTPServer((fake.host, 0), bound)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(None,), daemon=True).start()
    return fake


def settle() -> None:
    """Wait for our package's threads (``instrument()`` loads the price table), then collect.

    That thread runs for seconds under valgrind: left running, its instructions land in
    the measured loop, more or fewer from run to run. The collection then starts every
    run from the same garbage collector state (how far each generation is from its next
    collection no longer depends on how the thread's allocations fell).
    """
    for thread in threading.enumerate():
        if thread.name.startswith("instrumentors") and thread is not threading.current_thread():
            thread.join()
    gc.collect()


def _report(mode: str, calls: int, exporter: Discard, before: tuple[int, int]) -> None:
    spans, ours = exporter.count - before[0], exporter.ours - before[1]
    print(json.dumps({"mode": mode, "calls": calls, "spans": spans, "ours": ours}))


def measure(
    mode: str, fn: Callable[[], object], calls: int, warmup: int, exporter: Discard
) -> None:
    """``warmup`` calls, then ``calls`` measured calls (the only ones counted with the helper)."""
    requests = _Requests()
    for _ in range(warmup):
        fn()
    settle()
    before = (exporter.count, exporter.ours)
    requests.start()
    for _ in range(calls):
        fn()
    requests.stop()
    _report(mode, calls, exporter, before)


async def measure_async(
    mode: str, fn: Callable[[], Awaitable[object]], calls: int, warmup: int, exporter: Discard
) -> None:
    """``measure`` for a coroutine function, awaited in the running event loop."""
    requests = _Requests()
    for _ in range(warmup):
        await fn()
    settle()
    before = (exporter.count, exporter.ours)
    requests.start()
    for _ in range(calls):
        await fn()
    requests.stop()
    _report(mode, calls, exporter, before)
