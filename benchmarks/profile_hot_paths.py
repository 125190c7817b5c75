"""Where an instrumented call spends its time: a pyinstrument profile of one hot path.

Runs one workload many times with its instrumentor on (the same workloads as the
overhead benchmarks, built from their modules) under pyinstrument's sampling
profiler, and prints the call tree. Our frames (``instrumentors/``) are shown in
full; library internals are collapsed. Pick the workload:

    python benchmarks/profile_hot_paths.py tool|openai|langchain|mcp [--calls N] [--html out.html]

Sampling every 0.1 ms adds far less distortion to microsecond-sized calls than a
tracing profiler (cProfile inflates every small function call), which is why the
figures quoted in benchmarks/results were found with this script.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).resolve().parent))


def tool_workload() -> Callable[[], object]:
    import instrumentors

    @instrumentors.tool
    def get_weather(city: str, unit: str = "C") -> str:
        return f"{city}: 21 {unit}"

    return lambda: get_weather("Paris")


def openai_workload() -> Callable[[], object]:
    import openai_overhead as bench

    from instrumentors.openai import OpenAIInstrumentor

    client = bench.make_client(10, 50)
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    OpenAIInstrumentor().instrument()
    return lambda: client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=tools
    )


def langchain_workload() -> Callable[[], object]:
    import langchain_overhead as bench
    from langchain_core.messages import HumanMessage

    from instrumentors.langchain import LangChainInstrumentor

    model = bench.ScriptedChat(responses=[bench.REQUEST])
    messages = [HumanMessage("What is the weather in Paris?")]
    LangChainInstrumentor().instrument()

    def step() -> object:
        model.invoke(messages)
        return bench.get_weather.invoke(bench.CALL)

    return step


def profile_mcp(calls: int, interval: float) -> Any:
    import anyio
    import mcp_overhead as bench
    from pyinstrument import Profiler

    from instrumentors.mcp import MCPInstrumentor

    MCPInstrumentor().instrument()
    profiler = Profiler(interval=interval, async_mode="disabled")

    async def run() -> None:
        async with bench.session_to(bench.make_server()) as session:
            for _ in range(50):
                await session.call_tool("add", {"a": 1, "b": 2})
            profiler.start()
            for _ in range(calls):
                await session.call_tool("add", {"a": 1, "b": 2})
            profiler.stop()

    anyio.run(run)
    return profiler


WORKLOADS: dict[str, Callable[[], Callable[[], object]]] = {
    "tool": tool_workload,
    "openai": openai_workload,
    "langchain": langchain_workload,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workload", choices=[*WORKLOADS, "mcp"])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--interval", type=float, default=0.0001, help="sampling interval (s)")
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML view here")
    args = parser.parse_args()
    from pyinstrument import Profiler

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)

    if args.workload == "mcp":
        profiler = profile_mcp(args.calls, args.interval)
    else:
        call = WORKLOADS[args.workload]()
        for _ in range(200):  # warm-up: templates, caches, first-call paths
            call()
        profiler = Profiler(interval=args.interval)
        profiler.start()
        for index in range(args.calls):
            call()
            if index % 1000 == 999:
                exporter.clear()
        profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    if args.html:
        args.html.write_text(profiler.output_html())
    provider.shutdown()


if __name__ == "__main__":
    main()
