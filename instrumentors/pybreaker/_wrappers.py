"""pybreaker hooks: one listener per breaker (public API) and the rejected-call wrapper."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.metrics import Counter, MeterProvider, get_meter
from opentelemetry.trace import Status, StatusCode

from instrumentors import _patching, semconv
from instrumentors._errors import error_type
from instrumentors._patching import Patch, Patches, fixed
from instrumentors.events import record_circuit_breaker
from instrumentors.pybreaker import STATE_CHANGES, PyBreakerInstrumentor
from instrumentors.telemetry import guard
from instrumentors.version import __version__

_logger = logging.getLogger(__name__)

_STATE: Final = "circuit.state"


def _breaker_name(breaker: Any) -> str:
    return str(getattr(breaker, "name", None) or f"breaker-{id(breaker):x}")


def _listener_type() -> type[Any]:
    from pybreaker import CircuitBreakerListener

    class _Listener(CircuitBreakerListener):  # type: ignore[misc]
        """State changes of one breaker as events on the current span and counter points."""

        def __init__(self, counter: Counter) -> None:
            self._counter = counter

        def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
            if not is_instrumentation_enabled():
                return
            with guard("recording a circuit breaker state change"):
                state = str(getattr(new_state, "name", new_state))
                name = _breaker_name(cb)
                failures = getattr(cb, "fail_counter", 0)
                record_circuit_breaker(state, name, failure_count=int(failures))
                self._counter.add(1, {semconv.CIRCUIT_NAME: name, _STATE: state})

    return _Listener


class _State:
    """What ``start`` put in place: the patches, our listener, the breakers that hold it."""

    def __init__(self, listener: Any) -> None:
        self.listener = listener
        self.breakers: weakref.WeakSet[Any] = weakref.WeakSet()
        self.patches: Patches[Any] | None = None


def _init(state: _State) -> Callable[..., Any]:
    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = wrapped(*args, **kwargs)
        with guard("adding the circuit breaker listener"):
            instance.add_listener(state.listener)
            state.breakers.add(instance)
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


def start(meter_provider: MeterProvider | None) -> _State:
    """Listen to every breaker created from now on; mark rejected calls."""
    meter = get_meter(PyBreakerInstrumentor.scope, __version__, meter_provider)
    counter = meter.create_counter(
        STATE_CHANGES, unit="{change}", description="Circuit breaker state transitions."
    )
    state = _State(_listener_type()(counter))
    state.patches = _patching.apply(
        (
            Patch("pybreaker", "CircuitBreaker.__init__", _init),
            Patch("pybreaker", "CircuitBreaker.call", fixed(_call)),
        ),
        state,
    )
    return state


def stop(state: _State) -> None:
    """Unwrap, and take our listener off every breaker that has it."""
    if state.patches is not None:
        state.patches.revert()
    for breaker in list(state.breakers):
        with guard("removing the circuit breaker listener"):
            if state.listener in breaker.listeners:
                breaker.remove_listener(state.listener)
