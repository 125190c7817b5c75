"""Incoming context is untrusted: a client's ``_meta`` baggage with a huge session id full of
control characters, and keys the server does not trust (issue 21, item 6).

A real MCP client (``call_tool(meta=...)``) against a real FastMCP / MCPServer, in process. The
server span, the tool and what the tool would send downstream see at most a capped,
clean ``agent.session_id``; the untrusted key reaches none of them.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from opentelemetry import propagate
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentors.session import MAX_SESSION_ID_LENGTH, SessionSpanProcessor
from tests.conftest import FORWARD
from tests.mcp._inproc import FastMCP, connect, seen
from tests.mcp._procs import V2, payload_of

if V2:
    from mcp.server.mcpserver import Context
else:
    from mcp.server.fastmcp import Context  # type: ignore[no-redef]

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
UNTRUSTED_KEY = "evil.key"
UNTRUSTED_VALUE = "stolen-marker-7f3a"


def baggage_header(entries: dict[str, str]) -> str:
    return ",".join(f"{key}={quote(value, safe='')}" for key, value in entries.items())


# Newlines and a terminal escape: each would start a forged line in the tree view.
_CHUNK = "s" * 60 + "\n\r\x1b[31m" + "t" * 20 + "\x00"
# The largest session id W3C baggage lets through (a pair of at most 4096 bytes)...
WIDEST = (_CHUNK * 60)[:3000]
# ...and the 10 KB one, whose header the baggage propagator drops whole.
TEN_KB = (_CHUNK * 200)[:10_240]


def make_app() -> Any:
    app = FastMCP("hostile")

    @app.tool()
    async def probe(ctx: Context) -> dict[str, Any]:  # type: ignore[type-arg]
        """What the tool sees: its span and baggage, its request's _meta, what it sends on."""
        downstream: dict[str, str] = {}
        propagate.inject(downstream)  # what the tool's own outgoing calls would carry
        meta = ctx.request_context.meta
        if meta is not None and not isinstance(meta, dict):
            meta = meta.model_dump(by_alias=True, exclude_none=True)
        return {**seen(), "downstream": downstream, "meta": meta or {}}

    return app


async def call_with(baggage: dict[str, str]) -> tuple[dict[str, Any], str]:
    """Call the probe tool with this baggage in ``_meta``; (what it saw, the header sent)."""
    header = baggage_header(baggage)
    async with connect(make_app()) as session:
        result = await session.call_tool("probe", {}, meta={"baggage": header})
    return payload_of(result), header


def server_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "tools/call probe"]
    return span


def assert_untrusted_reaches_nothing(exporter: InMemorySpanExporter, payload: Any) -> None:
    assert UNTRUSTED_KEY not in payload["baggage"]
    # Not in the tool's baggage nor what it sends on (its own request's _meta is the client's).
    assert UNTRUSTED_VALUE not in json.dumps([payload["baggage"], payload["downstream"]])
    for span in exporter.get_finished_spans():
        for key, value in (span.attributes or {}).items():
            assert UNTRUSTED_KEY not in key and UNTRUSTED_VALUE not in str(value), span.name


def assert_clean(value: object) -> None:
    assert isinstance(value, str)
    assert 0 < len(value) <= MAX_SESSION_ID_LENGTH
    assert not CONTROL.search(value), repr(value[:80])


@pytest.fixture
def session_processor() -> None:
    """What ``setup()`` installs: the session copied from the parent context onto every span."""
    FORWARD.extra.append(SessionSpanProcessor())


async def test_widest_session_id_is_capped_and_clean(
    exporter: InMemorySpanExporter, instrumentor: Any, session_processor: None
) -> None:
    payload, header = await call_with({"agent.session_id": WIDEST, UNTRUSTED_KEY: UNTRUSTED_VALUE})
    attributes = dict(server_span(exporter).attributes or {})
    session_id = attributes["agent.session_id"]
    assert_clean(session_id)
    assert attributes["gen_ai.conversation.id"] == session_id
    assert session_id.startswith("s" * 60 + "[31m")  # cleaned, not dropped
    # The tool runs with the same clean session, and passes on only that.
    assert payload["baggage"] == {"agent.session_id": session_id}
    assert payload["downstream"]["baggage"] == baggage_header({"agent.session_id": session_id})
    assert payload["meta"]["baggage"] == header  # the tool's own request is left as sent
    for span in exporter.get_finished_spans():
        value = (span.attributes or {}).get("agent.session_id")
        if value is not None:
            assert_clean(value)
    assert_untrusted_reaches_nothing(exporter, payload)


async def test_ten_kilobyte_session_id_reaches_nothing(
    exporter: InMemorySpanExporter, instrumentor: Any, session_processor: None
) -> None:
    payload, _ = await call_with({"agent.session_id": TEN_KB, UNTRUSTED_KEY: UNTRUSTED_VALUE})
    assert "agent.session_id" not in (server_span(exporter).attributes or {})
    assert payload["baggage"] == {}
    assert_untrusted_reaches_nothing(exporter, payload)


async def test_session_id_of_control_characters_only_reaches_nothing(
    exporter: InMemorySpanExporter, instrumentor: Any, session_processor: None
) -> None:
    """Nothing is left once cleaned: no span gets it, not even from the context the SDK
    (2.x) extracts for its own span, which the session processor reads."""
    payload, _ = await call_with({"agent.session_id": "\n\r\x1b\x00" * 20})
    assert payload["baggage"] == {}
    for span in exporter.get_finished_spans():
        assert "agent.session_id" not in (span.attributes or {}), span.name


async def test_untrusted_key_next_to_a_good_session(
    exporter: InMemorySpanExporter, instrumentor: Any, session_processor: None
) -> None:
    payload, _ = await call_with({UNTRUSTED_KEY: UNTRUSTED_VALUE, "agent.session_id": "ok-1"})
    assert payload["baggage"] == {"agent.session_id": "ok-1"}
    assert (server_span(exporter).attributes or {})["agent.session_id"] == "ok-1"
    assert_untrusted_reaches_nothing(exporter, payload)


async def test_no_key_trusted(
    exporter: InMemorySpanExporter, instrumentor: Any, session_processor: None, settings_env: Any
) -> None:
    """``AGENT_INSTRUMENTORS_TRUST_INCOMING_BAGGAGE=none``: even a clean session id stays out."""
    settings_env(AGENT_INSTRUMENTORS_TRUST_INCOMING_BAGGAGE="none")
    payload, header = await call_with({"agent.session_id": "ok-1"})
    assert payload["baggage"] == {}
    assert "baggage" not in payload["downstream"]
    assert payload["meta"]["baggage"] == header  # the tool's own request is left as sent
    for span in exporter.get_finished_spans():
        assert "agent.session_id" not in (span.attributes or {}), span.name


async def test_a_parsed_header_follows_the_settings(
    exporter: InMemorySpanExporter, instrumentor: Any, session_processor: None, settings_env: Any
) -> None:
    """The server parses a session's baggage header once; a change of settings still applies
    to the very next request carrying it."""
    payload, first = await call_with({"agent.session_id": "ok-1"})
    assert payload["baggage"] == {"agent.session_id": "ok-1"}
    settings_env(AGENT_INSTRUMENTORS_TRUST_INCOMING_BAGGAGE="none")
    payload, second = await call_with({"agent.session_id": "ok-1"})
    assert second == first  # the same header, now parsed under the new settings
    assert payload["baggage"] == {}


def test_parsed_headers_are_bounded() -> None:
    """Callers sending a new header per request cannot grow the cache; an oversized header
    gives what the full extraction gives for it: nothing."""
    from instrumentors.mcp import _middleware

    for index in range(3 * _middleware._ACCEPTED_CAP):
        assert _middleware._incoming_baggage(f"agent.session_id=s-{index}") == {
            "agent.session_id": f"s-{index}"
        }
    assert len(_middleware._accepted) <= _middleware._ACCEPTED_CAP
    assert _middleware._incoming_baggage("agent.session_id=" + "x" * 9000) == {}
