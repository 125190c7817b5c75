"""Helpers for the OpenAI Agents SDK bridge tests (a unique module name on purpose).

Imports the SDK: only test modules that skip without it (``importorskip``) import this.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from agents import Agent, Runner, TracingProcessor, function_tool
from opentelemetry.sdk.trace import ReadableSpan

from tests.fakes.openai_server import Reply, ToolCall

MODEL = "gpt-4o-mini"
QUESTION = "What is the weather in Paris?"
SECRET_PROMPT = "prompt-sentinel-0a9c"  # must never reach a span with capture off
WORKFLOW = "Agent workflow"  # the SDK's default workflow name
CHAT = f"chat {MODEL}"


class Recorder(TracingProcessor):
    """A trace processor that records what it is given: the SDK's own processors, in tests."""

    def __init__(self) -> None:
        self.traces: list[str] = []
        self.spans: list[str] = []

    def on_trace_start(self, trace: Any) -> None:
        self.traces.append(trace.trace_id)

    def on_trace_end(self, trace: Any) -> None:
        return None

    def on_span_start(self, span: Any) -> None:
        return None

    def on_span_end(self, span: Any) -> None:
        self.spans.append(span.span_data.type)

    def shutdown(self) -> None:
        return None

    def force_flush(self) -> None:
        return None


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    if city == "Atlantis":
        raise ValueError("no weather station in Atlantis")
    return f"{city}: 21C, sunny"


def agents(model: Any, **specialist: Any) -> tuple[Agent[Any], Agent[Any]]:
    """(triage, specialist): triage hands off to the specialist, who has ``get_weather``."""
    weather = Agent(
        name="Weather",
        instructions="Answer weather questions with get_weather.",
        model=model,
        tools=[get_weather],
        **specialist,
    )
    triage = Agent(
        name="Triage",
        instructions="Hand weather questions to the Weather agent.",
        model=model,
        handoffs=[weather],
    )
    return triage, weather


def handoff_script(*calls: ToolCall) -> list[Reply]:
    """Triage hands off; the Weather agent calls ``calls`` (default: one get_weather); answers."""
    calls = calls or (ToolCall("get_weather", '{"city": "Paris"}', id="call_weather"),)
    return [
        Reply.tools(ToolCall("transfer_to_weather", "{}", id="call_handoff")),
        Reply.tools(*calls),
        Reply(text="Sunny in Paris."),
    ]


def run_sync(*args: Any, **kwargs: Any) -> Any:
    """``Runner.run_sync`` in a thread of its own loop (0.4-era releases use the current one)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return Runner.run_sync(*args, **kwargs)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


# ----------------------------------------------------------------------------- reading spans


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    """Finished spans named ``name``, in start order."""
    return sorted((s for s in spans if s.name == name), key=lambda s: s.start_time or 0)


def one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    """The single finished span named ``name``."""
    (span,) = named(spans, name)
    return span


def parent(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> ReadableSpan | None:
    """``span``'s parent among ``spans``."""
    if span.parent is None:
        return None
    return next((s for s in spans if s.context.span_id == span.parent.span_id), None)


def tree(spans: Sequence[ReadableSpan]) -> list[str]:
    """``"  " * depth + name`` for every span, depth first, children in start order."""
    ids = {s.context.span_id for s in spans}
    kids: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        key = span.parent.span_id if span.parent and span.parent.span_id in ids else None
        kids.setdefault(key, []).append(span)
    lines: list[str] = []

    def walk(key: int | None, depth: int) -> None:
        for span in sorted(kids.get(key, []), key=lambda s: s.start_time or 0):
            lines.append("  " * depth + span.name)
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return lines


def attrs(span: ReadableSpan) -> dict[str, Any]:
    """The span's attributes as a plain dict."""
    return dict(span.attributes or {})


def exception_events(span: ReadableSpan) -> list[dict[str, Any]]:
    """The attributes of the span's ``exception`` events."""
    return [dict(e.attributes or {}) for e in span.events if e.name == "exception"]


def every_string(spans: Sequence[ReadableSpan]) -> str:
    """All attribute and event values of ``spans``, as one string (to search for content)."""
    values: list[str] = []
    for span in spans:
        values += [str(v) for v in (span.attributes or {}).values()]
        for event in span.events:
            values += [str(v) for v in (event.attributes or {}).values()]
    return "\n".join(values)
