"""Content capture: system instruction, contents and parts in the conventions' JSON shape,
redacted and truncated; inline data only as its MIME type and size."""

from __future__ import annotations

import base64

import pytest
from genai_support import MODEL, PROMPT, messages

from instrumentors import semconv
from tests.fakes.gemini_server import Call, Reply

genai = pytest.importorskip("google.genai")
from google.genai import types  # noqa: E402

INPUTS, OUTPUTS = semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES
SYSTEM = semconv.GEN_AI_SYSTEM_INSTRUCTIONS
SECRET = "sk-proj-GEMINICONTENT0123456789abcdefXYZ"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def test_prompt_system_instruction_and_answer(exporter, capture, client) -> None:
    config = {"system_instruction": "You are a weather bot."}
    client.models.generate_content(model=MODEL, contents=PROMPT, config=config)
    (span,) = exporter.get_finished_spans()
    assert messages(span, INPUTS) == [
        {"role": "user", "parts": [{"type": "text", "content": PROMPT}]}
    ]
    assert messages(span, SYSTEM) == [{"type": "text", "content": "You are a weather bot."}]
    assert messages(span, OUTPUTS) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello from the fake Gemini."}],
            "finish_reason": "stop",
        }
    ]


def test_a_conversation_with_function_calls_and_results(exporter, capture, client, server) -> None:
    contents = [
        types.Content(role="user", parts=[types.Part.from_text(text=PROMPT)]),
        types.Content(
            role="model",
            parts=[types.Part.from_function_call(name="get_weather", args={"city": "Paris"})],
        ),
        {"role": "user", "parts": [{"function_response": {"name": "get_weather", "id": "fc-1",
                                                          "response": {"temp": 21}}}]},
    ]  # fmt: skip
    system = types.Content(parts=[types.Part(text="Be brief."), types.Part(text="Use metric.")])
    server.script(Reply.with_calls(Call("get_forecast", {"city": "Paris"}), thought="Hmm",
                                   text="Let me check.", id="resp-c"))  # fmt: skip
    client.models.generate_content(
        model=MODEL,
        contents=contents,
        config=types.GenerateContentConfig(system_instruction=system),
    )
    (span,) = exporter.get_finished_spans()
    assert messages(span, INPUTS) == [
        {"role": "user", "parts": [{"type": "text", "content": PROMPT}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "name": "get_weather",
                                         "arguments": {"city": "Paris"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "fc-1",
                                    "response": {"temp": 21}}]},
    ]  # fmt: skip
    assert messages(span, SYSTEM) == [
        {"type": "text", "content": "Be brief."},
        {"type": "text", "content": "Use metric."},
    ]
    assert messages(span, OUTPUTS) == [
        {
            "role": "assistant",
            "parts": [  # the thought summary is not part of the answer
                {"type": "text", "content": "Let me check."},
                {"type": "tool_call", "name": "get_forecast", "id": "resp-c:0:0",
                 "arguments": {"city": "Paris"}},
            ],
            "finish_reason": "stop",
        }
    ]  # fmt: skip


def test_inline_data_is_only_its_mime_type_and_size(exporter, capture, client, server) -> None:
    image = types.Part.from_bytes(data=PNG, mime_type="image/png")
    audio = {"inline_data": {"mime_type": "audio/wav", "data": base64.b64encode(b"RIFF....")}}
    client.models.generate_content(model=MODEL, contents=["What is this?", image, audio])
    sent = server.requests[-1].json["contents"][0]["parts"][1]
    assert "image/png" in str(sent)  # the SDK sent the image itself
    (span,) = exporter.get_finished_spans()
    (message,) = messages(span, INPUTS)
    (part,) = message["parts"]
    assert "What is this?" in part["content"]
    assert f"mime_type=image/png size={len(PNG)}" in part["content"]
    assert "mime_type=audio/wav" in part["content"]
    everything = str(dict(span.attributes))
    assert base64.b64encode(PNG).decode()[:40] not in everything
    assert "RIFF" not in everything and "\\x89PNG" not in everything


def test_content_is_redacted_and_truncated(exporter, settings_env, instrument, client) -> None:
    settings_env(
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY",
        AGENT_INSTRUMENTORS_MAX_ATTRIBUTE_LENGTH="64",
    )
    instrument()
    long_prompt = f"my key is {SECRET}. " + "x" * 500
    client.models.generate_content(model=MODEL, contents=long_prompt)
    (span,) = exporter.get_finished_spans()
    (message,) = messages(span, INPUTS)  # still valid JSON
    text = message["parts"][0]["content"]
    assert SECRET not in str(dict(span.attributes))
    assert "[REDACTED]" in text and len(text) <= 80


def test_streamed_answers_are_captured(exporter, capture, client, server) -> None:
    server.script(Reply(thought="thinking", chunk_size=3))
    list(client.models.generate_content_stream(model=MODEL, contents=PROMPT))
    (span,) = exporter.get_finished_spans()
    assert messages(span, OUTPUTS) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello from the fake Gemini."}],
            "finish_reason": "stop",
        }
    ]


def test_a_blocked_prompt_is_an_empty_answer(exporter, capture, client, server) -> None:
    server.script(Reply(blocked="SAFETY"))
    client.models.generate_content(model=MODEL, contents=PROMPT)
    (span,) = exporter.get_finished_spans()
    assert messages(span, OUTPUTS) == [
        {"role": "assistant", "parts": [], "finish_reason": "safety"}
    ]


def test_event_only_keeps_content_off_the_span(
    exporter, log_exporter, settings_env, instrument, client
) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="EVENT_ONLY")
    instrument()
    client.models.generate_content(model=MODEL, contents=PROMPT)
    (span,) = exporter.get_finished_spans()
    assert INPUTS not in span.attributes and OUTPUTS not in span.attributes
    (record,) = log_exporter.get_finished_logs()
    log = record.log_record
    assert log.event_name == semconv.EVENT_INFERENCE_DETAILS
    assert log.span_id == span.context.span_id
    assert PROMPT in str(log.attributes[INPUTS])


@pytest.mark.parametrize("mode", ["false", "NO_CONTENT"])
def test_nothing_without_capture(exporter, log_exporter, settings_env, instrument, client, mode):
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=mode)
    instrument()
    client.models.generate_content(
        model=MODEL, contents=PROMPT, config={"system_instruction": "secret rules"}
    )
    (span,) = exporter.get_finished_spans()
    assert not {INPUTS, OUTPUTS, SYSTEM} & set(span.attributes)
    assert PROMPT not in str(dict(span.attributes))
    assert log_exporter.get_finished_logs() == ()
