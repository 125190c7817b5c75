"""Per-call overhead of one OpenAI / LangChain instrumentation, on the workloads of our benchmarks.

The workloads are imported from ``openai_overhead.py`` and ``langchain_overhead.py``
(same mock transport, same scripted chat model and tool), so the numbers line up
with theirs:

- ``openai chat``: a non-streaming ``chat.completions.create`` with tools, answered
  with a tool call by the in-process mock transport;
- ``langchain step``: a fake chat-model ``invoke`` plus ``get_weather.invoke(CALL)``;
- ``anthropic chat``: a non-streaming ``messages.create`` with tools, answered with one
  ``tool_use`` block (``anthropic_overhead.py``'s client, the SDK's own spans off, so
  "plain" exports nothing and every line compares the instrumentation alone);
- ``gemini chat``: a non-streaming google-genai ``generate_content`` with a declared
  function, answered with one function call (``google_genai_overhead.py``'s client).

One instrumentation per process (``--which``), each with its default settings (OpenLIT:
its per-framework instrumentors, called with what ``openlit.init()`` passes them at its
defaults; see ``_compare_support._openlit_options``). Rounds are interleaved (instrument,
measure, uninstrument, measure; the order alternates each round), with a bare SDK span
around the plain call for scale; medians over rounds of this thread's CPU time are
reported. Spans are exported to memory through a
``SimpleSpanProcessor``; the spans per call are counted and the spans searched for
the prompt, the tool arguments and the tool result (content capture).

A library that captures prompts and completions by default is measured a second time,
in a fresh process, with capture disabled through its documented environment variables
(ours captures no content by default, so that line is the like-for-like comparison).

One JSON object per workload and capture setting on stdout (lines starting with
``{``), each followed by a human-readable line. Run inside a virtualenv holding this
package (extras openai, anthropic, langchain, google-genai), ``langchain>=1``, ``langgraph``
and the library (``--which`` ours, otel-openai-v2, otel-google-genai, openinference,
openllmetry or openlit)::

    python benchmarks/compare_existing.py --which NAME
        [--rounds 40] [--calls 100] [--steps 200] [--capture default|off|both]

``nox -s bench_compare`` builds one virtualenv per library and writes the table to
``benchmarks/results/compare-existing.md``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _compare_support import (
    ANTHROPIC,
    FRAMEWORK_DISTS,
    GENAI,
    LANGCHAIN,
    LIBRARIES,
    OPENAI,
    SETTING_PREFIXES,
    LogRecords,
    Patches,
    _version,
)

HERE = Path(__file__).resolve().parent

WORKLOADS = (OPENAI, LANGCHAIN, ANTHROPIC, GENAI)

# Found in every span attribute or event that carries content, and nowhere else: the
# prompt ("What is the weather in Paris?"), the tool-call arguments and the tool result.
CONTENT_MARKER = "Paris"


def _per_call(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    """(this thread's CPU µs, the whole process's CPU µs) per call of ``fn``."""
    thread0, process0 = time.thread_time(), time.process_time()
    for _ in range(calls):
        fn()
    thread1, process1 = time.thread_time(), time.process_time()
    return (thread1 - thread0) / calls * 1e6, (process1 - process0) / calls * 1e6


def _content_keys(spans: Any) -> list[str]:
    """Attribute (and span-event attribute) keys whose value holds the content marker."""
    keys: set[str] = set()
    for span in spans:
        items = list((span.attributes or {}).items())
        for event in span.events:
            items += [(f"event {event.name}: {k}", v) for k, v in (event.attributes or {}).items()]
        for key, value in items:
            if CONTENT_MARKER in str(value):
                keys.add(key)
    return sorted(keys)


class Bench:
    """The tracer provider, the in-memory exporter and the two workloads."""

    def __init__(self) -> None:
        sys.path.insert(0, str(HERE))
        from langchain_core.messages import HumanMessage
        from langchain_overhead import CALL, REQUEST, ScriptedChat, get_weather
        from openai_overhead import COMPLETION, make_client
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )
        from opentelemetry.trace import SpanKind

        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        trace.set_tracer_provider(self.provider)
        tracer = trace.get_tracer("bench")

        client = make_client(10, 50)
        messages = [{"role": "user", "content": "What is the weather in Paris?"}]
        tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
        expected_id = json.loads(COMPLETION)["id"]

        def chat() -> object:
            return client.chat.completions.create(
                model="gpt-4o-mini", messages=messages, tools=tools
            )

        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "server.address": "bench.local",
            "server.port": 80,
        }

        def chat_in_span() -> object:
            with tracer.start_as_current_span(
                "chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=attributes
            ):
                return chat()

        model = ScriptedChat(responses=[REQUEST])
        lc_messages = [HumanMessage("What is the weather in Paris?")]

        def step() -> object:
            model.invoke(lc_messages)
            return get_weather.invoke(CALL)

        def step_in_spans() -> object:  # one bare span per operation the step makes
            with tracer.start_as_current_span("chat"):
                model.invoke(lc_messages)
            with tracer.start_as_current_span("execute_tool get_weather"):
                return get_weather.invoke(CALL)

        def check_chat(result: Any) -> None:
            if result.id != expected_id or not result.choices[0].message.tool_calls:
                raise RuntimeError(f"unexpected chat result: {result!r}")

        def check_step(result: Any) -> None:
            if "21 C" not in str(getattr(result, "content", result)):
                raise RuntimeError(f"unexpected tool result: {result!r}")

        self.workloads: dict[str, tuple[Callable[[], object], Callable[[], object], int]] = {
            OPENAI: (chat, chat_in_span, 1),
            LANGCHAIN: (step, step_in_spans, 2),
        }
        self.checks: dict[str, Callable[[Any], None]] = {OPENAI: check_chat, LANGCHAIN: check_step}
        self._anthropic(tracer, SpanKind)
        self._genai()

    def _anthropic(self, tracer: Any, kind: Any) -> None:
        """The Anthropic workload, where the SDK is installed."""
        try:
            from anthropic_overhead import BARE_ATTRIBUTES, Workload
        except ImportError:
            return
        work = Workload(self.exporter)

        def in_span() -> object:
            with tracer.start_as_current_span(
                "chat claude-sonnet-4-5", kind=kind.CLIENT, attributes=BARE_ATTRIBUTES
            ):
                return work.chat()

        def check(result: Any) -> None:
            if result.id != "msg_bench" or result.content[0].type != "tool_use":
                raise RuntimeError(f"unexpected message: {result!r}")

        self.workloads[ANTHROPIC] = (work.chat, in_span, 1)
        self.checks[ANTHROPIC] = check

    def _genai(self) -> None:
        """The Gemini workload, where google-genai is installed."""
        try:
            from google_genai_overhead import BARE, DECLARED, MODEL, PROMPT, in_span, make_client
        except ImportError:
            return
        client = make_client(10, 50)

        def chat() -> object:
            return client.models.generate_content(model=MODEL, contents=PROMPT, config=DECLARED)

        def check(result: Any) -> None:
            if result.response_id != "resp-bench" or not result.function_calls:
                raise RuntimeError(f"unexpected response: {result!r}")

        self.workloads[GENAI] = (chat, in_span(chat, BARE), 1)
        self.checks[GENAI] = check

    def spans(self) -> Any:
        spans = self.exporter.get_finished_spans()
        self.exporter.clear()
        return spans


def measure(
    bench: Bench,
    workload: str,
    instrumentor: Any,
    rounds: int,
    calls: int,
    options: Callable[[], dict[str, Any]] = dict,
) -> dict[str, Any]:
    """Interleaved rounds for one workload; medians per call and what the spans hold."""
    fn, in_bare_spans, bare_spans = bench.workloads[workload]
    provider = bench.provider

    bench.checks[workload](fn())  # a plain call first: the SDK imports some modules lazily
    patches = Patches()

    def uninstrument() -> None:
        instrumentor.uninstrument()
        patches.restore()

    def instrument() -> None:
        instrumentor.instrument(tracer_provider=provider, **options())
        if not instrumentor.is_instrumented_by_opentelemetry:
            from opentelemetry.instrumentation.dependencies import get_dependency_conflicts

            conflict = get_dependency_conflicts(instrumentor.instrumentation_dependencies())
            raise RuntimeError(f"instrument() did nothing ({conflict or 'no reason given'})")

    # Warm-up both ways, and a look at what the instrumented calls export.
    threads = threading.active_count()
    _per_call(fn, 30)
    _per_call(in_bare_spans, 30)
    plain_spans = len(bench.spans()) - 30 * bare_spans
    instrument()
    try:
        bench.checks[workload](fn())  # the instrumented call still returns the same result
        bench.spans()
        _per_call(fn, 20)
        with LogRecords() as logged:
            _per_call(fn, 10)
        spans = bench.spans()
    finally:
        uninstrument()
    _per_call(fn, 10)
    plain_spans += len(bench.spans())
    if plain_spans:
        raise RuntimeError(f"{plain_spans} spans exported while uninstrumented (uninstrument?)")
    names = sorted({span.name for span in spans})
    content_keys = _content_keys(spans)

    plain: list[float] = []
    added: list[float] = []
    added_process: list[float] = []
    bare: list[float] = []
    span_counts: list[float] = []
    for index in range(rounds):
        sample: dict[bool, tuple[float, float]] = {}
        for on in (False, True) if index % 2 == 0 else (True, False):
            gc.collect()
            if on:
                instrument()
            try:
                sample[on] = _per_call(fn, calls)
            finally:
                if on:
                    uninstrument()
            count = len(bench.spans())
            if on:
                span_counts.append(count / calls)
            elif count:
                raise RuntimeError(f"{count} spans exported while uninstrumented")
        gc.collect()
        bare_thread, _ = _per_call(in_bare_spans, calls)
        bench.spans()
        plain.append(sample[False][0])
        added.append(sample[True][0] - sample[False][0])
        added_process.append(sample[True][1] - sample[False][1])
        bare.append(bare_thread - sample[False][0])

    med = statistics.median
    return {
        "plain_us": round(med(plain), 1),
        "added_us": round(med(added), 1),
        "added_process_us": round(med(added_process), 1),
        "bare_span_us": round(med(bare), 1),
        "bare_spans": bare_spans,
        "spans_per_call": round(med(span_counts), 2),
        "span_names": names,
        "content_in_spans": bool(content_keys),
        "content_keys": content_keys[:8],
        "threads_started": threading.active_count() - threads,
        "left_wrapped_by_uninstrument": sorted(patches.leaked),
        "log_records_per_call": len(logged.messages) / 10,
        "log_records": sorted(set(logged.messages))[:5],
    }


def run(name: str, capture: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    library = LIBRARIES[name]
    common = {
        "name": name,
        "capture": capture,
        "python": platform.python_version(),
        "framework": {dist: _version(dist) for dist in FRAMEWORK_DISTS},
        "clock": "thread_time",
        "rounds": args.rounds,
    }
    bench = Bench()
    results = []
    for workload in WORKLOADS:
        if workload not in args.workloads:
            continue
        target = library.targets.get(workload)
        calls = args.steps if workload == LANGCHAIN else args.calls
        line: dict[str, Any] = {
            **common,
            "workload": workload,
            "calls": calls,
            "instrumentation": {target.dist: _version(target.dist)} if target else {},
        }
        if target is None:
            line.update(status="skipped", reason=f"{name} has no instrumentor for this workload")
        elif workload not in bench.workloads:
            line.update(status="skipped", reason=f"{workload}: the SDK is not installed")
        else:
            try:
                instrumentor = getattr(importlib.import_module(target.module), target.cls)()
                line.update(
                    status="ok",
                    **measure(bench, workload, instrumentor, args.rounds, calls, target.options),
                )
            except Exception as error:
                line.update(status="skipped", reason=f"{type(error).__name__}: {error}")
            if line["status"] == "ok" and not line["spans_per_call"]:
                line.update(status="no spans", reason="no span exported for the workload")
        results.append(line)
    return results


def describe(line: dict[str, Any]) -> str:
    label = f"{line['name']}{' (content off)' if line['capture'] == 'off' else ''}"
    head = f"  {line['workload']:<15} {label:<30}"
    if line["status"] != "ok":
        return f"{head} {line['status'].upper()}: {line['reason']}"
    text = (
        f"{head} plain {line['plain_us']:7.1f} µs  added {line['added_us']:7.1f} µs"
        f"  (bare span x{line['bare_spans']} {line['bare_span_us']:5.1f} µs)"
        f"  spans/call {line['spans_per_call']:g} {line['span_names']}"
        f"  content {'yes' if line['content_in_spans'] else 'no'}"
    )
    if line["log_records"]:
        text += f"  [{line['log_records_per_call']:g} log records per call: {line['log_records']}]"
    if line["left_wrapped_by_uninstrument"]:
        leaked = line["left_wrapped_by_uninstrument"]
        text += f"  [uninstrument() left {len(leaked)} wrapper(s) in place, restored: {leaked}]"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--which", required=True, choices=sorted(LIBRARIES))
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--calls", type=int, default=100, help="chat calls per batch")
    parser.add_argument("--steps", type=int, default=200, help="LangChain steps per batch")
    parser.add_argument(
        "--workloads",
        type=lambda text: [w.strip() for w in text.split(",")],
        default=list(WORKLOADS),
        help=f"comma-separated subset of: {', '.join(WORKLOADS)}",
    )
    parser.add_argument(
        "--capture",
        choices=("default", "off", "both"),
        default="both",
        help="default settings, content capture off, or both (off only where the default"
        " captures content)",
    )
    args = parser.parse_args()
    library = LIBRARIES[args.which]
    capture = "off" if args.capture == "off" else "default"
    if capture == "off" and not library.content_off:
        parser.error(f"{args.which} captures no content by default: nothing to turn off")

    # Before importing any instrumentation: defaults are defaults, "off" is documented env.
    for key in [k for k in os.environ if k.startswith(SETTING_PREFIXES)]:
        del os.environ[key]
    if capture == "off":
        os.environ.update(library.content_off)

    for line in run(args.which, capture, args):
        print(json.dumps(line), flush=True)
        print(describe(line), flush=True)

    if args.capture == "both" and library.content_off:
        # A fresh interpreter: the settings are read at import or instrument time.
        argv = ["--which", args.which, "--rounds", str(args.rounds), "--calls", str(args.calls)]
        argv += ["--steps", str(args.steps), "--workloads", ",".join(args.workloads)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
        child = subprocess.run(
            [sys.executable, __file__, *argv, "--capture", "off"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        sys.stdout.write(child.stdout)
        if child.returncode:
            sys.stderr.write(child.stderr[-4000:])
            sys.exit(child.returncode)


if __name__ == "__main__":
    main()
