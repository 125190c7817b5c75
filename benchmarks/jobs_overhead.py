"""Per-call cost of ``job_context()`` and ``@instrumentors.job`` against their references.

- ``job_context()`` (the default call: the current context as a payload dict) against
  the propagators' own ``propagate.inject(carrier)``, in a sampled span with a
  session in the baggage. Target: at most the inject plus 10%.
- ``@instrumentors.job`` on a worker against a bare SDK span with the same attributes
  and link, started the way a hand-written consumer would (``propagate.extract`` of
  the payload, ``start_as_current_span``). Target: at most 1.5x the bare span.

Same process, same in-memory exporter, interleaved rounds, thread CPU time, medians.
``--icount`` also counts instructions per call with valgrind's callgrind (deterministic
on a loaded machine: the time numbers move with the load, the counts do not).

    python benchmarks/jobs_overhead.py [--rounds 30] [--calls 2000] [--icount]
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from _timing import clock_for, per_call_us
from opentelemetry import baggage, propagate, trace
from opentelemetry.context import attach
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind

import instrumentors

ATTRIBUTES = {
    "messaging.system": "custom",
    "messaging.operation.type": "process",
    "messaging.operation.name": "process",
    "messaging.destination.name": "summarise",
    "agent.session_id": "sess-bench",
    "gen_ai.conversation.id": "sess-bench",
}


def build() -> tuple[dict[str, Callable[[], object]], InMemorySpanExporter, TracerProvider]:
    """The variants, on a fresh provider; a sampled span and a session are current."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("bench")
    attach(baggage.set_baggage("agent.session_id", "sess-bench"))
    producer = tracer.start_span("execute_tool enqueue")
    attach(trace.set_span_in_context(producer))
    payload: dict[str, Any] = {"text": "hello", **instrumentors.job_context()}

    def work(job: dict[str, Any]) -> object:
        return job["text"]

    decorated = instrumentors.job(name="summarise")(work)

    def bare() -> object:
        context = propagate.extract(payload)
        remote = trace.get_current_span(context).get_span_context()
        with tracer.start_as_current_span(
            "process summarise",
            context=context,
            kind=SpanKind.CONSUMER,
            attributes=ATTRIBUTES,
            links=(Link(remote),),
        ):
            return work(payload)

    def inject() -> object:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return carrier

    variants: dict[str, Callable[[], object]] = {
        "inject": inject,
        "job_context()": instrumentors.job_context,
        "plain worker": lambda: work(payload),
        "bare span": bare,
        "@job": lambda: decorated(payload),
    }
    return variants, exporter, provider


def timings(rounds: int, calls: int, wall: bool) -> dict[str, float]:
    variants, exporter, provider = build()
    clock = clock_for(wall)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():  # warm-up
        per_call_us(fn, 500, clock)
    exporter.clear()
    gc.collect()
    for _ in range(rounds):
        for name, fn in variants.items():
            samples[name].append(per_call_us(fn, calls, clock))
            exporter.clear()  # outside the timed region
    provider.shutdown()
    return {name: statistics.median(values) for name, values in samples.items()}


def run_variant(name: str, calls: int) -> None:
    """``--run NAME N``: N calls of one variant after a warm-up (what callgrind counts)."""
    variants, exporter, _ = build()
    fn = variants[name]
    for _ in range(300):
        fn()
    exporter.clear()
    for i in range(calls):
        fn()
        if i % 100 == 0:
            exporter.clear()


def instructions(name: str, calls: int) -> int:
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--run", name, str(calls),
    ]  # fmt: skip
    env = dict(os.environ, PYTHONHASHSEED="0")
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    found = re.search(r"Collected : (\d+)", result.stderr)
    if found is None:
        raise RuntimeError(result.stderr[-2000:])
    return int(found.group(1))


def icounts(names: list[str], calls: int) -> dict[str, float]:
    """Instructions per call: (N calls - no call) / N, same warm-up in both runs."""
    return {n: (instructions(n, calls) - instructions(n, 0)) / calls for n in names}


def report(label: str, unit: str, stats: dict[str, float]) -> None:
    print(f"{label}:")
    for name, value in stats.items():
        print(f"  {name:<14} {value:12.2f} {unit}")
    context_ratio = stats["job_context()"] / stats["inject"]
    bare_cost = stats["bare span"] - stats["plain worker"]
    job_cost = stats["@job"] - stats["plain worker"]
    print(f"  job_context() / inject: {context_ratio:.3f}x (target <= 1.10x)")
    print(
        f"  @job added {job_cost:.2f} {unit}, bare span added {bare_cost:.2f} {unit}:"
        f" {job_cost / bare_cost:.2f}x (target <= 1.50x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--wall", action="store_true", help="wall-clock time, not thread CPU time")
    parser.add_argument("--icount", action="store_true", help="also count instructions (valgrind)")
    parser.add_argument("--run", nargs=2, metavar=("VARIANT", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_variant(args.run[0], int(args.run[1]))
        return
    clock = "wall-clock time" if args.wall else "thread CPU time"
    print(f"SimpleSpanProcessor, {args.rounds} interleaved rounds x {args.calls} calls, {clock}")
    report("median µs per call", "µs", timings(args.rounds, args.calls, args.wall))
    if args.icount:
        names = ["inject", "job_context()", "plain worker", "bare span", "@job"]
        report("instructions per call (callgrind)", "instr", icounts(names, 2000))


if __name__ == "__main__":
    main()
