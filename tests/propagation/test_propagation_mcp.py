"""Propagation across an MCP process boundary: B3 single and multi, the host allowlist,
malformed incoming trace context (ignored safely: the server works and starts a fresh trace),
and hostile baggage (the server takes only a capped, clean session id from it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import instrumentors
from tests.fakes.otlp_receiver import HTTPReceiver
from tests.mcp._procs import (
    V2,
    RawSession,
    hex_span,
    hex_trace,
    http_session,
    payload_of,
    stdio_session,
    text_of,
    wait_spans,
)
from tests.mcp.test_mcp_hostile_context import (
    UNTRUSTED_KEY,
    UNTRUSTED_VALUE,
    WIDEST,
    assert_clean,
    baggage_header,
)
from tests.propagation._recorder import HeaderRecorder

W3C_KEYS = {"traceparent", "tracestate", "baggage"}
B3_MULTI_KEYS = {"x-b3-traceid", "x-b3-spanid", "x-b3-sampled"}


def tool_span(exporter: InMemorySpanExporter, tool: str) -> ReadableSpan:
    (span,) = [s for s in exporter.get_finished_spans() if s.name == f"execute_tool {tool}"]
    return span


def server_parent(exporter: InMemorySpanExporter, client: ReadableSpan, tool: str) -> str:
    if not V2:
        return hex_span(client)
    (sdk,) = [s for s in exporter.get_finished_spans() if s.name == f"MCP send tools/call {tool}"]
    return hex_span(sdk)


@pytest.mark.parametrize(
    ("propagators", "keys", "session_travels"),
    [("b3", {"b3"}, False), ("b3multi,baggage", B3_MULTI_KEYS | {"baggage"}, True)],
    ids=["b3-single", "b3-multi"],
)
async def test_b3_across_a_stdio_server_process(
    propagators: str,
    keys: set[str],
    session_travels: bool,
    receiver: HTTPReceiver,
    exporter: InMemorySpanExporter,
    instrumentor: Any,
    use_propagators: Callable[[str], Any],
) -> None:
    """Both processes configured with ``OTEL_PROPAGATORS``: B3 in ``_meta``, one trace."""
    use_propagators(propagators)
    async with stdio_session(receiver, OTEL_PROPAGATORS=propagators) as session:
        with instrumentors.session("sess-b3"):
            result = await session.call_tool("whoami", {})
    client = tool_span(exporter, "whoami")
    seen = payload_of(result)
    assert set(seen["meta"]) == keys
    assert not W3C_KEYS - {"baggage"} & set(seen["meta"])
    if "b3" in keys:
        assert seen["meta"]["b3"].split("-")[0] == hex_trace(client)
    else:
        assert seen["meta"]["x-b3-traceid"] == hex_trace(client)
    assert seen["trace_id"] == hex_trace(client)
    (server,) = wait_spans(
        receiver,
        lambda s: s["trace_id"] == hex_trace(client) and s["name"] == "tools/call whoami",
    )
    assert server["parent_span_id"] == server_parent(exporter, client, "whoami")
    if session_travels:
        assert server["attributes"]["agent.session_id"] == "sess-b3"
        assert seen["baggage"] == {"agent.session_id": "sess-b3"}
    else:  # B3 alone carries no baggage
        assert "agent.session_id" not in server["attributes"]


async def test_no_trace_context_to_a_host_outside_the_allowlist(
    server_url: str,
    receiver: HTTPReceiver,
    exporter: InMemorySpanExporter,
    instrumentor: Any,
    settings_env: Any,
) -> None:
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="localhost,*.internal")
    async with http_session(server_url) as session:  # 127.0.0.1 is not "localhost"
        with instrumentors.session("secret-session"):
            blocked = payload_of(await session.call_tool("whoami", {}))
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="127.0.0.*")
    async with http_session(server_url) as session:
        with instrumentors.session("ok-session"):
            allowed = payload_of(await session.call_tool("whoami", {}))
    assert not W3C_KEYS & set(blocked["meta"])
    assert blocked["baggage"] == {}
    client_spans = [s for s in exporter.get_finished_spans() if s.name == "execute_tool whoami"]
    assert blocked["trace_id"] != hex_trace(client_spans[0])  # the server started its own
    assert {"traceparent", "baggage"} <= set(allowed["meta"])
    assert allowed["trace_id"] == hex_trace(client_spans[1])


MALFORMED: dict[str, dict[str, str]] = {
    "garbage-traceparent": {"traceparent": "not-a-traceparent", "baggage": "k=v"},
    "wrong-version": {"traceparent": "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    "zero-trace-id": {"traceparent": "00-" + "0" * 32 + "-b7ad6b7169203331-01"},
    "oversized-traceparent": {
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" + "x" * 100_000
    },
    "oversized-tracestate": {
        "traceparent": "not-valid-either",
        "tracestate": "vendor=" + "a" * 100_000,
    },
    "garbage-baggage": {"baggage": "%%%;;;===,,,=" + "\x00\x01"},
    "oversized-baggage": {"baggage": "agent.session_id=" + "s" * 100_000},
    "all-at-once": {
        "traceparent": "00-zz-yy-01",
        "tracestate": "=,=,=" * 1000,
        "baggage": "agent.session_id=" + "s" * 100_000,
    },
}


@pytest.mark.parametrize("meta", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_incoming_context_is_ignored(
    meta: dict[str, str], server_url: str, receiver: HTTPReceiver
) -> None:
    raw = RawSession(server_url)
    raw.initialize()
    result = raw.call_tool("whoami", meta)
    assert not result.get("isError")
    seen = result["structuredContent"]
    assert seen["baggage"] in ({}, {"k": "v"})  # nothing malformed reached the tool
    assert seen["trace_id"] not in ("0af7651916cd43dd8448eb211c80319c", "0" * 32, None)
    (server,) = wait_spans(
        receiver,
        lambda s: (
            s["name"] == "tools/call whoami"
            and s["attributes"].get("mcp.session.id") == raw.session_id
        ),
    )
    assert server["trace_id"] == seen["trace_id"]
    assert server["parent_span_id"] == ""  # a fresh trace
    assert "agent.session_id" not in server["attributes"]


def test_valid_context_from_a_foreign_client(server_url: str, receiver: HTTPReceiver) -> None:
    """Control for the malformed cases: any W3C client's context is honoured."""
    raw = RawSession(server_url)
    raw.initialize()
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    meta = {"traceparent": traceparent, "baggage": "agent.session_id=foreign-1"}
    seen = raw.call_tool("whoami", meta)["structuredContent"]
    assert seen["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert seen["baggage"] == {"agent.session_id": "foreign-1"}
    (server,) = wait_spans(
        receiver,
        lambda s: (
            s["name"] == "tools/call whoami"
            and s["attributes"].get("mcp.session.id") == raw.session_id
        ),
    )
    assert server["parent_span_id"] == "b7ad6b7169203331"
    assert server["attributes"]["agent.session_id"] == "foreign-1"


async def test_hostile_baggage_across_a_server_process(
    server_url: str, receiver: HTTPReceiver, exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    """A server process as ``setup()`` makes it (session processor, OTLP export): a session id
    of 3,000 characters with newlines and escapes, and a key it does not trust, in ``_meta``.
    Its spans, its tool and the HTTP API the tool calls get only the capped, clean id."""
    header = baggage_header({"agent.session_id": WIDEST, UNTRUSTED_KEY: UNTRUSTED_VALUE})
    with HeaderRecorder() as api:
        async with http_session(server_url) as session:
            seen = payload_of(await session.call_tool("whoami", {}, meta={"baggage": header}))
            fetched = await session.call_tool(
                "fetch", {"url": f"{api.url}/weather"}, meta={"baggage": header}
            )
        downstream = api.trace_headers()
    assert text_of(fetched) == "200"
    session_id = seen["baggage"]["agent.session_id"]
    assert_clean(session_id)
    assert seen["baggage"] == {"agent.session_id": session_id}
    assert seen["meta"]["baggage"] == header  # the tool's own request, as the client sent it
    assert UNTRUSTED_VALUE not in downstream.get("baggage", "")
    for tool, count in (("whoami", 1), ("fetch", 2)):  # fetch: its HTTP client span too
        trace_id = hex_trace(tool_span(exporter, tool))
        spans = wait_spans(receiver, lambda s, t=trace_id: s["trace_id"] == t, count=count)
        assert len(spans) >= count, tool
        for span in spans:
            attributes = span["attributes"]
            assert not any(
                UNTRUSTED_KEY in k or UNTRUSTED_VALUE in str(v) for k, v in attributes.items()
            )
            if "agent.session_id" in attributes:
                assert attributes["agent.session_id"] == session_id, span["name"]
        server = next(s for s in spans if s["name"] == f"tools/call {tool}")
        assert server["attributes"]["agent.session_id"] == session_id
