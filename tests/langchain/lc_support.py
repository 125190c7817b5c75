"""Scripted models, agent factories and span-tree helpers shared by the LangChain tests."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan

from tests import _spans

try:
    from langgraph.checkpoint.memory import InMemorySaver
except ImportError:  # langgraph 0.2
    from langgraph.checkpoint.memory import MemorySaver as InMemorySaver  # type: ignore[no-redef]

try:
    from langchain.agents import create_agent
except ImportError:  # langchain < 1
    create_agent = None

__all__ = ["InMemorySaver", "ScriptedChat", "create_agent"]

USAGE = {"input_tokens": 10, "output_tokens": 3, "total_tokens": 13}


class ScriptedChat(FakeMessagesListChatModel):
    """Answers with the scripted messages in order; records the span current at each call."""

    seen: list[str] = []

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChat:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.seen.append(current_span_name())
        return super()._generate(messages, stop, run_manager, **kwargs)


def current_span_name() -> str:
    return getattr(trace.get_current_span(), "name", "") or ""


def tool_call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"id": call_id, "name": name, "args": args, "type": "tool_call"}


def calling(*calls: dict[str, Any], response_id: str = "resp-1") -> AIMessage:
    """An AIMessage requesting tool calls, with usage and provider metadata."""
    return AIMessage(
        "",
        tool_calls=list(calls),
        usage_metadata=dict(USAGE),  # type: ignore[arg-type]
        response_metadata={
            "model_name": "scripted-1",
            "id": response_id,
            "finish_reason": "tool_calls",
        },
    )


def answer(text: str = "3", response_id: str = "resp-2") -> AIMessage:
    return AIMessage(
        text,
        usage_metadata=dict(USAGE),  # type: ignore[arg-type]
        response_metadata={"model_name": "scripted-1", "id": response_id, "finish_reason": "stop"},
    )


def react_agent(model: Any, tools: Any, **kwargs: Any) -> Any:
    """``create_react_agent`` (deprecated in langgraph 1.x, still supported)."""
    from langgraph.prebuilt import create_react_agent

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return create_react_agent(
            model, tools if not isinstance(tools, list) else list(tools), **kwargs
        )


def interrupt_api() -> Any:
    """``langgraph.types`` with ``interrupt()`` (not in langgraph 0.2.17), else skip the test."""
    import pytest

    types = pytest.importorskip("langgraph.types")
    if not hasattr(types, "interrupt"):
        pytest.skip("langgraph without interrupt()")
    return types


AGENT_FACTORIES: list[tuple[str, Callable[..., Any]]] = [("create_react_agent", react_agent)]
if create_agent is not None:
    AGENT_FACTORIES.append(("create_agent", lambda m, t, **kw: create_agent(m, list(t), **kw)))


# --------------------------------------------------------------------------- spans


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    (span,) = named(spans, name)
    return span


def parent_of(spans: Sequence[ReadableSpan], span: ReadableSpan) -> ReadableSpan | None:
    return _spans.parent_of(span, spans)


def ancestors(spans: Sequence[ReadableSpan], span: ReadableSpan) -> list[str]:
    names = []
    current = parent_of(spans, span)
    while current is not None:
        names.append(current.name)
        current = parent_of(spans, current)
    return names


def by_operation(spans: Sequence[ReadableSpan], operation: str) -> list[ReadableSpan]:
    return [s for s in spans if (s.attributes or {}).get("gen_ai.operation.name") == operation]


def tree(spans: Sequence[ReadableSpan]) -> str:
    """An indented tree of span names (for assertion messages)."""
    lines = []

    def walk(span: ReadableSpan, depth: int) -> None:
        lines.append("  " * depth + span.name)
        for child in sorted(spans, key=lambda s: s.start_time or 0):
            if child.parent is not None and child.parent.span_id == span.context.span_id:
                walk(child, depth + 1)

    for root in spans:
        if parent_of(spans, root) is None:
            walk(root, 0)
    return "\n".join(lines)
