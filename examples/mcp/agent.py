"""An agent calling an MCP tool server in another process: one trace across both (offline).

The agent and the server each call ``instrumentors.setup()``; nothing else is
needed for the server's spans to join the agent's trace and carry its session.
Here the agent also runs a tiny OTLP receiver and passes its address to the
server, so it can print both processes' spans as one tree on stderr:

    python examples/mcp/agent.py            # the server over stdio
    python examples/mcp/agent.py --http     # the server over streamable HTTP on 127.0.0.1

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, both processes export there instead
(a collector or backend shows the same single trace). Works with mcp 1.x and 2.x.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _requires import require

require(
    "examples-mcp", "anyio", "mcp", "opentelemetry.proto", "opentelemetry.exporter.otlp.proto.http"
)

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import instrumentors
from instrumentors.export import render_trace

sys.path.insert(0, str(Path(__file__).parent))
from _otlp_inbox import OTLPInbox

SERVER = str(Path(__file__).with_name("weather_server.py"))
BACKEND = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")


class _Keep(SpanExporter):
    """The agent's own spans, kept to be printed with the server's."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


kept = _Keep()
handle = instrumentors.setup(service_name="weather-agent", exporter=None if BACKEND else kept)


def server_env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_METRICS_EXPORTER="none",
        OTEL_BSP_SCHEDULE_DELAY="100",  # a long-running server exports as it goes
        OTEL_PROPAGATORS=os.environ.get("OTEL_PROPAGATORS", "tracecontext,baggage"),
    )
    return env


@asynccontextmanager
async def connect(http: bool, endpoint: str) -> AsyncIterator[ClientSession]:
    """Start the tool server process and open an MCP session to it."""
    if not http:
        params = StdioServerParameters(
            command=sys.executable, args=[SERVER, "stdio"], env=server_env(endpoint)
        )
        async with stdio_client(params) as streams, ClientSession(*streams[:2]) as session:
            await session.initialize()
            yield session
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, SERVER, "http", str(port)],
        env=server_env(endpoint),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # uvicorn's logs: run weather_server.py by hand to see them
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/mcp"
        async with (
            streamable_http_client(url) as streams,
            ClientSession(*streams[:2]) as session,
        ):
            await session.initialize()
            yield session
    finally:
        proc.terminate()
        proc.wait(15)


def text(result: Any) -> str:
    return " | ".join(str(getattr(block, "text", block)) for block in result.content)


def is_error(result: Any) -> bool:
    return bool(getattr(result, "is_error", None) or getattr(result, "isError", None))


async def plan_trip(session: ClientSession) -> int:
    """A scripted "model" picks the tool calls; returns the trace id."""
    with instrumentors.session("trip-42"), instrumentors.agent_step("plan-trip"):
        trace_id = trace.get_current_span().get_span_context().trace_id
        print(text(await session.call_tool("get_weather", {"city": "Paris"})))
        print(text(await session.call_tool("get_weather", {"city": "Paris"})))  # cached
        result = await session.call_tool("get_forecast", {"city": "Paris", "days": 9})
        if is_error(result):  # the model reads the error and asks again
            print("tool error:", text(result))
            result = await session.call_tool("get_forecast", {"city": "Paris", "days": 3})
        print(text(result))
    return trace_id


async def main(http: bool) -> None:
    with OTLPInbox() as inbox:
        async with connect(http, BACKEND or inbox.endpoint) as session:
            trace_id = await plan_trip(session)
            if not BACKEND:  # the server's spans: 4 tool calls and a nested tool, at least
                theirs = await anyio.to_thread.run_sync(inbox.wait_for, trace_id, 5)
        handle.force_flush()
        if BACKEND:
            print(f"trace {trace_id:032x} sent to {BACKEND}", file=sys.stderr)
            return
        mine = [s for s in kept.spans if s.context and s.context.trace_id == trace_id]
    print(render_trace(mine + theirs), file=sys.stderr)
    print(
        f"one trace {trace_id:032x}: {len(mine)} spans from weather-agent, "
        f"{len(theirs)} from weather-mcp-server",
        file=sys.stderr,
    )
    # This process's SLIs (setup() prints them only with the tree view it owns).
    if handle.sli is not None and (table := handle.sli.render()):
        print(table, file=sys.stderr)


if __name__ == "__main__":
    anyio.run(main, "--http" in sys.argv[1:])
    handle.shutdown()
