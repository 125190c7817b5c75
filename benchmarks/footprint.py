"""Memory, import time and hashing throughput of the core.

- RSS growth over 100k ``@tool`` calls after a warm-up (target: under 5 MB);
- import time of ``instrumentors`` and of each instrumentor module, against
  importing the OpenTelemetry SDK alone (fresh interpreter per measurement);
- parameter hashing throughput from 1 KB to 10 MB.

    python benchmarks/footprint.py [--calls 100000]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import subprocess
import sys
import time

MODULES = (
    "instrumentors",
    "instrumentors.openai",
    "instrumentors.langchain",
    "instrumentors.llama_index",
    "instrumentors.mcp",
    "instrumentors.httpx2",
    "instrumentors.tenacity",
    "instrumentors.pybreaker",
)
BASELINE = "opentelemetry.sdk.trace"


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * resource.getpagesize() / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def rss_growth(calls: int) -> tuple[float, float]:
    """(MB before, MB growth) over ``calls`` tool calls with a real SDK and exporter."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    import instrumentors

    class Discard(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Discard()))
    provider.add_span_processor(instrumentors.SessionSpanProcessor())
    trace.set_tracer_provider(provider)

    @instrumentors.tool
    def get_weather(city: str, day: int) -> str:
        return city

    def batch(n: int) -> None:
        with instrumentors.session("s"):
            for i in range(n):
                with instrumentors.tool_call_id(f"call_{i}"):
                    get_weather("Paris", i)

    batch(10_000)  # warm-up: caches, interned strings, allocator pools
    gc.collect()
    before = rss_mb()
    batch(calls)
    gc.collect()
    return before, rss_mb() - before


def import_ms(module: str, runs: int = 5) -> float | None:
    """Median wall time to import ``module`` in a fresh interpreter, in ms (None if absent)."""
    code = (
        "import time; t=time.perf_counter(); import importlib; "
        f"importlib.import_module({module!r}); print((time.perf_counter()-t)*1000)"
    )
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            return None
        samples.append(float(out.stdout.strip()))
    return statistics.median(samples)


def hashing() -> list[tuple[int, float]]:
    """(payload bytes, MB/s) for hash_params over JSON-like payloads."""
    from instrumentors.params import hash_params

    results = []
    for size in (1_000, 10_000, 100_000, 1_000_000, 10_000_000):
        payload = {
            "query": "x" * (size // 2),
            "rows": [{"id": i, "v": "y" * 8} for i in range(size // 40)],
        }
        actual = len(json.dumps(payload))
        reps = max(1, 5_000_000 // size)
        start = time.perf_counter()
        for _ in range(reps):
            hash_params(payload)
        elapsed = time.perf_counter() - start
        results.append((actual, actual * reps / elapsed / 1e6))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    before, growth = rss_growth(args.calls)
    print(
        f"RSS growth over {args.calls:,} @tool calls after warm-up: {growth:+.2f} MB "
        f"(from {before:.1f} MB; target < 5 MB)"
    )
    base = import_ms(BASELINE)
    print(f"import time (fresh interpreter, median of 5): {BASELINE} {base:.1f} ms")
    for module in MODULES:
        ms = import_ms(module)
        if ms is None:
            print(f"  {module:<28} not importable here")
        elif base is not None:
            print(
                f"  {module:<28} {ms:7.1f} ms  (+{ms - base:.1f} ms over the SDK; target < +50 ms)"
            )
    print("hash_params throughput:")
    for size, mbps in hashing():
        print(f"  {size / 1e3:>10,.0f} KB  {mbps:8.1f} MB/s")


if __name__ == "__main__":
    main()
