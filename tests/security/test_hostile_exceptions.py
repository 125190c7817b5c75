"""A hostile exception cannot break a span: every span ends ERROR with ``error.type``."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

import instrumentors
from instrumentors import semconv
from instrumentors.events import record_error
from instrumentors.telemetry import Telemetry


class StrRaises(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ exploded")


class ReprRaises(Exception):
    def __repr__(self) -> str:
        raise RuntimeError("__repr__ exploded")


class BothRaise(StrRaises, ReprRaises):
    pass


class HugeMessage(Exception):
    def __str__(self) -> str:
        return "x" * 5_000_000


class SecretMessage(Exception):
    pass


HOSTILE = [StrRaises(), ReprRaises(), BothRaise(), HugeMessage()]


def _assert_failed(span, kind: type[BaseException]) -> None:  # type: ignore[no-untyped-def]
    assert span.end_time is not None
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == kind.__qualname__
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"].endswith(kind.__qualname__)
    assert len(event.attributes["exception.message"]) <= 4096
    assert len(span.status.description or "") <= 4096


@pytest.mark.parametrize("exc", HOSTILE, ids=lambda e: type(e).__name__)
def test_tool_span_ends_whatever_the_exception_does(exporter, exc: Exception) -> None:
    @instrumentors.tool
    def broken() -> None:
        raise exc

    with pytest.raises(type(exc)) as raised:
        broken()
    assert raised.value is exc  # the user's exception, unchanged
    (span,) = exporter.get_finished_spans()
    _assert_failed(span, type(exc))
    assert trace.get_current_span() is trace.INVALID_SPAN


@pytest.mark.parametrize("exc", HOSTILE, ids=lambda e: type(e).__name__)
def test_async_generator_step_and_chat_spans_end_too(exporter, exc: Exception) -> None:
    @instrumentors.tool
    async def abroken() -> None:
        raise exc

    @instrumentors.tool
    def gbroken():  # type: ignore[no-untyped-def]
        yield 1
        raise exc

    with pytest.raises(type(exc)):  # driven by hand: asyncio itself reprs a task's exception
        abroken().send(None)
    with pytest.raises(type(exc)):
        list(gbroken())
    with pytest.raises(type(exc)), instrumentors.agent_step("plan"):
        raise exc
    run = Telemetry("t").llm("openai", "gpt-4o")
    run.fail(exc)
    spans = exporter.get_finished_spans()
    assert len(spans) == 4
    for span in spans:
        _assert_failed(span, type(exc))


def test_record_error_survives_a_hostile_exception(exporter) -> None:
    with trace.get_tracer("t").start_as_current_span("work") as span:
        assert record_error(BothRaise(), span=span)
    (ended,) = exporter.get_finished_spans()
    _assert_failed(ended, BothRaise)


def test_a_secret_in_the_exception_message_is_redacted(exporter) -> None:
    secret = "sk-proj-0123456789abcdefghijklmnop"

    @instrumentors.tool
    def leaky() -> None:
        raise SecretMessage(f"auth failed for key {secret}")

    with pytest.raises(SecretMessage):
        leaky()
    (span,) = exporter.get_finished_spans()
    exported = str(span.attributes) + str(span.status.description)
    exported += "".join(str(e.attributes) for e in span.events)
    assert secret not in exported
    assert "[REDACTED]" in span.events[0].attributes["exception.message"]


def test_a_url_in_the_exception_message_loses_credentials_and_query_values(exporter) -> None:
    @instrumentors.tool
    def fetch() -> None:
        raise ConnectionError(
            "GET https://bob:hunter2@api.example.com/v1?api_key=qwerty-123 failed"
        )

    with pytest.raises(ConnectionError):
        fetch()
    (span,) = exporter.get_finished_spans()
    event = span.events[0].attributes
    exported = str(event) + str(span.status.description)
    assert "hunter2" not in exported and "qwerty-123" not in exported
    assert "api.example.com" in event["exception.message"]
