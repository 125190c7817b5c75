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
import time
import warnings
from collections.abc import Callable
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentors.langchain import LangChainInstrumentor

STEP_TARGET_US = 150.0
RUN_TARGET_US = 2000.0


class ScriptedChat(FakeMessagesListChatModel):
    """Cycles through scripted answers; accepts tools like a real chat model."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChat:
        return self


class _NoopHandler(BaseCallbackHandler):
    run_inline = True


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


def _per_call_us(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--steps", type=int, default=300, help="agent steps per round")
    parser.add_argument("--runs", type=int, default=60, help="agent runs per round")
    parser.add_argument("--batch", action="store_true", help="BatchSpanProcessor instead of Simple")
    args = parser.parse_args()

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

    tracer = trace.get_tracer("bench")

    def bare_spans() -> object:  # what two plain SDK spans cost on this machine
        with tracer.start_as_current_span("chat"):
            pass
        with tracer.start_as_current_span("execute_tool get_weather"):
            return None

    noop = _NoopHandler()

    def noop_step() -> object:  # what LangChain itself spends once any handler is present
        model.invoke(messages, {"callbacks": [noop]})
        return get_weather.invoke(CALL, {"callbacks": [noop]})

    instrumentor = LangChainInstrumentor()
    cases = {"step": (step, args.steps), "agent run": (run, args.runs)}
    references = {"2 bare spans": bare_spans, "no-op handler step": noop_step}
    reference_samples: dict[str, list[float]] = {name: [] for name in references}
    samples: dict[tuple[str, bool], list[float]] = {
        (name, on): [] for name in cases for on in (False, True)
    }

    def measure(on: bool, record: bool) -> None:
        if on:
            instrumentor.instrument(tracer_provider=provider)
        try:
            for name, (fn, calls) in cases.items():
                value = _per_call_us(fn, calls)
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
            reference_samples[name].append(_per_call_us(fn, args.steps))
            exporter.clear()

    mode = "BatchSpanProcessor" if args.batch else "SimpleSpanProcessor"
    print(f"{mode}, {args.rounds} interleaved rounds (median per call)")
    ok = True
    for name, target in (("step", STEP_TARGET_US), ("agent run", RUN_TARGET_US)):
        off = statistics.median(samples[(name, False)])
        on = statistics.median(samples[(name, True)])
        overhead = on - off
        # The best round of each: less sensitive to other processes on a busy machine.
        best = min(samples[(name, True)]) - min(samples[(name, False)])
        ok = ok and overhead <= target
        print(
            f"  {name:<10} uninstrumented {off:9.1f} µs   instrumented {on:9.1f} µs   "
            f"overhead {overhead:8.1f} µs (best rounds {best:8.1f} µs; target <= {target:.0f} µs)"
        )
    step_off = statistics.median(samples[("step", False)])
    for name, values in reference_samples.items():
        value = statistics.median(values)
        if name.startswith("no-op"):
            print(
                f"  reference: {name} adds {value - step_off:8.1f} µs (LangChain's callback work)"
            )
        else:
            print(f"  reference: {name} cost {value:8.1f} µs")
    print("  within targets" if ok else "  OVER TARGET")
    provider.shutdown()


if __name__ == "__main__":
    main()
