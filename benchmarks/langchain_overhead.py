"""Overhead of ``LangChainInstrumentor`` on one agent step and on a LangGraph ReAct agent run.

One step is a fake chat-model ``invoke`` plus a tool ``invoke`` (with a ToolCall, as
agents call tools); the agent run is a two-step ``create_react_agent`` run (model ->
tool -> model). Same process, same in-memory exporter, instrumented and uninstrumented
rounds interleaved; prints the median time per call and the difference. Run:

    python benchmarks/langchain_overhead.py [--rounds 20] [--steps 300] [--runs 60] [--batch]

Targets: <= 150 µs per step, <= 2 ms per agent run.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import warnings
from collections.abc import Callable
from typing import Any, Final

from _timing import clock_for, per_call_us
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from instrumentors.langchain import LangChainInstrumentor

STEP_TARGET_US = 150.0
RUN_TARGET_US = 2000.0


class ScriptedChat(FakeMessagesListChatModel):
    """Cycles through scripted answers; accepts tools like a real chat model."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChat:
        return self


class _NoopHandler(BaseCallbackHandler):
    """LangChain's callback work alone. ``on_chat_model_start`` is implemented (as ours and
    the bare handler do): the base one raises NotImplementedError, and LangChain then
    renders the messages as strings for ``on_llm_start``, work no real handler causes."""

    run_inline = True

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        return None


class _BareSpanHandler(BaseCallbackHandler):
    """The in-situ reference: one plain SDK span per model and tool run, at the same callbacks
    as ours, with the attributes our spans end up with (no extraction, no hashing, no links)."""

    run_inline = True

    def __init__(self, tracer: Any) -> None:
        self._tracer = tracer
        self._spans: dict[Any, Any] = {}

    def _start(self, run_id: Any, name: str, kind: SpanKind, attributes: dict[str, Any]) -> None:
        self._spans[run_id] = self._tracer.start_span(name, kind=kind, attributes=attributes)

    def _end(self, run_id: Any) -> None:
        span = self._spans.pop(run_id, None)
        if span is not None:
            span.end()

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: Any, **kw: Any
    ) -> None:
        self._start(run_id, "chat", SpanKind.CLIENT, _CHAT_ATTRIBUTES)

    def on_llm_end(self, response: Any, *, run_id: Any, **kw: Any) -> None:
        self._end(run_id)

    def on_tool_start(self, serialized: Any, input_str: Any, *, run_id: Any, **kw: Any) -> None:
        self._start(run_id, "execute_tool get_weather", SpanKind.INTERNAL, _TOOL_ATTRIBUTES)

    def on_tool_end(self, output: Any, *, run_id: Any, **kw: Any) -> None:
        self._end(run_id)


# What our spans carry for this step (checked against the exporter in main()).
_CHAT_ATTRIBUTES: Final = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "scripted",
    "gen_ai.response.tool_call.ids": ("call_1",),
    "gen_ai.response.tool_call.names": ("get_weather",),
}
_TOOL_ATTRIBUTES: Final = {
    "gen_ai.operation.name": "execute_tool",
    "gen_ai.tool.name": "get_weather",
    "tool.name": "get_weather",
    "gen_ai.tool.type": "function",
    "gen_ai.tool.description": "Get the weather for a city.",
    "request.parameters.hash": "sha256:6e1e312d537bc71b5410b0599f5a5081",
    "gen_ai.tool.call.id": "call_1",
}


@tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"{city}: 21 C"


CALL = {"type": "tool_call", "id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}
REQUEST = AIMessage("", tool_calls=[CALL])  # type: ignore[list-item]


def _agent() -> Any:
    from langgraph.prebuilt import create_react_agent

    model = ScriptedChat(responses=[REQUEST, AIMessage("It is 21 C in Paris.")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated in langgraph 1.x, still supported
        return create_react_agent(model, [get_weather])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--steps", type=int, default=300, help="agent steps per round")
    parser.add_argument("--runs", type=int, default=60, help="agent runs per round")
    parser.add_argument("--batch", action="store_true", help="BatchSpanProcessor instead of Simple")
    parser.add_argument("--wall", action="store_true", help="wall-clock time for the step too")
    args = parser.parse_args()
    # The step runs in this thread: its CPU time ignores time spent descheduled on a busy
    # machine. LangGraph runs tools in a thread pool, so the agent run is wall-clock.
    clocks: dict[str, Callable[[], float]] = {
        "step": clock_for(args.wall),
        "agent run": clock_for(wall=True),
    }

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    processor = BatchSpanProcessor(exporter) if args.batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)

    model = ScriptedChat(responses=[REQUEST])
    messages = [HumanMessage("What is the weather in Paris?")]
    agent = _agent()
    question = {"messages": messages}

    def step() -> object:
        model.invoke(messages)
        return get_weather.invoke(CALL)

    def run() -> object:
        return agent.invoke(question)

    def with_handler(handler: BaseCallbackHandler) -> Callable[[], object]:
        config: Any = {"callbacks": [handler]}

        def handled_step() -> object:
            model.invoke(messages, config)
            return get_weather.invoke(CALL, config)

        return handled_step

    # What LangChain itself spends once any handler is present, and that plus two plain
    # SDK spans opened and ended at the same callbacks as ours (the in-situ bare spans).
    noop_step = with_handler(_NoopHandler())
    bare_step = with_handler(_BareSpanHandler(trace.get_tracer("bench")))

    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    step()
    provider.force_flush()  # a BatchSpanProcessor exports later
    by_name = {span.name: span for span in exporter.get_finished_spans()}
    for name, expected in (
        ("chat", _CHAT_ATTRIBUTES),
        ("execute_tool get_weather", _TOOL_ATTRIBUTES),
    ):
        actual = dict(by_name[name].attributes or {})
        if set(actual) != set(expected):
            print(f"  note: the {name!r} reference attributes differ from ours: {sorted(actual)}")
    instrumentor.uninstrument()
    exporter.clear()

    cases = {"step": (step, args.steps), "agent run": (run, args.runs)}
    references = {"no-op handler": noop_step, "bare-span handler": bare_step}
    reference_samples: dict[str, list[float]] = {name: [] for name in references}
    samples: dict[tuple[str, bool], list[float]] = {
        (name, on): [] for name in cases for on in (False, True)
    }

    def measure(on: bool, record: bool) -> None:
        if on:
            instrumentor.instrument(tracer_provider=provider)
        try:
            for name, (fn, calls) in cases.items():
                value = per_call_us(fn, calls, clocks[name])
                if record:
                    samples[(name, on)].append(value)
                exporter.clear()
        finally:
            if on:
                instrumentor.uninstrument()

    measure(False, record=False)  # warm-up
    measure(True, record=False)
    gc.collect()
    for index in range(args.rounds):
        order = (False, True) if index % 2 == 0 else (True, False)
        for on in order:
            measure(on, record=True)
        for name, fn in references.items():
            reference_samples[name].append(per_call_us(fn, args.steps, clocks["step"]))
            exporter.clear()

    med = statistics.median
    mode = "BatchSpanProcessor" if args.batch else "SimpleSpanProcessor"
    step_clock = "wall-clock" if args.wall else "thread CPU"
    print(f"{mode}, {args.rounds} interleaved rounds (median per call)")
    print(f"  clocks: step {step_clock} time, agent run wall-clock time")
    ok = True
    for name, target in (("step", STEP_TARGET_US), ("agent run", RUN_TARGET_US)):
        off = med(samples[(name, False)])
        on = med(samples[(name, True)])
        overhead = on - off
        # The best round of each: less sensitive to other processes on a busy machine.
        best = min(samples[(name, True)]) - min(samples[(name, False)])
        ok = ok and overhead <= target
        print(
            f"  {name:<10} uninstrumented {off:9.1f} µs   instrumented {on:9.1f} µs   "
            f"overhead {overhead:8.1f} µs (best rounds {best:8.1f} µs; target <= {target:.0f} µs)"
        )
    step_off = med(samples[("step", False)])
    step_added = med(samples[("step", True)]) - step_off
    noop_added = med(reference_samples["no-op handler"]) - step_off
    bare_added = med(reference_samples["bare-span handler"]) - step_off
    print(f"  reference: a no-op handler adds {noop_added:8.1f} µs (LangChain's callback work)")
    print(f"  reference: a bare-span handler adds {bare_added:8.1f} µs (that + 2 plain SDK spans)")
    if bare_added > noop_added:
        ratio = (step_added - noop_added) / (bare_added - noop_added)
        print(f"  our layer per span emitted: {ratio:.2f}x a bare SDK span, in situ (target <= 2)")
    print("  within targets" if ok else "  OVER TARGET")
    provider.shutdown()


if __name__ == "__main__":
    main()
