"""``instrument_all()``: find our instrumentors by entry point; instrument what is installed."""

from __future__ import annotations

import logging
import os
import sys
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Final

from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider
from wrapt import register_post_import_hook

_logger = logging.getLogger(__name__)

GROUP: Final = "opentelemetry_instrumentor"
PREFIX: Final = "agent_"
# Official instrumentations that carry trace context into HTTP tools.
HTTP_COMPANIONS: Final = ("httpx", "requests")
# The module whose import triggers each official companion instrumentation: until the
# app imports the library, instrumenting it waits (setup() must not import every
# installed library). Ours wait by themselves (AgentInstrumentor.trigger).
TRIGGER_MODULES: Final = {
    "httpx": "httpx",
    "requests": "requests",
}


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
    ep: EntryPoint,
    tracer_provider: TracerProvider | None,
    meter_provider: MeterProvider | None,
    kwargs: dict[str, Any] | None = None,
) -> bool:
    """Instrument now if the framework is imported, else when it is; False if not installed."""
    try:
        instrumentor: Any = ep.load()()
        conflict = get_dependency_conflicts(instrumentor.instrumentation_dependencies())
        if conflict is not None:
            _logger.debug("skipping %s: %s", ep.name, conflict)
            return False
        options: dict[str, Any] = dict(kwargs or {})
        if tracer_provider is not None:
            options["tracer_provider"] = tracer_provider
        if meter_provider is not None:
            options["meter_provider"] = meter_provider
        trigger = TRIGGER_MODULES.get(ep.name)
        if trigger is None or trigger in sys.modules:
            _apply(instrumentor, options)
        else:
            register_post_import_hook(lambda _module: _apply(instrumentor, options), trigger)
        return True
    except Exception:
        _logger.debug("could not instrument %s", ep.name, exc_info=True)
        return False


def _apply(instrumentor: Any, options: dict[str, Any]) -> None:
    try:
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(**options)
    except Exception:
        _logger.debug("instrumenting %s failed", type(instrumentor).__name__, exc_info=True)


def instrument_all(
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    http: bool = True,
    companions: bool = True,
) -> list[str]:
    """Instrument every installed, supported framework; return the names instrumented.

    ``http`` enables the official httpx/requests instrumentations with our hooks;
    ``companions`` the official gRPC, Celery, Redis and SQLAlchemy ones (``_companions``).
    """
    disabled = _disabled()
    done = [
        ep.name
        for ep in _ours()
        if ep.name not in disabled and _instrument(ep, tracer_provider, meter_provider)
    ]
    if http:
        for ep in entry_points(group=GROUP):
            if ep.name in HTTP_COMPANIONS and ep.name not in disabled:
                try:
                    hooks = http_hooks(ep.name, tracer_provider)
                except Exception:  # unscrubbed HTTP spans would leak URLs: none then
                    _logger.debug("not instrumenting %s", ep.name, exc_info=True)
                    continue
                # Our scrubbing provider wraps the given one (or the global one) itself.
                _instrument(ep, None, meter_provider, hooks)
    if companions:
        from instrumentors import _companions

        _companions.enable(tracer_provider, meter_provider, disabled)
    return done


def http_hooks(name: str, tracer_provider: TracerProvider | None = None) -> dict[str, Any]:
    """Options for the official httpx/requests instrumentations: the tool roll-up hooks, and
    a tracer provider whose spans are scrubbed and honour the propagation allowlist."""
    from instrumentors import _http_gate, _http_hooks, _http_spans

    options = _http_hooks.hook_kwargs(name)
    options["tracer_provider"] = _http_spans.ScrubbingTracerProvider(
        tracer_provider, on_start=_http_gate.ensure
    )
    return options
