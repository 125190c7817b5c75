"""Per-call overhead of ``AnthropicInstrumentor`` on Messages calls, against the plain SDK.

The real Anthropic SDK talks to an in-process transport (``httpx2.MockTransport``,
or ``httpx.MockTransport`` with anthropic 0.x), so no socket noise. Rounds are
interleaved (plain, bare spans, instrumented, ...) in one process and the medians
compared:

- non-streaming: ``messages.create`` with tools, answered with one ``tool_use`` block;
- streaming: ``stream=True`` read to the end, at two stream lengths (the slope is the
  cost per event).

"Plain" is the SDK with its own tracing off (``open_telemetry=False``): the SDK's
bare cost. Instrumented calls go through a client at the SDK's defaults (its own
tracing on in 1.x / 2.x), as a user's would: our span replaces the SDK's there, so
"added" includes leaving the SDK's span out. For scale, around the plain call: a bare
SDK span with five attributes, one with the attributes our span ends up with
(target: ours <= 1.5x it), the core's floor, and the SDK's own tracing (its span,
uninstrumented). Times are this thread's CPU time (``--wall`` for wall-clock)::

    python benchmarks/anthropic_overhead.py [--rounds 40] [--calls 100] [--batch]

``--icount MODE N`` runs N calls of one mode (plain, ours, bare, sdk) after a warm-up
and nothing else, for ``valgrind --tool=callgrind``; ``--callgrind`` runs that for
every mode and prints instructions per call (deterministic on a loaded machine).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import anthropic
from _timing import clock_for, per_call_us
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from instrumentors import semconv
from instrumentors.anthropic import AnthropicInstrumentor
from instrumentors.telemetry import Telemetry

# anthropic 1.x / 2.x talk through the httpx2 fork, 0.x through httpx: the module of the
# SDK's default HTTP client class says which.
hx: Any = importlib.import_module(
    next(
        c for c in anthropic.DefaultHttpxClient.__mro__[1:] if c.__name__ == "Client"
    ).__module__.split(".")[0]
)

MODEL = "claude-sonnet-4-5"
MESSAGE = json.dumps(
    {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 42,
            "output_tokens": 17,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        },
    }
).encode()


def sse(chunks: int) -> bytes:
    """A message stream with ``chunks`` text deltas."""
    start = {"id": "msg_s", "type": "message", "role": "assistant", "model": MODEL,
             "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {"input_tokens": 5, "output_tokens": 1}}  # fmt: skip
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    delta = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "tok "},
    }
    events += [delta] * chunks
    events += [
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": chunks}},
        {"type": "message_stop"},
    ]  # fmt: skip
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def make_client(short: int, long: int, sdk_tracing: bool = True) -> anthropic.Anthropic:
    """A real client on a mock transport (``sdk_tracing=False``: the SDK's own spans off)."""
    bodies = {short: sse(short), long: sse(long)}

    def handler(request: Any) -> Any:
        body = json.loads(request.content)
        if body.get("stream"):
            data = bodies[int(body["metadata"]["user_id"])]
            return hx.Response(200, headers={"content-type": "text/event-stream"}, content=data)
        return hx.Response(200, headers={"content-type": "application/json"}, content=MESSAGE)

    options: dict[str, Any] = {}
    if not sdk_tracing and "open_telemetry" in anthropic.Anthropic.__init__.__code__.co_varnames:
        options["open_telemetry"] = False
    return anthropic.Anthropic(
        api_key="sk-ant-bench",
        base_url="http://bench.local",
        http_client=hx.Client(transport=hx.MockTransport(handler)),
        **options,
    )


MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOLS = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}]
BARE_ATTRIBUTES = {
    semconv.GEN_AI_OPERATION_NAME: semconv.OP_CHAT,
    semconv.GEN_AI_PROVIDER_NAME: "anthropic",
    semconv.GEN_AI_REQUEST_MODEL: MODEL,
    semconv.SERVER_ADDRESS: "bench.local",
    semconv.SERVER_PORT: 80,
}


class Workload:
    """The calls measured, on one tracer provider and exporter."""

    def __init__(self, exporter: InMemorySpanExporter, short: int = 10, long: int = 50) -> None:
        self.exporter = exporter
        self.tracer = trace.get_tracer("bench")
        self.plain_client = make_client(short, long, sdk_tracing=False)
        self.default_client = make_client(short, long)
        self.instrumentor = AnthropicInstrumentor()
        self.same: dict[str, Any] = {}

    def chat(self, client: Any = None) -> Any:
        client = client or self.plain_client
        return client.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES, tools=TOOLS)

    def stream(self, chunks: int, client: Any = None) -> Callable[[], object]:
        meta = {"user_id": str(chunks)}

        def run() -> object:
            sdk = client or self.plain_client
            s = sdk.messages.create(
                model=MODEL, max_tokens=256, messages=MESSAGES, stream=True, metadata=meta
            )
            return sum(1 for _ in s)

        return run

    def bare(self, attributes: dict[str, Any]) -> Callable[[], object]:
        def run() -> object:
            with self.tracer.start_as_current_span(
                f"chat {MODEL}", kind=SpanKind.CLIENT, attributes=attributes
            ):
                return self.chat()

        return run

    def ours(self) -> object:
        return self.chat(self.default_client)

    def sdk(self) -> object:
        return self.chat(self.default_client)

    def our_attributes(self) -> dict[str, Any]:
        """The attributes our span ends up with (for the like-for-like bare span)."""
        self.instrumentor.instrument()
        self.ours()
        self.instrumentor.uninstrument()
        trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
        attributes = dict(self.exporter.get_finished_spans()[-1].attributes or {})
        self.exporter.clear()
        return attributes


def _setup(batch: bool) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    )
    trace.set_tracer_provider(provider)
    return provider, exporter


def icount(mode: str, calls: int) -> None:
    """The same warm-up of every mode, then N calls of one (run under callgrind): the run
    with N = 0 is the one baseline all modes share."""
    _, exporter = _setup(batch=False)
    work = Workload(exporter)
    same = work.our_attributes()
    modes: dict[str, Callable[[], object]] = {
        "plain": work.chat, "ours": work.ours, "bare": work.bare(same), "sdk": work.sdk,
    }  # fmt: skip
    for name, fn in modes.items():
        if name == "ours":
            work.instrumentor.instrument()
        for _ in range(20):
            fn()
        work.instrumentor.uninstrument()
        exporter.clear()
    if mode == "ours":
        work.instrumentor.instrument()
    fn = modes[mode]
    for i in range(calls):
        fn()
        if i % 50 == 0:
            exporter.clear()


def _instructions(mode: str, calls: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, __file__, "--icount", mode, str(calls)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    found = re.search(r"Collected : (\d+)", done.stderr)
    return int(found.group(1)) if found else 0


def callgrind(calls: int) -> None:
    """Instructions per call of each mode: its callgrind total minus the shared baseline."""
    base = _instructions("plain", 0)
    per = {m: (_instructions(m, calls) - base) / calls for m in ("plain", "bare", "ours", "sdk")}
    print(f"anthropic {anthropic.__version__}: instructions per call (callgrind, {calls} calls)")
    for mode, count in per.items():
        print(f"  {mode:<6}{count:14,.0f}")
    print(f"  ours - plain: {per['ours'] - per['plain']:,.0f}")
    print(f"  bare - plain: {per['bare'] - per['plain']:,.0f}  (a bare span with our attributes)")
    print(f"  sdk  - plain: {per['sdk'] - per['plain']:,.0f}  (the SDK's own span)")
    ratio = (per["ours"] - per["plain"]) / max(per["bare"] - per["plain"], 1)
    print(f"  ours / bare span: {ratio:.2f}x (target <= 1.5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--short", type=int, default=10, help="events in the short stream")
    parser.add_argument("--long", type=int, default=50, help="events in the long stream")
    parser.add_argument("--batch", action="store_true", help="BatchSpanProcessor instead of Simple")
    parser.add_argument("--wall", action="store_true", help="wall-clock time, not thread CPU time")
    parser.add_argument("--icount", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--callgrind", type=int, metavar="N", help="instruction counts (valgrind)")
    args = parser.parse_args()
    if args.icount:
        icount(args.icount[0], int(args.icount[1]))
        return
    if args.callgrind:
        callgrind(args.callgrind)
        return
    timed(args)


def timed(args: argparse.Namespace) -> None:
    clock = clock_for(args.wall)
    provider, exporter = _setup(args.batch)
    work = Workload(exporter, args.short, args.long)
    same = work.our_attributes()
    core = Telemetry(scope="bench")

    def core_floor() -> object:
        run = core.llm("anthropic", MODEL, server_address="bench.local", server_port=80)
        try:
            return work.chat()
        finally:
            run.stop()

    short, long = f"stream {args.short}", f"stream {args.long}"
    cases = {"chat": (work.chat, work.ours)}
    for chunks, name in ((args.short, short), (args.long, long)):
        cases[name] = (work.stream(chunks), work.stream(chunks, work.default_client))
    refs = {
        "bare span, 5 attributes": work.bare(BARE_ATTRIBUTES),
        f"bare span, our {len(same)} attributes": work.bare(same),
        "core floor (Telemetry.llm + stop)": core_floor,
        "the SDK's own span (uninstrumented)": work.sdk,
    }
    for plain, traced in cases.values():  # warm-up, both ways
        per_call_us(plain, 50, clock)
        work.instrumentor.instrument()
        per_call_us(traced, 50, clock)
        work.instrumentor.uninstrument()
    for ref in refs.values():
        per_call_us(ref, 50, clock)
    exporter.clear()
    gc.collect()
    plain_us: dict[str, list[float]] = {name: [] for name in cases}
    added: dict[str, list[float]] = {name: [] for name in cases}
    ref_added: dict[str, list[float]] = {name: [] for name in refs}
    for _ in range(args.rounds):
        for name, (plain, traced) in cases.items():
            base = per_call_us(plain, args.calls, clock)
            if name == "chat":
                for ref_name, ref in refs.items():
                    ref_added[ref_name].append(per_call_us(ref, args.calls, clock) - base)
            work.instrumentor.instrument()
            ours = per_call_us(traced, args.calls, clock)
            work.instrumentor.uninstrument()
            exporter.clear()
            plain_us[name].append(base)
            added[name].append(ours - base)
    med = statistics.median
    per_event = (med(added[long]) - med(added[short])) / (args.long - args.short)
    setup = "BatchSpanProcessor" if args.batch else "SimpleSpanProcessor"
    clock_name = "wall-clock time" if args.wall else "thread CPU time"
    print(f"anthropic {anthropic.__version__} ({hx.__name__}), {setup}, {clock_name}")
    print(f"{args.rounds} interleaved rounds x {args.calls} calls; medians per call")
    print(f"  {'case':<16}{'plain µs':>10}{'added µs':>10}")
    for name in cases:
        print(f"  {name:<16}{med(plain_us[name]):10.1f}{med(added[name]):10.1f}")
    print("  around the plain non-streaming call:")
    for ref_name, values in ref_added.items():
        print(f"    {ref_name:<40}{med(values):8.1f} µs")
    same_us = med(ref_added[f"bare span, our {len(same)} attributes"])
    print(f"  ours / bare span with our attributes: {med(added['chat']) / same_us:.2f}x"
          " (target <= 1.5)")  # fmt: skip
    print(f"  per streamed event: {per_event:.2f} µs (slope {args.short} -> {args.long} events)")
    provider.shutdown()


if __name__ == "__main__":
    main()
