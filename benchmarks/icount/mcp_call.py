"""icount driver: one MCP ``ClientSession.call_tool`` (``mcp_overhead.py``'s workload).

The SDK's in-memory transport: client and server in this process's one event loop,
real JSON-RPC framing, a FastMCP server with one ``add`` tool; every call runs inside
``instrumentors.session`` (the baggage goes to the server in ``_meta`` in every mode).
mcp 2.x traces itself: its CLIENT span ``MCP send tools/call add`` and SERVER span
``tools/call add`` are there in every mode. Our layer adds one span per call, an
INTERNAL ``execute_tool add`` made current around the SDK call (the SDK's client span
nests under it), and on the server restores the trusted baggage and puts the session
ids on the SDK's server span (no span of ours there).

Modes: ``plain`` (uninstrumented), ``bare`` (a bare SDK span current around the
call, with the name, kind and attributes our span ends up with), ``ours``
(``MCPInstrumentor``)::

    python benchmarks/icount/mcp_call.py MODE CALLS

mcp 1.x (no SDK spans; our layer makes the server span and injects the context
itself) is not covered: the bare reference would need its own propagation and
server span. The driver stops with a message there.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from _icount import Discard, measure_async, parse_args, tracing
from mcp_overhead import V2, make_server, session_to
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan

import instrumentors
from instrumentors.mcp import MCPInstrumentor

MODES = ("plain", "bare", "ours")
SPAN = "execute_tool add"
SESSION = "bench-session"
ARGUMENTS = {"a": 1, "b": 2}


async def exported_by(
    exporter: Discard, call: Callable[[], Awaitable[object]]
) -> tuple[dict[str, ReadableSpan], int, int]:
    """The spans one ``call`` exports (by name), and how many: all, and of our scopes."""
    count, ours = exporter.count, exporter.ours
    exporter.capturing = True
    try:
        await call()
    finally:
        exporter.capturing = False
    found = dict(exporter.last)
    exporter.last.clear()
    return found, exporter.count - count, exporter.ours - ours


def check_bare(
    ours: dict[str, ReadableSpan],
    ours_all: int,
    bare: dict[str, ReadableSpan],
    bare_all: int,
    bare_ours: int,
) -> None:
    """The bare call emits what ours does: as many spans, same names, kinds and nesting."""
    if bare_all != ours_all or bare_ours != 0:
        sys.exit(
            f"bare emits {bare_all} span(s) per call ({bare_ours} under an instrumentors scope),"
            f" ours {ours_all}: the bare reference does not match"
        )

    def shape(spans: dict[str, ReadableSpan]) -> set[tuple[str, Any, str | None]]:
        ids = {span.context.span_id: name for name, span in spans.items() if span.context}
        return {
            (name, span.kind, ids.get(span.parent.span_id) if span.parent else None)
            for name, span in spans.items()
        }

    if shape(ours) != shape(bare):
        sys.exit(f"bare spans {sorted(shape(bare))} differ from ours {sorted(shape(ours))}")


async def run(mode: str, calls: int) -> None:
    _, exporter = tracing()
    tracer = trace.get_tracer("bench")
    app = make_server()

    def call(session: Any) -> Callable[[], Awaitable[object]]:
        return lambda: session.call_tool("add", ARGUMENTS)

    instrumentor = MCPInstrumentor()
    instrumentor.instrument()
    # Our span as it ends up (a connection of its own, outside the count).
    async with session_to(app) as session:
        for _ in range(3):  # first-call paths (output schema, caches)
            await call(session)()
        ours, ours_all, ours_ours = await exported_by(exporter, call(session))
    if ours_ours != 1 or SPAN not in ours:
        sys.exit(f"expected our one {SPAN!r} span per call, got {ours_ours}: {sorted(ours)}")
    kind, attributes = ours[SPAN].kind, dict(ours[SPAN].attributes or {})
    if mode != "ours":
        instrumentor.uninstrument()

    async with session_to(app) as session:

        async def bare() -> object:
            with tracer.start_as_current_span(SPAN, kind=kind, attributes=attributes):
                return await session.call_tool("add", ARGUMENTS)

        fn = bare if mode == "bare" else call(session)
        if mode == "bare":
            for _ in range(3):
                await bare()
            found, bare_all, bare_ours = await exported_by(exporter, bare)
            check_bare(ours, ours_all, found, bare_all, bare_ours)
        await measure_async(mode, fn, calls, warmup=30, exporter=exporter)


def main() -> None:
    mode, calls = parse_args(MODES)
    if not V2:
        sys.exit("mcp_call.py needs mcp 2.x (mcp 1.x: no bare reference for its server span)")
    with instrumentors.session(SESSION):
        anyio.run(run, mode, calls)


if __name__ == "__main__":
    main()
