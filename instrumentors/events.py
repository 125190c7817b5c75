"""Span events for what happens inside a call: retries, rate limits, caches, circuit breakers.

Each helper adds one event to the given span (default: the current span) with
the attributes DESIGN.md fixes, and never raises.
"""

from __future__ import annotations

import inspect
import logging
import os
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from instrumentors import semconv
from instrumentors._errors import error_type, record_exception, safe_message

_logger = logging.getLogger(__name__)

_CIRCUIT_EVENTS = {
    "open": semconv.EVENT_CIRCUIT_OPENED,
    "opened": semconv.EVENT_CIRCUIT_OPENED,
    "half_open": semconv.EVENT_CIRCUIT_HALF_OPENED,
    "half-open": semconv.EVENT_CIRCUIT_HALF_OPENED,
    "half_opened": semconv.EVENT_CIRCUIT_HALF_OPENED,
    "closed": semconv.EVENT_CIRCUIT_CLOSED,
    "close": semconv.EVENT_CIRCUIT_CLOSED,
}


def _put(attributes: dict[str, AttributeValue], key: str, value: Any, kind: type[Any]) -> None:
    """Set ``key`` to ``kind(value)``; a value that does not convert is dropped, never raised."""
    if value is None:
        return
    try:
        attributes[key] = kind(value)
    except (TypeError, ValueError, OverflowError):
        _logger.debug("dropping %s=%r: not a %s", key, value, kind.__name__)


def _target(span: Span | None) -> Span | None:
    target = span if span is not None else trace.get_current_span()
    return target if target.is_recording() else None


_THIS_FILE: Final = os.path.abspath(__file__)
_PACKAGE_DIR: Final = os.path.dirname(_THIS_FILE) + os.sep
_MAX_WARNED_SITES: Final = 1024
_warned_sites: set[tuple[str, int]] = set()


def _warn_outside_span(name: str) -> None:
    """One warning per call site of user code that records an event outside any span.

    Only when there is no span at all: an unsampled span drops events by design. Calls
    from our own layers are never warned about (the library's retry had no span to go on).
    """
    if trace.get_current_span().get_span_context().is_valid:
        return
    frame = inspect.currentframe()
    while frame is not None and os.path.abspath(frame.f_code.co_filename) == _THIS_FILE:
        frame = frame.f_back
    # The caller of record_*(): one of our layers (whose library retried outside any span)
    # is not a user's mistake.
    if frame is None or os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        return
    site = (frame.f_code.co_filename, frame.f_lineno)
    if site in _warned_sites or len(_warned_sites) >= _MAX_WARNED_SITES:
        return
    _warned_sites.add(site)
    _logger.warning(
        "instrumentors: the %s event recorded at %s:%d was dropped: no span is active there. "
        "Record it inside a @tool call or an agent() or agent_step() block, or pass span=.",
        name,
        os.path.basename(site[0]),
        site[1],
    )


def _add(span: Span | None, name: str, attributes: dict[str, AttributeValue]) -> bool:
    try:
        target = _target(span)
        if target is None:
            if span is None:
                _warn_outside_span(name)
            return False
        target.add_event(name, attributes)
        return True
    except Exception:
        _logger.debug("adding event %s failed", name, exc_info=True)
        return False


def record_retry(
    attempt: int,
    delay_s: float | None = None,
    error_type: str | None = None,
    status_code: int | None = None,
    span: Span | None = None,
) -> bool:
    """Add ``retry.attempted`` (``attempt`` is the 1-based number of the retry)."""
    attributes: dict[str, AttributeValue] = {}
    _put(attributes, semconv.RETRY_ATTEMPT, attempt, int)
    _put(attributes, semconv.RETRY_DELAY_S, delay_s, float)
    _put(attributes, semconv.ERROR_TYPE, error_type or None, str)
    _put(attributes, semconv.HTTP_RESPONSE_STATUS_CODE, status_code, int)
    return _add(span, semconv.EVENT_RETRY_ATTEMPTED, attributes)


def record_rate_limit(
    status_code: int | None = 429,
    retry_after_s: float | None = None,
    span: Span | None = None,
) -> bool:
    """Add ``rate.limit.invoked`` (``retry.after_s`` when the server said)."""
    attributes: dict[str, AttributeValue] = {}
    _put(attributes, semconv.HTTP_RESPONSE_STATUS_CODE, status_code, int)
    _put(attributes, semconv.RETRY_AFTER_S, retry_after_s, float)
    return _add(span, semconv.EVENT_RATE_LIMIT_INVOKED, attributes)


def record_cache(hit: bool, name: str, key: Any = None, span: Span | None = None) -> bool:
    """Add ``cache.hit`` or ``cache.miss``; the key is hashed, never recorded raw."""
    attributes: dict[str, AttributeValue] = {semconv.CACHE_NAME: str(name)}
    if key is not None:
        from instrumentors.params import hash_params  # loaded on first use: import stays light

        attributes[semconv.CACHE_KEY_HASH] = hash_params(key)
    return _add(span, semconv.EVENT_CACHE_HIT if hit else semconv.EVENT_CACHE_MISS, attributes)


def record_circuit_breaker(
    state: str,
    name: str,
    failure_count: int | None = None,
    span: Span | None = None,
) -> bool:
    """Add ``circuit.breaker.opened`` / ``half_opened`` / ``closed`` for a state change."""
    event = _CIRCUIT_EVENTS.get(str(state).lower())
    if event is None:
        _logger.debug("unknown circuit breaker state %r", state)
        return False
    attributes: dict[str, AttributeValue] = {semconv.CIRCUIT_NAME: str(name)}
    _put(attributes, semconv.CIRCUIT_FAILURE_COUNT, failure_count, int)
    return _add(span, event, attributes)


def record_error(exc: BaseException, span: Span | None = None) -> bool:
    """Mark ``span`` failed: ``exception`` event, ERROR status, ``error.type``."""
    try:
        target = _target(span)
        if target is None:
            return False
        record_exception(target, exc)
        target.set_status(Status(StatusCode.ERROR, safe_message(exc) or error_type(exc)))
        target.set_attribute(semconv.ERROR_TYPE, error_type(exc))
        return True
    except Exception:
        _logger.debug("record_error failed", exc_info=True)
        return False
