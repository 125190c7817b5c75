"""Per-call overhead of ``OpenAIInstrumentor`` on chat calls, against the uninstrumented SDK.

The real OpenAI SDK talks to an in-process transport (``httpx.MockTransport``,
or ``httpx2.MockTransport`` with openai 3.x), so no socket noise. Rounds are
interleaved (instrument, measure, uninstrument, measure, ...) in one process,
and the medians compared:

- non-streaming: ``chat.completions.create`` whose response requests a tool call;
- streaming: ``stream=True`` with usage, read to the end, at two stream lengths,
  which also gives the cost per chunk (the slope).

For scale, two references around the plain call: a bare SDK span with five
attributes, and the core's floor (a ``Telemetry.llm`` run opened and ended with
no data), which every instrumentor built on the core pays. Times are this
thread's CPU time (``--wall`` for wall-clock). Run (openai 1.x, 2.x or 3.x)::

    python benchmarks/openai_overhead.py [--rounds 60] [--calls 100] [--batch] [--metrics]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
from collections.abc import Callable
from typing import Any

import openai
from _timing import clock_for, per_call_us
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from instrumentors import semconv
from instrumentors.openai import OpenAIInstrumentor
from instrumentors.telemetry import Telemetry

try:  # openai 3.x talks through the httpx2 fork
    import httpx2 as hx
except ImportError:
    import httpx as hx  # type: ignore[no-redef]

COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                },
            }
        ],
        # As the API sends it (details included; some compatible servers omit them).
        "usage": {
            "prompt_tokens": 42,
            "completion_tokens": 17,
            "total_tokens": 59,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
    }
).encode()


def sse(chunks: int) -> bytes:
    """A chat stream of ``chunks`` content chunks, a finish chunk, a usage chunk and [DONE]."""
    base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    events = [
        {**base, "choices": [{"index": 0, "delta": {"content": "tok "}, "finish_reason": None}]}
    ]
    events *= chunks
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = {"prompt_tokens": 5, "completion_tokens": chunks, "total_tokens": 5 + chunks}
    events.append({**base, "choices": [], "usage": usage})
    lines = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
    return lines + b"data: [DONE]\n\n"


def make_client(short: int, long: int) -> openai.OpenAI:
    bodies = {0: COMPLETION, short: sse(short), long: sse(long)}

    def handler(request: Any) -> Any:
        body = json.loads(request.content)
        if body.get("stream"):
            data = bodies[int(body["metadata"]["chunks"])]
            return hx.Response(200, headers={"content-type": "text/event-stream"}, content=data)
        return hx.Response(200, headers={"content-type": "application/json"}, content=COMPLETION)

    http_client: Any = hx.Client(transport=hx.MockTransport(handler))
    return openai.OpenAI(
        api_key="sk-bench", base_url="http://bench.local/v1", http_client=http_client
    )


def _per_call_us(fn: Callable[[], object], calls: int) -> float:
    return per_call_us(fn, calls, _clock[0])


_clock = [clock_for(wall=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--short", type=int, default=10, help="chunks in the short stream")
    parser.add_argument("--long", type=int, default=50, help="chunks in the long stream")
    parser.add_argument("--batch", action="store_true", help="BatchSpanProcessor instead of Simple")
    parser.add_argument("--metrics", action="store_true", help="an SDK MeterProvider too")
    parser.add_argument("--wall", action="store_true", help="wall-clock time, not thread CPU time")
    args = parser.parse_args()
    _clock[0] = clock_for(args.wall)

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    processor = BatchSpanProcessor(exporter) if args.batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    if args.metrics:
        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    tracer = trace.get_tracer("bench")
    client = make_client(args.short, args.long)
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]

    def chat() -> object:
        return client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)

    def stream(chunks: int) -> Callable[[], object]:
        meta = {"chunks": str(chunks)}

        def run() -> object:
            s = client.chat.completions.create(
                model="m",
                messages=messages,
                stream=True,
                metadata=meta,
                stream_options={"include_usage": True},
            )
            return sum(1 for _ in s)

        return run

    bare_attributes = {
        semconv.GEN_AI_OPERATION_NAME: semconv.OP_CHAT,
        semconv.GEN_AI_PROVIDER_NAME: "openai",
        semconv.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        semconv.SERVER_ADDRESS: "bench.local",
        semconv.SERVER_PORT: 80,
    }

    def bare() -> object:
        with tracer.start_as_current_span(
            "chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=bare_attributes
        ):
            return chat()

    # The issue-9 yardstick: a bare span with the attributes our chat span ends up with.
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    chat()
    provider.force_flush()  # a BatchSpanProcessor exports later
    same_attributes = dict(exporter.get_finished_spans()[-1].attributes or {})
    instrumentor.uninstrument()
    exporter.clear()

    def bare_same() -> object:
        with tracer.start_as_current_span(
            "chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=same_attributes
        ):
            return chat()

    # The floor of any instrumentor on the core: open and end its chat run, nothing else.
    core = Telemetry(scope="bench")

    def core_floor() -> object:
        run = core.llm("openai", "gpt-4o-mini", server_address="bench.local", server_port=80)
        try:
            return chat()
        finally:
            run.stop()

    cases = {
        "chat": chat,
        f"stream {args.short}": stream(args.short),
        f"stream {args.long}": stream(args.long),
    }
    for fn in (*cases.values(), bare, bare_same, core_floor):  # warm-up, both ways
        _per_call_us(fn, 50)
    instrumentor.instrument()
    for fn in cases.values():
        _per_call_us(fn, 50)
    instrumentor.uninstrument()
    gc.collect()
    # Batches back to back (plain, [bare span,] instrumented): the difference within a
    # round cancels most of the drift of a shared machine; medians over rounds are shown.
    plain: dict[str, list[float]] = {name: [] for name in cases}
    added: dict[str, list[float]] = {name: [] for name in cases}
    bare_added: list[float] = []
    same_added: list[float] = []
    core_added: list[float] = []
    for _ in range(args.rounds):
        for name, fn in cases.items():
            base = _per_call_us(fn, args.calls)
            if name == "chat":
                bare_added.append(_per_call_us(bare, args.calls) - base)
                same_added.append(_per_call_us(bare_same, args.calls) - base)
                core_added.append(_per_call_us(core_floor, args.calls) - base)
            instrumentor.instrument()
            traced = _per_call_us(fn, args.calls)
            instrumentor.uninstrument()
            exporter.clear()
            plain[name].append(base)
            added[name].append(traced - base)

    med = statistics.median
    short, long = f"stream {args.short}", f"stream {args.long}"
    per_chunk = (med(added[long]) - med(added[short])) / (args.long - args.short)
    setup = "BatchSpanProcessor" if args.batch else "SimpleSpanProcessor"
    setup += " + MeterProvider" if args.metrics else ""
    clock = "wall-clock time" if args.wall else "thread CPU time"
    print(f"openai {openai.__version__} ({hx.__name__}), {setup}, {clock}")
    print(f"{args.rounds} interleaved rounds x {args.calls} calls; medians per call")
    print(f"  {'case':<16}{'plain µs':>10}{'added µs':>10}")
    for name in cases:
        print(f"  {name:<16}{med(plain[name]):10.1f}{med(added[name]):10.1f}")
    print(f"  a bare SDK span (5 attributes) around the plain chat call: {med(bare_added):.1f} µs")
    same = med(same_added)
    print(
        f"  a bare SDK span with our {len(same_attributes)} attributes around it: {same:.1f} µs "
        f"(ours = {med(added['chat']) / same:.2f}x; target <= 2)"
    )
    print(f"  the core's floor (Telemetry.llm + stop, no data) around it: {med(core_added):.1f} µs")
    print(f"  per streamed chunk: {per_chunk:.2f} µs (slope {args.short} -> {args.long} chunks)")
    print(
        f"  non-streaming chat with a tool call: {med(added['chat']):.1f} µs added (target <= 70)"
    )
    provider.shutdown()


if __name__ == "__main__":
    main()
