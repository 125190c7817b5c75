"""icount driver: one LangChain agent step (``langchain_overhead.py``'s step workload).

A scripted chat model's ``invoke`` (answering with a tool call) plus the tool's
``invoke`` with that ToolCall: two runs, two spans (``chat`` and ``execute_tool
get_weather``, the tool span linked to the chat span that requested the call).

Modes: ``plain`` (no handler), ``noop`` (``NoopHandler``, a no-op callback handler
added to every callback manager through ``register_configure_hook``, inheritable, as
our instrumentor adds its handler), ``bare`` (``BareHandler`` at that same hook,
opening a bare SDK span per run ours traces: same names, kinds, attributes, parents
and link, each span current from its start callback to its end callback), ``ours``
(``LangChainInstrumentor``)::

    python benchmarks/icount/langchain_step.py MODE CALLS

Our spans' attributes are captured in a child process running this script in the
``capture`` mode (our instrumentor on, one JSON line describing the spans of one call):
instrumenting here and uninstrumenting would leave our configure hook registered (a
registered hook cannot be removed), a cost the ``bare`` mode must not carry. The
``bare`` mode checks once, outside the count, that its spans match that description.

``BareHandler`` and the helpers around it are shared with ``langgraph_run.py``.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import Token
from typing import Any, NamedTuple
from uuid import UUID

from _icount import Discard, measure, parse_args, tracing
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langchain_core.tracers.context import register_configure_hook
from langchain_overhead import CALL, REQUEST, ScriptedChat, _NoopHandler, get_weather
from opentelemetry import trace
from opentelemetry.context import Context, attach, detach
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, Tracer

from instrumentors.langchain import LangChainInstrumentor

MODES = ("plain", "noop", "bare", "ours")
CAPTURE = "capture"  # internal: print our spans' description (see the module docstring)
CHAT = "chat"
TOOL = "execute_tool get_weather"
MESSAGES = [HumanMessage("What is the weather in Paris?")]

Description = list[dict[str, Any]]


class Spec(NamedTuple):
    """One span to open: what ours ends up with."""

    name: str
    kind: SpanKind
    attributes: dict[str, Any]
    linked: bool  # linked to the last chat span (the one that requested the tool call)


class HookSlot:
    """The "context variable" ``register_configure_hook`` asks for a handler (as ours is)."""

    __slots__ = ("handler",)

    def __init__(self, handler: BaseCallbackHandler) -> None:
        self.handler = handler

    def get(self) -> BaseCallbackHandler:
        return self.handler


NoopHandler = _NoopHandler  # LangChain's callback work alone (see langchain_overhead.py)


def hook(handler: BaseCallbackHandler) -> None:
    """Add ``handler`` to every callback manager LangChain configures, inheritable."""
    register_configure_hook(HookSlot(handler), True, handle_class=type(handler))  # type: ignore[arg-type]


class BareHandler(BaseCallbackHandler):
    """A bare SDK span per run ours traces, its precomputed name, kind and attributes
    looked up by the run's name (in order when several share one); current from the
    start callback to the end callback (in these sync workloads a run's two callbacks
    share a thread and context, LangGraph's pooled tool run included)."""

    run_inline = True

    def __init__(
        self,
        tracer: Tracer,
        chains: Mapping[str, Sequence[Spec]],
        chat: Sequence[Spec],
        tools: Mapping[str, Sequence[Spec]],
    ) -> None:
        self._tracer = tracer
        self._chains = {name: itertools.cycle(specs) for name, specs in chains.items()}
        self._chat = itertools.cycle(chat) if chat else None
        self._tools = {name: itertools.cycle(specs) for name, specs in tools.items()}
        self._open: dict[UUID, tuple[Span, Token[Context]]] = {}
        self._requested_by: SpanContext | None = None

    def _start(self, run_id: UUID, specs: Iterator[Spec] | None) -> Span | None:
        if specs is None:
            return None
        name, kind, attributes, linked = next(specs)
        requested_by = self._requested_by
        links = (Link(requested_by),) if linked and requested_by is not None else None
        span = self._tracer.start_span(name, kind=kind, attributes=attributes, links=links)
        self._open[run_id] = (span, attach(trace.set_span_in_context(span)))
        return span

    def _end(self, run_id: UUID) -> None:
        entry = self._open.pop(run_id, None)
        if entry is not None:
            detach(entry[1])
            entry[0].end()

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, **kw: Any) -> None:
        self._start(run_id, self._chains.get(kw.get("name")))  # type: ignore[arg-type]

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kw: Any) -> None:
        self._end(run_id)

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kw: Any
    ) -> None:
        span = self._start(run_id, self._chat)
        if span is not None:
            self._requested_by = span.get_span_context()

    def on_llm_end(self, response: Any, *, run_id: UUID, **kw: Any) -> None:
        self._end(run_id)

    def on_tool_start(self, serialized: Any, input_str: Any, *, run_id: UUID, **kw: Any) -> None:
        self._start(run_id, self._tools.get(serialized["name"]))

    def on_tool_end(self, output: Any, *, run_id: UUID, **kw: Any) -> None:
        self._end(run_id)


# --------------------------------------------------------------------------- capture and check


def spans_of(exporter: Discard, call: Callable[[], object]) -> list[ReadableSpan]:
    """The spans ``call`` exports, in export order."""
    spans: list[ReadableSpan] = []
    export = exporter.export

    def keep(batch: Sequence[ReadableSpan]) -> SpanExportResult:
        spans.extend(batch)
        return export(batch)

    exporter.export = keep  # type: ignore[method-assign,assignment]
    try:
        call()
    finally:
        del exporter.export
    return spans


def describe(spans: Sequence[ReadableSpan]) -> Description:
    """Name, kind, scope, parent, attributes and links of each span (JSON-ready)."""
    # A span is named by its position too: "3 agent" (the same names recur in a run).
    names = {
        span.context.span_id: f"{index} {span.name}"
        for index, span in enumerate(spans)
        if span.context is not None
    }

    def name_of(context: SpanContext | None) -> str | None:
        return names.get(context.span_id, "(outside)") if context is not None else None

    found = [
        {
            "name": span.name,
            "kind": span.kind.name,
            "scope": span.instrumentation_scope.name if span.instrumentation_scope else None,
            "parent": name_of(span.parent),
            "attributes": dict(span.attributes or {}),
            "links": [name_of(link.context) for link in span.links],
        }
        for span in spans
    ]
    loaded: Description = json.loads(json.dumps(found))  # tuples as lists, like the capture
    return loaded


def capture(exporter: Discard, call: Callable[[], object]) -> None:
    """The ``capture`` mode: our instrumentor on, describe the spans of one (warm) call."""
    LangChainInstrumentor().instrument()
    call()
    print(json.dumps(describe(spans_of(exporter, call))))


def captured(script: str) -> Description:
    """Our spans' description, from ``script`` run in the ``capture`` mode."""
    result = subprocess.run(
        [sys.executable, script, CAPTURE, "0"], capture_output=True, text=True, check=False
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    if result.returncode != 0 or not lines:
        sys.exit(f"capturing our spans failed:\n{result.stderr[-3000:]}")
    loaded: Description = json.loads(lines[-1])
    return loaded


def specs(description: Description, span_name: str) -> list[Spec]:
    """The spans named ``span_name``, in order, as bare spans to open."""
    found = [
        Spec(
            span["name"],
            SpanKind[span["kind"]],
            {k: tuple(v) if isinstance(v, list) else v for k, v in span["attributes"].items()},
            bool(span["links"]),
        )
        for span in description
        if span["name"] == span_name
    ]
    if not found:
        sys.exit(f"our instrumentation made no {span_name!r} span: {description}")
    return found


def check(ours: Description, bare: Description) -> None:
    """Exit unless the bare spans are ours, bar the scope (which must not be ours)."""
    if any(str(span["scope"]).startswith("instrumentors") for span in bare):
        sys.exit(f"bare spans under an instrumentors scope: {bare}")
    strip = [{k: v for k, v in span.items() if k != "scope"} for span in ours]
    mine = [{k: v for k, v in span.items() if k != "scope"} for span in bare]
    if mine != strip:
        sys.exit(
            f"bare spans differ from ours ({len(mine)} vs {len(strip)} per call):\n"
            f"  ours: {strip}\n  bare: {mine}"
        )


# --------------------------------------------------------------------------- the step


def main() -> None:
    mode, calls = parse_args((*MODES, CAPTURE))
    _, exporter = tracing()
    model = ScriptedChat(responses=[REQUEST])

    def step() -> object:
        model.invoke(MESSAGES)
        return get_weather.invoke(CALL)

    if mode == CAPTURE:
        capture(exporter, step)
        return
    if mode == "noop":
        hook(NoopHandler())
    elif mode == "bare":
        ours = captured(__file__)
        tracer = trace.get_tracer("bench")
        tools = {"get_weather": specs(ours, TOOL)}
        hook(BareHandler(tracer, chains={}, chat=specs(ours, CHAT), tools=tools))
        step()
        check(ours, describe(spans_of(exporter, step)))
    elif mode == "ours":
        LangChainInstrumentor().instrument()
    measure(mode, step, calls, warmup=50, exporter=exporter)


if __name__ == "__main__":
    main()
