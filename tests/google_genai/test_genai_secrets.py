"""The API key (``x-goog-api-key`` header, or ``key=`` in the URL) never reaches a span, a span
event, a content event (log record) or our log lines, in any capture mode."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from genai_support import MODEL, PROMPT, get_weather

from instrumentors.tenacity import TenacityInstrumentor
from tests.fakes.gemini_server import Call, FakeGeminiServer, Reply

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402

GOOGLE_FORMAT = "AIzaSyGEMINIsecret0123456789abcdefghijkl"  # the shape of a real key
OPAQUE = "opaque-gemini-key-sentinel-5e1f"  # a key no pattern would recognise


@pytest.fixture
def other_layers() -> Iterator[None]:
    """The HTTP layers ``instrument_all()`` enables (google-genai 3.x talks through httpx2,
    older lines through httpx) and our tenacity layer, on too."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    from instrumentors.discovery import http_hooks
    from instrumentors.httpx2 import HTTPX2Instrumentor

    layers: list[tuple[Any, dict[str, Any]]] = [
        (TenacityInstrumentor(), {}),
        (HTTPX2Instrumentor(), {}),
        (HTTPXClientInstrumentor(), http_hooks("httpx")),
    ]
    for layer, options in layers:
        layer.instrument(**options)
    yield
    for layer, _ in layers:
        layer.uninstrument()


def _agent_run(server: FakeGeminiServer, client: Any) -> None:
    """Retries, a stream, automatic function calling, an error, async calls and embeddings."""
    server.script(
        Reply.failure(429, retry_delay="0.01s"),
        Reply.with_calls(Call("get_weather", {"city": "Paris"})),
        Reply(text="21 C"),
        Reply(),
        Reply.failure(400, "invalid request"),
    )
    client.models.generate_content(model=MODEL, contents=PROMPT, config={"tools": [get_weather]})
    list(client.models.generate_content_stream(model=MODEL, contents=PROMPT))
    with pytest.raises(errors.ClientError):
        client.models.generate_content(model=MODEL, contents=PROMPT)
    asyncio.run(client.aio.models.generate_content(model=MODEL, contents=PROMPT))
    client.models.embed_content(model="text-embedding-004", contents="hi")


def _leaks(secret: str, spans: Any, records: Any, lines: list[str]) -> list[str]:
    found = []
    for span in spans:
        values = [*(span.attributes or {}).items()]
        values += [
            (f"{e.name}.{k}", v) for e in span.events for k, v in (e.attributes or {}).items()
        ]
        values += [("name", span.name)]
        found += [f"{span.name}: {key}" for key, value in values if secret in str(value)]
    for record in records:
        if secret in str(record.log_record.attributes) + str(record.log_record.body):
            found.append(f"log record {record.log_record.event_name}")
    found += [f"log line: {line[:80]}" for line in lines if secret in line]
    return found


@pytest.mark.usefixtures("other_layers")
@pytest.mark.parametrize("capture", ["false", "SPAN_ONLY", "EVENT_ONLY", "SPAN_AND_EVENT"])
@pytest.mark.parametrize("key", [GOOGLE_FORMAT, OPAQUE], ids=["google-format", "opaque"])
@pytest.mark.parametrize("where", ["header", "query"])
def test_the_api_key_is_never_exported(
    exporter, log_exporter, settings_env, instrument, server, caplog, capture, key, where
) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=capture)
    instrument()
    retry = types.HttpRetryOptions(attempts=2, initial_delay=0.01)
    base_url = server.base_url + (f"/?key={key}" if where == "query" else "")
    client = genai.Client(api_key=key, http_options={"base_url": base_url, "retry_options": retry})
    with caplog.at_level(logging.DEBUG, logger="instrumentors"):
        _agent_run(server, client)
    request = server.requests[0]
    assert request.headers["x-goog-api-key"] == key  # the key did travel
    if where == "query":
        assert request.query["key"] == [key]
    spans = exporter.get_finished_spans()
    names = {span.name for span in spans}
    assert {f"chat {MODEL}", "execute_tool get_weather", "POST"} <= names, names
    if where == "query":  # the HTTP spans name the URL, query value scrubbed
        urls = {str(s.attributes.get("url.full", s.attributes.get("http.url"))) for s in spans
                if s.name == "POST"}  # fmt: skip
        assert any("key=REDACTED" in url for url in urls), urls
    assert _leaks(key, spans, log_exporter.get_finished_logs(), caplog.messages) == []


@pytest.mark.parametrize("capture", ["false", "SPAN_AND_EVENT"])
def test_a_key_echoed_by_the_server_is_redacted(
    exporter, settings_env, instrument, server, capture
) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=capture)
    instrument()
    client = genai.Client(api_key=GOOGLE_FORMAT, http_options=server.http_options())
    server.script(Reply.failure(400, f"API key not valid: {GOOGLE_FORMAT}"))
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model=MODEL, contents=PROMPT)
    assert GOOGLE_FORMAT in str(caught.value)  # the user's exception is untouched
    (span,) = exporter.get_finished_spans()
    assert _leaks(GOOGLE_FORMAT, [span], [], []) == []
    assert span.attributes["error.type"] == "ClientError"
