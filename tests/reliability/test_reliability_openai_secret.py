"""The API key the OpenAI client uses, and passed on to tools, never reaches exported telemetry."""

from __future__ import annotations

import json

import pytest

import instrumentors
from tests.fakes.openai_server import FakeOpenAIServer, Reply, ToolCall

openai = pytest.importorskip("openai")
pytest.importorskip("openai.types.chat")

SECRET = "sk-proj-RELIABILITY0123456789abcdefXYZ"


@pytest.mark.parametrize("capture", ["false", "SPAN_AND_EVENT"])
def test_api_key_never_exported(exporter, settings_env, capture: str) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=capture)
    from instrumentors.openai import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        with FakeOpenAIServer() as server:
            server.script(
                Reply.rate_limited(retry_after=0.01),
                Reply.tools(ToolCall("call_api", json.dumps({"key": SECRET}), id="call_1")),
            )
            # The instrumentor reads the client's default headers (for an Idempotency-Key):
            # they hold the key twice here, as Authorization and as a custom header.
            client = openai.OpenAI(
                base_url=server.base_url,
                api_key=SECRET,
                max_retries=2,
                default_headers={"X-Api-Key": SECRET},
            )

            @instrumentors.tool
            def call_api(key: str, api_key: str) -> str:
                return "ok"

            with instrumentors.session("s"), instrumentors.agent_step("run"):
                response = client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": f"my key is {SECRET}"}],
                    extra_headers={"Idempotency-Key": "op-1"},
                )
                call = response.choices[0].message.tool_calls[0]
                with instrumentors.tool_call_id(call.id):
                    call_api(key=SECRET, api_key=SECRET)
            assert server.requests[-1].headers.get("authorization") == f"Bearer {SECRET}"
            assert server.requests[-1].headers.get("x-api-key") == SECRET
    finally:
        instrumentor.uninstrument()
    spans = exporter.get_finished_spans()
    assert {s.name for s in spans} >= {"chat gpt-4o-mini", "execute_tool call_api", "run"}
    leaked = [
        (span.name, key)
        for span in spans
        for key, value in [
            *(span.attributes or {}).items(),
            *((k, v) for e in span.events for k, v in (e.attributes or {}).items()),
        ]
        if SECRET in str(value)
    ]
    assert leaked == []
