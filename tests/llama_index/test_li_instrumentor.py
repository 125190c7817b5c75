"""Instrumentor lifecycle, suppression, sampling, telemetry bugs, bounded state, stream contexts."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import entry_points
from typing import Any

import pytest
from li_support import ScriptedLLM, add, one, text, tool_call
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.llms import ChatMessage, MockLLM
from llama_index.core.tools import FunctionTool, function_tool
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from instrumentors import semconv
from instrumentors.llama_index import LlamaIndexInstrumentor, _extract, _extract_llm, _wrappers

MESSAGES = [ChatMessage(role="user", content="hi")]
tracer = trace.get_tracer("test")


def ours() -> tuple[int, int]:
    dispatcher = get_dispatcher()
    return (
        sum(isinstance(h, _wrappers.SpanHandler) for h in dispatcher.span_handlers),
        sum(isinstance(h, _wrappers.EventHandler) for h in dispatcher.event_handlers),
    )


def test_instrument_twice_adds_handlers_once(
    instrument: Callable[..., LlamaIndexInstrumentor],
) -> None:
    instrumentor = instrument()
    instrumentor.instrument()  # already instrumented: a no-op
    assert ours() == (1, 1)


def test_instrument_uninstrument_cycles(
    instrument: Callable[..., LlamaIndexInstrumentor], exporter: InMemorySpanExporter
) -> None:
    tool = FunctionTool.from_defaults(fn=add)
    for _ in range(3):
        instrumentor = instrument()
        assert tool.call(a=1, b=2).raw_output == 3
        assert len(exporter.get_finished_spans()) == 1
        exporter.clear()
        instrumentor.uninstrument()
        assert ours() == (0, 0)
        assert not hasattr(function_tool.sync_to_async, "__wrapped__")  # 0.12 patch undone
        handler = _extract.load_types().handler
        assert "set_exception" not in vars(handler)  # 0.12: Future's own method again
        assert tool.call(a=1, b=2).raw_output == 3
        assert exporter.get_finished_spans() == ()


def test_entry_point_is_registered() -> None:
    (entry,) = [
        e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "agent_llama_index"
    ]
    assert entry.load() is LlamaIndexInstrumentor


def test_own_tracer_provider(instrument: Callable[..., LlamaIndexInstrumentor]) -> None:
    own = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(own))
    instrument(tracer_provider=provider)

    MockLLM(max_tokens=2).chat(MESSAGES)

    (span,) = own.get_finished_spans()
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "instrumentors.llama_index"


def test_uninstrument_ends_open_runs(
    instrument: Callable[..., LlamaIndexInstrumentor], exporter: InMemorySpanExporter
) -> None:
    instrumentor = instrument()
    stream = ScriptedLLM([text("never read")]).stream_chat(MESSAGES)
    instrumentor.uninstrument()

    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    del stream


async def test_suppressed(exporter: InMemorySpanExporter, drained: Any) -> None:
    with suppress_instrumentation():
        assert MockLLM(max_tokens=2).chat(MESSAGES).message.content
        assert FunctionTool.from_defaults(fn=add).call(a=1, b=2).raw_output == 3
        llm = ScriptedLLM([tool_call("c1", "add", a=1, b=2), text("3")])
        assert "3" in str(await FunctionAgent(tools=[add], llm=llm).run(user_msg="x"))

    assert exporter.get_finished_spans() == ()


async def test_unsampled(exporter: InMemorySpanExporter, unsampled: None, drained: Any) -> None:
    llm = ScriptedLLM([tool_call("c1", "add", a=1, b=2), text("3")])
    assert "3" in str(await FunctionAgent(tools=[add], llm=llm).run(user_msg="x"))
    list(ScriptedLLM([text("a b")]).stream_chat(MESSAGES))

    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (_extract, "tool_params"),
        (_extract, "tool_call_id"),
        (_extract, "tool_result"),
        (_extract_llm, "response_info"),
        (_extract_llm, "tool_calls"),
        (_extract_llm, "chunk_finish_reason"),
    ],
)
async def test_telemetry_bug_does_not_break_the_call(
    exporter: InMemorySpanExporter,
    drained: Any,
    monkeypatch: pytest.MonkeyPatch,
    module: Any,
    name: str,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("telemetry bug")

    monkeypatch.setattr(module, name, broken)
    llm = ScriptedLLM([tool_call("c1", "add", a=1, b=2), text("3")])
    result = await FunctionAgent(name="calc", tools=[add], llm=llm).run(user_msg="x")
    streamed = [r.delta for r in ScriptedLLM([text("a b")]).stream_chat(MESSAGES)]

    assert "3" in str(result)
    assert "".join(p or "" for p in streamed) == "a b"
    spans = exporter.get_finished_spans()
    assert one(spans, "execute_tool add").status.status_code is StatusCode.UNSET
    assert one(spans, "invoke_agent calc")


def test_bug_before_the_span_starts(
    exporter: InMemorySpanExporter, drained: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("telemetry bug")

    monkeypatch.setattr(_extract, "tool_info", broken)
    assert FunctionTool.from_defaults(fn=add).call(a=1, b=2).raw_output == 3
    assert exporter.get_finished_spans() == ()


def test_capacity_bounds_open_records(
    exporter: InMemorySpanExporter, instrumented: LlamaIndexInstrumentor
) -> None:
    tracker = instrumented.tracker
    assert tracker is not None
    tracker.capacity = 1
    llm = ScriptedLLM([text("x")])

    def inner() -> str:
        """Call the model from inside the tool."""
        return str(llm.chat(MESSAGES).message.content)

    assert FunctionTool.from_defaults(fn=inner).call().raw_output == "x"
    (span,) = exporter.get_finished_spans()  # the nested call went untracked, past the cap
    assert span.name == "execute_tool inner"
    assert set(tracker.sizes().values()) == {0}


def test_stream_read_under_a_later_span(exporter: InMemorySpanExporter, drained: Any) -> None:
    stream = ScriptedLLM([text("a b")]).stream_chat(MESSAGES)
    with tracer.start_as_current_span("render"):
        for _ in stream:
            pass
    # The chat span could not be released under "render"; the next call releases it.
    MockLLM(max_tokens=2).chat(MESSAGES)

    spans = exporter.get_finished_spans()
    later = one(spans, "chat")
    assert later.parent is None  # not suppressed, not under the ended stream span
    assert trace.get_current_span() is trace.INVALID_SPAN


async def test_stream_read_in_another_task(exporter: InMemorySpanExporter, drained: Any) -> None:
    stream = await ScriptedLLM([text("a b")]).astream_chat(MESSAGES)

    async def consume() -> None:
        async for _ in stream:
            pass

    await asyncio.create_task(consume())
    await MockLLM(max_tokens=2).achat(MESSAGES)

    spans = exporter.get_finished_spans()
    assert one(spans, "chat scripted-model").status.status_code is StatusCode.UNSET
    assert one(spans, "chat").parent is None
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_stream_dropped_unread_restores_context(
    exporter: InMemorySpanExporter, drained: Any
) -> None:
    stream = ScriptedLLM([text("never read")]).stream_chat(MESSAGES)
    assert trace.get_current_span().is_recording()  # current until the request is made
    del stream
    gc.collect()

    assert trace.get_current_span() is trace.INVALID_SPAN
    MockLLM(max_tokens=2).chat(MESSAGES)
    assert one(exporter.get_finished_spans(), "chat").parent is None


def test_provider_names() -> None:
    class Local:
        pass

    assert _extract_llm.provider(Local) == "llama_index"
    assert _extract_llm.provider(
        type("OpenAI", (), {"__module__": "llama_index.llms.openai.base"})
    ) == ("openai")
    anthropic = type("Anthropic", (), {"__module__": "llama_index.llms.anthropic.base"})
    assert _extract_llm.provider(anthropic) == "anthropic"
    ollama = type("Ollama", (), {"__module__": "llama_index.llms.ollama.base"})
    assert _extract_llm.provider(ollama) == "ollama"
    assert semconv.GEN_AI_PROVIDER_NAME


def test_threads(exporter: InMemorySpanExporter, drained: Any) -> None:
    llm = MockLLM(max_tokens=2)
    tool = FunctionTool.from_defaults(fn=add)

    def work() -> None:
        for _ in range(20):
            llm.chat(MESSAGES)
            tool.call(a=1, b=2)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    spans = exporter.get_finished_spans()
    assert len(spans) == 6 * 20 * 2
    assert all(span.parent is None for span in spans)  # nothing leaks across threads


def test_thread_with_copied_context_keeps_parent(
    exporter: InMemorySpanExporter, drained: Any
) -> None:
    llm = MockLLM(max_tokens=2)

    def ask() -> str:
        """Ask the model from a worker thread."""
        context = contextvars.copy_context()
        with ThreadPoolExecutor(1) as pool:
            return str(pool.submit(context.run, llm.chat, MESSAGES).result().message.content)

    FunctionTool.from_defaults(fn=ask).call()

    spans = exporter.get_finished_spans()
    assert one(spans, "chat").parent.span_id == one(spans, "execute_tool ask").context.span_id  # type: ignore[union-attr]
