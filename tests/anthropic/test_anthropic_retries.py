"""The SDK's retries, 429 and 529 answers as span events; errors as ERROR spans, re-raised."""

from __future__ import annotations

import pytest
from ant_support import MESSAGES, MODEL, create, events
from opentelemetry.trace import StatusCode

from instrumentors import semconv
from tests._layer_checks import exceptions_seen_inside, free_port
from tests.fakes.anthropic_server import Reply

anthropic = pytest.importorskip("anthropic")

RETRY = semconv.EVENT_RETRY_ATTEMPTED
RATE_LIMIT = semconv.EVENT_RATE_LIMIT_INVOKED


@pytest.mark.parametrize("status", [429, 529])
def test_rate_limited_then_success(exporter, instrumented, client, server, status) -> None:
    server.script(Reply.failure(status, retry_after=0.01), Reply())
    message = create(client)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == message.id
    (retry,) = events(span, RETRY)
    assert retry[semconv.RETRY_ATTEMPT] == 1
    assert retry[semconv.RETRY_DELAY_S] == pytest.approx(0.01)
    assert retry[semconv.HTTP_RESPONSE_STATUS_CODE] == status
    assert semconv.ERROR_TYPE not in retry
    (limited,) = events(span, RATE_LIMIT)
    assert limited == {semconv.HTTP_RESPONSE_STATUS_CODE: status, semconv.RETRY_AFTER_S: 0.01}
    assert [r.retry_count for r in server.requests] == [0, 1]


def test_retry_after_ms(exporter, instrumented, client, server) -> None:
    server.script(Reply.rate_limited(retry_after_ms=2), Reply())
    create(client)
    (span,) = exporter.get_finished_spans()
    (limited,) = events(span, RATE_LIMIT)
    assert limited[semconv.RETRY_AFTER_S] == pytest.approx(0.002)


def test_server_errors_then_success(exporter, instrumented, client, server) -> None:
    server.script(
        Reply.failure(500, retry_after_ms=1), Reply.failure(503, retry_after_ms=1), Reply()
    )
    create(client)
    (span,) = exporter.get_finished_spans()
    retries = events(span, RETRY)
    assert [r[semconv.RETRY_ATTEMPT] for r in retries] == [1, 2]
    assert [r[semconv.HTTP_RESPONSE_STATUS_CODE] for r in retries] == [500, 503]
    assert events(span, RATE_LIMIT) == []
    assert span.status.status_code is StatusCode.UNSET


def test_timeout_then_success(exporter, instrumented, client, server) -> None:
    server.script(Reply(delay=2.0), Reply())
    create(client.with_options(timeout=0.2, max_retries=1))
    (span,) = exporter.get_finished_spans()
    (retry,) = events(span, RETRY)
    assert retry[semconv.ERROR_TYPE] in ("ReadTimeout", "TimeoutException", "APITimeoutError")
    assert semconv.HTTP_RESPONSE_STATUS_CODE not in retry
    assert retry[semconv.RETRY_DELAY_S] > 0


def test_rate_limit_error_at_the_end(exporter, instrumented, client, server) -> None:
    server.script(*[Reply.overloaded(retry_after=0.01)] * 3)
    with pytest.raises(anthropic.APIStatusError) as caught:
        create(client)
    assert caught.value.status_code == 529
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == type(caught.value).__qualname__
    assert len(events(span, "exception")) == 1
    assert len(events(span, RETRY)) == 2
    assert len(events(span, RATE_LIMIT)) == 3  # every 529 answer, the last one too


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply.failure(400, "bad request"), "BadRequestError"),
        (Reply.failure(401, "no key"), "AuthenticationError"),
        (Reply.failure(404, "no model"), "NotFoundError"),
        (Reply.rate_limited(), "RateLimitError"),
        (Reply.failure(500), "InternalServerError"),
    ],
)
def test_status_errors(exporter, instrumented, client, server, reply, error) -> None:
    server.script(reply)
    with pytest.raises(anthropic.APIStatusError) as caught:
        create(client.with_options(max_retries=0))
    assert type(caught.value).__qualname__ == error
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == error
    (exception,) = events(span, "exception")
    assert exception["exception.type"].endswith(error)
    assert events(span, RETRY) == []


def test_connection_error_after_retries(exporter, instrumented) -> None:
    port = free_port()  # nothing listens there
    sdk = anthropic.Anthropic(base_url=f"http://127.0.0.1:{port}", api_key="k", max_retries=1)
    with pytest.raises(anthropic.APIConnectionError):
        create(sdk)
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.ERROR_TYPE] == "APIConnectionError"
    assert span.attributes[semconv.SERVER_PORT] == port
    (retry,) = events(span, RETRY)
    assert retry[semconv.ERROR_TYPE] in ("ConnectError", "APIConnectionError")  # by release


def test_the_user_gets_the_same_exception_object(exporter, client, server, instrument) -> None:
    from anthropic.resources.messages.messages import Messages

    with exceptions_seen_inside(Messages, "create") as seen:
        instrumentor = instrument()
        try:
            server.script(Reply.rate_limited())
            with pytest.raises(anthropic.RateLimitError) as caught:
                create(client.with_options(max_retries=0))
        finally:
            instrumentor.uninstrument()
    assert seen == [caught.value]
    assert seen[0] is caught.value


async def test_async_retry_and_rate_limit(exporter, instrumented, aclient, server) -> None:
    server.script(Reply.overloaded(retry_after=0.01), Reply.failure(500, retry_after_ms=1), Reply())
    await aclient.messages.create(model=MODEL, max_tokens=8, messages=MESSAGES)
    (span,) = exporter.get_finished_spans()
    retries = events(span, RETRY)
    assert [(r[semconv.RETRY_ATTEMPT], r[semconv.HTTP_RESPONSE_STATUS_CODE]) for r in retries] == [
        (1, 529),
        (2, 500),
    ]
    assert len(events(span, RATE_LIMIT)) == 1


def test_helper_retries(exporter, instrumented, client, server) -> None:
    server.script(Reply.rate_limited(retry_after=0.01), Reply())
    with client.messages.stream(model=MODEL, max_tokens=8, messages=MESSAGES) as stream:
        stream.until_done()
    (span,) = exporter.get_finished_spans()
    assert len(events(span, RETRY)) == 1
    assert len(events(span, RATE_LIMIT)) == 1


def test_retries_of_calls_we_do_not_trace_stay_off_user_spans(
    exporter, instrumented, client, server
) -> None:
    from opentelemetry import trace

    server.script(Reply.failure(500, retry_after_ms=1))
    with (
        trace.get_tracer("test").start_as_current_span("user"),
        pytest.raises(anthropic.APIStatusError),
    ):
        client.models.retrieve("claude-x")  # not a model call of ours: no events of ours
    user = next(s for s in exporter.get_finished_spans() if s.name == "user")
    assert user.events == ()
