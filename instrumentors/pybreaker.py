"""``PyBreakerInstrumentor``: circuit-breaker state changes as span events and a counter.

``circuit.breaker.opened`` / ``half_opened`` / ``closed`` go on the span current
at the change (breaker name, failure count); a call rejected by an open
breaker (``call``, ``calling()``) marks the current span ERROR with ``error.type``; the counter
``circuit_breaker.state_changes`` counts transitions per breaker and state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from opentelemetry.metrics import Counter, get_meter
from opentelemetry.trace import Status, StatusCode
from wrapt import wrap_function_wrapper

from instrumentors import semconv
from instrumentors.events import error_type, record_circuit_breaker
from instrumentors.telemetry import guard
from instrumentors.version import __version__

_logger = logging.getLogger(__name__)

_instruments = ("pybreaker >= 1.0",)
STATE_CHANGES: Final = "circuit_breaker.state_changes"
_STATE: Final = "circuit.state"


def _breaker_name(breaker: Any) -> str:
    return str(getattr(breaker, "name", None) or f"breaker-{id(breaker):x}")


def _state_change(counter: Counter) -> Callable[..., Any]:
    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = wrapped(*args, **kwargs)
        notify = kwargs.get("notify", args[2] if len(args) > 2 else False)
        if notify and is_instrumentation_enabled():
            with guard("recording a circuit breaker state change"):
                new_state = str(args[0] if args else kwargs.get("new_state"))
                name = _breaker_name(instance)
                record_circuit_breaker(
                    new_state, name, failure_count=int(getattr(instance, "fail_counter", 0))
                )
                counter.add(1, {semconv.CIRCUIT_NAME: name, _STATE: new_state})
        return result

    return traced


def _mark_rejected(exc: BaseException) -> None:
    with guard("marking a rejected call"):
        span = trace.get_current_span()
        if span.is_recording():
            span.set_status(Status(StatusCode.ERROR, str(exc) or "circuit open"))
            span.set_attribute(semconv.ERROR_TYPE, error_type(exc))


def _call(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    from pybreaker import CircuitBreakerError

    try:
        return wrapped(*args, **kwargs)
    except CircuitBreakerError as exc:
        _mark_rejected(exc)
        raise


class PyBreakerInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Circuit breaker transitions as events on the current span, plus a counter metric."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        meter = get_meter(__name__, __version__, kwargs.get("meter_provider"))
        counter = meter.create_counter(
            STATE_CHANGES, unit="{change}", description="Circuit breaker state transitions."
        )
        wrap_function_wrapper(
            "pybreaker", "CircuitBreaker._create_new_state", _state_change(counter)
        )
        wrap_function_wrapper("pybreaker", "CircuitBreaker.call", _call)

    def _uninstrument(self, **kwargs: Any) -> None:
        import pybreaker

        for method in ("_create_new_state", "call"):
            unwrap(pybreaker.CircuitBreaker, method)
