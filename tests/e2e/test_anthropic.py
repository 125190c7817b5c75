"""examples/anthropic_agent.py, run as a user runs it against the scripted local Claude,
exported to Phoenix over OTLP/HTTP and read back through its REST API.

The tree it should produce (one trace per run)::

    anthropic-agent run
    ├─ chat claude-sonnet-4-5           (usage, tool_use)
    │  └─ POST                           (the SDK's httpx2 request)
    ├─ execute_tool get_weather          toolu_n
    ├─ execute_tool get_forecast         toolu_m
    └─ chat claude-sonnet-4-5           (usage, end_turn)
       └─ POST

anthropic 2.x traces itself (an ``anthropic.messages.create`` span through the
global provider); with our instrumentor on, each request has one chat span, ours.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from .harness import PhoenixServer, example_spans
from .phoenix_client import PhoenixClient, Span, by_id, children, named, roots, tree

pytest.importorskip("anthropic")

PROJECT = "e2e-anthropic-agent"
SESSION = "e2e-anthropic-1"
CHAT = "chat claude-sonnet-4-5"
SPANS = 7
TOOL_ID = re.compile(r"^toolu_\d+$")


@pytest.fixture(scope="module")
def spans(
    phoenix: PhoenixServer,
    phoenix_client: PhoenixClient,
    e2e_report: Callable[[str], None],
) -> list[Span]:
    return example_spans(
        phoenix, phoenix_client, e2e_report, "anthropic_agent.py",
        project=PROJECT, session=SESSION, spans=SPANS, keys=("ANTHROPIC_API_KEY",),
    )  # fmt: skip


def test_one_trace_one_root_one_chat_span_per_request(spans: list[Span]) -> None:
    assert len(spans) == SPANS, tree(spans)
    assert len({span["trace_id"] for span in spans}) == 1
    (root,) = roots(spans)
    assert root["name"] == "anthropic-agent run"
    known = by_id(spans)
    assert all(span["parent_id"] in known for span in spans if span is not root)
    assert not [s for s in spans if s["name"].startswith("anthropic.")], tree(spans)
    for span in spans:
        assert span["attributes"]["agent.session_id"] == SESSION, span["name"]


def test_chat_spans(spans: list[Span]) -> None:
    first, second = sorted(named(spans, CHAT), key=lambda s: s["start_time"])
    for chat in (first, second):
        attrs = chat["attributes"]
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.provider.name"] == "anthropic"
        assert attrs["gen_ai.usage.input_tokens"] > 0
        assert attrs["gen_ai.usage.output_tokens"] > 0
        assert chat["status"]["code"] != "ERROR"
        assert [c["name"] for c in children(spans, chat)] in (["POST"], [])
    assert _first(first["attributes"], "gen_ai.response.finish_reasons") == "tool_use"
    assert _first(second["attributes"], "gen_ai.response.finish_reasons") == "end_turn"
    # The second turn sends the tool results back: the prompt grows.
    assert (
        first["attributes"]["gen_ai.usage.input_tokens"]
        < second["attributes"]["gen_ai.usage.input_tokens"]
    )


def _first(attrs: dict[str, object], key: str) -> object:
    """The first item of a list attribute, whether Phoenix returns it as a list or flattened."""
    value = attrs.get(key)
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return attrs.get(f"{key}.0", value)


def test_tools_with_the_ids_claude_gave(spans: list[Span]) -> None:
    for name in ("get_weather", "get_forecast"):
        (tool,) = named(spans, f"execute_tool {name}")
        attrs = tool["attributes"]
        assert TOOL_ID.match(attrs["gen_ai.tool.call.id"]), attrs
        assert attrs["request.parameters.hash"].startswith("sha256:")
