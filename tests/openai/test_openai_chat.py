"""Chat completions (create, parse; sync, async) through the real SDK against the fake server."""

from __future__ import annotations

import json

import pytest
from oai_support import MESSAGES, MODEL, SECRET_PROMPT, all_strings
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import SpanKind, StatusCode

import instrumentors
from instrumentors import semconv
from tests.fakes.openai_server import Reply, ToolCall, Usage

pytest.importorskip("openai.types.chat")

WEATHER_CALL = ToolCall("get_weather", '{"city": "Paris"}', id="call_1")


def test_chat_span_follows_the_span_model(exporter, instrumented, client, server) -> None:
    server.script(
        Reply.tools(WEATHER_CALL, usage=Usage(20, 9, cached_tokens=3, reasoning_tokens=2))
    )
    completion = client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        temperature=0.2,
        top_p=0.9,
        max_tokens=64,
        seed=7,
        stop=["END"],
        frequency_penalty=0.1,
        presence_penalty=0.3,
    )
    assert completion.choices[0].message.tool_calls[0].id == "call_1"
    (span,) = exporter.get_finished_spans()
    attrs = span.attributes
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == MODEL
    assert attrs[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert attrs[semconv.SERVER_PORT] == server.port
    assert attrs[GenAI.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert attrs[GenAI.GEN_AI_REQUEST_TOP_P] == 0.9
    assert attrs[GenAI.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert attrs[GenAI.GEN_AI_REQUEST_SEED] == 7
    assert tuple(attrs[GenAI.GEN_AI_REQUEST_STOP_SEQUENCES]) == ("END",)
    assert attrs[GenAI.GEN_AI_REQUEST_FREQUENCY_PENALTY] == 0.1
    assert attrs[GenAI.GEN_AI_REQUEST_PRESENCE_PENALTY] == 0.3
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == completion.id
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == MODEL
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_calls",)
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 20
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 9
    assert attrs[GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 3
    assert attrs[GenAI.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 2
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("call_1",)
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES]) == ("get_weather",)
    assert GenAI.GEN_AI_REQUEST_STREAM not in attrs
    assert GenAI.GEN_AI_INPUT_MESSAGES not in attrs


def test_cache_write_tokens_when_the_sdk_has_them(exporter, instrumented, client, server) -> None:
    from openai.types.completion_usage import PromptTokensDetails

    if "cache_write_tokens" not in PromptTokensDetails.model_fields:
        pytest.skip("this SDK version has no cache_write_tokens")
    server.script(Reply(usage=Usage(30, 5, cached_tokens=10, cache_write_tokens=4)))
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    (span,) = exporter.get_finished_spans()
    # The core (util-genai) names it after the newest semconv: cache_write, was cache_creation.
    written = {k: v for k, v in span.attributes.items() if k.startswith("gen_ai.usage.cache_")}
    assert (
        written.get(
            "gen_ai.usage.cache_write.input_tokens",
            written.get(GenAI.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
        )
        == 4
    )
    assert span.attributes[GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 10


def test_several_choices(exporter, instrumented, client, server) -> None:
    client.chat.completions.create(model=MODEL, messages=MESSAGES, n=2)
    (span,) = exporter.get_finished_spans()
    assert span.attributes[GenAI.GEN_AI_REQUEST_CHOICE_COUNT] == 2
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop", "stop")


def test_parse(exporter, instrumented, client, server) -> None:
    server.script(Reply(text='{"city": "Paris"}'))
    parsed = client.chat.completions.parse(model=MODEL, messages=MESSAGES)
    (span,) = exporter.get_finished_spans()
    assert span.name == f"chat {MODEL}"
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == parsed.id
    assert server.requests[-1].endpoint == "chat/completions"


async def test_async_create_and_parse(exporter, instrumented, aclient, server) -> None:
    server.script(Reply.tools(WEATHER_CALL))
    first = await aclient.chat.completions.create(model=MODEL, messages=MESSAGES)
    second = await aclient.chat.completions.parse(model=MODEL, messages=MESSAGES)
    spans = exporter.get_finished_spans()
    assert [s.attributes[semconv.GEN_AI_RESPONSE_ID] for s in spans] == [first.id, second.id]
    assert tuple(spans[0].attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("call_1",)
    assert all(s.kind is SpanKind.CLIENT for s in spans)


async def test_async_call_does_nothing_until_awaited(exporter, instrumented, aclient) -> None:
    pending = aclient.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert exporter.get_finished_spans() == ()
    assert trace.get_current_span() is trace.INVALID_SPAN
    await pending
    assert len(exporter.get_finished_spans()) == 1


def test_nests_under_the_current_span_and_restores_it(exporter, instrumented, client) -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("agent") as outer:
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert trace.get_current_span() is outer
    chat, agent = exporter.get_finished_spans()
    assert chat.parent.span_id == agent.context.span_id


@pytest.mark.parametrize("where", ["extra_headers", "default_headers"])
def test_idempotency_key(exporter, instrumented, client, server, where) -> None:
    headers = {"Idempotency-Key": "idem-42"}
    if where == "extra_headers":
        client.chat.completions.create(model=MODEL, messages=MESSAGES, extra_headers=headers)
    else:
        client.with_options(default_headers=headers).chat.completions.create(
            model=MODEL, messages=MESSAGES
        )
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.REQUEST_IDEMPOTENCY_KEY] == "idem-42"
    assert server.requests[-1].headers["idempotency-key"] == "idem-42"


def test_no_idempotency_key_by_default(exporter, instrumented, client) -> None:
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    (span,) = exporter.get_finished_spans()
    assert semconv.REQUEST_IDEMPOTENCY_KEY not in span.attributes


def test_a_later_tool_span_links_to_the_chat_span(exporter, instrumented, client, server) -> None:
    @instrumentors.tool
    def get_weather(city: str) -> str:
        return f"{city}: sunny"

    server.script(Reply.tools(WEATHER_CALL))
    completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    call = completion.choices[0].message.tool_calls[0]
    with instrumentors.tool_call_id(call.id):
        get_weather(**json.loads(call.function.arguments))
    chat, tool = exporter.get_finished_spans()
    assert tool.name == "execute_tool get_weather"
    assert tool.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_1"
    (link,) = tool.links
    assert link.context.span_id == chat.context.span_id
    assert link.context.trace_id == chat.context.trace_id


def test_no_content_without_capture(exporter, instrumented, client, server) -> None:
    server.script(
        Reply.tools(ToolCall("lookup", '{"q": "arg-sentinel-55"}', id="c9"), text="out-77")
    )
    client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": SECRET_PROMPT}]
    )
    (span,) = exporter.get_finished_spans()
    text = all_strings(span)
    for sentinel in (SECRET_PROMPT, "arg-sentinel-55", "out-77"):
        assert sentinel not in text
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES]) == ("lookup",)


def test_content_under_capture(exporter, capture, client, server) -> None:
    server.script(
        Reply.tools(ToolCall("lookup", '{"q": "arg-sentinel-55"}', id="c9"), text="out-77")
    )
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": SECRET_PROMPT}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c0", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c0", "content": "tool-result-31"},
    ]
    client.chat.completions.create(model=MODEL, messages=messages)
    (span,) = exporter.get_finished_spans()
    inputs = json.loads(span.attributes[GenAI.GEN_AI_INPUT_MESSAGES])
    outputs = json.loads(span.attributes[GenAI.GEN_AI_OUTPUT_MESSAGES])
    assert [m["role"] for m in inputs] == ["system", "user", "assistant", "tool"]
    assert SECRET_PROMPT in json.dumps(inputs) and "tool-result-31" in json.dumps(inputs)
    assert "out-77" in json.dumps(outputs) and "arg-sentinel-55" in json.dumps(outputs)
    assert outputs[0]["finish_reason"] == "tool_calls"


def test_secrets_are_redacted_under_capture(exporter, capture, client) -> None:
    secret = "sk-" + "a1B2c3D4e5F6g7H8i9J0kLmN"
    client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": secret}])
    (span,) = exporter.get_finished_spans()
    assert secret not in all_strings(span)


def test_azure_client_reports_its_provider(exporter, instrumented, server) -> None:
    from openai import AzureOpenAI

    azure = AzureOpenAI(
        api_key="k", api_version="2024-10-21", azure_endpoint=f"http://127.0.0.1:{server.port}"
    )
    azure.chat.completions.create(model="my-deployment", messages=MESSAGES)
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"
    assert span.attributes[semconv.SERVER_PORT] == server.port
