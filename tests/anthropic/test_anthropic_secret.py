"""The API key (``x-api-key`` in 0.x, ``authorization: Bearer`` in 1.x/2.x), and the same key
passed on in prompts, tool inputs and tool arguments, never reaches a span, an event, an
OpenTelemetry log record or one of our Python log lines, in any capture mode; with our httpx2
layer on (the HTTP spans under the chat span) where the SDK talks through httpx2."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from ant_support import MODEL

import instrumentors
from tests.fakes.anthropic_server import Reply, ToolUse

anthropic = pytest.importorskip("anthropic")

SECRET = "sk-ant-api03-RELIABILITY0123456789abcdefXYZ_-AA"


@pytest.fixture
def http_layer(client: Any) -> Iterator[None]:
    """Our httpx2 instrumentor, where the SDK talks HTTP through httpx2 (1.x, 2.x)."""
    try:
        import httpx2
    except ImportError:
        httpx2 = None
    if httpx2 is None or not isinstance(client._client, httpx2.Client):
        yield
        return
    from instrumentors.httpx2 import HTTPX2Instrumentor

    layer = HTTPX2Instrumentor()
    layer.instrument()
    yield
    layer.uninstrument()


def _leaks(spans: Any, logs: Any, lines: list[logging.LogRecord]) -> list[str]:
    found = []
    for span in spans:
        items = [*(span.attributes or {}).items()]
        items += [(k, v) for e in span.events for k, v in (e.attributes or {}).items()]
        found += [f"{span.name}: {k}" for k, v in items if SECRET in str(v)]
    for data in logs:
        record = data.log_record
        text = f"{record.body} {dict(record.attributes or {})}"
        found += [f"log record {record.event_name}"] if SECRET in text else []
    found += [f"python log {r.name}" for r in lines if SECRET in r.getMessage()]
    return found


@pytest.mark.usefixtures("http_layer")
@pytest.mark.parametrize("capture", ["false", "SPAN_ONLY", "SPAN_AND_EVENT", "EVENT_ONLY"])
@pytest.mark.parametrize("auth", ["api_key", "auth_token"])
def test_api_key_never_exported(
    exporter, log_exporter, settings_env, instrument, server, caplog, capture: str, auth: str
) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=capture)
    instrument()
    client = anthropic.Anthropic(base_url=server.base_url, max_retries=2, **{auth: SECRET})

    @instrumentors.tool
    def call_api(key: str, api_key: str) -> str:
        return "ok"

    server.script(
        Reply.rate_limited(retry_after=0.01),
        Reply.tools(ToolUse("call_api", {"key": SECRET, "api_key": SECRET}, id="toolu_k")),
        Reply(text=f"your key {SECRET} works"),
    )
    prompt = [{"role": "user", "content": f"my key is {SECRET}"}]
    with caplog.at_level(logging.DEBUG, logger="instrumentors"):
        with instrumentors.session("s"), instrumentors.agent_step("run"):
            message = client.messages.create(
                model=MODEL, max_tokens=64, messages=prompt, system=f"key: {SECRET}"
            )
            (use,) = message.content
            with instrumentors.tool_call_id(use.id):
                call_api(**use.input)
            with client.messages.stream(model=MODEL, max_tokens=64, messages=prompt) as stream:
                assert SECRET in stream.get_final_text()
        ours = [r for r in caplog.records if r.name.startswith("instrumentors")]
    sent = server.requests[-1].headers
    assert SECRET in (sent.get("x-api-key", "") + sent.get("authorization", ""))
    spans = exporter.get_finished_spans()
    assert {s.name for s in spans} >= {f"chat {MODEL}", "execute_tool call_api", "run"}
    logs = log_exporter.get_finished_logs()
    assert _leaks(spans, logs, ours) == []
    # Not vacuous: the content went out (redacted) where the mode says.
    on_span = any("my key is" in str(v) for s in spans for v in (s.attributes or {}).values())
    assert on_span is (capture in ("SPAN_ONLY", "SPAN_AND_EVENT"))
    assert bool(logs) is (capture in ("SPAN_AND_EVENT", "EVENT_ONLY"))
