"""The default mode's fast paths write exactly what the general paths write."""

from __future__ import annotations

from typing import Any

import pytest

from instrumentors.telemetry import Telemetry
from tests._spans import lean_and_general

pytest.importorskip("openai.types.chat")

from openai.types.chat import ChatCompletion

from instrumentors.openai import _extract


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
CASES = {
    "tool calls": _completion(
        [_choice(0, "tool_calls", tool_calls=[_call("c1", "f"), _call("c2", "g")])], USAGE
    ),
    "usage details": _completion(
        [_choice(0, "stop", content="hi")],
        {
            **USAGE,
            "prompt_tokens_details": {"cached_tokens": 5},
            "completion_tokens_details": {"reasoning_tokens": 3},
        },
    ),
    "zero details": _completion(
        [_choice(0, "stop", content="hi")],
        {
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    ),
    "no usage, two choices": _completion(
        [_choice(0, "stop", content="a"), _choice(1, "length", content="b")], None
    ),
    "legacy function call": _completion(
        [_choice(0, "function_call", function_call={"name": "old", "arguments": "{}"})], USAGE
    ),
    "no choices": _completion([], USAGE),
}


@pytest.mark.parametrize("completion", list(CASES.values()), ids=list(CASES))
def test_lean_response_path_matches_the_general_one(exporter, monkeypatch, completion) -> None:
    lean, general = lean_and_general(
        exporter, monkeypatch, lambda run: _extract.chat_response(run, completion)
    )
    assert lean == general


def test_content_capture_takes_the_general_path(exporter, settings_env) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY")
    run = Telemetry("capture").llm("openai", "gpt-4o")
    _extract.chat_response(run, CASES["tool calls"])
    run.stop()
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.response.id"] == "chatcmpl-1"
    assert "gen_ai.output.messages" in span.attributes


def test_server_of_follows_a_changed_base_url() -> None:
    import openai

    client = openai.OpenAI(base_url="http://first.test/v1", api_key="k")
    assert _extract.server_of(client) == ("first.test", 80)
    assert _extract.server_of(client) == ("first.test", 80)  # cached
    client.base_url = "https://second.test:8443/v1"
    assert _extract.server_of(client) == ("second.test", 8443)
    azure = openai.AzureOpenAI(
        azure_endpoint="https://res.openai.azure.com", api_key="k", api_version="2024-06-01"
    )
    assert _extract.server_of(azure) == ("res.openai.azure.com", 443)


def _chunk(**fields: Any) -> Any:
    from openai.types.chat import ChatCompletionChunk

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


def test_lean_stream_end_matches_the_general_one(exporter, monkeypatch) -> None:
    from instrumentors.openai import _stream

    def stream_end(run: Any) -> None:
        accumulator = _stream.ChatAccumulator(run)
        for chunk in STREAM:
            accumulator.add(chunk)
        accumulator.apply(run)

    lean, general = lean_and_general(exporter, monkeypatch, stream_end)
    assert lean == general
    attributes, links = lean
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 3
    assert links == {"s1": True}
