"""Overhead of ``OpenAIAgentsInstrumentor`` on an Agents SDK run, against the plain SDK.

One run is ``Runner.run`` of one agent with one function tool: two model turns (the
first asks for ``get_weather``, the second answers) and the tool call between them. The
real SDK and its ``OpenAIResponsesModel`` talk to an in-process transport (the mock
transport of the HTTP library the openai SDK uses), so no socket noise. Rounds are
interleaved in one process and the medians compared:

- plain: the SDK's tracing on with no processor (its span objects are still made), so
  "added" is what a processor of OpenTelemetry spans costs;
- bare: a processor that opens and ends one plain SDK span per SDK span and trace, the
  floor of any bridge (no attributes, no parenting work);
- ours (``--which ours``, the default) or another library's Agents SDK instrumentation
  (``--which openinference|openllmetry|openlit``, installed in the same environment),
  each with the SDK's own processors replaced, so nothing is exported to OpenAI.

Times are this thread's CPU time per run (the event loop runs here; ``--wall`` for
wall-clock); spans go to memory through a ``SimpleSpanProcessor``::

    python benchmarks/openai_agents_overhead.py [--rounds 20] [--runs 40] [--which ours]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import openai
from _timing import clock_for
from agents import Agent, OpenAIResponsesModel, Runner, TracingProcessor, function_tool
from agents.tracing import set_trace_processors
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

# openai 1.x / 2.x talk through httpx, 3.x through the httpx2 fork: the module of the
# SDK's default async HTTP client class says which.
hx: Any = importlib.import_module(
    next(
        c for c in openai.DefaultAsyncHttpxClient.__mro__[1:] if c.__name__ == "AsyncClient"
    ).__module__.split(".")[0]
)

MODEL = "gpt-4o-mini"
_USAGE = {
    "input_tokens": 42,
    "output_tokens": 17,
    "total_tokens": 59,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens_details": {"reasoning_tokens": 0},
}


def _response(output: list[dict[str, Any]], n: int) -> bytes:
    return json.dumps(
        {"id": f"resp_{n}", "object": "response", "created_at": 0, "model": MODEL,
         "status": "completed", "error": None, "incomplete_details": None, "output": output,
         "usage": _USAGE, "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}
    ).encode()  # fmt: skip


CALL = _response(
    [{"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
      "arguments": '{"city": "Paris"}', "status": "completed"}], 1,
)  # fmt: skip
ANSWER = _response(
    [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
      "content": [{"type": "output_text", "text": "Sunny in Paris.", "annotations": []}]}], 2,
)  # fmt: skip


def make_agent() -> Agent[Any]:
    """The agent on a real AsyncOpenAI client whose transport answers in process."""

    def handler(request: Any) -> Any:
        items = json.loads(request.content).get("input") or []
        answered = any(i.get("type") == "function_call_output" for i in items)
        headers = {"content-type": "application/json"}
        return hx.Response(200, content=ANSWER if answered else CALL, headers=headers)

    http = hx.AsyncClient(transport=hx.MockTransport(handler))
    client = openai.AsyncOpenAI(
        base_url="http://bench.local/v1", api_key="k", http_client=http, max_retries=0
    )

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return f"{city}: 21 C"

    model = OpenAIResponsesModel(model=MODEL, openai_client=client)
    return Agent(name="Weather", instructions="Use get_weather.", model=model, tools=[get_weather])


class BareSpans(TracingProcessor):
    """The floor of a bridge: one plain SDK span per SDK span and trace."""

    def __init__(self, tracer: Any) -> None:
        self._tracer = tracer
        self._open: dict[str, Any] = {}

    def on_trace_start(self, t: Any) -> None:
        self._open[t.trace_id] = self._tracer.start_span("trace")

    def on_trace_end(self, t: Any) -> None:
        self._open.pop(t.trace_id).end()

    def on_span_start(self, span: Any) -> None:
        self._open[span.span_id] = self._tracer.start_span(span.span_data.type)

    def on_span_end(self, span: Any) -> None:
        self._open.pop(span.span_id).end()

    def shutdown(self) -> None:
        return None

    def force_flush(self) -> None:
        return None


def instrumentation(which: str, provider: TracerProvider) -> tuple[Callable[[], None], Any]:
    """(instrument, uninstrument) for ``which``; the SDK's processors are replaced by it."""
    if which == "ours":
        from instrumentors.openai_agents import OpenAIAgentsInstrumentor

        ours = OpenAIAgentsInstrumentor()
        return lambda: ours.instrument(tracer_provider=provider, replace_processors=True), (
            ours.uninstrument
        )
    module = {
        "openinference": "openinference.instrumentation.openai_agents",
        "openllmetry": "opentelemetry.instrumentation.openai_agents",
        "openlit": "openlit.instrumentation.openai_agents",
    }[which]
    kwargs: dict[str, Any] = {}
    if which == "openlit":  # as openlit.init() would (bench_compare's options)
        from _compare_support import _openlit_options

        kwargs = {**_openlit_options(), "skip_dep_check": True}
    other = importlib.import_module(module).OpenAIAgentsInstrumentor()

    def instrument() -> None:
        set_trace_processors([])  # theirs add a processor; the SDK's export stays out
        other.instrument(tracer_provider=provider, **kwargs)

    return instrument, other.uninstrument


_CALLBACKS = ("on_trace_start", "on_trace_end", "on_span_start", "on_span_end")


class CallbackClock:
    """This thread's CPU time inside the registered processors' callbacks (in situ)."""

    def __init__(self) -> None:
        self.ns = 0
        self._timed: list[Any] = []

    def attach(self) -> None:
        """Time every processor the SDK forwards to now (per instance, undone by ``detach``)."""
        from agents.tracing import get_trace_provider

        from instrumentors.openai_agents import _compat

        for processor in _compat.current_processors(get_trace_provider()) or ():
            for name in _CALLBACKS:
                setattr(processor, name, self._timing(getattr(processor, name)))
            self._timed.append(processor)

    def detach(self) -> None:
        """Give the processors their own callbacks back."""
        for processor in self._timed:
            for name in _CALLBACKS:
                vars(processor).pop(name, None)
        self._timed.clear()

    def _timing(self, callback: Callable[[Any], None]) -> Callable[[Any], None]:
        def timed(item: Any) -> None:
            start = time.thread_time_ns()
            try:
                callback(item)
            finally:
                self.ns += time.thread_time_ns() - start

        return timed


class Bench:
    """The agent, its event loop, and each mode's switch on and off."""

    def __init__(self, which: str, runs: int, wall: bool) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        trace.set_tracer_provider(self.provider)
        self.agent = make_agent()
        self.loop = asyncio.new_event_loop()
        self.runs, self.clock, self.callbacks = runs, clock_for(wall), CallbackClock()
        bare = BareSpans(self.provider.get_tracer("bench"))
        instrument, uninstrument = instrumentation(which, self.provider)
        self.modes: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
            "plain": (self.plain, self.plain),
            "bare": (lambda: set_trace_processors([bare]), self.plain),
            which: (instrument, lambda: (uninstrument(), self.plain())[1]),
        }
        self.spans: dict[str, int] = {}

    def plain(self) -> None:
        set_trace_processors([])

    def run(self) -> object:
        return self.loop.run_until_complete(Runner.run(self.agent, "What is the weather in Paris?"))

    def measure(self, name: str) -> tuple[float, float]:
        """(µs per run, of which µs in the processors' callbacks) of ``runs`` runs of a mode."""
        on, off = self.modes[name]
        on()
        self.callbacks.ns = 0
        self.callbacks.attach()
        try:
            start = self.clock()
            for _ in range(self.runs):
                result: Any = self.run()
            elapsed = (self.clock() - start) / self.runs * 1e6
            assert "Sunny" in str(result.final_output), result.final_output
        finally:
            self.callbacks.detach()
            off()
        self.spans[name] = len(self.exporter.get_finished_spans()) // self.runs
        self.exporter.clear()
        return elapsed, self.callbacks.ns / self.runs / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20, help="agent runs per round and mode")
    parser.add_argument("--which", default="ours", help="ours, openinference, openllmetry, openlit")
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of CPU")
    args = parser.parse_args()
    bench = Bench(args.which, args.runs, args.wall)
    names = list(bench.modes)
    for name in names:  # warm-up (imports, the price table, first-call caches)
        bench.measure(name)
    gc.collect()
    # Per round, each mode's time minus plain's in the same round: slow drifts of a busy
    # machine cancel out of the paired differences.
    added: dict[str, list[float]] = {name: [] for name in names[1:]}
    inside: dict[str, list[float]] = {name: [] for name in names[1:]}
    plain: list[float] = []
    for index in range(args.rounds):
        times = {n: bench.measure(n) for n in (names if index % 2 == 0 else reversed(names))}
        plain.append(times["plain"][0])
        for name in names[1:]:
            added[name].append(times[name][0] - times["plain"][0])
            inside[name].append(times[name][1])
    med = statistics.median
    kind = "wall-clock" if args.wall else "thread CPU"
    print(f"Runner.run, 2 model turns + 1 tool; {args.rounds} interleaved rounds of")
    print(f"{args.runs} runs, {kind} time, medians (SimpleSpanProcessor to memory)")
    print(f"  plain (SDK tracing, no processor)  {med(plain):9.1f} µs per run")
    for name in names[1:]:
        label = f"{name} ({bench.spans[name]} spans per run)"
        print(
            f"  {label:<34} adds {med(added[name]):8.1f} µs end to end;"
            f" {med(inside[name]):7.1f} µs in its processor callbacks"
        )
    bare, which = med(inside["bare"]), med(inside[args.which])
    if bare > 0:
        print(f"  in the callbacks: {which / bare:.2f}x the bare spans")
    bench.loop.close()
    bench.provider.shutdown()


if __name__ == "__main__":
    main()
