"""``instrument_all()``: find our instrumentors by entry point; instrument what is installed."""

from __future__ import annotations

import logging
import os
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Final

from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

_logger = logging.getLogger(__name__)

GROUP: Final = "opentelemetry_instrumentor"
PREFIX: Final = "agent_"
# Official instrumentations that carry trace context into HTTP tools.
HTTP_COMPANIONS: Final = ("httpx", "requests")


def _disabled() -> set[str]:
    raw = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _ours() -> list[EntryPoint]:
    return sorted(
        (ep for ep in entry_points(group=GROUP) if ep.name.startswith(PREFIX)),
        key=lambda ep: ep.name,
    )


def available() -> list[str]:
    """Names of our instrumentors registered in this environment (installed or not)."""
    return [ep.name for ep in _ours()]


def _instrument(
    ep: EntryPoint, tracer_provider: TracerProvider | None, meter_provider: MeterProvider | None
) -> bool:
    try:
        instrumentor: Any = ep.load()()
        conflict = get_dependency_conflicts(instrumentor.instrumentation_dependencies())
        if conflict is not None:
            _logger.debug("skipping %s: %s", ep.name, conflict)
            return False
        kwargs: dict[str, Any] = {}
        if tracer_provider is not None:
            kwargs["tracer_provider"] = tracer_provider
        if meter_provider is not None:
            kwargs["meter_provider"] = meter_provider
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(**kwargs)
        return True
    except Exception:
        _logger.debug("could not instrument %s", ep.name, exc_info=True)
        return False


def instrument_all(
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    http: bool = True,
) -> list[str]:
    """Instrument every installed, supported framework; return the names instrumented."""
    disabled = _disabled()
    done = [
        ep.name
        for ep in _ours()
        if ep.name not in disabled and _instrument(ep, tracer_provider, meter_provider)
    ]
    if http:
        for ep in entry_points(group=GROUP):
            if ep.name in HTTP_COMPANIONS and ep.name not in disabled:
                _instrument(ep, tracer_provider, meter_provider)
    return done
