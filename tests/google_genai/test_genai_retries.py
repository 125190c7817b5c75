"""The SDK's retries (``HttpRetryOptions``, run by tenacity) and rate limits as span events:
exactly one ``retry.attempted`` per retry, with or without our tenacity layer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from genai_support import MODEL, PROMPT, events
from opentelemetry.trace import StatusCode

from instrumentors import semconv
from instrumentors.tenacity import TenacityInstrumentor
from tests.fakes.gemini_server import Reply

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402

pytestmark = pytest.mark.usefixtures("instrumented")

RETRY = semconv.EVENT_RETRY_ATTEMPTED
RATE_LIMIT = semconv.EVENT_RATE_LIMIT_INVOKED


@pytest.fixture(params=["tenacity layer off", "tenacity layer on"])
def tenacity_layer(request: pytest.FixtureRequest) -> Iterator[bool]:
    """Both ways: our tenacity instrumentor off, and on (it sees the SDK's retry loop too)."""
    on = request.param.endswith("on")
    instrumentor = TenacityInstrumentor()
    if on:
        instrumentor.instrument()
    yield on
    if on:
        instrumentor.uninstrument()


def test_a_429_then_success(exporter, client, server, tenacity_layer: bool) -> None:
    server.script(Reply.failure(429, "Quota exceeded", retry_delay="0.01s"), Reply(id="resp-ok"))
    response = client.models.generate_content(model=MODEL, contents=PROMPT)
    assert response.response_id == "resp-ok"
    assert len(server.requests) == 2
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.response.id"] == "resp-ok"
    (retry,) = events(span, RETRY)
    assert retry["retry.attempt"] == 1 and retry["retry.delay_s"] >= 0
    if tenacity_layer:  # the tenacity layer's event: the failed attempt's error type
        assert retry["error.type"] == "ClientError"
    else:
        assert retry["http.response.status_code"] == 429
    (limit,) = events(span, RATE_LIMIT)
    assert limit == {"http.response.status_code": 429, "retry.after_s": 0.01}


def test_server_errors_retried(exporter, client, server, tenacity_layer: bool) -> None:
    server.script(Reply.failure(500), Reply.failure(503), Reply())
    client.models.generate_content(model=MODEL, contents=PROMPT)
    (span,) = exporter.get_finished_spans()
    retries = events(span, RETRY)
    assert [r["retry.attempt"] for r in retries] == [1, 2]
    if not tenacity_layer:
        assert [r["http.response.status_code"] for r in retries] == [500, 503]
    assert events(span, RATE_LIMIT) == []


def test_rate_limited_to_the_end(exporter, client, server, tenacity_layer: bool) -> None:
    server.script(*[Reply.failure(429, headers={"retry-after": "2"})] * 3)
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model=MODEL, contents=PROMPT)
    assert caught.value.code == 429 and caught.value.status == "RESOURCE_EXHAUSTED"
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ClientError"
    assert len(events(span, RETRY)) == 2  # three attempts, two retries
    limits = events(span, RATE_LIMIT)
    assert len(limits) == 3  # one per 429 answer, the last included
    assert {limit["retry.after_s"] for limit in limits} == {2.0}
    assert len(events(span, "exception")) == 1


def test_a_429_without_retries(exporter, plain_client, server) -> None:
    server.script(Reply.failure(429))
    with pytest.raises(errors.ClientError):
        plain_client.models.generate_content(model=MODEL, contents=PROMPT)
    (span,) = exporter.get_finished_spans()
    assert events(span, RETRY) == []
    assert events(span, RATE_LIMIT) == [{"http.response.status_code": 429}]


def test_a_timeout_retried(exporter, server, tenacity_layer: bool) -> None:
    options = server.http_options(
        timeout=300, retry_options=types.HttpRetryOptions(attempts=2, initial_delay=0.01)
    )
    client = genai.Client(api_key="k", http_options=options)
    server.script(Reply(delay=2.0), Reply(id="resp-late"))
    assert client.models.generate_content(model=MODEL, contents=PROMPT).response_id == "resp-late"
    (span,) = exporter.get_finished_spans()
    (retry,) = events(span, RETRY)
    assert retry["error.type"].endswith("Timeout")  # no HTTP status: the error's type
    assert "http.response.status_code" not in retry


def test_per_request_retry_options(exporter, plain_client, server, tenacity_layer: bool) -> None:
    retry = types.HttpRetryOptions(attempts=2, initial_delay=0.01)
    config = types.GenerateContentConfig(http_options=types.HttpOptions(retry_options=retry))
    server.script(Reply.failure(503), Reply())
    plain_client.models.generate_content(model=MODEL, contents=PROMPT, config=config)
    (span,) = exporter.get_finished_spans()
    assert len(events(span, RETRY)) == 1


def test_async_and_streamed_requests_retry_too(exporter, client, server, tenacity_layer) -> None:
    server.script(Reply.failure(429), Reply(), Reply.failure(500), Reply(), Reply.failure(429),
                  Reply())  # fmt: skip

    async def run() -> None:
        await client.aio.models.generate_content(model=MODEL, contents=PROMPT)
        async for _ in await client.aio.models.generate_content_stream(
            model=MODEL, contents=PROMPT
        ):
            pass

    asyncio.run(run())
    list(client.models.generate_content_stream(model=MODEL, contents=PROMPT))
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    for span, limited in zip(spans, (True, False, True), strict=True):
        assert len(events(span, RETRY)) == 1, span.events
        assert len(events(span, RATE_LIMIT)) == int(limited)
        assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)


def test_a_chat_sessions_retries_land_on_its_span(exporter, client, server, tenacity_layer) -> None:
    server.script(Reply.failure(429), Reply())
    client.chats.create(model=MODEL).send_message(PROMPT)
    (span,) = exporter.get_finished_spans()
    assert len(events(span, RETRY)) == 1
    assert len(events(span, RATE_LIMIT)) == 1
