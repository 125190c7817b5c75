"""icount driver: ``MockLLM.chat`` then ``FunctionTool.call``, two spans per call.

The llm+tool workload of ``benchmarks/llama_index_overhead.py``. With
``LlamaIndexInstrumentor`` it makes two root spans per call: ``chat`` (its nested
``MockLLM.complete`` span folded into it) and ``execute_tool add``, each current while
LlamaIndex's own span is open.

Modes, every handler going on LlamaIndex's root instrumentation dispatcher, where
ours go (``dispatcher.add_span_handler`` / ``add_event_handler``):

- ``plain``: uninstrumented (only LlamaIndex's own null handlers);
- ``noop``: a span handler and an event handler that do nothing;
- ``bare``: a span handler (and an event handler, for LLM streams) that opens a bare
  SDK span, under the "bench" scope, for each LlamaIndex span ours turns into one:
  same names, kinds, parents and attributes (captured from one instrumented call and
  replayed in order: no extraction), current from ``span_enter`` to ``span_exit``. An
  LLM stream's span is handled as ours handles it: still current after the exit until
  the stream's first event, ended by its end event. Its spans are checked against
  ours once, before the count;
- ``ours``: ``LlamaIndexInstrumentor().instrument()``, before the workload is built
  (as a program does at startup)::

    python benchmarks/icount/llama_index_step.py MODE CALLS

The handlers and the capture and check helpers live here; ``llama_index_agent.py``
imports them.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import AsyncGeneratorType, GeneratorType
from typing import Any, Final

from _icount import Discard, measure, parse_args, settle, tracing
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.exception import ExceptionEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatInProgressEvent,
    LLMCompletionEndEvent,
    LLMCompletionInProgressEvent,
)
from llama_index.core.instrumentation.span import BaseSpan
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from llama_index.core.llms import ChatMessage, MockLLM
from llama_index.core.tools import FunctionTool
from llama_index_overhead import add
from opentelemetry import trace
from opentelemetry.context import attach, detach
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Span, SpanKind, Tracer

from instrumentors.llama_index import LlamaIndexInstrumentor

MODES = ("plain", "noop", "bare", "ours")
# LlamaIndex span name (its span id up to the first "-") -> the name of the span ours makes.
PLAN: Final = {"MockLLM.chat": "chat", "FunctionTool.call": "execute_tool add"}
MESSAGES: Final = [ChatMessage(role="user", content="What is one plus two, please?")]

_STREAMS: Final = (GeneratorType, AsyncGeneratorType)
_STREAM_EVENTS: Final = frozenset(
    {
        LLMChatInProgressEvent,
        LLMCompletionInProgressEvent,
        LLMChatEndEvent,
        LLMCompletionEndEvent,
        ExceptionEvent,
    }
)
_STREAM_ENDS: Final = frozenset({LLMChatEndEvent, LLMCompletionEndEvent, ExceptionEvent})


# --------------------------------------------------------------------------- handlers


class _Opened:
    """A bare span and the token of its attachment (None once detached)."""

    __slots__ = ("span", "token")

    def __init__(self, span: Span, token: object) -> None:
        self.span = span
        self.token: object | None = token


class Replay:
    """Bare SDK spans for the LlamaIndex spans of a plan, attributes replayed in order."""

    __slots__ = ("open", "planned", "streams", "tracer")

    def __init__(self, tracer: Tracer, plan: dict[str, str], ours: Sequence[ReadableSpan]) -> None:
        by_name: dict[str, list[ReadableSpan]] = {}
        for span in sorted(ours, key=lambda s: s.start_time or 0):
            by_name.setdefault(span.name, []).append(span)
        self.tracer = tracer
        self.planned: dict[str, tuple[str, SpanKind, Iterator[dict[str, Any]]]] = {}
        for source, name in plan.items():
            found = by_name.get(name)
            if not found:
                raise SystemExit(f"our instrumentor made no {name!r} span: the plan is stale")
            attributes = [dict(span.attributes or {}) for span in found]
            self.planned[source] = (name, found[0].kind, itertools.cycle(attributes))
        self.open: dict[str, _Opened] = {}
        self.streams: dict[str, _Opened] = {}  # LLM spans that exited with a generator

    def enter(self, id_: str) -> None:
        planned = self.planned.get(id_.partition("-")[0])
        if planned is None:
            return
        name, kind, attributes = planned
        span = self.tracer.start_span(name, kind=kind, attributes=next(attributes))
        self.open[id_] = _Opened(span, attach(trace.set_span_in_context(span)))

    def exit(self, id_: str, result: Any) -> None:
        opened = self.open.pop(id_, None)
        if opened is None:
            return
        if isinstance(result, _STREAMS):
            self.streams[id_] = opened  # still current until the stream's first event
            return
        detach(opened.token)  # type: ignore[arg-type]
        opened.span.end()

    def drop(self, id_: str) -> None:
        opened = self.open.pop(id_, None)
        if opened is not None:
            detach(opened.token)  # type: ignore[arg-type]
            opened.span.end()

    def event(self, event: BaseEvent) -> None:
        span_id = event.span_id
        opened = self.streams.get(span_id) if span_id else None
        if opened is None or type(event) not in _STREAM_EVENTS:
            return
        if opened.token is not None:
            detach(opened.token)  # type: ignore[arg-type]
            opened.token = None
        if type(event) in _STREAM_ENDS:
            del self.streams[span_id]  # type: ignore[arg-type]
            opened.span.end()


class _SpanHandler(BaseSpanHandler[BaseSpan]):
    """The base class's own bookkeeping bypassed, as ours does."""

    def new_span(self, *args: Any, **kwargs: Any) -> BaseSpan | None:
        return None

    def prepare_to_exit_span(self, *args: Any, **kwargs: Any) -> BaseSpan | None:
        return None

    def prepare_to_drop_span(self, *args: Any, **kwargs: Any) -> BaseSpan | None:
        return None


class NoopSpanHandler(_SpanHandler):
    def span_enter(self, *args: Any, **kwargs: Any) -> None:
        return None

    def span_exit(self, *args: Any, **kwargs: Any) -> None:
        return None

    def span_drop(self, *args: Any, **kwargs: Any) -> None:
        return None


class NoopEventHandler(BaseEventHandler):
    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        return None


class BareSpanHandler(_SpanHandler):
    replay: Replay | None = None

    def span_enter(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        parent_id: str | None = None,
        tags: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        replay = self.replay
        if replay is not None:
            replay.enter(id_)

    def span_exit(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        result: Any | None = None,
        **kwargs: Any,
    ) -> None:
        replay = self.replay
        if replay is not None and replay.open:
            replay.exit(id_, result)

    def span_drop(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        err: BaseException | None = None,
        **kwargs: Any,
    ) -> None:
        replay = self.replay
        if replay is not None and replay.open:
            replay.drop(id_)


class BareEventHandler(BaseEventHandler):
    replay: Replay | None = None

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        replay = self.replay
        if replay is not None and replay.streams:
            replay.event(event)


def install(mode: str, plan: dict[str, str], ours: Sequence[ReadableSpan]) -> None:
    """The ``noop`` or ``bare`` handlers on the root dispatcher (nothing for other modes)."""
    dispatcher = get_dispatcher()
    if mode == "noop":
        dispatcher.add_span_handler(NoopSpanHandler())
        dispatcher.add_event_handler(NoopEventHandler())
    elif mode == "bare":
        replay = Replay(trace.get_tracer("bench"), plan, ours)
        span_handler, event_handler = BareSpanHandler(), BareEventHandler()
        span_handler.replay = event_handler.replay = replay
        dispatcher.add_span_handler(span_handler)
        dispatcher.add_event_handler(event_handler)


# --------------------------------------------------------------------------- capture / check


@contextmanager
def collecting(exporter: Discard) -> Iterator[list[ReadableSpan]]:
    """The spans exported inside the block, in export order (outside the count)."""
    kept: list[ReadableSpan] = []
    export = exporter.export

    def keep(spans: Sequence[ReadableSpan]) -> Any:
        kept.extend(spans)
        return export(spans)

    exporter.export = keep  # type: ignore[method-assign]
    try:
        yield kept
    finally:
        del exporter.export
    if not kept:
        raise SystemExit("no spans exported where some were expected")


Shape = tuple[str, SpanKind, str | None, dict[str, Any]]


def shape(spans: Sequence[ReadableSpan]) -> list[Shape]:
    """Name, kind, parent's name and attributes of each span."""
    names = {span.context.span_id: span.name for span in spans if span.context is not None}
    return [
        (
            span.name,
            span.kind,
            names.get(span.parent.span_id) if span.parent is not None else None,
            dict(span.attributes or {}),
        )
        for span in spans
    ]


def check_bare(ours: Sequence[ReadableSpan], bare: Sequence[ReadableSpan]) -> None:
    """Bare spans: as many as ours, under another scope, same names, kinds, parents, attributes."""
    if len(bare) != len(ours):
        raise SystemExit(f"bare made {len(bare)} span(s) per call, ours {len(ours)}")
    scopes = {span.instrumentation_scope.name for span in bare if span.instrumentation_scope}
    if any(scope.startswith("instrumentors") for scope in scopes):
        raise SystemExit(f"bare spans under an instrumentors scope: {scopes}")
    mine, theirs = shape(bare), shape(ours)
    if mine != theirs:
        lines = [f"  ours {o}\n  bare {b}" for o, b in zip(theirs, mine, strict=True) if o != b]
        raise SystemExit("bare spans differ from ours:\n" + "\n".join(lines))


# --------------------------------------------------------------------------- workload


def build() -> Callable[[], object]:
    """A fresh LLM and tool; one call is a chat then a tool call."""
    llm = MockLLM(max_tokens=8)
    tool = FunctionTool.from_defaults(fn=add)

    def call() -> object:
        llm.chat(MESSAGES)
        return tool.call(a=1, b=2)

    return call


def main() -> None:
    mode, calls = parse_args(MODES)
    _, exporter = tracing()
    instrumentor = LlamaIndexInstrumentor()
    instrumentor.instrument()
    call = build()
    with collecting(exporter) as ours:  # the spans ours makes (one call, outside the count)
        call()
    if mode != "ours":
        instrumentor.uninstrument()
        call = build()
    install(mode, PLAN, ours)
    if mode == "bare":
        with collecting(exporter) as bare:
            call()
        check_bare(ours, bare)
    settle()
    measure(mode, call, calls, warmup=50, exporter=exporter)


if __name__ == "__main__":
    main()
