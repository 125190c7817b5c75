"""An MCP tool server process for the cross-process tests (mcp 1.x FastMCP or 2.x MCPServer).

``python _server_app.py stdio`` or ``python _server_app.py http PORT``. It calls
``instrumentors.setup()`` like a real downstream service, so its spans go over
OTLP/HTTP to the receiver named by ``OTEL_EXPORTER_OTLP_ENDPOINT``.
"""

from __future__ import annotations

import sys
from typing import Any

from opentelemetry import baggage, trace

import instrumentors

handle = instrumentors.setup(service_name="mcp-tool-server", sli=False)

try:  # mcp 2.x
    from mcp.server.mcpserver import Context
    from mcp.server.mcpserver import MCPServer as FastMCP

    V2 = True
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import Context, FastMCP  # type: ignore[no-redef]

    V2 = False

transport = sys.argv[1] if len(sys.argv) > 1 else "stdio"
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
if V2:
    app = FastMCP("tool-server", log_level="WARNING")
else:
    app = FastMCP("tool-server", host="127.0.0.1", port=port, log_level="WARNING")

tracer = trace.get_tracer("tool-server")


def _seen() -> dict[str, Any]:
    span_context = trace.get_current_span().get_span_context()
    return {
        "trace_id": format(span_context.trace_id, "032x") if span_context.is_valid else None,
        "span_id": format(span_context.span_id, "016x") if span_context.is_valid else None,
        "baggage": dict(baggage.get_all()),
    }


@app.tool()
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@app.tool()
async def whoami(ctx: Context) -> dict[str, Any]:  # type: ignore[type-arg]
    """What the server sees of this request: current span, baggage, the _meta keys."""
    meta = ctx.request_context.meta
    if meta is not None and not isinstance(meta, dict):
        meta = meta.model_dump(by_alias=True, exclude_none=True)
    return {**_seen(), "meta": meta or {}}


@instrumentors.tool
def lookup(key: str) -> str:
    """A nested plain-Python tool: an execute_tool span inside the server span."""
    return key.upper()


@app.tool()
def inner(key: str) -> dict[str, Any]:
    """Work inside the tool: a plain span and a nested @tool (sync: a worker thread on 2.x)."""
    with tracer.start_as_current_span("inner-work"):
        value = lookup(key)
    return {**_seen(), "value": value}


@app.tool()
def boom() -> str:
    """Always fails."""
    raise ValueError("boom")


@app.tool()
async def fetch(url: str) -> int:
    """GET a URL with the HTTP client of this SDK line (httpx2 on 2.x, httpx on 1.x)."""
    try:
        import httpx2 as client_module
    except ImportError:
        import httpx as client_module  # type: ignore[no-redef]
    async with client_module.AsyncClient() as client:
        response = await client.get(url)
    return int(response.status_code)


if transport == "stdio":
    app.run("stdio")
elif V2:
    app.run("streamable-http", host="127.0.0.1", port=port)
else:
    app.run("streamable-http")
handle.shutdown()
