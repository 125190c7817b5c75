"""Real processes: an agent (this test) calls MCP tool server processes over streamable HTTP and
stdio; the servers export their spans over OTLP to a receiver here. One trace across them all."""

from __future__ import annotations

import importlib.util
from typing import Any
from urllib.parse import urlsplit

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import instrumentors
from tests.fakes.otlp_receiver import HTTPReceiver
from tests.mcp._procs import (
    V2,
    hex_span,
    hex_trace,
    http_session,
    is_error,
    payload_of,
    stdio_session,
    text_of,
    wait_spans,
)
from tests.propagation._recorder import HeaderRecorder


def client_span(exporter: InMemorySpanExporter, tool: str) -> ReadableSpan:
    (span,) = [s for s in exporter.get_finished_spans() if s.name == f"execute_tool {tool}"]
    return span


def expected_parent(exporter: InMemorySpanExporter, span: ReadableSpan, tool: str) -> str:
    """The server span's parent: our span (1.x) or the SDK's client span under it (2.x)."""
    if not V2:
        return hex_span(span)
    (sdk,) = [
        s
        for s in exporter.get_finished_spans()
        if s.name == f"MCP send tools/call {tool}" and s.context.trace_id == span.context.trace_id
    ]
    assert sdk.parent is not None and sdk.parent.span_id == span.context.span_id
    return hex_span(sdk)


def server_spans(receiver: HTTPReceiver, trace_id: str, count: int) -> dict[str, Any]:
    spans = wait_spans(receiver, lambda s: s["trace_id"] == trace_id, count=count)
    return {s["name"]: s for s in spans}


async def test_http_one_trace_and_session_downstream(
    server_url: str, receiver: HTTPReceiver, exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    async with http_session(server_url) as session:
        with instrumentors.session("sess-http"):
            result = await session.call_tool("inner", {"key": "k"})
    assert payload_of(result)["value"] == "K"
    client = client_span(exporter, "inner")
    attributes = dict(client.attributes or {})
    assert attributes["network.transport"] == "tcp"
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == urlsplit(server_url).port
    assert attributes["mcp.session.id"]

    spans = server_spans(receiver, hex_trace(client), count=3)
    server = spans["tools/call inner"]
    assert server["parent_span_id"] == expected_parent(exporter, client, "inner")
    assert server["resource"]["service.name"] == "mcp-tool-server"
    assert server["attributes"]["mcp.session.id"] == attributes["mcp.session.id"]
    assert server["attributes"]["jsonrpc.request.id"] == attributes["jsonrpc.request.id"]
    # the session reaches the server span and what runs under it (a thread on 2.x)
    work, nested = spans["inner-work"], spans["execute_tool lookup"]
    assert work["parent_span_id"] == server["span_id"]
    assert nested["parent_span_id"] == work["span_id"]
    for span in (server, work, nested):
        assert span["attributes"]["agent.session_id"] == "sess-http"
    assert payload_of(result)["baggage"] == {"agent.session_id": "sess-http"}


async def test_http_tool_error_across_processes(
    server_url: str, receiver: HTTPReceiver, exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    async with http_session(server_url) as session:
        result = await session.call_tool("boom", {})
    assert is_error(result)
    client = client_span(exporter, "boom")
    assert client.status.status_code is StatusCode.ERROR
    assert (client.attributes or {})["error.type"] == "tool_error"
    spans = server_spans(receiver, hex_trace(client), count=1)
    assert spans["tools/call boom"]["attributes"]["error.type"] == "tool_error"


async def test_http_tool_calling_an_http_api_continues_the_trace(
    server_url: str, receiver: HTTPReceiver, exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    """Agent -> MCP server process -> HTTP API: the API sees the agent's trace and session."""
    if not V2 and importlib.util.find_spec("opentelemetry.instrumentation.httpx") is None:
        pytest.skip("mcp 1.x tools use httpx: needs opentelemetry-instrumentation-httpx")
    with HeaderRecorder() as api:
        async with http_session(server_url) as session:
            with instrumentors.session("sess-api"):
                result = await session.call_tool("fetch", {"url": f"{api.url}/weather?city=x"})
        headers = api.trace_headers()
    assert text_of(result) == "200"
    client = client_span(exporter, "fetch")
    assert headers["traceparent"].split("-")[1] == hex_trace(client)
    assert "agent.session_id=sess-api" in headers["baggage"]
    spans = server_spans(receiver, hex_trace(client), count=2)
    http_span = spans["GET"]
    assert headers["traceparent"].split("-")[2] == http_span["span_id"]
    assert http_span["parent_span_id"] == spans["tools/call fetch"]["span_id"]
    assert http_span["attributes"]["agent.session_id"] == "sess-api"


async def test_stdio_one_trace_and_session_downstream(
    receiver: HTTPReceiver, exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    async with stdio_session(receiver) as session:
        with instrumentors.session("sess-stdio"):
            result = await session.call_tool("inner", {"key": "s"})
            whoami = await session.call_tool("whoami", {})
    assert payload_of(result)["value"] == "S"
    client = client_span(exporter, "inner")
    assert "mcp.session.id" not in (client.attributes or {})  # stdio has no MCP session id
    spans = server_spans(receiver, hex_trace(client), count=3)
    server = spans["tools/call inner"]
    assert server["parent_span_id"] == expected_parent(exporter, client, "inner")
    assert spans["inner-work"]["parent_span_id"] == server["span_id"]
    for name in ("tools/call inner", "inner-work", "execute_tool lookup"):
        assert spans[name]["attributes"]["agent.session_id"] == "sess-stdio"
    seen = payload_of(whoami)
    assert seen["trace_id"] == hex_trace(client_span(exporter, "whoami"))
    assert seen["meta"]["baggage"] == "agent.session_id=sess-stdio"
    assert seen["meta"]["traceparent"].split("-")[1] == seen["trace_id"]


@pytest.mark.skipif(not V2, reason="mcp.Client is the 2.x high-level client")
async def test_v2_high_level_client(
    server_url: str, receiver: HTTPReceiver, exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    from mcp import Client

    async with Client(server_url) as client:
        result = await client.call_tool("add", {"a": 20, "b": 22})
    assert text_of(result) == "42"
    span = client_span(exporter, "add")
    attributes = dict(span.attributes or {})  # a session built on the Client's dispatcher
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["jsonrpc.request.id"]
    spans = server_spans(receiver, hex_trace(span), count=1)
    assert spans["tools/call add"]["parent_span_id"] == expected_parent(exporter, span, "add")
