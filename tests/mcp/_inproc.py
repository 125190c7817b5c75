"""In-process MCP servers over the SDK's in-memory transport (JSON-RPC framing, both lines)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from opentelemetry import baggage, trace

from tests.mcp._procs import V2

if V2:
    from mcp import Client
    from mcp.server.mcpserver import MCPServer as FastMCP
else:
    from mcp.server.fastmcp import FastMCP  # type: ignore[no-redef]
    from mcp.shared.memory import create_connected_server_and_client_session


def seen() -> dict[str, Any]:
    """What the code running in the server sees: current span and baggage."""
    span_context = trace.get_current_span().get_span_context()
    return {
        "trace_id": format(span_context.trace_id, "032x") if span_context.is_valid else None,
        "span_id": format(span_context.span_id, "016x") if span_context.is_valid else None,
        "baggage": dict(baggage.get_all()),
    }


def make_app() -> Any:
    """A FastMCP (1.x) / MCPServer (2.x) with add, whoami (async), whoami_sync and boom."""
    app = FastMCP("in-process")

    @app.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @app.tool()
    async def whoami() -> dict[str, Any]:
        """Async: current span and baggage."""
        return seen()

    @app.tool()
    def whoami_sync() -> dict[str, Any]:
        """Sync (a worker thread on 2.x): current span and baggage."""
        return seen()

    @app.tool()
    def boom() -> str:
        """Always fails."""
        raise ValueError("boom")

    return app


@asynccontextmanager
async def connect(server: Any) -> AsyncIterator[Any]:
    """An initialized ClientSession to ``server`` (FastMCP/MCPServer or low-level Server)."""
    if V2:
        async with Client(server, mode="legacy") as client:
            yield client.session
    else:
        async with create_connected_server_and_client_session(server) as session:
            yield session


def lowlevel_server(handler: Callable[[str, dict[str, Any]], Awaitable[Any]]) -> Any:
    """A low-level ``Server`` whose tools/call runs ``handler(name, arguments)``."""
    from mcp import types
    from mcp.server.lowlevel import Server

    tool = types.Tool(name="probe", description="probe", inputSchema={"type": "object"})
    if V2:

        async def on_list_tools(ctx: Any, params: Any) -> Any:
            return types.ListToolsResult(tools=[tool])

        async def on_call_tool(ctx: Any, params: Any) -> Any:
            return await handler(params.name, dict(params.arguments or {}))

        return Server("low-level", on_list_tools=on_list_tools, on_call_tool=on_call_tool)

    server: Any = Server("low-level")

    @server.list_tools()  # type: ignore[untyped-decorator]
    async def list_tools() -> list[Any]:
        return [tool]

    @server.call_tool()  # type: ignore[untyped-decorator]
    async def call_tool(name: str, arguments: dict[str, Any]) -> Any:
        return await handler(name, arguments)

    return server
