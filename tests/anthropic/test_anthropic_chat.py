"""Messages (create, parse, count_tokens, beta; sync, async; Bedrock, Vertex) through the real SDK
against the fake server: the span model, tools and links, content capture."""

from __future__ import annotations

import base64
import inspect
import json

import pytest
from ant_support import MESSAGES, MODEL, SECRET_PROMPT, all_strings, create
from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import SpanKind, StatusCode

import instrumentors
from instrumentors import semconv
from tests.fakes.anthropic_server import Reply, ToolUse, Usage

anthropic = pytest.importorskip("anthropic")

WEATHER = ToolUse("get_weather", {"city": "Paris"}, id="toolu_1")
IMAGE = {"type": "base64", "media_type": "image/png"}


def _sampling(**values: float) -> dict[str, object]:
    """Sampling parameters as this SDK takes them (newer releases only through ``extra_body``)."""
    from anthropic.resources.messages.messages import Messages

    if "temperature" in inspect.signature(Messages.create).parameters:
        return dict(values)
    return {"extra_body": values}


def test_chat_span_follows_the_span_model(exporter, instrumented, client, server) -> None:
    server.script(
        Reply.tools(
            WEATHER, usage=Usage(20, 9, cache_read_input_tokens=3, cache_creation_input_tokens=4)
        )
    )
    message = create(
        client,
        max_tokens=128,
        stop_sequences=["END"],
        **_sampling(temperature=0.2, top_p=0.9, top_k=5),
    )
    assert message.content[-1].id == "toolu_1"
    (span,) = exporter.get_finished_spans()
    attrs = span.attributes
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.instrumentation_scope.name == "instrumentors.anthropic"
    assert span.status.status_code is StatusCode.UNSET
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == MODEL
    assert attrs[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert attrs[semconv.SERVER_PORT] == server.port
    assert attrs[GenAI.GEN_AI_REQUEST_MAX_TOKENS] == 128
    assert attrs[GenAI.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert attrs[GenAI.GEN_AI_REQUEST_TOP_P] == 0.9
    assert attrs[GenAI.GEN_AI_REQUEST_TOP_K] == 5
    assert tuple(attrs[GenAI.GEN_AI_REQUEST_STOP_SEQUENCES]) == ("END",)
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == message.id
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == MODEL
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_use",)
    # The conventions' input count includes the cache; the API's leaves it out.
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 20 + 3 + 4
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 9
    assert attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 3
    assert attrs[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 4
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("toolu_1",)
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES]) == ("get_weather",)
    assert GenAI.GEN_AI_REQUEST_STREAM not in attrs
    assert GenAI.GEN_AI_INPUT_MESSAGES not in attrs
    assert server.requests[-1].json.get("temperature") == 0.2  # what the SDK sent


def test_sampling_parameters_in_extra_body(exporter, instrumented, client, server) -> None:
    create(client, extra_body={"temperature": 0.7, "top_k": 3})
    (span,) = exporter.get_finished_spans()
    assert span.attributes[GenAI.GEN_AI_REQUEST_TEMPERATURE] == 0.7
    assert span.attributes[GenAI.GEN_AI_REQUEST_TOP_K] == 3
    assert server.requests[-1].json["temperature"] == 0.7


def test_usage_without_cache_fields(exporter, instrumented, client, server) -> None:
    server.script(Reply(usage=Usage(5, 2)))
    create(client)
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 5
    assert semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS not in span.attributes


async def test_async_create(exporter, instrumented, aclient, server) -> None:
    server.script(Reply.tools(WEATHER))
    pending = aclient.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    assert exporter.get_finished_spans() == ()  # nothing starts until awaited
    message = await pending
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == message.id
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("toolu_1",)
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_beta_messages(exporter, instrumented, client, server) -> None:
    message = client.beta.messages.create(
        model=MODEL, max_tokens=64, messages=MESSAGES, betas=["some-beta-2025-01-01"]
    )
    (span,) = exporter.get_finished_spans()
    assert span.name == f"chat {MODEL}"
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == message.id


def test_parse(exporter, instrumented, client, server) -> None:
    if not hasattr(client.messages, "parse"):
        pytest.skip("this SDK has no messages.parse")
    parsed = client.messages.parse(model=MODEL, max_tokens=64, messages=MESSAGES)
    (span,) = exporter.get_finished_spans()
    assert span.name == f"chat {MODEL}"
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == parsed.id


@pytest.mark.parametrize("beta", [False, True])
def test_count_tokens(exporter, instrumented, client, server, beta) -> None:
    server.script(Reply(input_tokens=1234))
    messages = client.beta.messages if beta else client.messages
    counted = messages.count_tokens(model=MODEL, messages=MESSAGES)
    assert counted.input_tokens == 1234
    (span,) = exporter.get_finished_spans()
    assert span.name == f"count_tokens {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.attributes[semconv.GEN_AI_OPERATION_NAME] == "count_tokens"
    assert span.attributes["anthropic.message.count_tokens.input_tokens"] == 1234
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes  # a count is not usage
    assert server.requests[-1].path.split("?")[0].endswith("/v1/messages/count_tokens")


def test_nests_under_the_current_span_and_restores_it(exporter, instrumented, client) -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("agent") as outer:
        create(client)
        assert trace.get_current_span() is outer
    chat, agent = exporter.get_finished_spans()
    assert chat.parent.span_id == agent.context.span_id


def test_a_later_tool_span_links_to_the_chat_span(exporter, instrumented, client, server) -> None:
    @instrumentors.tool
    def get_weather(city: str) -> str:
        return f"{city}: sunny"

    server.script(Reply.tools(WEATHER))
    message = create(client)
    (use,) = [b for b in message.content if b.type == "tool_use"]
    with instrumentors.tool_call_id(use.id):
        get_weather(**use.input)
    chat, tool = exporter.get_finished_spans()
    assert tool.name == "execute_tool get_weather"
    assert tool.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "toolu_1"
    (link,) = tool.links
    assert link.context.span_id == chat.context.span_id


def test_server_tools_and_tool_results_are_recognised(exporter, capture, client, server) -> None:
    server.script(
        Reply.tools(
            ToolUse("web_search", {"query": "Paris"}, id="srvtoolu_1", server=True),
            ToolUse("code_execution", {"code": "1+1"}, id="srvtoolu_2", server=True),
            text="It is sunny.",
        )
    )
    messages = [
        *MESSAGES,
        {"role": "assistant", "content": [WEATHER_USE, SERVER_USE, SEARCH_RESULT]},
        {"role": "user", "content": [TOOL_RESULT, {"type": "text", "text": "and tomorrow?"}]},
    ]
    message = create(client, messages=messages)
    assert message.stop_reason == "end_turn"
    (span,) = exporter.get_finished_spans()
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES]) == (
        "web_search",
        "code_execution",
    )
    inputs = json.loads(span.attributes[GenAI.GEN_AI_INPUT_MESSAGES])
    assert [m["role"] for m in inputs] == ["user", "assistant", "tool", "tool", "user"]
    assistant = inputs[1]["parts"]
    assert [p["type"] for p in assistant] == ["tool_call", "tool_call"]
    assert assistant[0] == {"type": "tool_call", "name": "get_weather", "id": "toolu_0",
                            "arguments": {"city": "Paris"}}  # fmt: skip
    assert inputs[2]["parts"] == [
        {"type": "tool_call_response", "id": "srvtoolu_0", "response": "[web_search_tool_result]"}
    ]
    assert inputs[3]["parts"] == [
        {"type": "tool_call_response", "id": "toolu_0", "response": "Paris: 21 C"}
    ]
    outputs = json.loads(span.attributes[GenAI.GEN_AI_OUTPUT_MESSAGES])
    assert outputs[0]["parts"][0] == {"type": "text", "content": "It is sunny."}
    assert outputs[0]["finish_reason"] == "end_turn"


WEATHER_USE = {
    "type": "tool_use",
    "id": "toolu_0",
    "name": "get_weather",
    "input": {"city": "Paris"},
}
SERVER_USE = {"type": "server_tool_use", "id": "srvtoolu_0", "name": "web_search",
              "input": {"query": "Paris"}}  # fmt: skip
SEARCH_RESULT = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_0", "content": []}
TOOL_RESULT = {"type": "tool_result", "tool_use_id": "toolu_0",
               "content": [{"type": "text", "text": "Paris: 21 C"}]}  # fmt: skip


def test_no_content_without_capture(exporter, instrumented, client, server) -> None:
    server.script(
        Reply.tools(
            ToolUse("lookup", {"q": "arg-sentinel-55"}, id="c9"),
            text="out-77",
            thinking="think-sentinel-3",
        )
    )
    create(
        client, system="system-sentinel-1", messages=[{"role": "user", "content": SECRET_PROMPT}]
    )
    (span,) = exporter.get_finished_spans()
    text = all_strings(span)
    for sentinel in (
        SECRET_PROMPT,
        "arg-sentinel-55",
        "out-77",
        "think-sentinel-3",
        "system-sentinel-1",
    ):
        assert sentinel not in text
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES]) == ("lookup",)


def test_content_under_capture(exporter, capture, client, server) -> None:
    server.script(
        Reply.tools(
            ToolUse("lookup", {"q": "arg-sentinel-55"}, id="c9"),
            text="out-77",
            thinking="think-sentinel-3",
        )
    )
    pixels = base64.b64encode(b"\x89PNG" + b"\0" * 96).decode()
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": SECRET_PROMPT},
                {"type": "image", "source": IMAGE | {"data": pixels}},
                {"type": "document",
                 "source": {"type": "text", "media_type": "text/plain", "data": "doc-sentinel-8"}},
            ],
        },
    ]  # fmt: skip
    system = [{"type": "text", "text": "Be brief."}]
    create(client, system=system, messages=messages)
    (span,) = exporter.get_finished_spans()
    inputs = json.loads(span.attributes[GenAI.GEN_AI_INPUT_MESSAGES])
    outputs = json.loads(span.attributes[GenAI.GEN_AI_OUTPUT_MESSAGES])
    assert json.loads(span.attributes[GenAI.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "Be brief."}
    ]
    (user,) = inputs
    assert user["parts"] == [
        {"type": "text", "content": f"{SECRET_PROMPT}\n[image image/png 100 bytes]\n"
                                    "[document text/plain 14 bytes]"}
    ]  # fmt: skip
    assert pixels not in all_strings(span) and "doc-sentinel-8" not in all_strings(span)
    (answer,) = outputs
    assert answer["role"] == "assistant" and answer["finish_reason"] == "tool_use"
    assert answer["parts"] == [
        {"type": "text", "content": "out-77"},
        {"type": "tool_call", "name": "lookup", "id": "c9", "arguments": {"q": "arg-sentinel-55"}},
    ]
    # Thinking is never recorded: the core has no reasoning part yet.
    assert "think-sentinel-3" not in all_strings(span)


def test_secrets_are_redacted_under_capture(exporter, capture, client) -> None:
    secret = "sk-ant-api03-" + "a1B2c3D4e5F6g7H8i9J0kLmNoPqRsT"
    create(client, messages=[{"role": "user", "content": f"my key is {secret}"}])
    (span,) = exporter.get_finished_spans()
    assert secret not in all_strings(span)
    assert "my key is" in span.attributes[GenAI.GEN_AI_INPUT_MESSAGES]


def test_an_error_without_a_model_name(exporter, instrumented, client, server) -> None:
    server.script(Reply.failure(404, "no such model"))
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model="", max_tokens=8, messages=MESSAGES)
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat"
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "NotFoundError"
    assert caught.value.status_code == 404
