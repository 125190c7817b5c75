"""examples/openai_agents_agent.py, run as a user runs it against the scripted local model,
exported to Phoenix over OTLP/HTTP and read back through its REST API.

The tree it should produce (one trace per run)::

    weather desk                        (the SDK's trace: a step; session from its group_id)
    ├─ invoke_agent Triage agent
    │  ├─ chat gpt-4o-mini               (asks transfer_to_weather_agent)
    │  │  └─ POST                        (the openai SDK's request)
    │  └─ handoff                        Triage agent -> Weather agent
    └─ invoke_agent Weather agent
       ├─ chat gpt-4o-mini               (asks get_weather)
       │  └─ POST
       ├─ execute_tool get_weather       call_n
       └─ chat gpt-4o-mini
          └─ POST

The SDK's own export to OpenAI's dashboard is left out offline (the example clears the
SDK's processors); the OpenAI layer enriches each chat span: one per request.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from .harness import PhoenixServer, example_spans
from .phoenix_client import PhoenixClient, Span, by_id, children, named, roots, tree

pytest.importorskip("agents")

PROJECT = "e2e-openai-agents"
SESSION = "e2e-openai-agents-1"
CHAT = "chat gpt-4o-mini"
SPANS = 11
TOOL_ID = re.compile(r"^call_\d+$")


@pytest.fixture(scope="module")
def spans(
    phoenix: PhoenixServer,
    phoenix_client: PhoenixClient,
    e2e_report: Callable[[str], None],
) -> list[Span]:
    return example_spans(
        phoenix, phoenix_client, e2e_report, "openai_agents_agent.py",
        project=PROJECT, session=SESSION, spans=SPANS, keys=("OPENAI_API_KEY",),
    )  # fmt: skip


def test_one_trace_one_root_one_chat_span_per_request(spans: list[Span]) -> None:
    assert len(spans) == SPANS, tree(spans)
    assert len({span["trace_id"] for span in spans}) == 1
    (root,) = roots(spans)
    assert root["name"] == "weather desk"
    assert root["attributes"]["agent.step.name"] == "weather desk"
    assert root["attributes"]["openai_agents.trace_id"].startswith("trace_")
    known = by_id(spans)
    assert all(span["parent_id"] in known for span in spans if span is not root)
    agents = sorted(children(spans, root), key=lambda s: s["start_time"])
    assert [c["name"] for c in agents] == [
        "invoke_agent Triage agent",
        "invoke_agent Weather agent",
    ]
    for span in spans:
        assert span["attributes"]["agent.session_id"] == SESSION, span["name"]


def test_chat_spans(spans: list[Span]) -> None:
    chats = sorted(named(spans, CHAT), key=lambda s: s["start_time"])
    assert len(chats) == 3, tree(spans)
    for chat in chats:
        attrs = chat["attributes"]
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.provider.name"] == "openai"
        assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
        assert attrs["gen_ai.usage.input_tokens"] > 0
        assert attrs["gen_ai.usage.output_tokens"] > 0
        assert attrs["gen_ai.usage.cost.amount"] > 0
        assert chat["status"]["code"] != "ERROR"
        assert [c["name"] for c in children(spans, chat)] in (["POST"], [])
    first, second, third = chats
    assert _first(first["attributes"], "gen_ai.response.finish_reasons") == "tool_calls"
    assert _first(second["attributes"], "gen_ai.response.finish_reasons") == "tool_calls"
    assert _first(third["attributes"], "gen_ai.response.finish_reasons") == "stop"
    # The third turn sends the tool result back: the prompt grows.
    assert (
        second["attributes"]["gen_ai.usage.input_tokens"]
        < third["attributes"]["gen_ai.usage.input_tokens"]
    )


def _first(attrs: dict[str, object], key: str) -> object:
    """The first item of a list attribute, whether Phoenix returns it as a list or flattened."""
    value = attrs.get(key)
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return attrs.get(f"{key}.0", value)


def test_the_handoff_and_the_tool(spans: list[Span]) -> None:
    (handoff,) = named(spans, "handoff")
    assert handoff["attributes"]["agent.handoff.from"] == "Triage agent"
    assert handoff["attributes"]["agent.handoff.to"] == "Weather agent"
    (tool,) = named(spans, "execute_tool get_weather")
    attrs = tool["attributes"]
    assert TOOL_ID.match(attrs["gen_ai.tool.call.id"]), attrs
    assert attrs["request.parameters.hash"].startswith("sha256:")
    assert attrs["gen_ai.agent.name"] == "Weather agent"
