"""What pricing adds to a model call: the same chat run with and without cost attribution.

The chat run goes through the core as a framework layer drives it (start, request,
response, usage with cached tokens, one tool call, stop) into an in-memory exporter;
"without" swaps the pricing step for one that prices nothing. Interleaved rounds,
this thread's CPU time, medians. Run:

    python benchmarks/cost_overhead.py [--rounds 30] [--calls 2000] [--wall]
    python benchmarks/cost_overhead.py --icount   # instructions per call (valgrind)

A third mode writes the same three cost attributes without computing a price: the
difference splits what pricing adds into our work and the SDK's storage of the attributes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
from typing import Final

from _timing import clock_for, per_call_us
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentors import semconv
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


_SAME_ATTRIBUTES: Final = {
    semconv.GEN_AI_USAGE_COST_AMOUNT: 0.0001272,
    semconv.GEN_AI_USAGE_COST_CURRENCY: "USD",
    semconv.GEN_AI_USAGE_COST_SOURCE: "local",
}


def _attributes_only(values: dict[str, object], start: object) -> None:
    """The span gets the same three attributes, with no price computed: what the SDK's
    storage of them costs, apart from ours."""
    values.update(_SAME_ATTRIBUTES)


MODES: Final = {"without": _unpriced, "attributes only": _attributes_only, "with": None}


def chat() -> None:
    run = _tel.llm("openai", "gpt-4o-mini", server_address="127.0.0.1", server_port=8000)
    run.set_request(temperature=0.2, max_tokens=100)
    run.set_response(response_id="chatcmpl-1", model="gpt-4o-mini-2024-07-18")
    run.set_usage(input_tokens=1200, output_tokens=40, cache_read_input_tokens=1024)
    run.register_tool_calls(_calls)
    run.stop()


def _with(mode: str) -> None:
    _chat._cost.price_chat = MODES[mode] or _priced  # type: ignore[assignment]


def timed(rounds: int, calls: int, wall: bool) -> None:
    clock = clock_for(wall)
    results: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(200):
        chat()
    for _ in range(rounds):
        for mode in MODES:
            _with(mode)
            results[mode].append(per_call_us(chat, calls, clock))
            _exporter.clear()
    _with("with")
    _report({mode: statistics.median(values) for mode, values in results.items()}, "µs")


def _report(per: dict[str, float], unit: str) -> None:
    fmt = ",.0f" if unit == "instructions" else ".2f"
    for mode, value in per.items():
        print(f"chat run, {mode + ' pricing' if mode != 'attributes only' else mode}: "
              f"{value:{fmt}} {unit}")  # fmt: skip
    print(
        f"pricing adds {per['with'] - per['without']:+{fmt}} {unit} per model call: "
        f"the price {per['with'] - per['attributes only']:+{fmt}}, the SDK storing its three "
        f"attributes {per['attributes only'] - per['without']:+{fmt}} (target <= 5 µs in all)"
    )


def _icount_child(mode: str, calls: int) -> None:
    _with(mode)
    for _ in range(200):
        chat()
    for i in range(calls):
        chat()
        if i % 100 == 0:
            _exporter.clear()


def icount(calls: int) -> None:
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")

    def count(mode: str, n: int) -> int:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
             sys.executable, __file__, "--child", mode, str(n)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        line = next(x for x in done.stderr.splitlines() if "Collected" in x)
        return int(line.split()[-1])

    per = {mode: (count(mode, calls) - count(mode, 0)) / calls for mode in MODES}
    _report(per, "instructions")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _icount_child(sys.argv[2], int(sys.argv[3]))
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
