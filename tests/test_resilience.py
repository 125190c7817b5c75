"""tenacity and pybreaker instrumentors: retry and circuit-breaker events on the current span."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pybreaker
import pytest
import tenacity
from opentelemetry.trace import StatusCode

import instrumentors
from instrumentors import semconv
from instrumentors.pybreaker import STATE_CHANGES, PyBreakerInstrumentor
from instrumentors.tenacity import TenacityInstrumentor


@pytest.fixture
def tenacity_on() -> Iterator[None]:
    TenacityInstrumentor().instrument()
    yield
    TenacityInstrumentor().uninstrument()


@pytest.fixture
def breaker_on() -> Iterator[None]:
    PyBreakerInstrumentor().instrument()
    yield
    PyBreakerInstrumentor().uninstrument()


def flaky(failures: int, exc: type[Exception] = TimeoutError):  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    def call() -> str:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise exc("boom")
        return "ok"

    return call


def test_three_attempts_give_two_retry_events(exporter, tenacity_on) -> None:
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(5), wait=tenacity.wait_fixed(0.001)
    )
    call = flaky(2)
    with instrumentors.agent_step("act"):
        assert retrying(call) == "ok"
    (span,) = exporter.get_finished_spans()
    events = [e for e in span.events if e.name == semconv.EVENT_RETRY_ATTEMPTED]
    assert [e.attributes[semconv.RETRY_ATTEMPT] for e in events] == [1, 2]
    for event in events:
        assert event.attributes[semconv.RETRY_DELAY_S] == pytest.approx(0.001)
        assert event.attributes[semconv.ERROR_TYPE] == "TimeoutError"


def test_decorator_and_give_up(exporter, tenacity_on) -> None:
    @tenacity.retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_none(), reraise=True)
    @instrumentors.tool
    def always_fails() -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError), instrumentors.agent_step("act"):
        always_fails()
    spans = exporter.get_finished_spans()
    tools = [s for s in spans if s.name == "execute_tool always_fails"]
    (step,) = [s for s in spans if s.name == "act"]
    assert len(tools) == 3 and all(t.parent.span_id == step.context.span_id for t in tools)
    retries = [e for e in step.events if e.name == semconv.EVENT_RETRY_ATTEMPTED]
    assert [e.attributes[semconv.RETRY_ATTEMPT] for e in retries] == [1, 2]
    gave_up = [e for e in step.events if e.name == "exception"]
    assert gave_up[0].attributes["exception.type"] == "ConnectionError"
    assert gave_up[0].attributes[semconv.RETRY_ATTEMPT] == 3


async def test_async_retrying(exporter, tenacity_on) -> None:
    call = flaky(1, ValueError)

    async def acall() -> str:
        return call()

    with instrumentors.agent_step("act"):
        async for attempt in tenacity.AsyncRetrying(stop=tenacity.stop_after_attempt(3)):
            with attempt:
                result = await acall()
    assert result == "ok"
    (span,) = exporter.get_finished_spans()
    (event,) = [e for e in span.events if e.name == semconv.EVENT_RETRY_ATTEMPTED]
    assert event.attributes[semconv.ERROR_TYPE] == "ValueError"


def test_uninstrument_restores(exporter) -> None:
    original = tenacity.BaseRetrying.iter
    TenacityInstrumentor().instrument()
    assert tenacity.BaseRetrying.iter is not original
    TenacityInstrumentor().uninstrument()
    assert tenacity.BaseRetrying.iter is original
    with instrumentors.agent_step("act"):
        tenacity.Retrying(stop=tenacity.stop_after_attempt(3))(flaky(1))
    (span,) = exporter.get_finished_spans()
    assert not span.events


def test_breaker_open_half_open_closed_cycle(exporter, breaker_on, metric_reader) -> None:
    breaker = pybreaker.CircuitBreaker(fail_max=2, reset_timeout=0.05, name="weather-api")

    @instrumentors.tool
    def call_api(fail: bool) -> str:
        def upstream() -> str:
            if fail:
                raise OSError("upstream down")
            return "ok"

        return breaker.call(upstream)

    with pytest.raises(OSError):
        call_api(True)
    with pytest.raises(pybreaker.CircuitBreakerError):
        call_api(True)  # the second failure trips the breaker
    with pytest.raises(pybreaker.CircuitBreakerError):
        call_api(False)  # rejected while open
    time.sleep(0.06)  # past reset_timeout: the next call runs half-open, succeeds, closes
    assert call_api(False) == "ok"
    spans = exporter.get_finished_spans()
    events = [
        (e.name, dict(e.attributes))
        for s in spans
        for e in s.events
        if e.name.startswith("circuit")
    ]
    names = [name for name, _ in events]
    assert names == [
        semconv.EVENT_CIRCUIT_OPENED,
        semconv.EVENT_CIRCUIT_HALF_OPENED,
        semconv.EVENT_CIRCUIT_CLOSED,
    ]
    assert events[0][1] == {semconv.CIRCUIT_NAME: "weather-api", semconv.CIRCUIT_FAILURE_COUNT: 2}
    rejected = spans[2]
    assert rejected.status.status_code is StatusCode.ERROR
    assert rejected.attributes[semconv.ERROR_TYPE] == "CircuitBreakerError"
    data = metric_reader.get_metrics_data()
    points = [
        p
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == STATE_CHANGES
        for p in m.data.data_points
    ]
    states = {
        p.attributes["circuit.state"]: p.value
        for p in points
        if p.attributes[semconv.CIRCUIT_NAME] == "weather-api"
    }
    assert states == {"open": 1, "half-open": 1, "closed": 1}


def test_breaker_context_manager_rejection(exporter, breaker_on) -> None:
    breaker = pybreaker.CircuitBreaker(fail_max=1, name="db")
    breaker.open()
    with (
        instrumentors.agent_step("act"),
        pytest.raises(pybreaker.CircuitBreakerError),
        breaker.calling(),
    ):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "CircuitBreakerError"


def test_langchain_with_retry_is_covered(exporter, tenacity_on) -> None:
    runnables = pytest.importorskip("langchain_core.runnables")
    calls = {"n": 0}

    def flaky_step(x: int) -> int:
        calls["n"] += 1
        if calls["n"] < 3:
            raise TimeoutError("slow upstream")
        return x + 1

    chain = runnables.RunnableLambda(flaky_step).with_retry(
        stop_after_attempt=3, wait_exponential_jitter=False, retry_if_exception_type=(TimeoutError,)
    )
    with instrumentors.agent_step("act"):
        assert chain.invoke(1) == 2
    # On the span current at the retry: the step, or a LangChain run span if that is traced.
    retries = [
        e
        for s in exporter.get_finished_spans()
        for e in s.events
        if e.name == semconv.EVENT_RETRY_ATTEMPTED
    ]
    assert [e.attributes[semconv.RETRY_ATTEMPT] for e in retries] == [1, 2]
    assert all(e.attributes[semconv.ERROR_TYPE] == "TimeoutError" for e in retries)
