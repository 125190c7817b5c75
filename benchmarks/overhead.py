"""Per-call overhead of ``@instrumentors.tool`` vs the undecorated function and a bare SDK span.

Same process, same in-memory exporter, interleaved rounds; prints microseconds
per call and the ratio of our overhead to the bare span's. Run:

    python benchmarks/overhead.py [--rounds 30] [--calls 2000] [--batch]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import statistics
from collections.abc import Callable

from _timing import clock_for, per_call_us
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import instrumentors
from instrumentors import semconv


def get_weather(city: str, units: str = "C") -> str:
    """Get the weather for a city."""
    return f"{city}: 21 {units}"


def _per_call_us(fn: Callable[[], object], calls: int) -> float:
    return per_call_us(fn, calls, _clock[0])


_clock = [clock_for(wall=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--batch", action="store_true", help="BatchSpanProcessor instead of Simple")
    parser.add_argument("--wall", action="store_true", help="wall-clock time, not thread CPU time")
    args = parser.parse_args()
    _clock[0] = clock_for(args.wall)

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    processor = (
        BatchSpanProcessor(exporter, max_queue_size=1_000_000, schedule_delay_millis=60_000)
        if args.batch
        else SimpleSpanProcessor(exporter)
    )
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("bench")

    decorated = instrumentors.tool(get_weather)
    bare_attributes = {
        semconv.GEN_AI_OPERATION_NAME: semconv.OP_EXECUTE_TOOL,
        semconv.GEN_AI_TOOL_NAME: "get_weather",
        semconv.GEN_AI_TOOL_TYPE: "function",
        semconv.TOOL_NAME: "get_weather",
        semconv.GEN_AI_TOOL_DESCRIPTION: "Get the weather for a city.",
        semconv.REQUEST_PARAMETERS_HASH: "sha256:9c9c2e9ed0e7b89198d14726e3be1cd0",
    }

    def plain() -> object:
        return get_weather("Paris")

    def bare() -> object:
        with tracer.start_as_current_span(
            "execute_tool get_weather", kind=SpanKind.INTERNAL, attributes=bare_attributes
        ):
            return get_weather("Paris")

    def ours() -> object:
        return decorated("Paris")

    # Every call with new arguments (more of them than the hash cache holds): the
    # parameter hash is computed each time, as for an agent whose arguments never repeat.
    cities = itertools.cycle([f"city-{i}" for i in range(4096)])

    def ours_new_args() -> object:
        return decorated(next(cities))

    def plain_new_args() -> object:
        return get_weather(next(cities))

    variants = {
        "plain": plain,
        "bare span": bare,
        "@tool": ours,
        "plain, new args": plain_new_args,
        "@tool, new args": ours_new_args,
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():  # warm-up
        _per_call_us(fn, 500)
    gc.collect()
    for _ in range(args.rounds):
        for name, fn in variants.items():
            samples[name].append(_per_call_us(fn, args.calls))
            provider.force_flush()  # outside the timed region
            exporter.clear()

    med = {name: statistics.median(values) for name, values in samples.items()}
    low = {name: min(values) for name, values in samples.items()}
    mode = "BatchSpanProcessor" if args.batch else "SimpleSpanProcessor"
    clock = "wall-clock time" if args.wall else "thread CPU time"
    print(f"{mode}, {args.rounds} interleaved rounds x {args.calls} calls, {clock}")
    print(f"  {'':<16} {'median':>9} {'best':>9}  (µs per call)")
    for name in variants:
        print(f"  {name:<16} {med[name]:9.2f} {low[name]:9.2f}")
    for label, stats in (("median", med), ("best", low)):
        bare_cost = stats["bare span"] - stats["plain"]
        for case, tool, plain_case in (
            ("same args", "@tool", "plain"),
            ("new args ", "@tool, new args", "plain, new args"),
        ):
            ours_cost = stats[tool] - stats[plain_case]
            print(
                f"  {label:<6} overhead, {case}: bare span {bare_cost:6.2f} µs, @tool"
                f" {ours_cost:6.2f} µs, ratio {ours_cost / bare_cost:4.2f}x (target <= 1.30x)"
            )
    provider.shutdown()


if __name__ == "__main__":
    main()
