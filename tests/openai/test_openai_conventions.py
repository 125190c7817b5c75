"""GenAI conventions on OpenAI spans and metrics: what the official instrumentation records,
we record too (service tier, system fingerprint, output type, encoding formats, tool
definitions, metrics of unsampled calls, failed streams). See docs/conformance.md."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
from oai_support import MESSAGES
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.trace import StatusCode

from instrumentors import semconv
from tests.fakes.openai_server import Reply, ToolCall, Usage

pytest.importorskip("openai.types.chat")

TIER = {"service_tier": "default", "system_fingerprint": "fp_conformance"}
DURATION = gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION
TOKENS = gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def _points(metric_reader: Any, name: str, model: str) -> list[Any]:
    """Data points of metric ``name`` for requests of ``model`` (unique per test)."""
    data = metric_reader.get_metrics_data()
    points = []
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    points += [
                        p
                        for p in metric.data.data_points
                        if p.attributes.get(semconv.GEN_AI_REQUEST_MODEL) == model
                    ]
    return points


def _tokens(metric_reader: Any, model: str) -> dict[str, int]:
    return {
        p.attributes[semconv.GEN_AI_TOKEN_TYPE]: p.sum
        for p in _points(metric_reader, TOKENS, model)
    }


# ----------------------------------------------------------------------------- OpenAI names


def test_service_tier_and_fingerprint_on_span_and_metrics(
    exporter, metric_reader, instrumented, client, server
) -> None:
    server.script(Reply(extra={**TIER, "service_tier": "flex"}))
    client.chat.completions.create(model="tier-1", messages=MESSAGES, service_tier="flex")
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.OPENAI_REQUEST_SERVICE_TIER] == "flex"
    assert span.attributes[semconv.OPENAI_RESPONSE_SERVICE_TIER] == "flex"
    assert span.attributes[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_conformance"
    (point,) = _points(metric_reader, DURATION, "tier-1")
    # The response's tier and fingerprint are metric dimensions; the request's is not.
    assert point.attributes[semconv.OPENAI_RESPONSE_SERVICE_TIER] == "flex"
    assert point.attributes[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_conformance"
    assert semconv.OPENAI_REQUEST_SERVICE_TIER not in point.attributes


def test_service_tier_in_extra_body_and_none_when_not_asked(
    exporter, instrumented, client, server
) -> None:
    client.chat.completions.create(
        model="tier-2", messages=MESSAGES, extra_body={"service_tier": "default"}
    )
    client.chat.completions.create(model="tier-2", messages=MESSAGES)
    asked, plain = exporter.get_finished_spans()
    assert asked.attributes[semconv.OPENAI_REQUEST_SERVICE_TIER] == "default"
    for name in (
        semconv.OPENAI_REQUEST_SERVICE_TIER,
        semconv.OPENAI_RESPONSE_SERVICE_TIER,
        semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
    ):
        assert name not in plain.attributes


def test_stream_chunks_carry_tier_and_fingerprint(exporter, instrumented, client, server) -> None:
    server.script(Reply(extra=TIER))
    for _ in client.chat.completions.create(model="tier-3", messages=MESSAGES, stream=True):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.OPENAI_RESPONSE_SERVICE_TIER] == "default"
    assert span.attributes[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_conformance"


def test_responses_service_tier_and_output_type(exporter, instrumented, client, server) -> None:
    server.script(Reply(extra={"service_tier": "priority"}))
    client.responses.create(
        model="tier-4",
        input="hi",
        service_tier="priority",
        text={"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
    )
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.OPENAI_REQUEST_SERVICE_TIER] == "priority"
    assert span.attributes[semconv.OPENAI_RESPONSE_SERVICE_TIER] == "priority"
    assert span.attributes[semconv.GEN_AI_OUTPUT_TYPE] == "json"


@pytest.mark.parametrize(
    ("response_format", "expected"),
    [({"type": "text"}, "text"), ({"type": "json_object"}, "json"), (None, None)],
)
def test_output_type_from_response_format(
    exporter, instrumented, client, response_format, expected
) -> None:
    extra = {} if response_format is None else {"response_format": response_format}
    client.chat.completions.create(model="fmt", messages=MESSAGES, **extra)
    (span,) = exporter.get_finished_spans()
    assert span.attributes.get(semconv.GEN_AI_OUTPUT_TYPE) == expected


def test_parse_with_a_model_class_is_json_output(exporter, instrumented, client, server) -> None:
    pydantic = pytest.importorskip("pydantic")

    class Weather(pydantic.BaseModel):
        city: str

    server.script(Reply(text='{"city": "Paris"}'))
    parsed = client.chat.completions.parse(model="fmt", messages=MESSAGES, response_format=Weather)
    assert parsed.choices[0].message.parsed == Weather(city="Paris")
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_OUTPUT_TYPE] == "json"


# ----------------------------------------------------------------------------- embeddings


def test_embeddings_encoding_format_and_dimensions(
    exporter, metric_reader, instrumented, client, server
) -> None:
    server.script(Reply(embedding=(0.1, 0.2, 0.3)))
    client.embeddings.create(model="emb-1", input="hi", encoding_format="float", dimensions=3)
    (span,) = exporter.get_finished_spans()
    assert tuple(span.attributes[semconv.GEN_AI_REQUEST_ENCODING_FORMATS]) == ("float",)
    assert span.attributes[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 3
    (point,) = _points(metric_reader, DURATION, "emb-1")
    assert point.attributes[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 3


def test_embeddings_without_format_have_none(exporter, instrumented, client) -> None:
    client.embeddings.create(model="emb-2", input="hi")
    (span,) = exporter.get_finished_spans()
    assert semconv.GEN_AI_REQUEST_ENCODING_FORMATS not in span.attributes


# ----------------------------------------------------------------------------- usage


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_a_reported_zero_is_recorded(exporter, instrumented, client, server, api) -> None:
    server.script(Reply(usage=Usage(5, 2, cached_tokens=0, reasoning_tokens=0)))
    if api == "chat":
        client.chat.completions.create(model="zero", messages=MESSAGES)
    else:
        client.responses.create(model="zero", input="hi")
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 0
    assert span.attributes[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 0
    assert "gen_ai.usage.cache_write.input_tokens" not in span.attributes


# ----------------------------------------------------------------------------- unsampled calls


def test_unsampled_calls_are_counted_in_metrics(
    exporter, metric_reader, unsampled, instrumented, client, server
) -> None:
    server.script(
        Reply(usage=Usage(10, 4), model="chat-served", extra=TIER),
        Reply(usage=Usage(20, 6)),
        Reply(usage=Usage(30, 8)),
        Reply(usage=Usage(7, 0)),
    )
    client.chat.completions.create(model="unsampled-chat", messages=MESSAGES)
    stream = client.chat.completions.create(
        model="unsampled-stream",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert sum(1 for _ in stream)
    client.responses.create(model="unsampled-responses", input="hi")
    client.embeddings.create(model="unsampled-embeddings", input="hi")
    assert exporter.get_finished_spans() == ()
    assert _tokens(metric_reader, "unsampled-chat") == {"input": 10, "output": 4}
    assert _tokens(metric_reader, "unsampled-stream") == {"input": 20, "output": 6}
    assert _tokens(metric_reader, "unsampled-responses") == {"input": 30, "output": 8}
    assert _tokens(metric_reader, "unsampled-embeddings") == {"input": 7}
    (point,) = _points(metric_reader, DURATION, "unsampled-chat")
    assert point.count == 1
    assert point.attributes[semconv.GEN_AI_RESPONSE_MODEL] == "chat-served"
    assert point.attributes[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_conformance"
    for model in ("unsampled-stream", "unsampled-responses", "unsampled-embeddings"):
        (point,) = _points(metric_reader, DURATION, model)
        assert point.count == 1


async def test_unsampled_async_stream_is_counted(
    exporter, metric_reader, unsampled, instrumented, aclient, server
) -> None:
    server.script(Reply(usage=Usage(3, 2)))
    stream = await aclient.chat.completions.create(
        model="unsampled-async",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert [chunk async for chunk in stream]
    assert exporter.get_finished_spans() == ()
    assert _tokens(metric_reader, "unsampled-async") == {"input": 3, "output": 2}


# ----------------------------------------------------------------------------- content shape


def test_tool_definitions_under_capture(exporter, capture, client) -> None:
    client.chat.completions.create(model="defs", messages=MESSAGES, tools=[WEATHER_TOOL])
    (span,) = exporter.get_finished_spans()
    assert json.loads(span.attributes[semconv.GEN_AI_TOOL_DEFINITIONS]) == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": WEATHER_TOOL["function"]["parameters"],
        }
    ]


def test_responses_tool_definitions_under_capture(exporter, capture, client) -> None:
    tool = {"type": "function", "name": "get_time", "parameters": {"type": "object"}}
    client.responses.create(model="defs", input="hi", tools=[tool])
    (span,) = exporter.get_finished_spans()
    assert json.loads(span.attributes[semconv.GEN_AI_TOOL_DEFINITIONS]) == [
        {"type": "function", "name": "get_time", "parameters": {"type": "object"}}
    ]


def test_no_tool_definitions_without_capture(exporter, instrumented, client) -> None:
    client.chat.completions.create(model="defs", messages=MESSAGES, tools=[WEATHER_TOOL])
    (span,) = exporter.get_finished_spans()
    assert semconv.GEN_AI_TOOL_DEFINITIONS not in span.attributes


def test_messages_have_no_null_fields_and_arguments_are_objects(
    exporter, capture, client, server
) -> None:
    server.script(Reply.tools(ToolCall("get_weather", '{"city": "Paris"}', id="c1")))
    client.chat.completions.create(model="shape", messages=MESSAGES)
    (span,) = exporter.get_finished_spans()
    inputs = json.loads(span.attributes[semconv.GEN_AI_INPUT_MESSAGES])
    outputs = json.loads(span.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])
    assert inputs == [
        {"role": "user", "parts": [{"type": "text", "content": MESSAGES[0]["content"]}]}
    ]
    assert outputs == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "name": "get_weather",
                    "id": "c1",
                    "arguments": {"city": "Paris"},
                }
            ],
            "finish_reason": "tool_calls",
        }
    ]


# ----------------------------------------------------------------------------- failed streams


def _output(span: Any) -> list[dict[str, Any]]:
    return json.loads(span.attributes[semconv.GEN_AI_OUTPUT_MESSAGES])


def test_early_closed_stream_has_a_finish_reason(exporter, capture, client, server) -> None:
    server.script(Reply(text="one two three four five"))
    stream = client.chat.completions.create(model="early", messages=MESSAGES, stream=True)
    next(stream)
    next(stream)
    stream.close()
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert semconv.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes
    (message,) = _output(span)
    assert message["finish_reason"] == "error"
    assert message["parts"] == [{"type": "text", "content": "one "}]


def test_an_exception_inside_with_stream_fails_the_span(exporter, instrumented, client) -> None:
    stream = client.chat.completions.create(model="boom", messages=MESSAGES, stream=True)
    with pytest.raises(ValueError, match="user code"), stream:
        next(stream)
        raise ValueError("user code")
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "ValueError"


async def test_an_exception_inside_async_with_stream_fails_the_span(
    exporter, instrumented, aclient
) -> None:
    with pytest.raises(KeyError):
        stream = await aclient.chat.completions.create(model="boom", messages=MESSAGES, stream=True)
        async with stream:
            raise KeyError("user code")
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "KeyError"


def test_a_close_that_raises_fails_the_span(exporter, instrumented, client, monkeypatch) -> None:
    import openai

    stream = client.chat.completions.create(model="close", messages=MESSAGES, stream=True)
    next(stream)

    def broken_close(self: Any) -> None:
        raise OSError("connection reset")

    monkeypatch.setattr(openai.Stream, "close", broken_close)
    with pytest.raises(OSError, match="connection reset"):
        stream.close()
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "OSError"


async def test_async_close_not_awaited_still_ends_the_span(
    exporter, capture, aclient, server
) -> None:
    server.script(Reply(text="one two three four five"))
    stream = await aclient.chat.completions.create(
        model="sync-close", messages=MESSAGES, stream=True
    )
    async for _ in stream:
        break
    with pytest.warns(RuntimeWarning, match="never awaited"):
        stream.close()  # a coroutine, dropped: the user forgot ``await``
        gc.collect()
    (span,) = exporter.get_finished_spans()
    # Only the first chunk (the role, no text yet) was read.
    assert _output(span) == [{"role": "assistant", "parts": [], "finish_reason": "error"}]
    await stream.close()  # awaited later: closes the response, nothing ends twice
    assert len(exporter.get_finished_spans()) == 1
