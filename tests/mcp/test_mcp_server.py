"""Server side, in process: the low-level Server API, JSON-RPC errors, 2.x middlewares."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import types
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import instrumentors
from tests.mcp._inproc import connect, lowlevel_server, seen
from tests.mcp._procs import V2, is_error, payload_of

if V2:
    from mcp.shared.exceptions import MCPError as RPCError
else:
    from mcp.shared.exceptions import McpError as RPCError  # type: ignore[no-redef]


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


async def _probe(name: str, arguments: dict[str, Any]) -> Any:
    return types.CallToolResult(content=[types.TextContent(type="text", text=json.dumps(seen()))])


def _rpc_error() -> BaseException:
    if V2:
        return RPCError(code=-32001, message="quota exceeded")
    return RPCError(types.ErrorData(code=-32001, message="quota exceeded"))


async def test_lowlevel_handler_runs_in_the_callers_context(
    exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    async with connect(lowlevel_server(_probe)) as session:
        with instrumentors.session("sess-low"):
            result = await session.call_tool("probe", {"q": 1})
    (client,) = named(exporter, "execute_tool probe")
    (server,) = named(exporter, "tools/call probe")
    attributes = dict(server.attributes or {})
    assert server.kind is SpanKind.SERVER
    assert server.context.trace_id == client.context.trace_id
    assert attributes["gen_ai.operation.name"] == "execute_tool"
    assert attributes["gen_ai.tool.name"] == "probe"
    assert attributes["mcp.method.name"] == "tools/call"
    assert attributes["agent.session_id"] == attributes["gen_ai.conversation.id"] == "sess-low"
    assert attributes["mcp.protocol.version"]
    payload = payload_of(result)
    assert payload["span_id"] == format(server.context.span_id, "016x")
    assert payload["baggage"] == {"agent.session_id": "sess-low"}
    scope = server.instrumentation_scope
    assert scope is not None
    assert scope.name == ("mcp-python-sdk" if V2 else "instrumentors.mcp")


async def test_jsonrpc_error_response(exporter: InMemorySpanExporter, instrumentor: Any) -> None:
    async def fail(name: str, arguments: dict[str, Any]) -> Any:
        raise _rpc_error()

    server = lowlevel_server(fail)
    if not V2:  # the 1.x decorator turns exceptions into isError results: register raw
        server.request_handlers[types.CallToolRequest] = lambda req: fail("probe", {})
    async with connect(server) as session:
        with pytest.raises(RPCError) as raised:
            await session.call_tool("probe", {})
    assert "quota exceeded" in str(raised.value)
    (client,) = named(exporter, "execute_tool probe")
    assert client.status.status_code is StatusCode.ERROR
    assert (client.attributes or {})["error.type"] == type(raised.value).__qualname__
    assert (client.attributes or {})["rpc.response.status_code"] == "-32001"
    (server_span,) = named(exporter, "tools/call probe")
    assert server_span.status.status_code is StatusCode.ERROR
    assert (server_span.attributes or {})["error.type"] == "-32001"


@pytest.mark.skipif(not V2, reason="mcp 2.x middleware chain")
async def test_v2_middlewares_around_the_sdk_chain(
    exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    from mcp.server._otel import OpenTelemetryMiddleware

    from instrumentors.mcp._middleware import IncomingContext, ServerSpan

    async def user_middleware(ctx: Any, call_next: Any) -> Any:
        return await call_next(ctx)

    server = lowlevel_server(_probe)
    async with connect(server) as session:
        await session.call_tool("probe", {})
    server.middleware.append(user_middleware)  # added between two connections
    async with connect(server) as session:  # a second connection: still one of each of ours
        await session.call_tool("probe", {})
    kinds = [type(m) for m in server.middleware]
    assert kinds == [IncomingContext, OpenTelemetryMiddleware, type(user_middleware), ServerSpan]
    assert len(named(exporter, "tools/call probe")) == 2  # the SDK's spans, none of ours
    instrumentor.uninstrument()
    assert [type(m) for m in server.middleware] == [OpenTelemetryMiddleware, type(user_middleware)]
    instrumentor.instrument()


@pytest.mark.skipif(not V2, reason="mcp 2.x middleware chain")
async def test_v2_without_the_sdk_middleware_we_make_the_server_span(
    exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    from mcp.server._otel import OpenTelemetryMiddleware

    server = lowlevel_server(_probe)
    server.middleware[:] = [
        m for m in server.middleware if not isinstance(m, OpenTelemetryMiddleware)
    ]
    async with connect(server) as session:
        with instrumentors.session("sess-own"):
            result = await session.call_tool("probe", {})
    (sdk_client,) = named(exporter, "MCP send tools/call probe")
    (server_span,) = named(exporter, "tools/call probe")
    assert server_span.instrumentation_scope is not None
    assert server_span.instrumentation_scope.name == "instrumentors.mcp"
    assert server_span.parent is not None
    assert server_span.parent.span_id == sdk_client.context.span_id
    assert (server_span.attributes or {})["agent.session_id"] == "sess-own"
    assert payload_of(result)["baggage"] == {"agent.session_id": "sess-own"}


@pytest.mark.skipif(not V2, reason="mcp 2.x middleware chain")
async def test_v2_a_user_middleware_span_gets_no_second_server_span(
    exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    from opentelemetry import trace

    tracer = trace.get_tracer("user")

    async def traced_middleware(ctx: Any, call_next: Any) -> Any:
        with tracer.start_as_current_span("user-middleware"):
            return await call_next(ctx)

    server = lowlevel_server(_probe)
    server.middleware.append(traced_middleware)  # inside the SDK's span, outside ours
    async with connect(server) as session:
        with instrumentors.session("sess-user"):
            result = await session.call_tool("probe", {})
    (server_span,) = named(exporter, "tools/call probe")  # the SDK's, no second one of ours
    (user_span,) = [  # the one around this tools/call (it wraps every message)
        s
        for s in named(exporter, "user-middleware")
        if s.parent is not None and s.parent.span_id == server_span.context.span_id
    ]
    assert "agent.session_id" not in (user_span.attributes or {})  # not another's span
    payload = payload_of(result)
    assert payload["baggage"] == {"agent.session_id": "sess-user"}
    assert payload["span_id"] == format(user_span.context.span_id, "016x")


@pytest.mark.skipif(V2, reason="mcp 2.x always injects from its own client span")
async def test_v1_trace_context_the_caller_put_in_meta_wins(
    exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    meta = {"traceparent": traceparent, "baggage": "agent.session_id=remote-7"}
    async with connect(lowlevel_server(_probe)) as session:
        result = await session.call_tool("probe", {}, meta=meta)
    (server,) = named(exporter, "tools/call probe")
    assert format(server.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == "b7ad6b7169203331"
    assert payload_of(result)["baggage"] == {"agent.session_id": "remote-7"}


async def test_server_telemetry_bug_does_not_break_the_call(
    exporter: InMemorySpanExporter, instrumentor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from instrumentors.mcp import _server

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("telemetry bug")

    monkeypatch.setattr(_server._extract, "meta_carrier", broken)
    monkeypatch.setattr(_server._extract, "server_attributes", broken)
    async with connect(lowlevel_server(_probe)) as session:
        with instrumentors.session("sess-bug"):
            result = await session.call_tool("probe", {})
    assert not is_error(result)
    assert "baggage" in payload_of(result)  # the handler ran and answered
    (client,) = named(exporter, "execute_tool probe")
    assert client.status.status_code is StatusCode.UNSET
