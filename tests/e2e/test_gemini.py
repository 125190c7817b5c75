"""examples/gemini_agent.py, run as a user runs it against the scripted local Gemini model,
exported to Phoenix over OTLP/HTTP and read back through its REST API.

The tree it should produce (one trace per run)::

    gemini-agent run
    ├─ chat gemini-2.5-flash          {rate.limit.invoked, retry.attempted}  (asks get_weather)
    │  ├─ POST  ERROR 429              (the SDK's httpx2 requests: the first is rate limited)
    │  └─ POST
    ├─ execute_tool get_weather       local-n:0:0 (the id the instrumentor gave the call)
    ├─ chat gemini-2.5-flash
    │  └─ POST
    └─ chat gemini-2.5-flash          (a chat session with automatic function calling)
       ├─ POST
       ├─ execute_tool get_forecast   local-m:0:0 (run by the SDK)
       └─ POST
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from .harness import PhoenixServer, example_spans
from .phoenix_client import PhoenixClient, Span, by_id, children, named, roots, tree

pytest.importorskip("google.genai")

PROJECT = "e2e-gemini-agent"
SESSION = "e2e-gemini-1"
CHAT = "chat gemini-2.5-flash"
SPANS = 11
CALL_ID = re.compile(r"^local-\d+:0:0$")


@pytest.fixture(scope="module")
def spans(
    phoenix: PhoenixServer,
    phoenix_client: PhoenixClient,
    e2e_report: Callable[[str], None],
) -> list[Span]:
    return example_spans(
        phoenix, phoenix_client, e2e_report, "gemini_agent.py",
        project=PROJECT, session=SESSION, spans=SPANS, keys=("GOOGLE_API_KEY", "GEMINI_API_KEY"),
    )  # fmt: skip


def _chats(spans: list[Span]) -> list[Span]:
    return sorted(named(spans, CHAT), key=lambda s: s["start_time"])


def _events(span: Span, name: str) -> list[dict[str, object]]:
    return [event["attributes"] for event in span["events"] if event["name"] == name]


def test_one_trace_one_root_one_session(spans: list[Span]) -> None:
    assert len(spans) == SPANS, tree(spans)
    assert len({span["trace_id"] for span in spans}) == 1
    (root,) = roots(spans)
    assert root["name"] == "gemini-agent run"
    known = by_id(spans)
    assert all(span["parent_id"] in known for span in spans if span is not root)
    for span in spans:
        assert span["attributes"]["agent.session_id"] == SESSION, span["name"]


def test_chat_spans(spans: list[Span]) -> None:
    chats = _chats(spans)
    assert len(chats) == 3, tree(spans)
    for chat in chats:
        attrs = chat["attributes"]
        assert attrs["gen_ai.provider.name"] == "gcp.gemini"
        assert attrs["gen_ai.response.model"] == "gemini-2.5-flash-local"
        assert attrs["gen_ai.usage.input_tokens"] > 0
        assert attrs["gen_ai.usage.output_tokens"] > 0
        assert attrs["server.address"] == "127.0.0.1"
        assert chat["status"]["code"] != "ERROR"
    # Later turns send the function results back: the prompt grows.
    inputs = [chat["attributes"]["gen_ai.usage.input_tokens"] for chat in chats]
    assert inputs == sorted(inputs) and inputs[0] < inputs[-1]


def test_the_rate_limited_request_retried_once(spans: list[Span]) -> None:
    first, second, session = _chats(spans)
    (retry,) = _events(first, "retry.attempted")  # the tenacity layer's, not a second one
    assert retry["retry.attempt"] == 1
    (limit,) = _events(first, "rate.limit.invoked")
    assert limit["http.response.status_code"] == 429
    assert not _events(second, "retry.attempted") and not _events(session, "retry.attempted")
    posts = children(spans, first)
    assert [p["name"] for p in posts] == ["POST", "POST"]


def test_the_agents_tool_and_the_sdks_tool(spans: list[Span]) -> None:
    first, _, session = _chats(spans)
    (weather,) = named(spans, "execute_tool get_weather")
    (forecast,) = named(spans, "execute_tool get_forecast")
    for tool in (weather, forecast):
        attrs = tool["attributes"]
        assert CALL_ID.match(attrs["gen_ai.tool.call.id"]), attrs
        assert attrs["request.parameters.hash"].startswith("sha256:")
        assert tool["status"]["code"] != "ERROR"
    # Automatic function calling: the SDK ran get_forecast inside the session's span.
    assert forecast["parent_id"] == session["span_id"]
    assert weather["parent_id"] == first["parent_id"]  # the agent ran it between requests
