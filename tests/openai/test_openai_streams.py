"""Streams: the span ends on exhaustion, close, context exit, failure and garbage collection."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from oai_support import MESSAGES, MODEL, events
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.trace import StatusCode

from instrumentors import semconv
from tests.fakes.openai_server import Reply, ToolCall, Usage

pytest.importorskip("openai.types.chat")

from instrumentors.openai import _stream

TWO_CALLS = (
    ToolCall("get_weather", '{"city": "Paris", "units": "C"}', id="call_a"),
    ToolCall("get_time", '{"tz": "Europe/Paris"}', id="call_b"),
)
USAGE = Usage(12, 34, cached_tokens=5, reasoning_tokens=6)


def _ttfc_count(metric_reader: Any) -> int:
    data = metric_reader.get_metrics_data()
    count = 0
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK:
                    count += sum(p.count for p in metric.data.data_points)
    return count


def _assert_complete(span: Any) -> None:
    attrs = span.attributes
    assert span.status.status_code is StatusCode.UNSET
    assert attrs[GenAI.GEN_AI_REQUEST_STREAM] is True
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_calls",)
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("call_a", "call_b")
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES]) == ("get_weather", "get_time")
    assert attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0


def _assert_abandoned(span: Any) -> None:
    assert span.status.status_code is StatusCode.UNSET
    assert semconv.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes


def test_stream_ends_when_exhausted(exporter, metric_reader, instrumented, client, server) -> None:
    server.script(Reply.tools(*TWO_CALLS, usage=USAGE, delay=0.05))
    before = _ttfc_count(metric_reader)
    stream = client.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert exporter.get_finished_spans() == ()
    assert trace.get_current_span() is trace.INVALID_SPAN  # the caller's context is back
    chunks = list(stream)
    (span,) = exporter.get_finished_spans()
    _assert_complete(span)
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == chunks[0].id
    assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 34
    assert span.attributes[GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 5
    assert span.attributes[GenAI.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 6
    assert span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0.05
    assert _ttfc_count(metric_reader) == before + 1


def test_user_code_between_chunks_is_not_under_the_chat_span(
    exporter, instrumented, client
) -> None:
    tracer = trace.get_tracer("test")
    for _ in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):
        with tracer.start_as_current_span("user work"):
            pass
    *work, chat = exporter.get_finished_spans()
    assert chat.name == f"chat {MODEL}"
    assert all(w.parent is None for w in work)


def _break_close(stream: Any) -> None:
    next(stream)
    stream.close()


def _context_exit(stream: Any) -> None:
    with stream as entered:
        assert entered is stream
        next(entered)


def _collected(stream: Any) -> None:
    next(stream)


def _never_read(stream: Any) -> None:
    pass


@pytest.mark.parametrize("abandon", [_break_close, _context_exit, _collected, _never_read])
def test_abandoned_stream(exporter, instrumented, client, server, abandon) -> None:
    server.script(Reply.tools(*TWO_CALLS, chunk_size=2))
    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    abandon(stream)
    del stream
    gc.collect()
    (span,) = exporter.get_finished_spans()
    _assert_abandoned(span)


def test_close_ends_the_span_without_gc(exporter, instrumented, client) -> None:
    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    for _ in stream:
        break
    stream.close()
    (span,) = exporter.get_finished_spans()
    _assert_abandoned(span)
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID].startswith("chatcmpl-")


def test_error_in_the_middle_of_a_stream(exporter, instrumented, client, server) -> None:
    import openai

    server.script(Reply(stream_error="upstream broke"))
    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError) as caught:
        list(stream)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == type(caught.value).__qualname__
    assert len(events(span, "exception")) == 1


def test_chat_stream_helper(exporter, instrumented, client, server) -> None:
    server.script(Reply.tools(*TWO_CALLS, usage=USAGE))
    with client.chat.completions.stream(
        model=MODEL, messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    (span,) = exporter.get_finished_spans()
    _assert_complete(span)
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == final.id
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 34


def test_chat_stream_helper_early_exit(exporter, instrumented, client, server) -> None:
    server.script(Reply.tools(*TWO_CALLS, chunk_size=1))
    with client.chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
        for _ in stream:
            break
    # ``stream`` is still referenced: the helper's close() ended the span, not GC.
    (span,) = exporter.get_finished_spans()
    _assert_abandoned(span)
    assert stream is not None
    assert len(_stream._helpers) == 0  # forgotten once closed


def test_stream_helpers_are_forgotten_with_them(exporter, instrumented, client) -> None:
    with client.chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
        assert len(_stream._helpers) == 1
        for _ in stream:
            pass
    del stream
    gc.collect()
    assert len(_stream._helpers) == 0
    assert len(exporter.get_finished_spans()) == 1


def test_responses_stream_helper_early_exit(exporter, instrumented, client, server) -> None:
    server.script(Reply(chunk_size=1))
    with client.responses.stream(model=MODEL, input="hi") as stream:
        for _ in stream:
            break
    (span,) = exporter.get_finished_spans()
    _assert_abandoned(span)
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID].startswith("resp_")
    assert stream is not None


def test_unsampled_stream(exporter, unsampled, instrumented, client) -> None:
    chunks = list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    assert chunks
    assert exporter.get_finished_spans() == ()


# ----------------------------------------------------------------------------- async


async def test_async_stream_exhausted(exporter, instrumented, aclient, server) -> None:
    server.script(Reply.tools(*TWO_CALLS, usage=USAGE))
    stream = await aclient.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert exporter.get_finished_spans() == ()
    chunks = [chunk async for chunk in stream]
    (span,) = exporter.get_finished_spans()
    _assert_complete(span)
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == chunks[0].id


async def test_async_stream_break_and_close(exporter, instrumented, aclient) -> None:
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    async for _ in stream:
        break
    await stream.close()
    (span,) = exporter.get_finished_spans()
    _assert_abandoned(span)


async def test_async_stream_context_exit(exporter, instrumented, aclient) -> None:
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    async with stream as entered:
        assert entered is stream
        await entered.__anext__()
    (span,) = exporter.get_finished_spans()
    _assert_abandoned(span)


async def test_async_stream_aclose_where_the_sdk_has_it(exporter, instrumented, aclient) -> None:
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    import openai

    assert hasattr(stream, "aclose") == hasattr(openai.AsyncStream, "aclose")
    if not hasattr(stream, "aclose"):
        await stream.close()
        pytest.skip("AsyncStream.aclose exists from openai 3.x")
    await stream.__anext__()
    await stream.aclose()
    (span,) = exporter.get_finished_spans()
    _assert_abandoned(span)


async def test_async_stream_collected(exporter, instrumented, aclient) -> None:
    stream = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    await stream.__anext__()
    del stream
    gc.collect()
    (span,) = exporter.get_finished_spans()
    _assert_abandoned(span)


async def test_async_chat_stream_helper(exporter, instrumented, aclient, server) -> None:
    server.script(Reply.tools(*TWO_CALLS, usage=USAGE), Reply(chunk_size=1))
    async with aclient.chat.completions.stream(
        model=MODEL, messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        async for _ in stream:
            pass
    async with aclient.chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
        async for _ in stream:
            break
    complete, abandoned = exporter.get_finished_spans()
    _assert_complete(complete)
    _assert_abandoned(abandoned)


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
async def test_async_stream_helper_never_entered_makes_no_span(
    exporter, instrumented, aclient
) -> None:
    manager = aclient.chat.completions.stream(model=MODEL, messages=MESSAGES)
    del manager
    gc.collect()
    assert exporter.get_finished_spans() == ()


async def test_async_responses_stream_helper(exporter, instrumented, aclient, server) -> None:
    server.script(Reply.tools(TWO_CALLS[0]))
    async with aclient.responses.stream(model=MODEL, input="hi") as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_response()
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == final.id
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("call_a",)
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_calls",)


def test_streamed_tool_calls_link_later_tool_spans(exporter, instrumented, client, server) -> None:
    import instrumentors

    @instrumentors.tool
    def get_time(tz: str) -> str:
        return f"12:00 {tz}"

    server.script(Reply.tools(*TWO_CALLS, chunk_size=3))
    with client.chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
        for _ in stream:
            pass
        call = stream.get_final_completion().choices[0].message.tool_calls[1]
    with instrumentors.tool_call_id(call.id):
        get_time("Europe/Paris")
    chat, tool = exporter.get_finished_spans()
    assert tool.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_b"
    assert tool.links[0].context.span_id == chat.context.span_id
