"""Streams: ``stream=True`` and the ``.stream()`` helper, sync and async; every way one ends."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
from ant_support import MESSAGES, MODEL, all_strings, create, events
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import StatusCode

from instrumentors import semconv
from tests.fakes.anthropic_server import Reply, ToolUse, Usage

anthropic = pytest.importorskip("anthropic")

TOOL = ToolUse("get_weather", {"city": "Paris"}, id="toolu_s1")
FINISH = semconv.GEN_AI_RESPONSE_FINISH_REASONS


def _helper(client: Any, **kwargs: Any) -> Any:
    return client.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES, **kwargs)


def _read_fully(exporter, client, server) -> Any:
    server.script(Reply.tools(TOOL, text="Let me look.", usage=Usage(30, 12, 5, None)))
    stream = create(client, stream=True)
    assert trace.get_current_span() is trace.INVALID_SPAN  # the caller's context while reading
    kinds = [event.type for event in stream]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    (span,) = exporter.get_finished_spans()
    return span


def test_stream_read_fully(exporter, instrumented, client, server, metric_reader) -> None:
    span = _read_fully(exporter, client, server)
    attrs = span.attributes
    assert span.name == f"chat {MODEL}"
    assert span.status.status_code is StatusCode.UNSET
    assert attrs[GenAI.GEN_AI_REQUEST_STREAM] is True
    assert str(attrs[semconv.GEN_AI_RESPONSE_ID]).startswith("msg_")
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == MODEL
    assert tuple(attrs[FINISH]) == ("tool_use",)
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 35
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 12  # message_delta's, not message_start's
    assert attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 5
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("toolu_s1",)
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES]) == ("get_weather",)
    assert attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    names = {
        m.name
        for rm in metric_reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        if sm.scope.name == "instrumentors.anthropic"
        for m in sm.metrics
    }
    assert "gen_ai.client.operation.time_to_first_chunk" in names


def test_stream_content_under_capture(exporter, capture, client, server) -> None:
    span = _read_fully(exporter, client, server)
    (answer,) = json.loads(span.attributes[GenAI.GEN_AI_OUTPUT_MESSAGES])
    assert answer["finish_reason"] == "tool_use"
    assert answer["parts"] == [
        {"type": "text", "content": "Let me look."},
        {"type": "tool_call", "name": "get_weather", "id": "toolu_s1",
         "arguments": {"city": "Paris"}},
    ]  # fmt: skip


def test_stream_without_capture_records_no_text(exporter, instrumented, client, server) -> None:
    span = _read_fully(exporter, client, server)
    assert "Let me look." not in all_strings(span) and "Paris" not in all_strings(span)


@pytest.mark.parametrize("how", ["break", "close", "exit"])
def test_stream_left_early(exporter, instrumented, client, server, how) -> None:
    server.script(Reply(text="a long answer " * 20, chunk_size=2))
    if how == "exit":
        with create(client, stream=True) as stream:
            next(iter(stream))
    else:
        stream = create(client, stream=True)
        for _ in stream:
            break
        if how == "close":
            stream.close()
        else:
            del stream
            gc.collect()
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert FINISH not in span.attributes  # abandoned: no finish reason
    assert str(span.attributes[semconv.GEN_AI_RESPONSE_ID]).startswith("msg_")


def test_stream_error_event(exporter, instrumented, client, server) -> None:
    server.script(Reply(stream_error="Overloaded mid-stream"))
    with pytest.raises(anthropic.APIStatusError) as caught:
        list(create(client, stream=True))
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == type(caught.value).__qualname__
    (exception,) = events(span, "exception")
    assert "Overloaded mid-stream" in exception["exception.message"]


def test_malformed_stream(exporter, instrumented, client, server) -> None:
    server.script(Reply(malformed=True))
    with pytest.raises(ValueError):  # the SDK's JSONDecodeError reaches the user unchanged
        list(create(client, stream=True))
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "JSONDecodeError"


def test_truncated_stream(exporter, instrumented, client, server) -> None:
    server.script(Reply.tools(TOOL, truncate=True))
    kinds = [event.type for event in create(client, stream=True)]  # no error for the user
    assert "message_stop" not in kinds
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "incomplete_stream"
    assert FINISH not in span.attributes
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("toolu_s1",)


@pytest.mark.parametrize("read", ["text_stream", "events", "get_final_message", "get_final_text"])
def test_helper(exporter, instrumented, client, server, read) -> None:
    server.script(Reply(text="Sunny all day.", chunk_size=3))
    with _helper(client) as stream:
        assert trace.get_current_span() is trace.INVALID_SPAN
        if read == "text_stream":
            assert "".join(stream.text_stream) == "Sunny all day."
        elif read == "events":
            assert [e.type for e in stream][-1] == "message_stop"
        elif read == "get_final_message":
            assert stream.get_final_message().stop_reason == "end_turn"
        else:
            assert stream.get_final_text() == "Sunny all day."
        assert len(exporter.get_finished_spans()) == 1  # ended as soon as it was read
    (span,) = exporter.get_finished_spans()
    assert span.name == f"chat {MODEL}"
    assert tuple(span.attributes[FINISH]) == ("end_turn",)
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 7
    assert span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    assert isinstance(stream, anthropic.MessageStream)  # the proxy is what it wraps


def test_helper_exited_unread(exporter, instrumented, client, server) -> None:
    with _helper(client):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert FINISH not in span.attributes


def test_helper_request_error(exporter, instrumented, client, server) -> None:
    server.script(Reply.failure(400, "bad request"))
    manager = _helper(client)
    assert exporter.get_finished_spans() == ()  # nothing is sent before it is entered
    with pytest.raises(anthropic.BadRequestError), manager:
        pass
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.ERROR_TYPE] == "BadRequestError"
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_helper_tool_use_and_capture(exporter, capture, client, server) -> None:
    server.script(Reply.tools(TOOL, text="Checking."))
    with _helper(client) as stream:
        final = stream.get_final_message()
    assert final.content[-1].input == {"city": "Paris"}
    (span,) = exporter.get_finished_spans()
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("toolu_s1",)
    (answer,) = json.loads(span.attributes[GenAI.GEN_AI_OUTPUT_MESSAGES])
    assert answer["parts"][1]["arguments"] == {"city": "Paris"}


async def test_async_stream(exporter, instrumented, aclient, server) -> None:
    server.script(Reply.tools(TOOL))
    stream = await aclient.messages.create(
        model=MODEL, max_tokens=64, messages=MESSAGES, stream=True
    )
    kinds = [event.type async for event in stream]
    assert kinds[-1] == "message_stop"
    (span,) = exporter.get_finished_spans()
    assert tuple(span.attributes[FINISH]) == ("tool_use",)
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("toolu_s1",)


async def test_async_stream_closed_early(exporter, instrumented, aclient, server) -> None:
    server.script(Reply(text="x" * 200, chunk_size=1))
    stream = await aclient.messages.create(
        model=MODEL, max_tokens=64, messages=MESSAGES, stream=True
    )
    async for _ in stream:
        break
    await stream.close()
    (span,) = exporter.get_finished_spans()
    assert FINISH not in span.attributes
    assert span.status.status_code is StatusCode.UNSET


@pytest.mark.parametrize("read", ["text_stream", "get_final_message"])
async def test_async_helper(exporter, instrumented, aclient, server, read) -> None:
    server.script(Reply(text="Sunny."))
    async with aclient.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
        if read == "text_stream":
            assert "".join([t async for t in stream.text_stream]) == "Sunny."
        else:
            assert (await stream.get_final_message()).content[0].text == "Sunny."
    (span,) = exporter.get_finished_spans()
    assert tuple(span.attributes[FINISH]) == ("end_turn",)
    assert span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0


async def test_async_helper_error_mid_stream(exporter, instrumented, aclient, server) -> None:
    server.script(Reply(stream_error="gone"))
    with pytest.raises(anthropic.APIStatusError):
        async with aclient.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as s:
            await s.get_final_message()
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert len(events(span, "exception")) == 1


def test_raw_response_of_a_stream(exporter, instrumented, client, server) -> None:
    server.script(Reply.tools(TOOL))
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=64, messages=MESSAGES, stream=True
    )
    assert raw.http_response.status_code == 200
    assert exporter.get_finished_spans() == ()  # open until the stream is read
    assert [e.type for e in raw.parse()][-1] == "message_stop"
    (span,) = exporter.get_finished_spans()
    assert tuple(span.attributes[FINISH]) == ("tool_use",)


def test_raw_and_streaming_responses(exporter, instrumented, client, server) -> None:
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=8, messages=MESSAGES)
    assert raw.parse().id
    with client.messages.with_streaming_response.create(
        model=MODEL, max_tokens=8, messages=MESSAGES
    ) as response:
        parsed = response.parse()
    first, second = exporter.get_finished_spans()
    assert first.attributes[semconv.GEN_AI_RESPONSE_ID] == raw.parse().id
    assert second.attributes[semconv.GEN_AI_RESPONSE_ID] == parsed.id
