"""The SDK's own retries and rate limits as span events; errors as ERROR spans, re-raised as-is."""

from __future__ import annotations

from typing import Any

import pytest
from oai_support import MESSAGES, MODEL, events
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from instrumentors import semconv
from tests._layer_checks import exceptions_seen_inside, free_port
from tests.fakes.openai_server import Reply

pytest.importorskip("openai.types.chat")

RETRY = semconv.EVENT_RETRY_ATTEMPTED
RATE_LIMIT = semconv.EVENT_RATE_LIMIT_INVOKED


def _chat(client: Any, **options: Any) -> Any:
    sdk = client.with_options(**options) if options else client
    return sdk.chat.completions.create(model=MODEL, messages=MESSAGES)


def test_rate_limited_then_success(exporter, instrumented, client, server) -> None:
    server.script(Reply.rate_limited(retry_after=0.01), Reply())
    completion = _chat(client)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == completion.id
    (retry,) = events(span, RETRY)
    assert retry[semconv.RETRY_ATTEMPT] == 1
    assert retry[semconv.RETRY_DELAY_S] == pytest.approx(0.01)
    assert retry[semconv.HTTP_RESPONSE_STATUS_CODE] == 429
    assert semconv.ERROR_TYPE not in retry
    (limited,) = events(span, RATE_LIMIT)
    assert limited == {semconv.HTTP_RESPONSE_STATUS_CODE: 429, semconv.RETRY_AFTER_S: 0.01}
    assert [r.retry_count for r in server.requests] == [0, 1]


def test_rate_limited_without_retry_after(exporter, instrumented, client, server) -> None:
    server.script(Reply.rate_limited(retry_after_ms=1), Reply())
    _chat(client)
    (span,) = exporter.get_finished_spans()
    (limited,) = events(span, RATE_LIMIT)
    assert limited[semconv.RETRY_AFTER_S] == pytest.approx(0.001)


def test_server_errors_then_success(exporter, instrumented, client, server) -> None:
    server.script(
        Reply.failure(500, retry_after_ms=1),
        Reply.failure(503, retry_after_ms=1),
        Reply(),
    )
    _chat(client)
    (span,) = exporter.get_finished_spans()
    retries = events(span, RETRY)
    assert [r[semconv.RETRY_ATTEMPT] for r in retries] == [1, 2]
    assert [r[semconv.HTTP_RESPONSE_STATUS_CODE] for r in retries] == [500, 503]
    assert events(span, RATE_LIMIT) == []
    assert span.status.status_code is StatusCode.UNSET


def test_timeout_then_success(exporter, instrumented, client, server) -> None:
    server.script(Reply(delay=2.0), Reply())
    _chat(client, timeout=0.2, max_retries=1)
    (span,) = exporter.get_finished_spans()
    (retry,) = events(span, RETRY)
    assert retry[semconv.ERROR_TYPE] in ("ReadTimeout", "TimeoutException")
    assert semconv.HTTP_RESPONSE_STATUS_CODE not in retry
    assert retry[semconv.RETRY_DELAY_S] > 0


def test_rate_limit_error_at_the_end(exporter, instrumented, client, server) -> None:
    import openai

    server.script(*[Reply.rate_limited(retry_after=0.01)] * 3)
    with pytest.raises(openai.RateLimitError):
        _chat(client)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "RateLimitError"
    assert len(events(span, "exception")) == 1
    assert len(events(span, RETRY)) == 2
    assert len(events(span, RATE_LIMIT)) == 3  # every 429 answer, the last one too


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply.failure(400, "bad request"), "BadRequestError"),
        (Reply.failure(401, "no key"), "AuthenticationError"),
        (Reply.failure(404, "no model"), "NotFoundError"),
        (Reply.failure(500), "InternalServerError"),
    ],
)
def test_status_errors(exporter, instrumented, client, server, reply, error) -> None:
    import openai

    server.script(reply)
    with pytest.raises(openai.APIStatusError) as caught:
        _chat(client, max_retries=0)
    assert type(caught.value).__qualname__ == error
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == error
    (exception,) = events(span, "exception")
    assert exception["exception.type"].endswith(error)
    assert events(span, RETRY) == []


def test_timeout_error(exporter, instrumented, client, server) -> None:
    import openai

    server.script(Reply(delay=2.0))
    with pytest.raises(openai.APITimeoutError):
        _chat(client, timeout=0.2, max_retries=0)
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.ERROR_TYPE] == "APITimeoutError"
    assert span.status.status_code is StatusCode.ERROR


def test_connection_error_after_retries(exporter, instrumented) -> None:
    import openai

    port = free_port()  # nothing listens there
    sdk = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=1)
    with pytest.raises(openai.APIConnectionError):
        sdk.chat.completions.create(model=MODEL, messages=MESSAGES)
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.ERROR_TYPE] == "APIConnectionError"
    assert span.attributes[semconv.SERVER_PORT] == port
    (retry,) = events(span, RETRY)
    assert retry[semconv.ERROR_TYPE] == "ConnectError"


def test_the_user_gets_the_same_exception_object(exporter, client, server, instrument) -> None:
    import openai
    from openai.resources.chat.completions.completions import Completions

    with exceptions_seen_inside(Completions, "create") as seen:
        instrumentor = instrument()
        try:
            server.script(Reply.rate_limited())
            with pytest.raises(openai.RateLimitError) as caught:
                _chat(client, max_retries=0)
        finally:
            instrumentor.uninstrument()
    assert seen == [caught.value]
    assert seen[0] is caught.value


def test_retries_of_calls_we_do_not_trace_stay_off_user_spans(
    exporter, instrumented, client, server
) -> None:
    import openai

    server.script(Reply.failure(500, retry_after_ms=1))
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("user"), pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o-mini")  # not a model call: no span, no events
    (user,) = exporter.get_finished_spans()
    assert user.events == ()


async def test_async_retry_and_rate_limit(exporter, instrumented, aclient, server) -> None:
    server.script(
        Reply.rate_limited(retry_after=0.01), Reply.failure(500, retry_after_ms=1), Reply()
    )
    await aclient.chat.completions.create(model=MODEL, messages=MESSAGES)
    (span,) = exporter.get_finished_spans()
    retries = events(span, RETRY)
    assert [(r[semconv.RETRY_ATTEMPT], r[semconv.HTTP_RESPONSE_STATUS_CODE]) for r in retries] == [
        (1, 429),
        (2, 500),
    ]
    assert len(events(span, RATE_LIMIT)) == 1


async def test_async_error(exporter, instrumented, aclient, server) -> None:
    import openai

    server.script(Reply.failure(400))
    with pytest.raises(openai.BadRequestError):
        await aclient.with_options(max_retries=0).embeddings.create(model="e", input="a")
    (span,) = exporter.get_finished_spans()
    assert span.name == "embeddings e"
    assert span.attributes[semconv.ERROR_TYPE] == "BadRequestError"
    assert span.status.status_code is StatusCode.ERROR


def test_embedding_retries(exporter, instrumented, client, server) -> None:
    server.script(Reply.rate_limited(retry_after=0.01), Reply())
    client.embeddings.create(model="text-embedding-3-small", input="a")
    (span,) = exporter.get_finished_spans()
    assert span.name == "embeddings text-embedding-3-small"
    assert len(events(span, RETRY)) == 1
    assert len(events(span, RATE_LIMIT)) == 1
    assert span.status.status_code is StatusCode.UNSET
