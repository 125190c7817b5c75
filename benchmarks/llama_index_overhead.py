"""Overhead of ``LlamaIndexInstrumentor`` against uninstrumented LlamaIndex, in one process.

Two workloads, all offline:

- ``llm+tool``: ``MockLLM.chat`` then ``FunctionTool.call`` (sync; target: <= 200 us added);
- ``agent``: a ``FunctionAgent`` run with two LLM steps and one tool call, on a scripted
  function-calling LLM (target: <= 1.5 ms added).

Rounds are interleaved (plain batch, instrumented batch, ...) and the median of the
per-round differences is reported, with the difference of the fastest batches beside
it; a bare SDK span around the plain ``llm+tool`` call is shown for scale. Time is
this process's CPU time (``--wall`` for wall-clock), so other load on a shared
machine does not count. Spans go to an exporter that drops them (an in-memory list
would grow the heap, and with it the garbage collector's share). Run (needs
llama-index-core 0.12 or 0.14)::

    python benchmarks/llama_index_overhead.py [--rounds 30] [--calls 200] [--runs 40] [--batch]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from _timing import per_call_us
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.llms import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    LLMMetadata,
    MockLLM,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.tools import FunctionTool
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import SpanKind
from pydantic import PrivateAttr

from instrumentors import semconv
from instrumentors.llama_index import LlamaIndexInstrumentor

USAGE = {"usage": {"prompt_tokens": 30, "completion_tokens": 8}}


class ToolThenAnswer(FunctionCallingLLM):
    """Asks for ``add(a=1, b=2)`` on odd calls and answers on even ones."""

    _calls: int = PrivateAttr(default=0)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_function_calling_model=True, is_chat_model=True, model_name="bench")

    def _answer(self) -> ChatResponse:
        self._calls += 1
        if self._calls % 2:
            call = ToolSelection(
                tool_id=f"call_{self._calls}", tool_name="add", tool_kwargs={"a": 1, "b": 2}
            )
            message = ChatMessage(
                role="assistant", content="", additional_kwargs={"tool_calls": [call]}
            )
        else:
            message = ChatMessage(role="assistant", content="It is 3.")
        return ChatResponse(message=message, delta=message.content, raw=USAGE)

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._answer()

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._answer()

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Any:
        answer = self._answer()
        return iter([answer])

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Any:
        answer = self._answer()

        async def gen() -> AsyncIterator[ChatResponse]:
            yield answer

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._answer().message.content or "")

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        return self.complete(prompt)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        return iter([self.complete(prompt)])

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[Any],
        user_msg: Any = None,
        chat_history: Any = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        messages = list(chat_history or [])
        if user_msg:
            messages.append(ChatMessage(role="user", content=str(user_msg)))
        return {"messages": messages}

    def get_tool_calls_from_response(
        self, response: Any, error_on_no_tool_call: bool = False, **kwargs: Any
    ) -> list[ToolSelection]:
        return list(response.message.additional_kwargs.get("tool_calls", []))


class Discard(SpanExporter):
    """Counts and drops spans: an exporter sending them away, without growing the heap."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


CLOCK: list[Callable[[], float]] = [time.process_time]


def _per_call_us(fn: Callable[[], object], calls: int) -> float:
    return per_call_us(fn, calls, CLOCK[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=200, help="llm+tool calls per batch")
    parser.add_argument("--runs", type=int, default=40, help="agent runs per batch")
    parser.add_argument("--batch", action="store_true", help="BatchSpanProcessor instead of Simple")
    parser.add_argument("--wall", action="store_true", help="wall-clock instead of CPU time")
    args = parser.parse_args()
    if args.wall:
        CLOCK[0] = time.perf_counter

    exporter = Discard()
    provider = TracerProvider()
    processor = BatchSpanProcessor(exporter) if args.batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("bench")

    llm = MockLLM(max_tokens=8)
    tool = FunctionTool.from_defaults(fn=add)
    messages = [ChatMessage(role="user", content="What is one plus two, please?")]
    agent = FunctionAgent(name="calc", tools=[tool], llm=ToolThenAnswer())
    loop = asyncio.new_event_loop()

    def llm_and_tool() -> object:
        llm.chat(messages)
        return tool.call(a=1, b=2)

    attributes = {semconv.GEN_AI_OPERATION_NAME: semconv.OP_CHAT, semconv.GEN_AI_PROVIDER_NAME: "x"}

    def bare() -> object:
        with tracer.start_as_current_span("chat", kind=SpanKind.CLIENT, attributes=attributes):
            return llm_and_tool()

    async def run_agent() -> object:
        return await agent.run(user_msg="What is 1 + 2?")  # needs a running loop

    def agent_run() -> object:
        return loop.run_until_complete(run_agent())

    cases: dict[str, tuple[Callable[[], object], int]] = {
        "llm+tool": (llm_and_tool, args.calls),
        "bare span + llm+tool": (bare, args.calls),
        "agent (2 llm, 1 tool)": (agent_run, args.runs),
    }
    instrumentor = LlamaIndexInstrumentor()
    for fn, n in cases.values():  # warm-up, both ways
        _per_call_us(fn, n)
    instrumentor.instrument()
    for fn, n in cases.values():
        _per_call_us(fn, n)
    instrumentor.uninstrument()
    assert exporter.count > 0, "no spans: the instrumentor did nothing"
    gc.collect()

    plain: dict[str, list[float]] = {}
    traced: dict[str, list[float]] = {}
    diffs: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, (fn, n) in cases.items():
            base = _per_call_us(fn, n)
            plain.setdefault(name, []).append(base)
            if name.startswith("bare"):
                continue
            instrumentor.instrument()
            with_spans = _per_call_us(fn, n)
            instrumentor.uninstrument()
            traced.setdefault(name, []).append(with_spans)
            diffs.setdefault(name, []).append(with_spans - base)
    loop.close()

    import llama_index.core

    print(f"llama-index-core {llama_index.core.__version__}, {args.rounds} rounds, "
          f"{'Batch' if args.batch else 'Simple'}SpanProcessor, "
          f"{'wall-clock' if args.wall else 'CPU'} time")  # fmt: skip
    header = f"{'case':24} {'plain us':>9} {'instrumented':>13} {'added (median)':>15}"
    print(f"{header} {'added (fastest)':>16}")
    for name in cases:
        base = statistics.median(plain[name])
        if name in diffs:
            with_spans = statistics.median(traced[name])
            added = statistics.median(diffs[name])
            fastest = min(traced[name]) - min(plain[name])
            print(f"{name:24} {base:9.1f} {with_spans:13.1f} {added:15.1f} {fastest:16.1f}")
        else:
            bare = base - statistics.median(plain["llm+tool"])
            fastest = min(plain[name]) - min(plain["llm+tool"])
            print(f"{name:24} {base:9.1f} {'':>13} {bare:15.1f} {fastest:16.1f}")
    print("targets: llm+tool <= 200 us added, agent <= 1500 us added")


if __name__ == "__main__":
    main()
