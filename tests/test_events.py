"""``instrumentors.events`` span events and the ``instrumentors.links`` tool-call registry."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import (
    INVALID_SPAN,
    INVALID_SPAN_CONTEXT,
    SpanContext,
    StatusCode,
    TraceFlags,
)

import instrumentors
from instrumentors import config, events, params, semconv
from instrumentors.links import DEFAULT_CAPACITY, ToolCallLinks, registry
from tests._threads import run_in_threads

SENTINEL = "sentinel-7d41e2-raw-cache-key"


def tracer() -> trace.Tracer:
    return trace.get_tracer("tests.events")


def all_strings(span) -> list[str]:  # type: ignore[no-untyped-def]
    values = [str(v) for v in (span.attributes or {}).values()]
    for event in span.events:
        values.append(event.name)
        values.extend(str(v) for v in (event.attributes or {}).values())
    return values


def only_event(exporter):  # type: ignore[no-untyped-def]
    (span,) = exporter.get_finished_spans()
    (event,) = span.events
    return span, event


# --- names fixed by DESIGN.md -------------------------------------------------------


def test_event_and_attribute_names_are_the_documented_ones() -> None:
    assert semconv.EVENT_RETRY_ATTEMPTED == "retry.attempted"
    assert semconv.EVENT_RATE_LIMIT_INVOKED == "rate.limit.invoked"
    assert semconv.EVENT_CACHE_HIT == "cache.hit"
    assert semconv.EVENT_CACHE_MISS == "cache.miss"
    assert semconv.EVENT_CIRCUIT_OPENED == "circuit.breaker.opened"
    assert semconv.EVENT_CIRCUIT_HALF_OPENED == "circuit.breaker.half_opened"
    assert semconv.EVENT_CIRCUIT_CLOSED == "circuit.breaker.closed"
    assert semconv.RETRY_ATTEMPT == "retry.attempt"
    assert semconv.RETRY_DELAY_S == "retry.delay_s"
    assert semconv.RETRY_AFTER_S == "retry.after_s"
    assert semconv.ERROR_TYPE == "error.type"
    assert semconv.HTTP_RESPONSE_STATUS_CODE == "http.response.status_code"
    assert semconv.CACHE_NAME == "cache.name"
    assert semconv.CACHE_KEY_HASH == "cache.key.hash"
    assert semconv.CIRCUIT_NAME == "circuit.name"
    assert semconv.CIRCUIT_FAILURE_COUNT == "circuit.failure_count"


def test_public_api_exports_the_helpers() -> None:
    assert instrumentors.record_retry is events.record_retry
    assert instrumentors.record_rate_limit is events.record_rate_limit
    assert instrumentors.record_cache is events.record_cache
    assert instrumentors.record_circuit_breaker is events.record_circuit_breaker


# --- retry ----------------------------------------------------------------------------


def test_retry_with_error_type(exporter) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span("call"):
        assert instrumentors.record_retry(attempt=1, delay_s=0.5, error_type="TimeoutError")

    _, event = only_event(exporter)
    assert event.name == semconv.EVENT_RETRY_ATTEMPTED
    assert dict(event.attributes) == {
        semconv.RETRY_ATTEMPT: 1,
        semconv.RETRY_DELAY_S: 0.5,
        semconv.ERROR_TYPE: "TimeoutError",
    }


def test_retry_with_status_code_and_types_coerced(exporter) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span("call"):
        assert events.record_retry(attempt=2, delay_s=1, status_code=503)

    _, event = only_event(exporter)
    assert dict(event.attributes) == {
        semconv.RETRY_ATTEMPT: 2,
        semconv.RETRY_DELAY_S: 1.0,
        semconv.HTTP_RESPONSE_STATUS_CODE: 503,
    }
    assert isinstance(event.attributes[semconv.RETRY_DELAY_S], float)


def test_retry_minimal(exporter) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span("call"):
        assert events.record_retry(3)

    _, event = only_event(exporter)
    assert dict(event.attributes) == {semconv.RETRY_ATTEMPT: 3}


def test_one_event_per_retry(exporter) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span("call"):
        for attempt in (1, 2):
            events.record_retry(attempt=attempt, delay_s=0.1 * attempt, error_type="E")

    (span,) = exporter.get_finished_spans()
    assert [e.name for e in span.events] == [semconv.EVENT_RETRY_ATTEMPTED] * 2
    assert [e.attributes[semconv.RETRY_ATTEMPT] for e in span.events] == [1, 2]


def test_retry_with_bad_values_does_not_raise(exporter) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span("call"):
        assert events.record_retry(attempt="first", delay_s="soon", status_code=429)  # type: ignore[arg-type]

    _, event = only_event(exporter)
    assert dict(event.attributes) == {semconv.HTTP_RESPONSE_STATUS_CODE: 429}  # bad values dropped


# --- rate limit -----------------------------------------------------------------------


def test_rate_limit_defaults_to_429(exporter) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span("call"):
        assert instrumentors.record_rate_limit()

    _, event = only_event(exporter)
    assert event.name == semconv.EVENT_RATE_LIMIT_INVOKED
    assert dict(event.attributes) == {semconv.HTTP_RESPONSE_STATUS_CODE: 429}


def test_rate_limit_with_retry_after(exporter) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span("call"):
        assert events.record_rate_limit(status_code=503, retry_after_s=2)

    _, event = only_event(exporter)
    assert dict(event.attributes) == {
        semconv.HTTP_RESPONSE_STATUS_CODE: 503,
        semconv.RETRY_AFTER_S: 2.0,
    }


def test_rate_limit_without_status(exporter) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span("call"):
        assert events.record_rate_limit(status_code=None)

    _, event = only_event(exporter)
    assert event.name == semconv.EVENT_RATE_LIMIT_INVOKED
    assert dict(event.attributes) == {}


# --- cache ------------------------------------------------------------------------------


@pytest.mark.parametrize(("hit", "name"), [(True, "cache.hit"), (False, "cache.miss")])
def test_cache_event_hashes_the_key(exporter, hit: bool, name: str) -> None:  # type: ignore[no-untyped-def]
    key = {"user": SENTINEL, "q": "weather"}
    with tracer().start_as_current_span("call"):
        assert instrumentors.record_cache(hit=hit, name="weather", key=key)

    span, event = only_event(exporter)
    assert event.name == name
    assert dict(event.attributes) == {
        semconv.CACHE_NAME: "weather",
        semconv.CACHE_KEY_HASH: params.hash_params(key),
    }
    assert event.attributes[semconv.CACHE_KEY_HASH].startswith("sha256:")
    assert not any(SENTINEL in value for value in all_strings(span))


def test_cache_key_string_is_hashed_too(exporter) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span("call"):
        events.record_cache(hit=True, name="c", key=SENTINEL)

    span, event = only_event(exporter)
    assert event.attributes[semconv.CACHE_KEY_HASH] == params.hash_params(SENTINEL)
    assert not any(SENTINEL in value for value in all_strings(span))


def test_cache_key_uses_the_configured_hmac_key(exporter, settings_env) -> None:  # type: ignore[no-untyped-def]
    settings_env(AGENT_INSTRUMENTORS_PARAMS_HASH_KEY="cache-key-secret")
    with tracer().start_as_current_span("call"):
        events.record_cache(hit=False, name="c", key=SENTINEL)

    span, event = only_event(exporter)
    digest = event.attributes[semconv.CACHE_KEY_HASH]
    assert digest.startswith("hmac-sha256:")
    assert digest == params.hash_params(SENTINEL, config.Settings(hash_key=b"cache-key-secret"))
    assert not any(SENTINEL in value for value in all_strings(span))


def test_cache_without_key(exporter) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span("call"):
        events.record_cache(hit=True, name="lru")

    _, event = only_event(exporter)
    assert dict(event.attributes) == {semconv.CACHE_NAME: "lru"}


# --- circuit breaker ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "name"),
    [
        ("open", "circuit.breaker.opened"),
        ("opened", "circuit.breaker.opened"),
        ("OPEN", "circuit.breaker.opened"),
        ("Opened", "circuit.breaker.opened"),
        ("half_open", "circuit.breaker.half_opened"),
        ("half-open", "circuit.breaker.half_opened"),
        ("HALF-OPEN", "circuit.breaker.half_opened"),
        ("half_opened", "circuit.breaker.half_opened"),
        ("Half_Open", "circuit.breaker.half_opened"),
        ("closed", "circuit.breaker.closed"),
        ("close", "circuit.breaker.closed"),
        ("CLOSED", "circuit.breaker.closed"),
    ],
)
def test_circuit_breaker_states(exporter, state: str, name: str) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span("call"):
        assert instrumentors.record_circuit_breaker(state, name="payments", failure_count=5)

    _, event = only_event(exporter)
    assert event.name == name
    assert dict(event.attributes) == {
        semconv.CIRCUIT_NAME: "payments",
        semconv.CIRCUIT_FAILURE_COUNT: 5,
    }


def test_circuit_breaker_without_failure_count(exporter) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span("call"):
        assert events.record_circuit_breaker("closed", name="db")

    _, event = only_event(exporter)
    assert dict(event.attributes) == {semconv.CIRCUIT_NAME: "db"}


@pytest.mark.parametrize("state", ["broken", "", "half open", "opening", None, 3])
def test_circuit_breaker_unknown_state(exporter, state: Any) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span("call"):
        assert events.record_circuit_breaker(state, name="db") is False

    (span,) = exporter.get_finished_spans()
    assert span.events == ()


# --- error ---------------------------------------------------------------------------------


class Outer:
    class InnerError(Exception):
        pass


def test_record_error_on_current_span(exporter) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span(
        "call", record_exception=False, set_status_on_exception=False
    ):
        assert events.record_error(ValueError("bad input"))

    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "bad input"
    assert span.attributes[semconv.ERROR_TYPE] == "ValueError"
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "bad input"


def test_record_error_type_is_the_qualname(exporter) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span("call"):
        events.record_error(Outer.InnerError())

    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.ERROR_TYPE] == "Outer.InnerError"
    # No message: the status description falls back to the type.
    assert span.status.description == "Outer.InnerError"
    (event,) = span.events
    assert event.name == "exception"


def test_error_type_helper() -> None:
    assert events.error_type(KeyError("k")) == "KeyError"
    assert events.error_type(Outer.InnerError) == "Outer.InnerError"


def test_record_error_on_explicit_span(exporter) -> None:  # type: ignore[no-untyped-def]
    explicit = tracer().start_span("explicit")
    with tracer().start_as_current_span("current"):
        assert events.record_error(RuntimeError("x"), span=explicit)
    explicit.end()

    current, target = exporter.get_finished_spans()
    assert target.name == "explicit"
    assert target.status.status_code is StatusCode.ERROR
    assert target.attributes[semconv.ERROR_TYPE] == "RuntimeError"
    assert current.status.status_code is StatusCode.UNSET
    assert current.events == ()
    assert semconv.ERROR_TYPE not in current.attributes


# --- explicit span, no span, unsampled --------------------------------------------------------


def test_events_go_to_the_explicit_span(exporter) -> None:  # type: ignore[no-untyped-def]
    explicit = tracer().start_span("explicit")
    with tracer().start_as_current_span("current"):
        assert events.record_retry(1, span=explicit)
        assert events.record_rate_limit(span=explicit)
        assert events.record_cache(True, "c", key="k", span=explicit)
        assert events.record_circuit_breaker("open", "cb", span=explicit)
    explicit.end()

    current, target = exporter.get_finished_spans()
    assert current.name == "current"
    assert current.events == ()
    assert [e.name for e in target.events] == [
        "retry.attempted",
        "rate.limit.invoked",
        "cache.hit",
        "circuit.breaker.opened",
    ]


def record_everything(span: Any = None) -> list[bool]:
    return [
        events.record_retry(1, delay_s=0.1, error_type="E", span=span),
        events.record_rate_limit(retry_after_s=1.0, span=span),
        events.record_cache(True, "c", key=SENTINEL, span=span),
        events.record_cache(False, "c", span=span),
        events.record_circuit_breaker("open", "cb", failure_count=1, span=span),
        events.record_error(ValueError("v"), span=span),
    ]


def test_no_current_span_returns_false(exporter) -> None:  # type: ignore[no-untyped-def]
    assert trace.get_current_span() is INVALID_SPAN

    assert record_everything() == [False] * 6
    assert exporter.get_finished_spans() == ()


def test_invalid_explicit_span_returns_false() -> None:
    assert record_everything(INVALID_SPAN) == [False] * 6


def test_unsampled_span_returns_false(exporter, unsampled) -> None:  # type: ignore[no-untyped-def]
    with tracer().start_as_current_span("dropped") as span:
        assert not span.is_recording()
        assert record_everything() == [False] * 6
        assert record_everything(span) == [False] * 6

    assert exporter.get_finished_spans() == ()


def test_ended_span_returns_false(exporter) -> None:  # type: ignore[no-untyped-def]
    ended = tracer().start_span("ended")
    ended.end()

    assert record_everything(ended) == [False] * 6

    (span,) = exporter.get_finished_spans()
    assert span.events == ()
    assert span.status.status_code is StatusCode.UNSET


def test_a_failing_span_does_not_raise() -> None:
    class Exploding:
        def is_recording(self) -> bool:
            return True

        def add_event(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("add_event exploded")

        def record_exception(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("record_exception exploded")

    assert record_everything(Exploding()) == [False] * 6


# --- ToolCallLinks ------------------------------------------------------------------------------


def ctx(n: int) -> SpanContext:
    return SpanContext(
        trace_id=0x1000 + n,
        span_id=0x2000 + n,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )


def test_register_and_lookup() -> None:
    links = ToolCallLinks()
    links.register("call_1", ctx(1))

    assert links.lookup("call_1") == ctx(1)
    # Kept after lookup: a retried tool call links too.
    assert links.lookup("call_1") == ctx(1)
    assert len(links) == 1


@pytest.mark.parametrize("unknown", ["call_x", "", None])
def test_lookup_unknown_or_empty_ids(unknown: str | None) -> None:
    links = ToolCallLinks()
    links.register("call_1", ctx(1))

    assert links.lookup(unknown) is None


def test_invalid_span_contexts_and_empty_ids_are_ignored() -> None:
    links = ToolCallLinks()
    links.register("call_1", INVALID_SPAN_CONTEXT)
    links.register("call_2", SpanContext(trace_id=0, span_id=0, is_remote=False))
    links.register("call_3", SpanContext(trace_id=1, span_id=0, is_remote=False))
    links.register("", ctx(1))
    links.register(None, ctx(1))  # type: ignore[arg-type]

    assert len(links) == 0
    assert links.lookup("call_1") is None
    assert links.lookup("call_2") is None
    assert links.lookup("call_3") is None


def test_invalid_context_does_not_replace_a_valid_one() -> None:
    links = ToolCallLinks()
    links.register("call_1", ctx(1))
    links.register("call_1", INVALID_SPAN_CONTEXT)

    assert links.lookup("call_1") == ctx(1)


def test_reregistering_replaces_the_context() -> None:
    links = ToolCallLinks()
    links.register("call_1", ctx(1))
    links.register("call_1", ctx(2))

    assert links.lookup("call_1") == ctx(2)
    assert len(links) == 1


def test_capacity_evicts_the_oldest() -> None:
    links = ToolCallLinks(capacity=3)
    for n in range(5):
        links.register(f"call_{n}", ctx(n))

    assert len(links) == 3
    assert links.lookup("call_0") is None
    assert links.lookup("call_1") is None
    assert [links.lookup(f"call_{n}") for n in (2, 3, 4)] == [ctx(2), ctx(3), ctx(4)]


def test_reregistering_refreshes_the_age() -> None:
    links = ToolCallLinks(capacity=3)
    for n in range(3):
        links.register(f"call_{n}", ctx(n))
    links.register("call_0", ctx(0))  # call_0 is now the newest
    links.register("call_3", ctx(3))

    assert links.lookup("call_0") == ctx(0)
    assert links.lookup("call_1") is None
    assert len(links) == 3


@pytest.mark.parametrize("capacity", [0, -5])
def test_capacity_is_at_least_one(capacity: int) -> None:
    links = ToolCallLinks(capacity=capacity)
    links.register("a", ctx(1))
    links.register("b", ctx(2))

    assert len(links) == 1
    assert links.lookup("b") == ctx(2)
    assert links.lookup("a") is None


def test_clear() -> None:
    links = ToolCallLinks()
    links.register("a", ctx(1))
    links.clear()

    assert len(links) == 0
    assert links.lookup("a") is None


def test_process_registry_is_a_capped_toolcalllinks() -> None:
    assert isinstance(registry, ToolCallLinks)
    assert DEFAULT_CAPACITY == 10_000
    registry.register("call_reg", ctx(9))
    assert registry.lookup("call_reg") == ctx(9)


def test_register_from_eight_threads() -> None:
    links = ToolCallLinks(capacity=100_000)
    per_thread = 500

    def work(t: int) -> None:
        for i in range(per_thread):
            n = t * per_thread + i
            links.register(f"t{t}-{i}", ctx(n))
            assert links.lookup(f"t{t}-{i}") == ctx(n)

    assert run_in_threads(work, 8) == []
    assert len(links) == 8 * per_thread
    for t in range(8):
        for i in range(per_thread):
            assert links.lookup(f"t{t}-{i}") == ctx(t * per_thread + i)


def test_capped_registration_from_eight_threads() -> None:
    links = ToolCallLinks(capacity=50)

    def work(t: int) -> None:
        for i in range(1000):
            links.register(f"t{t}-{i}", ctx(t * 1000 + i))
            links.lookup(f"t{(t + 1) % 8}-{i}")

    assert run_in_threads(work, 8) == []
    assert len(links) == 50
    # Only recent ids survive: each thread registered 50 more after anything older.
    survivors = [f"t{t}-{i}" for t in range(8) for i in range(1000) if links.lookup(f"t{t}-{i}")]
    assert len(survivors) == 50
    assert all(int(name.split("-")[1]) >= 1000 - 50 for name in survivors)
