"""Client side, in process (in-memory transport): the execute_tool span and what it carries."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import instrumentors
from instrumentors.mcp import MCPInstrumentor, _wrappers
from instrumentors.params import hash_params
from tests.mcp._inproc import connect, make_app
from tests.mcp._procs import V2, is_error, payload_of, text_of

SDK_SCOPE = "mcp-python-sdk"


def ours(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [
        s
        for s in exporter.get_finished_spans()
        if s.instrumentation_scope is not None and s.instrumentation_scope.name != SDK_SCOPE
    ]


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


async def test_execute_tool_span(exporter: InMemorySpanExporter, instrumentor: Any) -> None:
    async with connect(make_app()) as session:
        result = await session.call_tool("add", {"a": 2, "b": 3})
    assert text_of(result) == "5"
    (span,) = named(exporter, "execute_tool add")
    attributes = dict(span.attributes or {})
    assert span.kind is SpanKind.INTERNAL
    assert span.status.status_code is StatusCode.UNSET
    assert attributes["gen_ai.operation.name"] == "execute_tool"
    assert attributes["gen_ai.tool.name"] == attributes["tool.name"] == "add"
    assert attributes["gen_ai.tool.type"] == "extension"
    assert attributes["request.parameters.hash"] == hash_params({"a": 2, "b": 3})
    assert attributes["mcp.method.name"] == "tools/call"
    assert attributes["jsonrpc.request.id"] == ("2" if V2 else "1")
    assert "request.parameters" not in attributes  # content capture is off by default
    assert "mcp.session.id" not in attributes  # in-memory: no MCP session id


async def test_server_span_joins_the_trace(
    exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    async with connect(make_app()) as session:
        with instrumentors.session("sess-1"):
            result = await session.call_tool("whoami", {})
            result_sync = await session.call_tool("whoami_sync", {})
    (client,) = named(exporter, "execute_tool whoami")
    (server,) = named(exporter, "tools/call whoami")
    assert server.kind is SpanKind.SERVER
    assert server.context.trace_id == client.context.trace_id
    assert server.parent is not None and server.parent.is_remote
    if V2:  # the SDK's client span sits between ours and the server's
        (sdk_client,) = named(exporter, "MCP send tools/call whoami")
        assert sdk_client.parent is not None
        assert sdk_client.parent.span_id == client.context.span_id
        assert server.parent.span_id == sdk_client.context.span_id
    else:
        assert server.parent.span_id == client.context.span_id
    assert (server.attributes or {})["agent.session_id"] == "sess-1"
    assert (server.attributes or {})["jsonrpc.request.id"] == (client.attributes or {})[
        "jsonrpc.request.id"
    ]
    (client_sync,) = named(exporter, "execute_tool whoami_sync")
    for payload, span in ((payload_of(result), client), (payload_of(result_sync), client_sync)):
        assert payload["trace_id"] == format(span.context.trace_id, "032x")
        assert payload["baggage"] == {"agent.session_id": "sess-1"}
    assert payload_of(result)["span_id"] == format(server.context.span_id, "016x")


async def test_one_span_per_call_without_second_injection(
    exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    async with connect(make_app()) as session:
        await session.call_tool("add", {"a": 1, "b": 1})
    tool_spans = [s for s in exporter.get_finished_spans() if s.name.startswith("execute_tool")]
    assert len(tool_spans) == 1
    servers = named(exporter, "tools/call add")
    assert len(servers) == 1


async def test_is_error_result_marks_the_span(
    exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    async with connect(make_app()) as session:
        result = await session.call_tool("boom", {})
        unknown = await session.call_tool("nope", {})
    assert is_error(result) and is_error(unknown)
    for name in ("boom", "nope"):
        (span,) = named(exporter, f"execute_tool {name}")
        assert span.status.status_code is StatusCode.ERROR
        assert (span.attributes or {})["error.type"] == "tool_error"
    (server,) = named(exporter, "tools/call boom")
    assert server.status.status_code is StatusCode.ERROR
    assert (server.attributes or {})["error.type"] == "tool_error"


async def test_cancelled_call_ends_its_span(
    exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    async with connect(make_app()) as session:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await session.call_tool("add", {"a": 1, "b": 2})
        assert scope.cancelled_caught
        result = await session.call_tool("add", {"a": 1, "b": 2})  # the session still works
        assert text_of(result) == "3"
    spans = named(exporter, "execute_tool add")
    assert len(spans) == 2
    assert spans[0].status.status_code is StatusCode.ERROR
    assert spans[1].status.status_code is StatusCode.UNSET
    assert trace.get_current_span() is trace.INVALID_SPAN  # context restored


async def test_merges_into_an_enclosing_tool_span(
    exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    async with connect(make_app()) as session:

        @instrumentors.tool
        async def calculator(a: int, b: int) -> str:
            return text_of(await session.call_tool("add", {"a": a, "b": b}))

        assert await calculator(4, 5) == "9"
    tool_spans = [s for s in exporter.get_finished_spans() if s.name.startswith("execute_tool")]
    (outer,) = tool_spans
    assert outer.name == "execute_tool calculator"
    assert (outer.attributes or {})["mcp.method.name"] == "tools/call"
    (server,) = named(exporter, "tools/call add")
    assert server.context.trace_id == outer.context.trace_id


async def test_content_capture(
    exporter: InMemorySpanExporter, instrumentor: Any, settings_env: Any
) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    instrumentor.uninstrument()
    instrumentor.instrument()
    async with connect(make_app()) as session:
        await session.call_tool("add", {"a": 2, "b": 3})
    (span,) = named(exporter, "execute_tool add")
    attributes = dict(span.attributes or {})
    assert json.loads(str(attributes["gen_ai.tool.call.arguments"])) == {"a": 2, "b": 3}
    assert "5" in str(attributes["gen_ai.tool.call.result"])


async def test_concurrent_calls(exporter: InMemorySpanExporter, instrumentor: Any) -> None:
    async with connect(make_app()) as session, anyio.create_task_group() as tg:
        for n in range(3):
            tg.start_soon(session.call_tool, "add", {"a": n, "b": n})
    clients = named(exporter, "execute_tool add")
    servers = named(exporter, "tools/call add")
    assert len(clients) == len(servers) == 3
    ids = {(s.attributes or {})["jsonrpc.request.id"] for s in clients}
    assert len(ids) == 3
    by_trace = {s.context.trace_id: s for s in clients}
    for server in servers:
        client = by_trace[server.context.trace_id]
        assert (server.attributes or {})["jsonrpc.request.id"] == (client.attributes or {})[
            "jsonrpc.request.id"
        ]


async def test_suppressed(exporter: InMemorySpanExporter, instrumentor: Any) -> None:
    async with connect(make_app()) as session:
        with suppress_instrumentation():
            result = await session.call_tool("whoami", {})
    assert not [s for s in ours(exporter) if s.name.startswith("execute_tool")]
    if not V2:  # nothing injected: the server starts its own trace
        assert payload_of(result)["baggage"] == {}


async def test_unsampled(
    exporter: InMemorySpanExporter, instrumentor: Any, unsampled: None
) -> None:
    async with connect(make_app()) as session:
        result = await session.call_tool("add", {"a": 2, "b": 2})
    assert text_of(result) == "4"
    assert exporter.get_finished_spans() == ()


async def test_instrument_uninstrument_cycles(exporter: InMemorySpanExporter) -> None:
    instrumentor = MCPInstrumentor()
    for _ in range(2):
        instrumentor.instrument()
        instrumentor.instrument()  # twice is harmless
        async with connect(make_app()) as session:
            await session.call_tool("add", {"a": 1, "b": 2})
        assert len(named(exporter, "execute_tool add")) == 1
        assert len(named(exporter, "tools/call add")) == 1
        exporter.clear()
        instrumentor.uninstrument()
        async with connect(make_app()) as session:
            assert text_of(await session.call_tool("add", {"a": 1, "b": 2})) == "3"
        assert not named(exporter, "execute_tool add")
        assert not [s for s in ours(exporter) if s.name.startswith("tools/call")]
        exporter.clear()


async def test_telemetry_bug_does_not_break_the_call(
    exporter: InMemorySpanExporter, instrumentor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("telemetry bug")

    monkeypatch.setattr(_wrappers._extract, "client_attributes", broken)
    monkeypatch.setattr(_wrappers._extract, "is_tool_error", broken)
    async with connect(make_app()) as session:
        result = await session.call_tool("add", {"a": 2, "b": 3})
    assert text_of(result) == "5"
    (span,) = named(exporter, "execute_tool add")  # started before the bug, still ended
    assert span.end_time is not None


async def test_explicit_provider(exporter: InMemorySpanExporter) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    own = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(own))
    instrumentor = MCPInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        async with connect(make_app()) as session:
            await session.call_tool("add", {"a": 1, "b": 2})
    finally:
        instrumentor.uninstrument()
    assert [s.name for s in own.get_finished_spans() if s.name.startswith("execute_tool")] == [
        "execute_tool add"
    ]
    assert trace.get_tracer_provider() is not provider
