"""Per-call overhead of an instrumented MCP tool call vs the same call uninstrumented.

Same process, the SDK's in-memory transport (real JSON-RPC framing, client and
server in one event loop), a real TracerProvider with an in-memory exporter,
interleaved rounds: each round opens a fresh session with or without
``MCPInstrumentor`` and times ``call_tool`` in CPU time of this process (so
other load on the machine does not count). With mcp 2.x the uninstrumented side
still has the SDK's own spans, so the difference is what our layer adds.

    python benchmarks/mcp_overhead.py [--rounds 15] [--calls 300]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import instrumentors
from instrumentors.mcp import SCOPE, MCPInstrumentor

try:  # mcp 2.x
    from mcp import Client
    from mcp.server.mcpserver import MCPServer as FastMCP

    V2 = True
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP  # type: ignore[no-redef]
    from mcp.shared.memory import create_connected_server_and_client_session

    V2 = False


def make_server() -> Any:
    app = FastMCP("bench", log_level="WARNING")

    @app.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    return app


@asynccontextmanager
async def session_to(app: Any) -> AsyncIterator[Any]:
    if V2:
        async with Client(app, mode="legacy") as client:
            yield client.session
    else:
        async with create_connected_server_and_client_session(app) as session:
            yield session


# What our client span carries for this call (checked against the exporter in run()).
SPAN_ATTRIBUTES: dict[str, Any] = {
    "gen_ai.operation.name": "execute_tool",
    "gen_ai.tool.name": "add",
    "tool.name": "add",
    "gen_ai.tool.type": "extension",
    "mcp.method.name": "tools/call",
    "request.parameters.hash": "sha256:0123456789abcdef0123456789abcdef",
    "agent.session_id": "bench-session",
    "gen_ai.conversation.id": "bench-session",
    "jsonrpc.request.id": "1",
}


async def per_call_us(app: Any, calls: int, bare_span: bool = False) -> float:
    """CPU time per ``call_tool``; ``bare_span``: inside a plain SDK span like ours."""
    tracer = trace.get_tracer("bench")

    async def call(session: Any) -> Any:
        if not bare_span:
            return await session.call_tool("add", {"a": 1, "b": 2})
        with tracer.start_as_current_span("execute_tool add", attributes=SPAN_ATTRIBUTES):
            return await session.call_tool("add", {"a": 1, "b": 2})

    async with session_to(app) as session:
        for _ in range(20):  # warm-up: output-schema cache, first-call paths
            await call(session)
        start = time.process_time()
        for _ in range(calls):
            await call(session)
        return (time.process_time() - start) / calls * 1e6


async def our_spans(app: Any, exporter: InMemorySpanExporter) -> tuple[set[str], int]:
    """Our client span's attribute names, and how many spans our layer emits per call."""
    instrumentor = MCPInstrumentor()
    instrumentor.instrument()
    try:
        with instrumentors.session("bench-session"):
            async with session_to(app) as session:
                await session.call_tool("add", {"a": 1, "b": 2})
    finally:
        instrumentor.uninstrument()
    spans = exporter.get_finished_spans()
    names = {
        key for span in spans if span.name == "execute_tool add" for key in span.attributes or {}
    }
    ours = [s for s in spans if s.instrumentation_scope and s.instrumentation_scope.name == SCOPE]
    exporter.clear()
    return names, len(ours)


async def run(rounds: int, calls: int) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    instrumentor = MCPInstrumentor()
    app = make_server()
    ours, emitted = await our_spans(app, exporter)
    if ours != set(SPAN_ATTRIBUTES):
        print(f"  note: the bare span's attributes differ from ours: {sorted(ours)}")
    samples: dict[str, list[float]] = {"uninstrumented": [], "bare span": [], "instrumented": []}
    gc.collect()
    for round_no in range(rounds):
        names = list(samples) if round_no % 2 == 0 else list(reversed(samples))  # no order bias
        for name in names:
            instrumented = name == "instrumented"
            if instrumented:
                instrumentor.instrument()
            try:
                with instrumentors.session("bench-session"):
                    samples[name].append(await per_call_us(app, calls, name == "bare span"))
            finally:
                if instrumented:
                    instrumentor.uninstrument()
            exporter.clear()

    med = {name: statistics.median(values) for name, values in samples.items()}
    added = med["instrumented"] - med["uninstrumented"]
    bare = med["bare span"] - med["uninstrumented"]
    print(
        f"mcp {'2.x' if V2 else '1.x'}, in-memory transport, SimpleSpanProcessor, "
        f"{rounds} interleaved rounds x {calls} calls (median CPU time per call)"
    )
    for name, value in med.items():
        print(f"  {name:<15} {value:9.1f} µs/call")
    print(f"  added by us     {added:9.1f} µs/call  ({added / med['uninstrumented']:+.1%})")
    print(
        f"  a bare SDK span around the call adds {bare:.1f} µs; we emit {emitted} span(s) per call:"
        f" {added / emitted / bare:.2f}x a bare span per span emitted (target <= 2)"
    )
    provider.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    anyio.run(run, args.rounds, args.calls)


if __name__ == "__main__":
    main()
