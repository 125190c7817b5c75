"""Responses API, embeddings, and the raw / streamed-response variants of the SDK."""

from __future__ import annotations

import gc
import json

import pytest
from oai_support import MESSAGES, MODEL, all_strings
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import SpanKind, StatusCode

from instrumentors import semconv
from tests.fakes.openai_server import Reply, ToolCall, Usage

pytest.importorskip("openai.types.responses")

CALL = ToolCall("get_weather", '{"city": "Paris"}', id="call_r1")
EMBEDDING_MODEL = "text-embedding-3-small"


def test_responses_create(exporter, instrumented, client, server) -> None:
    server.script(Reply.tools(CALL, usage=Usage(40, 8, cached_tokens=32, reasoning_tokens=4)))
    response = client.responses.create(
        model=MODEL, input="weather?", temperature=0.4, max_output_tokens=100
    )
    (span,) = exporter.get_finished_spans()
    attrs = span.attributes
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[semconv.SERVER_PORT] == server.port
    assert attrs[GenAI.GEN_AI_REQUEST_TEMPERATURE] == 0.4
    assert attrs[GenAI.GEN_AI_REQUEST_MAX_TOKENS] == 100
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == response.id
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_calls",)
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("call_r1",)
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES]) == ("get_weather",)
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 40
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 8
    assert attrs[GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 32
    assert attrs[GenAI.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 4


def test_responses_incomplete_maps_to_length(exporter, instrumented, client, server) -> None:
    server.script(Reply(finish_reason="length"))
    client.responses.create(model=MODEL, input="long story")
    (span,) = exporter.get_finished_spans()
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("length",)


def test_responses_parse(exporter, instrumented, client, server) -> None:
    parsed = client.responses.parse(model=MODEL, input="hi")
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == parsed.id
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)


def test_responses_stream_true(exporter, instrumented, client, server) -> None:
    server.script(Reply.tools(CALL, text="checking", usage=Usage(9, 3)))
    events = list(client.responses.create(model=MODEL, input="weather?", stream=True))
    (span,) = exporter.get_finished_spans()
    assert events[-1].type == "response.completed"
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == events[-1].response.id
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("call_r1",)
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert span.attributes[GenAI.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0


def test_responses_stream_helper(exporter, instrumented, client, server) -> None:
    server.script(Reply.tools(CALL))
    with client.responses.stream(model=MODEL, input="weather?") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == final.id
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES]) == ("get_weather",)


async def test_async_responses(exporter, instrumented, aclient, server) -> None:
    server.script(Reply.tools(CALL))
    created = await aclient.responses.create(model=MODEL, input="hi")
    parsed = await aclient.responses.parse(model=MODEL, input="hi")
    streamed = [
        e async for e in await aclient.responses.create(model=MODEL, input="hi", stream=True)
    ]
    spans = exporter.get_finished_spans()
    assert [s.attributes[semconv.GEN_AI_RESPONSE_ID] for s in spans] == [
        created.id,
        parsed.id,
        streamed[-1].response.id,
    ]


def test_beta_responses_where_present(exporter, instrumented, client, server) -> None:
    if not hasattr(client.beta, "responses"):
        pytest.skip("client.beta.responses exists from openai 2.x")
    response = client.beta.responses.create(model=MODEL, input="hi")
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == response.id


def test_responses_content_under_capture(exporter, capture, client, server) -> None:
    server.script(Reply.tools(CALL, text="out-text-12"))
    client.responses.create(
        model=MODEL,
        instructions="instr-sentinel-1",
        input=[
            {"role": "user", "content": "in-sentinel-2"},
            {"type": "function_call", "call_id": "c0", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c0", "output": "result-sentinel-3"},
        ],
    )
    (span,) = exporter.get_finished_spans()
    inputs = span.attributes[GenAI.GEN_AI_INPUT_MESSAGES]
    outputs = json.loads(span.attributes[GenAI.GEN_AI_OUTPUT_MESSAGES])
    for sentinel in ("in-sentinel-2", "result-sentinel-3"):
        assert sentinel in inputs
    # The instructions are the system instructions, not a message of the conversation.
    assert "instr-sentinel-1" not in inputs
    assert json.loads(span.attributes[GenAI.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "instr-sentinel-1"}
    ]
    assert "out-text-12" in json.dumps(outputs)
    assert "Paris" in json.dumps(outputs)


def test_responses_no_content_without_capture(exporter, instrumented, client, server) -> None:
    server.script(Reply.tools(CALL, text="out-text-12"))
    client.responses.create(model=MODEL, instructions="instr-sentinel-1", input="in-sentinel-2")
    text = all_strings(exporter.get_finished_spans()[0])
    for sentinel in ("instr-sentinel-1", "in-sentinel-2", "out-text-12", "Paris"):
        assert sentinel not in text


# ----------------------------------------------------------------------------- embeddings


@pytest.mark.parametrize("encoding", [None, "float"])
def test_embeddings(exporter, instrumented, client, server, encoding) -> None:
    server.script(Reply(embedding=(0.5, 0.25, 0.125, 1.0), usage=Usage(6, 0)))
    kwargs = {"encoding_format": encoding} if encoding else {}
    result = client.embeddings.create(model=EMBEDDING_MODEL, input=["a", "b"], **kwargs)
    assert len(result.data) == 2
    (span,) = exporter.get_finished_spans()
    attrs = span.attributes
    assert span.name == f"embeddings {EMBEDDING_MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "embeddings"
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert attrs[GenAI.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 4
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == EMBEDDING_MODEL
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 6


async def test_async_embeddings(exporter, instrumented, aclient) -> None:
    await aclient.embeddings.create(model=EMBEDDING_MODEL, input="a")
    (span,) = exporter.get_finished_spans()
    assert span.attributes[GenAI.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 3
    assert span.status.status_code is StatusCode.UNSET


# ----------------------------------------------------------------------------- raw responses


def test_with_raw_response(exporter, instrumented, client, server) -> None:
    server.script(Reply.tools(CALL, usage=Usage(15, 4)))
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    (span,) = exporter.get_finished_spans()
    completion = raw.parse()
    assert raw.parse() is completion  # the user's parse still works, and is cached
    assert raw.headers["x-request-id"]
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == completion.id
    assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 15
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("call_r1",)


def test_with_raw_response_stream(exporter, instrumented, client, server) -> None:
    server.script(Reply.tools(CALL, usage=Usage(15, 4)))
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert exporter.get_finished_spans() == ()
    stream = raw.parse()
    assert raw.parse() is stream  # parse() is cached, as the SDK's own
    assert raw.http_response.status_code == 200 and raw.headers["x-request-id"]
    chunks = list(stream)
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == chunks[0].id
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 4


def test_with_raw_response_embeddings_and_responses(exporter, instrumented, client) -> None:
    emb = client.embeddings.with_raw_response.create(model=EMBEDDING_MODEL, input="a").parse()
    resp = client.responses.with_raw_response.create(model=MODEL, input="hi").parse()
    first, second = exporter.get_finished_spans()
    assert first.attributes[GenAI.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == len(emb.data[0].embedding)
    assert second.attributes[semconv.GEN_AI_RESPONSE_ID] == resp.id


def test_with_streaming_response(exporter, instrumented, client, server) -> None:
    server.script(Reply.tools(CALL))
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=MESSAGES
    ) as response:
        assert exporter.get_finished_spans() == ()
        completion = response.parse()
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == completion.id
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("call_r1",)


def test_with_streaming_response_stream(exporter, instrumented, client, server) -> None:
    server.script(Reply.tools(CALL))
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=MESSAGES, stream=True
    ) as response:
        chunks = list(response.parse())
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == chunks[0].id
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_calls",)


def test_streamed_response_dropped_while_its_stream_is_read(exporter, instrumented, client) -> None:
    manager = client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=MESSAGES, stream=True
    )
    stream = manager.__enter__().parse()
    del manager
    gc.collect()
    assert exporter.get_finished_spans() == ()  # the stream's proxy owns the span now
    chunks = list(stream)
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == chunks[0].id
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)


def test_with_streaming_response_never_parsed(exporter, instrumented, client) -> None:
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=MESSAGES, stream=True
    ) as response:
        lines = list(response.iter_lines())
    assert any(line.startswith("data:") for line in lines)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert semconv.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes


async def test_async_raw_and_streaming_responses(exporter, instrumented, aclient, server) -> None:
    raw = await aclient.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    first = raw.parse()
    raw_stream = await aclient.chat.completions.with_raw_response.create(
        model=MODEL, messages=MESSAGES, stream=True
    )
    second = [chunk async for chunk in raw_stream.parse()]
    async with aclient.chat.completions.with_streaming_response.create(
        model=MODEL, messages=MESSAGES
    ) as response:
        third = await response.parse()
    async with aclient.chat.completions.with_streaming_response.create(
        model=MODEL, messages=MESSAGES, stream=True
    ) as response:
        fourth = [chunk async for chunk in await response.parse()]
    spans = exporter.get_finished_spans()
    assert [s.attributes[semconv.GEN_AI_RESPONSE_ID] for s in spans] == [
        first.id,
        second[0].id,
        third.id,
        fourth[0].id,
    ]
    assert all(semconv.GEN_AI_RESPONSE_FINISH_REASONS in s.attributes for s in spans)
