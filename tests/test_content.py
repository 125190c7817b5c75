"""Content capture through the one chat and tool lifecycle: the GenAI JSON shape, every mode."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

import instrumentors
from instrumentors import semconv
from instrumentors.telemetry import Message, Telemetry, ToolCallRequest

SECRET = "sk-proj-abcdefghijklmnopqrstuvwx123456"


@pytest.fixture
def events(log_exporter: InMemoryLogRecordExporter) -> InMemoryLogRecordExporter:
    return log_exporter


def _chat(tel: Telemetry) -> None:
    run = tel.llm("openai", "gpt-4o")
    run.set_messages(
        inputs=[
            Message(role="user", text=f"weather in Paris? my key is {SECRET}"),
            Message(
                role="assistant",
                tool_calls=[
                    ToolCallRequest(
                        name="get_weather",
                        id="call_1",
                        arguments=f'{{"city": "Paris", "api_key": "{SECRET}"}}',
                    )
                ],
            ),
            Message(role="tool", tool_call_id="call_1", tool_result={"temp": 21}),
        ],
        outputs=[Message(role="assistant", text="21 C", finish_reason="stop")],
        system=["You are a weather bot."],
    )
    run.set_response(response_id="r1")
    run.stop()


def test_span_only_writes_the_conventions_json_shape(exporter, events, settings_env) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY")
    _chat(Telemetry("t"))
    (span,) = exporter.get_finished_spans()
    inputs = json.loads(span.attributes[semconv.GEN_AI_INPUT_MESSAGES])
    assert inputs[0] == {
        "role": "user",
        "parts": [{"type": "text", "content": "weather in Paris? my key is [REDACTED]"}],
    }
    call = inputs[1]["parts"][0]
    assert call["type"] == "tool_call" and call["id"] == "call_1" and call["name"] == "get_weather"
    assert call["arguments"] == {"city": "Paris", "api_key": "[REDACTED]"}  # an object, redacted
    assert inputs[2] == {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "call_1", "response": {"temp": 21}}],
    }
    assert json.loads(span.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "21 C"}],
            "finish_reason": "stop",
        }
    ]
    assert json.loads(span.attributes[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "You are a weather bot."}
    ]
    assert "null" not in span.attributes[semconv.GEN_AI_INPUT_MESSAGES]  # no "name": null
    assert SECRET not in str(span.attributes)
    assert events.get_finished_logs() == ()


def test_event_only_puts_content_in_the_event_not_on_the_span(
    exporter, events, settings_env
) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="EVENT_ONLY")
    _chat(Telemetry("t"))
    (span,) = exporter.get_finished_spans()
    assert semconv.GEN_AI_INPUT_MESSAGES not in span.attributes
    assert semconv.GEN_AI_OUTPUT_MESSAGES not in span.attributes
    (record,) = events.get_finished_logs()
    log = record.log_record
    assert log.event_name == semconv.EVENT_INFERENCE_DETAILS
    assert log.attributes[semconv.GEN_AI_RESPONSE_ID] == "r1"
    assert log.attributes[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert log.span_id == span.context.span_id  # correlated with the chat span
    assert "weather in Paris" in str(log.attributes[semconv.GEN_AI_INPUT_MESSAGES])
    assert SECRET not in str(log.attributes)


def test_span_and_event_writes_both(exporter, events, settings_env) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_AND_EVENT")
    _chat(Telemetry("t"))
    (span,) = exporter.get_finished_spans()
    (record,) = events.get_finished_logs()
    assert semconv.GEN_AI_INPUT_MESSAGES in span.attributes
    assert semconv.GEN_AI_OUTPUT_MESSAGES in record.log_record.attributes
    assert SECRET not in str(span.attributes) + str(record.log_record.attributes)


@pytest.mark.parametrize("mode", ["false", "NO_CONTENT"])
def test_no_content_and_no_event_when_off(exporter, events, settings_env, mode: str) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=mode)
    _chat(Telemetry("t"))
    (span,) = exporter.get_finished_spans()
    assert not {k for k in span.attributes if k.startswith("gen_ai.") and "messages" in k}
    assert semconv.GEN_AI_SYSTEM_INSTRUCTIONS not in span.attributes
    assert events.get_finished_logs() == ()


def test_event_only_keeps_tool_arguments_off_the_span(exporter, events, settings_env) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="EVENT_ONLY")

    @instrumentors.tool
    def lookup(query: str, token: str) -> str:
        return f"found {query}"

    with instrumentors.tool_call_id("call_9"):
        lookup("raw-query-1", token=SECRET)
    (span,) = exporter.get_finished_spans()
    assert "raw-query-1" not in str(span.attributes)
    assert span.attributes[semconv.REQUEST_PARAMETERS_HASH].startswith("sha256:")
    (record,) = events.get_finished_logs()
    log = record.log_record
    assert log.event_name == semconv.EVENT_TOOL_CALL_DETAILS
    assert log.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_9"
    assert "raw-query-1" in log.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS]
    assert "found raw-query-1" in log.attributes[semconv.GEN_AI_TOOL_CALL_RESULT]
    assert SECRET not in str(log.attributes)


def test_long_content_is_cut_per_value_and_stays_valid_json(exporter, settings_env) -> None:
    settings_env(
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true",
        AGENT_INSTRUMENTORS_MAX_ATTRIBUTE_LENGTH="64",
    )
    run = Telemetry("t").llm("openai", "gpt-4o")
    run.set_messages(inputs=[Message(role="user", text="x" * 10_000) for _ in range(3)])
    run.stop()
    (span,) = exporter.get_finished_spans()
    inputs = json.loads(span.attributes[semconv.GEN_AI_INPUT_MESSAGES])
    assert len(inputs) == 3
    assert all(len(m["parts"][0]["content"]) == 64 for m in inputs)


def test_emit_event_false_turns_events_off(exporter, events, settings_env) -> None:
    settings_env(
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_AND_EVENT",
        OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT="false",
    )
    _chat(Telemetry("t"))
    (span,) = exporter.get_finished_spans()
    assert semconv.GEN_AI_INPUT_MESSAGES in span.attributes
    assert events.get_finished_logs() == ()
