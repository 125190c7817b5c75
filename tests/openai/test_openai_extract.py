"""What the extractors hand the core for SDK objects, read back from the ended span."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import pytest

from instrumentors.links import registry
from instrumentors.telemetry import Telemetry
from tests._spans import ended_run

pytest.importorskip("openai.types.chat")

from openai.types.chat import ChatCompletion, ChatCompletionChunk

from instrumentors.openai import _client, _extract, _stream

IDS = "gen_ai.response.tool_call.ids"
NAMES = "gen_ai.response.tool_call.names"
REASONS = "gen_ai.response.finish_reasons"


def _completion(choices: list[dict[str, Any]], usage: dict[str, Any] | None) -> ChatCompletion:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-2024",
        "choices": choices,
    }
    if usage is not None:
        body["usage"] = usage
    return ChatCompletion.model_validate(body)


def _choice(index: int, finish: str | None, **message: Any) -> dict[str, Any]:
    return {
        "index": index,
        "finish_reason": finish,
        "message": {"role": "assistant", "content": None, **message},
    }


def _call(call_id: str, name: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}


USAGE = {"prompt_tokens": 42, "completion_tokens": 17, "total_tokens": 59}


def _recorded(exporter: Any, completion: ChatCompletion) -> tuple[dict[str, Any], dict[str, bool]]:
    registry.clear()
    run = Telemetry("extract").llm("openai", "gpt-4o")
    _extract.chat_response(run, completion)
    return ended_run(run, exporter)


def test_tool_calls_are_named_and_linked(exporter) -> None:
    completion = _completion(
        [_choice(0, "tool_calls", tool_calls=[_call("c1", "f"), _call("c2", "g")])], USAGE
    )
    attributes, links = _recorded(exporter, completion)
    assert attributes["gen_ai.response.id"] == "chatcmpl-1"
    assert attributes["gen_ai.response.model"] == "gpt-4o-2024"
    assert tuple(attributes[REASONS]) == ("tool_calls",)
    assert tuple(attributes[IDS]) == ("c1", "c2")
    assert tuple(attributes[NAMES]) == ("f", "g")
    assert attributes["gen_ai.usage.input_tokens"] == 42
    assert attributes["gen_ai.usage.output_tokens"] == 17
    assert links == {"c1": True, "c2": True}


def test_usage_details(exporter) -> None:
    details = {
        **USAGE,
        "prompt_tokens_details": {"cached_tokens": 5},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }
    attributes, _ = _recorded(exporter, _completion([_choice(0, "stop", content="hi")], details))
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 5
    assert attributes["gen_ai.usage.reasoning.output_tokens"] == 3
    assert IDS not in attributes and NAMES not in attributes


def test_zero_totals_are_recorded(exporter) -> None:
    zeros = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    attributes, _ = _recorded(exporter, _completion([_choice(0, "stop", content="hi")], zeros))
    assert attributes["gen_ai.usage.input_tokens"] == 0
    assert attributes["gen_ai.usage.output_tokens"] == 0


def test_two_choices_without_usage(exporter) -> None:
    completion = _completion(
        [_choice(0, "stop", content="a"), _choice(1, "length", content="b")], None
    )
    attributes, _ = _recorded(exporter, completion)
    assert tuple(attributes[REASONS]) == ("stop", "length")
    assert "gen_ai.usage.input_tokens" not in attributes


def test_legacy_function_call(exporter) -> None:
    legacy = {"name": "old", "arguments": "{}"}
    completion = _completion([_choice(0, "function_call", function_call=legacy)], USAGE)
    attributes, links = _recorded(exporter, completion)
    assert tuple(attributes[NAMES]) == ("old",)
    assert IDS not in attributes and links == {}


def test_no_choices(exporter) -> None:
    attributes, _ = _recorded(exporter, _completion([], USAGE))
    assert REASONS not in attributes
    assert attributes["gen_ai.usage.input_tokens"] == 42


def test_content_capture_records_output_messages(exporter, settings_env) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY")
    run = Telemetry("capture").llm("openai", "gpt-4o")
    completion = _completion([_choice(0, "tool_calls", tool_calls=[_call("c1", "f")])], USAGE)
    _extract.chat_response(run, completion)
    run.stop()
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.response.id"] == "chatcmpl-1"
    assert '"f"' in span.attributes["gen_ai.output.messages"]


def _chunk(**fields: Any) -> ChatCompletionChunk:
    base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    return ChatCompletionChunk.model_validate({**base, **fields})


STREAM = [
    _chunk(choices=[{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]),
    _chunk(
        choices=[
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {"index": 0, "id": "s1", "function": {"name": "f", "arguments": "{}"}}
                    ]
                },
                "finish_reason": "tool_calls",
            }
        ]
    ),
    _chunk(
        choices=[],
        usage={
            "prompt_tokens": 5,
            "completion_tokens": 2,
            "total_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 3},
        },
    ),
]


def test_stream_accumulator(exporter) -> None:
    registry.clear()
    run = Telemetry("extract").llm("openai", "gpt-4o")
    accumulator = _stream.ChatAccumulator(run)
    for chunk in STREAM:
        accumulator.add(chunk)
    accumulator.apply(run)
    attributes, links = ended_run(run, exporter)
    assert attributes["gen_ai.response.id"] == "chatcmpl-s"
    assert tuple(attributes[REASONS]) == ("tool_calls",)
    assert tuple(attributes[NAMES]) == ("f",)
    assert attributes["gen_ai.usage.input_tokens"] == 5
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 3
    assert links == {"s1": True}


# ----------------------------------------------------------------------------- the client


def test_server_of_follows_a_changed_base_url() -> None:
    import openai

    client = openai.OpenAI(base_url="http://first.test/v1", api_key="k")
    assert _client.server_of(client) == ("first.test", 80)
    assert _client.server_of(client) == ("first.test", 80)  # cached
    client.base_url = "https://second.test:8443/v1"
    assert _client.server_of(client) == ("second.test", 8443)
    azure = openai.AzureOpenAI(
        azure_endpoint="https://res.openai.azure.com", api_key="k", api_version="2024-06-01"
    )
    assert _client.server_of(azure) == ("res.openai.azure.com", 443)
    assert _client.client_info(azure).provider == "azure.ai.openai"
    assert _client.client_info(client).provider == "openai"


def test_client_info_is_per_client() -> None:
    import openai

    plain = openai.OpenAI(base_url="http://one.test/v1", api_key="k")
    keyed = plain.with_options(default_headers={"Idempotency-Key": "idem-9"})
    assert _client.client_info(plain).idempotency_key is None
    assert _client.client_info(keyed).idempotency_key == "idem-9"
    assert _client.client_info(keyed) is _client.client_info(keyed)
    assert _client.client_info(None).address is None


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after-ms": "x", "retry-after": "1.5"}, 1.5),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "soon"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after(headers, seconds) -> None:
    assert _client.retry_after_s(headers) == seconds


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert _client.retry_after_s({"retry-after": when}) == pytest.approx(30, abs=2)


def test_result_kinds(client) -> None:
    from tests.fakes.openai_server import Reply

    body = client.chat.completions.create(model="m", messages=[])
    assert _client.result_kind(body) == _client.BODY
    raw = client.chat.completions.with_raw_response.create(model="m", messages=[])
    assert _client.result_kind(raw) == _client.RAW
    stream = client.chat.completions.create(model="m", messages=[], stream=True)
    assert _client.result_kind(stream) == _client.STREAM
    stream.close()
    with client.chat.completions.with_streaming_response.create(model="m", messages=[]) as r:
        assert _client.result_kind(r) == _client.UNREAD
    assert _client.result_kind(Reply()) == _client.BODY  # anything else: read as a body
