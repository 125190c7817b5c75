"""What pricing adds to a model call: the same chat run with and without cost attribution.

The chat run goes through the core as a framework layer drives it (start, request,
response, usage with cached tokens, one tool call, stop) into an in-memory exporter;
"without" swaps the pricing step for one that prices nothing. Interleaved rounds,
this thread's CPU time, medians. Run:

    python benchmarks/cost_overhead.py [--rounds 30] [--calls 2000] [--wall]
    python benchmarks/cost_overhead.py --icount   # instructions per call (valgrind)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys

from _timing import clock_for, per_call_us
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentors.telemetry import Telemetry, ToolCallRequest, _chat

_exporter = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(_exporter))
trace.set_tracer_provider(_provider)
_tel = Telemetry("bench-cost")
_calls = [ToolCallRequest(name="get_weather", id="call_1")]
_priced = _chat._cost.price_chat


def _unpriced(values: object, start: object) -> None:
    return None


def chat() -> None:
    run = _tel.llm("openai", "gpt-4o-mini", server_address="127.0.0.1", server_port=8000)
    run.set_request(temperature=0.2, max_tokens=100)
    run.set_response(response_id="chatcmpl-1", model="gpt-4o-mini-2024-07-18")
    run.set_usage(input_tokens=1200, output_tokens=40, cache_read_input_tokens=1024)
    run.register_tool_calls(_calls)
    run.stop()


def _with(priced: bool) -> None:
    _chat._cost.price_chat = _priced if priced else _unpriced  # type: ignore[assignment]


def timed(rounds: int, calls: int, wall: bool) -> None:
    clock = clock_for(wall)
    results: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(200):
        chat()
    for _ in range(rounds):
        for priced in (False, True):
            _with(priced)
            results[priced].append(per_call_us(chat, calls, clock))
            _exporter.clear()
    _with(True)
    off, on = statistics.median(results[False]), statistics.median(results[True])
    print(f"chat run without pricing {off:8.2f} µs, with pricing {on:8.2f} µs")
    print(f"pricing adds {on - off:+.2f} µs per model call (target <= 5 µs)")


def _icount_child(priced: bool, calls: int) -> None:
    _with(priced)
    for _ in range(200):
        chat()
    for i in range(calls):
        chat()
        if i % 100 == 0:
            _exporter.clear()


def icount(calls: int) -> None:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")

    def count(priced: bool, n: int) -> int:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
             sys.executable, __file__, "--child", str(int(priced)), str(n)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        line = next(x for x in done.stderr.splitlines() if "Collected" in x)
        return int(line.split()[-1])

    per = {p: (count(p, calls) - count(p, 0)) / calls for p in (False, True)}
    print(f"instructions per chat run: without pricing {per[False]:,.0f}, with {per[True]:,.0f}")
    print(f"pricing adds {per[True] - per[False]:,.0f} instructions per call")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _icount_child(sys.argv[2] == "1", int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--wall", action="store_true")
    parser.add_argument("--icount", action="store_true")
    args = parser.parse_args()
    if args.icount:
        icount(min(args.calls, 2000))
    else:
        timed(args.rounds, args.calls, args.wall)


if __name__ == "__main__":
    main()
