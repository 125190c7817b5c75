"""The unsampled path: an OpenAI chat call whose span the sampler drops, next to a bare
non-recording span in its place.

Every model call is counted in the metrics, sampled or not; this measures what that
costs when the span is not recorded. The tracer provider samples nothing
(``ALWAYS_OFF``). Modes, interleaved in rounds, this thread's CPU time, medians:

- ``plain``: the uninstrumented call;
- ``bare``: the call inside a bare SDK span (non-recording under ``ALWAYS_OFF``);
- ``ours``: instrumented, no MeterProvider (the metrics are not built at all);
- ``ours+metrics``: instrumented, with a MeterProvider (duration and token histograms
  recorded for the unsampled call).

Run::

    python benchmarks/unsampled_overhead.py [--rounds 30] [--calls 300] [--icount]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from collections.abc import Callable

from _timing import clock_for, per_call_us
from openai_overhead import make_client
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from instrumentors.openai import OpenAIInstrumentor

MESSAGES = [{"role": "user", "content": "Weather in Paris?"}]


def _modes() -> dict[str, tuple[Callable[[], object], dict[str, object] | None]]:
    provider = TracerProvider(sampler=ALWAYS_OFF)
    trace.set_tracer_provider(provider)
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    tracer = provider.get_tracer("bench")
    client = make_client(2, 10)

    def call() -> object:
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]

    def bare() -> object:
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=trace.SpanKind.CLIENT):
            return call()

    return {
        "plain": (call, None),
        "bare": (bare, None),
        "ours": (call, {"tracer_provider": provider}),
        "ours+metrics": (call, {"tracer_provider": provider, "meter_provider": meter_provider}),
    }


def timed(rounds: int, calls: int) -> dict[str, float]:
    instrumentor = OpenAIInstrumentor()
    clock = clock_for(False)
    modes = _modes()
    results: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(rounds):
        for mode, (fn, options) in modes.items():
            if options is not None:
                instrumentor.instrument(**options)
            for _ in range(20):
                fn()
            results[mode].append(per_call_us(fn, calls, clock))
            if options is not None:
                instrumentor.uninstrument()
    return {mode: statistics.median(values) for mode, values in results.items()}


def _child(mode: str, calls: int) -> None:
    fn, options = _modes()[mode]
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(**(options or {}))  # every mode sets up alike
    if options is None:
        instrumentor.uninstrument()
    for _ in range(20):
        fn()
    for _ in range(calls):
        fn()


def icount(calls: int) -> dict[str, float]:
    """Instructions per call of each mode (valgrind's callgrind: N calls minus none)."""

    def collected(mode: str, n: int) -> int:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
             sys.executable, __file__, "--child", mode, str(n)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return int(re.search(r"Collected : (\d+)", done.stderr).group(1))  # type: ignore[union-attr]

    return {m: (collected(m, calls) - collected(m, 0)) / calls for m in _modes()}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--icount", action="store_true", help="instructions (valgrind)")
    args = parser.parse_args()
    per, unit = (icount(args.calls), "instructions") if args.icount else (
        timed(args.rounds, args.calls), "µs")  # fmt: skip
    bare = per["bare"] - per["plain"]
    print(f"plain call {per['plain']:,.1f} {unit}; a bare non-recording span adds {bare:,.1f}")
    for mode in ("ours", "ours+metrics"):
        added = per[mode] - per["plain"]
        print(
            f"{mode}: adds {added:,.1f} {unit} = {added / bare:.2f}x the bare span (target <= 2x)"
        )


if __name__ == "__main__":
    main()
