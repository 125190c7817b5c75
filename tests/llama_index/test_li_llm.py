"""LLM calls: chat / complete, sync, async and streaming; errors; one span per request."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from li_support import ScriptedLLM, by_name, one, parent_of, text, tool_call
from llama_index.core.llms import ChatMessage, MockLLM
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from instrumentors import semconv
from instrumentors.telemetry import Telemetry

MESSAGES = [ChatMessage(role="user", content="hello there world")]


def test_mock_chat_is_one_chat_span(exporter: InMemorySpanExporter, drained: Any) -> None:
    response = MockLLM(max_tokens=3).chat(MESSAGES)

    assert response.message.content
    (span,) = exporter.get_finished_spans()  # MockLLM.chat -> complete folds into one
    assert span.name == "chat"
    assert span.kind is trace.SpanKind.CLIENT
    assert span.attributes[semconv.GEN_AI_OPERATION_NAME] == semconv.OP_CHAT
    assert span.attributes[semconv.GEN_AI_PROVIDER_NAME] == "llama_index"
    assert span.attributes["gen_ai.request.max_tokens"] == 3
    assert span.status.status_code is StatusCode.UNSET


def test_mock_complete_is_text_completion(exporter: InMemorySpanExporter, drained: Any) -> None:
    MockLLM(max_tokens=3).complete("hi there")

    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_OPERATION_NAME] == semconv.OP_TEXT_COMPLETION
    assert span.name == "text_completion"


async def test_mock_achat_and_acomplete(exporter: InMemorySpanExporter, drained: Any) -> None:
    llm = MockLLM(max_tokens=3)
    await llm.achat(MESSAGES)  # achat -> chat -> complete: still one span
    await llm.acomplete("hi")

    chat, completion = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time or 0)
    assert chat.attributes[semconv.GEN_AI_OPERATION_NAME] == semconv.OP_CHAT
    assert completion.attributes[semconv.GEN_AI_OPERATION_NAME] == semconv.OP_TEXT_COMPLETION


def test_scripted_chat_model_usage_response(exporter: InMemorySpanExporter, drained: Any) -> None:
    llm = ScriptedLLM([tool_call("call_1", "add", a=1, b=2)], temperature=0.2)
    llm.chat(MESSAGES)

    span = one(exporter.get_finished_spans(), "chat scripted-model")
    attrs = span.attributes
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == "scripted-model"
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == "scripted-model"
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == "resp-1"
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 3
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    assert attrs[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS] == ("call_1",)
    assert attrs[semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES] == ("add",)


def test_stream_chat_ends_when_exhausted(exporter: InMemorySpanExporter, drained: Any) -> None:
    llm = ScriptedLLM([text("streamed answer")])
    stream = llm.stream_chat(MESSAGES)
    assert exporter.get_finished_spans() == ()  # the LlamaIndex span exited; ours is open

    pieces = [r.delta for r in stream]

    assert "".join(p or "" for p in pieces) == "streamed answer"
    span = one(exporter.get_finished_spans(), "chat scripted-model")
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 2


async def test_astream_chat_ends_when_exhausted(
    exporter: InMemorySpanExporter, drained: Any
) -> None:
    llm = ScriptedLLM([text("streamed answer")])
    stream = await llm.astream_chat(MESSAGES)
    assert exporter.get_finished_spans() == ()

    async for _ in stream:
        pass

    span = one(exporter.get_finished_spans(), "chat scripted-model")
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


async def test_mock_astream_chat_is_one_span(exporter: InMemorySpanExporter, drained: Any) -> None:
    # MockLLM's astream_chat calls stream_chat -> stream_complete while it is read.
    stream = await MockLLM(max_tokens=4).astream_chat(MESSAGES)
    async for _ in stream:
        pass

    (span,) = exporter.get_finished_spans()
    assert span.name == "chat"


def test_stream_complete(exporter: InMemorySpanExporter, drained: Any) -> None:
    list(ScriptedLLM([text("abc def")]).stream_complete("x"))

    span = one(exporter.get_finished_spans(), "text_completion scripted-model")
    assert span.attributes["gen_ai.request.stream"] is True


def test_abandoned_stream_ends_on_gc(exporter: InMemorySpanExporter, drained: Any) -> None:
    stream = ScriptedLLM([text("one two three four")], chunks=4).stream_chat(MESSAGES)
    next(stream)
    del stream
    gc.collect()

    span = one(exporter.get_finished_spans(), "chat scripted-model")
    assert span.status.status_code is StatusCode.UNSET
    assert semconv.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left attached


def test_unread_stream_ends_on_gc(exporter: InMemorySpanExporter, drained: Any) -> None:
    def make() -> None:
        ScriptedLLM([text("never read")]).stream_chat(MESSAGES)

    make()
    gc.collect()

    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET


async def test_closed_async_stream_ends(exporter: InMemorySpanExporter, drained: Any) -> None:
    stream = await ScriptedLLM([text("one two three four")], chunks=4).astream_chat(MESSAGES)
    await stream.__anext__()
    await stream.aclose()

    span = one(exporter.get_finished_spans(), "chat scripted-model")
    assert span.status.status_code is StatusCode.UNSET
    assert not span.events


def test_chat_error_is_recorded_and_reraised(exporter: InMemorySpanExporter, drained: Any) -> None:
    error = RuntimeError("model down")
    with pytest.raises(RuntimeError) as raised:
        ScriptedLLM(error=error).chat(MESSAGES)

    assert raised.value is error
    span = one(exporter.get_finished_spans(), "chat scripted-model")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "RuntimeError"
    assert [e.name for e in span.events] == ["exception"]


def test_stream_error_is_recorded(exporter: InMemorySpanExporter, drained: Any) -> None:
    llm = ScriptedLLM([text("one two three")], chunks=3, stream_error=ConnectionError("cut"))
    with pytest.raises(ConnectionError):
        list(llm.stream_chat(MESSAGES))

    span = one(exporter.get_finished_spans(), "chat scripted-model")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "ConnectionError"


def test_span_is_current_inside_the_model_call(
    exporter: InMemorySpanExporter, drained: Any
) -> None:
    tracer = trace.get_tracer("test")

    def http_call() -> None:
        with tracer.start_as_current_span("POST /chat"):
            pass

    ScriptedLLM([text("x")], on_call=http_call).chat(MESSAGES)

    spans = exporter.get_finished_spans()
    http = one(spans, "POST /chat")
    assert parent_of(http, spans) is one(spans, "chat scripted-model")


def _provider_layer() -> None:
    """Stand-in for the OpenAI instrumentor: its own chat run inside the framework's."""
    run = Telemetry("x").llm("openai", "gpt-4o-mini")
    run.set_response(response_id="chatcmpl-inner", model="gpt-4o-mini-2024")
    run.set_usage(input_tokens=5, output_tokens=6)
    run.stop()


@pytest.mark.parametrize("mode", ["chat", "stream"])
def test_one_chat_span_with_a_provider_layer(
    exporter: InMemorySpanExporter, drained: Any, mode: str
) -> None:
    llm = ScriptedLLM([text("x")], on_call=_provider_layer)
    if mode == "chat":
        llm.chat(MESSAGES)
    else:
        list(llm.stream_chat(MESSAGES))  # the inner run opens at the first read

    (span,) = exporter.get_finished_spans()
    assert span.name == "chat scripted-model"
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == "resp-1"  # the outer layer wins
    assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 3


async def test_one_chat_span_with_a_provider_layer_async_stream(
    exporter: InMemorySpanExporter, drained: Any
) -> None:
    stream = await ScriptedLLM([text("x y")], on_call=_provider_layer).astream_chat(MESSAGES)
    async for _ in stream:
        pass

    (span,) = exporter.get_finished_spans()
    assert span.name == "chat scripted-model"


def test_stream_released_before_caller_work(exporter: InMemorySpanExporter, drained: Any) -> None:
    tracer = trace.get_tracer("test")
    for _ in ScriptedLLM([text("a b c d")], chunks=4).stream_chat(MESSAGES):
        with tracer.start_as_current_span("consumer"):
            pass

    spans = exporter.get_finished_spans()
    assert all(s.parent is None for s in by_name(spans, "consumer"))


def test_content_capture(exporter: InMemorySpanExporter, capture: Any) -> None:
    ScriptedLLM([text("the answer")]).chat(MESSAGES)

    span = one(exporter.get_finished_spans(), "chat scripted-model")
    assert "hello there world" in str(span.attributes["gen_ai.input.messages"])
    assert "the answer" in str(span.attributes["gen_ai.output.messages"])


def test_no_content_by_default(exporter: InMemorySpanExporter, drained: Any) -> None:
    ScriptedLLM([text("the answer")]).chat(MESSAGES)

    span = one(exporter.get_finished_spans(), "chat scripted-model")
    assert "gen_ai.input.messages" not in span.attributes
    assert "gen_ai.output.messages" not in span.attributes


def test_mock_stream_abandoned_then_collected(exporter: InMemorySpanExporter, drained: Any) -> None:
    stream = MockLLM(max_tokens=5).stream_chat(MESSAGES)
    next(stream)
    assert exporter.get_finished_spans() == ()
    del stream
    gc.collect()

    (span,) = exporter.get_finished_spans()
    assert span.name == "chat"
    assert span.status.status_code is StatusCode.UNSET
