"""Per-call overhead of ``GoogleGenAIInstrumentor`` against the uninstrumented google-genai SDK.

The real SDK talks to an in-process transport (``httpx2.MockTransport``, or
``httpx.MockTransport`` where the SDK uses httpx), so no socket noise. Rounds are
interleaved (instrument, measure, uninstrument, measure, ...) in one process, and
the medians compared:

- ``chat``: a non-streaming ``generate_content`` whose answer asks for one function
  (the tool is a declaration: the agent would run it);
- ``stream``: ``generate_content_stream`` read to the end, at two stream lengths,
  which also gives the cost per chunk (the slope);
- ``afc``: automatic function calling: two model turns and the SDK running one
  Python function (two spans: ``chat`` and ``execute_tool``).

For scale, references around the plain call: a bare SDK span with five attributes
(the one a minimal instrumentation would start in the same place), a bare span
with every attribute our chat span ends up with, and the core's floor (a
``Telemetry.llm`` run opened and ended with no data). Times are this thread's CPU
time (``--wall`` for wall-clock). ``--icount`` instead counts instructions
(``valgrind --tool=callgrind``, deterministic on a loaded machine) of the chat call
plain, in a bare span, and instrumented::

    python benchmarks/google_genai_overhead.py [--rounds 40] [--calls 100] [--icount]
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from _timing import clock_for, per_call_us
from google import genai
from google.genai import types
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from instrumentors import semconv
from instrumentors.google_genai import GoogleGenAIInstrumentor
from instrumentors.telemetry import Telemetry

try:  # google-genai 3.x talks through the httpx2 fork
    import httpx2 as hx
except ImportError:
    import httpx as hx  # type: ignore[no-redef]

MODEL = "gemini-2.5-flash"
HOST = "bench.local"
USAGE = {"promptTokenCount": 42, "candidatesTokenCount": 17, "totalTokenCount": 59}
CALL = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
ANSWER = {"text": "It is 21 C in Paris."}


def _response(part: dict[str, Any], rid: str) -> bytes:
    candidate = {"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}
    body = {"candidates": [candidate], "usageMetadata": USAGE, "modelVersion": f"{MODEL}-001",
            "responseId": rid}  # fmt: skip
    return json.dumps(body).encode()


FUNCTION_CALL = _response(CALL, "resp-bench")
TEXT = _response(ANSWER, "resp-text")


def sse(chunks: int) -> bytes:
    """A stream of ``chunks`` text chunks, the last with the finish reason and usage."""
    head = {"modelVersion": f"{MODEL}-001", "responseId": "resp-s"}
    part = {"content": {"role": "model", "parts": [{"text": "tok "}]}, "index": 0}
    events = [{**head, "candidates": [part]} for _ in range(chunks - 1)]
    last = {**head, "candidates": [{**part, "finishReason": "STOP"}], "usageMetadata": USAGE}
    events.append(last)
    return b"".join(b"data: " + json.dumps(e).encode() + b"\r\n\r\n" for e in events)


def make_client(short: int, long: int) -> genai.Client:
    """A real client whose transport answers in process (function call, text, or a stream)."""
    streams = {short: sse(short), long: sse(long)}

    def handler(request: Any) -> Any:
        body = json.loads(request.content)
        if "streamGenerateContent" in str(request.url):
            data = streams[int(body["contents"][0]["parts"][0]["text"])]
            return hx.Response(200, headers={"content-type": "text/event-stream"}, content=data)
        # An automatic-function-calling turn that sent the function's result back gets text.
        answered = any("functionResponse" in p for c in body["contents"] for p in c["parts"])
        content = TEXT if answered else FUNCTION_CALL
        return hx.Response(200, headers={"content-type": "application/json"}, content=content)

    http = hx.Client(transport=hx.MockTransport(handler))
    options = types.HttpOptions(base_url=f"http://{HOST}", httpx_client=http)
    return genai.Client(api_key="bench-key", http_options=options)


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"{city}: 21 C"


DECLARED = types.GenerateContentConfig(
    tools=[types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Current weather for a city.",
        parameters=types.Schema(type=types.Type.OBJECT,
                                properties={"city": types.Schema(type=types.Type.STRING)}),
    )])],
    temperature=0.2,
)  # fmt: skip
AFC = types.GenerateContentConfig(tools=[get_weather])
PROMPT = "What is the weather in Paris?"


def workloads(client: genai.Client, short: int, long: int) -> dict[str, Callable[[], object]]:
    def chat() -> object:
        return client.models.generate_content(model=MODEL, contents=PROMPT, config=DECLARED)

    def stream(chunks: int) -> Callable[[], object]:
        def run() -> object:
            return sum(
                1 for _ in client.models.generate_content_stream(model=MODEL, contents=str(chunks))
            )

        return run  # fmt: skip

    def afc() -> object:
        return client.models.generate_content(model=MODEL, contents=PROMPT, config=AFC)

    return {"chat": chat, f"stream {short}": stream(short), f"stream {long}": stream(long),
            "afc (2 spans)": afc}  # fmt: skip


BARE = {
    semconv.GEN_AI_OPERATION_NAME: semconv.OP_CHAT,
    semconv.GEN_AI_PROVIDER_NAME: "gcp.gemini",
    semconv.GEN_AI_REQUEST_MODEL: MODEL,
    semconv.SERVER_ADDRESS: HOST,
    semconv.SERVER_PORT: 80,
}


def in_span(fn: Callable[[], object], attributes: dict[str, Any]) -> Callable[[], object]:
    tracer = trace.get_tracer("bench")

    def run() -> object:
        with tracer.start_as_current_span(
            f"chat {MODEL}", kind=SpanKind.CLIENT, attributes=attributes
        ):
            return fn()

    return run


def setup() -> tuple[InMemorySpanExporter, TracerProvider]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter, provider


def icount_run(mode: str, calls: int) -> None:
    """The body run under callgrind: warm up, then ``calls`` chat calls (``mode``: plain,
    bare, ours)."""
    exporter, _ = setup()
    chat = workloads(make_client(10, 50), 10, 50)["chat"]
    fn = in_span(chat, BARE) if mode == "bare" else chat
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument()  # every mode sets up alike: one 0-call run subtracts the setup
    if mode != "ours":
        instrumentor.uninstrument()
    for _ in range(20):
        fn()
        exporter.clear()
    for i in range(calls):
        fn()
        if i % 50 == 0:
            exporter.clear()


def icount(calls: int) -> None:
    """Instructions per chat call, by callgrind: (N calls - 0 calls) / N, per mode."""
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")

    def collected(mode: str, n: int) -> int:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
             sys.executable, __file__, "--icount-run", mode, str(n)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return int(re.findall(r"Collected\s*:\s*(\d+)", out.stderr)[-1])

    setup_only = collected("plain", 0)
    per_call = {m: (collected(m, calls) - setup_only) / calls for m in ("plain", "bare", "ours")}
    bare, ours = per_call["bare"] - per_call["plain"], per_call["ours"] - per_call["plain"]
    print(f"google-genai {genai.__version__}: instructions per chat call ({calls} calls)")
    print(f"  plain SDK call          {per_call['plain']:12,.0f}")
    print(f"  + a bare span (5 attrs) {bare:12,.0f}")
    print(f"  + our instrumentation   {ours:12,.0f}  ({ours / bare:.2f}x the bare span)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--short", type=int, default=10, help="chunks in the short stream")
    parser.add_argument("--long", type=int, default=50, help="chunks in the long stream")
    parser.add_argument("--wall", action="store_true", help="wall-clock time, not thread CPU time")
    parser.add_argument("--icount", action="store_true", help="instruction counts (valgrind)")
    parser.add_argument("--icount-run", nargs=2, metavar=("MODE", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.icount_run:
        icount_run(args.icount_run[0], int(args.icount_run[1]))
        return
    if args.icount:
        icount(args.calls)
        return
    clock = clock_for(args.wall)
    exporter, provider = setup()
    cases = workloads(make_client(args.short, args.long), args.short, args.long)
    chat = cases["chat"]
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument()
    chat()
    same = dict(exporter.get_finished_spans()[-1].attributes or {})
    instrumentor.uninstrument()
    core = Telemetry(scope="bench")

    def core_floor() -> object:
        run = core.llm("gcp.gemini", MODEL, server_address=HOST, server_port=80)
        try:
            return chat()
        finally:
            run.stop()

    references = {"bare": in_span(chat, BARE), "same": in_span(chat, same), "core": core_floor}
    for fn in (*cases.values(), *references.values()):  # warm-up, both ways
        per_call_us(fn, 30, clock)
    instrumentor.instrument()
    for fn in cases.values():
        per_call_us(fn, 30, clock)
    instrumentor.uninstrument()
    exporter.clear()
    gc.collect()
    plain: dict[str, list[float]] = {name: [] for name in cases}
    added: dict[str, list[float]] = {name: [] for name in cases}
    ref_added: dict[str, list[float]] = {name: [] for name in references}
    for index in range(args.rounds):
        for name, fn in cases.items():
            calls = args.calls if name == "chat" else max(args.calls // 4, 10)
            first, second = (False, True) if index % 2 == 0 else (True, False)
            sample = {}
            for on in (first, second):
                if on:
                    instrumentor.instrument()
                sample[on] = per_call_us(fn, calls, clock)
                if on:
                    instrumentor.uninstrument()
                exporter.clear()
            plain[name].append(sample[False])
            added[name].append(sample[True] - sample[False])
            if name == "chat":
                for ref, ref_fn in references.items():
                    ref_added[ref].append(per_call_us(ref_fn, calls, clock) - sample[False])
                    exporter.clear()
    report(args, plain, added, ref_added, len(same))
    provider.shutdown()


def report(
    args: argparse.Namespace,
    plain: dict[str, list[float]],
    added: dict[str, list[float]],
    ref: dict[str, list[float]],
    attributes: int,
) -> None:
    med = statistics.median
    short, long = f"stream {args.short}", f"stream {args.long}"
    per_chunk = (med(added[long]) - med(added[short])) / (args.long - args.short)
    clock = "wall-clock time" if args.wall else "thread CPU time"
    print(f"google-genai {genai.__version__} ({hx.__name__}), SimpleSpanProcessor, {clock}")
    print(f"{args.rounds} interleaved rounds; medians per call")
    print(f"  {'case':<16}{'plain µs':>10}{'added µs':>10}")
    for name, values in plain.items():
        print(f"  {name:<16}{med(values):10.1f}{med(added[name]):10.1f}")
    bare, same, ours = med(ref["bare"]), med(ref["same"]), med(added["chat"])
    print(f"  a bare SDK span (5 attributes) around the plain chat call: {bare:.1f} µs")
    print(f"  a bare SDK span with our {attributes} attributes around it: {same:.1f} µs")
    core = med(ref["core"])
    print(f"  the core's floor (Telemetry.llm + stop, no data) around it: {core:.1f} µs")
    print(f"  per streamed chunk: {per_chunk:.2f} µs (slope {args.short} -> {args.long} chunks)")
    print(f"  chat with a function call: {ours:.1f} µs added = {ours / bare:.2f}x the bare span"
          f" (target <= 1.5x), {ours / same:.2f}x the bare span with our attributes")  # fmt: skip
    afc = med(added["afc (2 spans)"]) / 2
    print(f"  automatic function calling, per span emitted: {afc:.1f} µs")


if __name__ == "__main__":
    main()
