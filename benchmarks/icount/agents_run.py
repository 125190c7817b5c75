"""icount driver: one OpenAI Agents SDK ``Runner.run`` (``openai_agents_overhead.py``'s workload).

One agent with one function tool on a real ``AsyncOpenAI`` client whose HTTP transport
answers Responses requests in process (no socket): two model turns (the first asks for
``get_weather``, the second answers) and the tool call between them, in this
process's one event loop. Our bridge makes five spans per run: the workflow step
``Agent workflow``, ``invoke_agent Weather`` under it, and under that two
``chat gpt-4o-mini`` (CLIENT) and ``execute_tool get_weather`` (linked to the chat span
that asked for it), each current while its SDK span is open.

The SDK's own tracing exports to OpenAI from a background thread: every mode first
replaces the SDK's processors with none (``set_trace_processors([])``), so the
default processor never sees a trace, starts no thread and sends nothing; each mode
then registers its processor the way ours does with ``replace_processors=True``
(``set_trace_processors([processor])``).

Modes: ``plain`` (the SDK's tracing on, no processor: its span objects are still
made), ``noop`` (a processor whose callbacks do nothing), ``bare`` (a processor
opening one bare SDK span per span ours emits, with the names, kinds, attributes,
link and nesting ours end up with, each made current like ours), ``ours``
(``OpenAIAgentsInstrumentor().instrument(replace_processors=True)``)::

    python benchmarks/icount/agents_run.py MODE CALLS
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from _icount import Discard, measure_async, parse_args, tracing
from agents import Agent, Runner, TracingProcessor
from agents.tracing import get_trace_provider, set_trace_processors
from openai_agents_overhead import make_agent
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import Link, SpanKind

from instrumentors.openai_agents import OpenAIAgentsInstrumentor, _compat

MODES = ("plain", "noop", "bare", "ours")
QUESTION = "What is the weather in Paris?"
WORKFLOW = "Agent workflow"
# The SDK span types ours makes a span for here, and the name it gets.
NAMES = {
    "agent": "invoke_agent Weather",
    "response": "chat gpt-4o-mini",
    "function": "execute_tool get_weather",
}
CHAT, TOOL = NAMES["response"], NAMES["function"]


class Noop(TracingProcessor):
    """A processor whose callbacks do nothing."""

    def on_trace_start(self, trace: Any) -> None:
        return None

    def on_trace_end(self, trace: Any) -> None:
        return None

    def on_span_start(self, span: Any) -> None:
        return None

    def on_span_end(self, span: Any) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self) -> None:
        return None


class BareSpans(Noop):
    """One bare span per span ours makes, with our spans' attributes replayed in order.

    Each span is started in the current context and made current (attached) until its
    SDK span ends, as ours are; the tool span links to the last chat span started.
    """

    def __init__(self, tracer: trace.Tracer, captured: list[ReadableSpan]) -> None:
        self._tracer = tracer
        self._kinds: dict[str, SpanKind] = {}
        attributes: dict[str, list[dict[str, Any]]] = {}
        for span in captured:  # in start order
            self._kinds[span.name] = span.kind
            attributes.setdefault(span.name, []).append(dict(span.attributes or {}))
        self._attributes: dict[str, Iterator[dict[str, Any]]] = {
            name: itertools.cycle(values) for name, values in attributes.items()
        }
        self._open: dict[str, tuple[trace.Span, object]] = {}
        self._chat: trace.Span = trace.INVALID_SPAN

    def _start(self, key: str, name: str, links: list[Link] | None = None) -> trace.Span:
        span = self._tracer.start_span(
            name, kind=self._kinds[name], attributes=next(self._attributes[name]), links=links
        )
        self._open[key] = (span, otel_context.attach(trace.set_span_in_context(span)))
        return span

    def _end(self, key: str) -> None:
        found = self._open.pop(key, None)
        if found is not None:
            span, token = found
            otel_context.detach(token)  # type: ignore[arg-type]
            span.end()

    def on_trace_start(self, trace: Any) -> None:
        self._start(trace.trace_id, WORKFLOW)

    def on_trace_end(self, trace: Any) -> None:
        self._end(trace.trace_id)

    def on_span_start(self, span: Any) -> None:
        name = NAMES.get(span.span_data.type)
        if name == TOOL:
            self._start(span.span_id, name, [Link(self._chat.get_span_context())])
        elif name is not None:
            started = self._start(span.span_id, name)
            if name == CHAT:
                self._chat = started

    def on_span_end(self, span: Any) -> None:
        self._end(span.span_id)


def started_in_order(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return sorted(spans, key=lambda span: span.start_time or 0)


def shape(spans: list[ReadableSpan]) -> list[tuple[str, SpanKind, str | None, list[str]]]:
    """(name, kind, parent's name, linked spans' names) of each span, in start order."""
    names = {span.context.span_id: span.name for span in spans if span.context}
    return [
        (
            span.name,
            span.kind,
            names.get(span.parent.span_id) if span.parent else None,
            [names.get(link.context.span_id, "?") for link in span.links],
        )
        for span in started_in_order(spans)
    ]


async def one_run(exporter: Discard, agent: Agent[Any]) -> list[ReadableSpan]:
    """The spans one run exports (``Discard`` keeps only counts: listen in for once)."""
    spans: list[ReadableSpan] = []
    export = exporter.export

    def listening(batch: Sequence[ReadableSpan]) -> SpanExportResult:
        spans.extend(batch)
        return export(batch)

    exporter.export = listening  # type: ignore[method-assign, assignment]
    try:
        await Runner.run(agent, QUESTION)
    finally:
        del exporter.export
    return spans


async def run(mode: str, calls: int) -> None:
    _, exporter = tracing()
    tracer = trace.get_tracer("bench")
    # Before anything traces: no processor of the SDK's (no export to OpenAI) in any mode.
    set_trace_processors([])
    agent = make_agent()

    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(replace_processors=True)
    for _ in range(2):  # first-run paths (the price table, caches)
        await Runner.run(agent, QUESTION)
    ours = await one_run(exporter, agent)
    if mode != "ours":
        instrumentor.uninstrument()  # gives back the empty list
        processors: dict[str, list[TracingProcessor]] = {
            "plain": [],
            "noop": [Noop()],
            "bare": [BareSpans(tracer, started_in_order(ours))],
        }
        set_trace_processors(processors[mode])
    registered = _compat.current_processors(get_trace_provider())
    expected = {"plain": 0}.get(mode, 1)
    if registered is None or len(registered) != expected:
        sys.exit(f"{mode}: expected {expected} trace processor(s), found {registered}")

    async def call() -> object:
        return await Runner.run(agent, QUESTION)

    if mode == "bare":
        await call()
        bare = await one_run(exporter, agent)
        if len(bare) != len(ours) or shape(bare) != shape(ours):
            sys.exit(f"bare spans {shape(bare)}\n  differ from ours {shape(ours)}")
        scopes = {s.instrumentation_scope.name for s in bare if s.instrumentation_scope}
        if any(name.startswith("instrumentors") for name in scopes):
            sys.exit(f"bare spans under our scope: {scopes}")
    await measure_async(mode, call, calls, warmup=10, exporter=exporter)


def main() -> None:
    mode, calls = parse_args(MODES)
    asyncio.run(run(mode, calls))


if __name__ == "__main__":
    main()
