"""``PyBreakerInstrumentor``: circuit-breaker state changes as span events and a counter.

``circuit.breaker.opened`` / ``half_opened`` / ``closed`` go on the span current
at the change (breaker name, failure count), through pybreaker's public
``CircuitBreakerListener`` added to every breaker created while instrumented; a
call rejected by an open breaker (``call``, ``calling()``) marks the current span
ERROR with ``error.type``; the counter ``circuit_breaker.state_changes`` counts
transitions per breaker and state. Importing this module does not import pybreaker.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from instrumentors._instrumentor import AgentInstrumentor

__all__ = ["STATE_CHANGES", "PyBreakerInstrumentor"]

_instruments: Final = ("pybreaker >= 1.0",)
STATE_CHANGES: Final = "circuit_breaker.state_changes"


class PyBreakerInstrumentor(AgentInstrumentor):
    """Circuit breaker transitions as events on the current span, plus a counter metric."""

    _instruments: ClassVar[tuple[str, ...]] = _instruments
    trigger: ClassVar[str] = "pybreaker"
    scope: ClassVar[str] = "instrumentors.pybreaker"

    def _start(self, options: dict[str, Any]) -> Any:
        from instrumentors.pybreaker import _wrappers

        return _wrappers.start(options.get("meter_provider"))

    def _stop(self, state: Any) -> None:
        from instrumentors.pybreaker import _wrappers

        _wrappers.stop(state)
