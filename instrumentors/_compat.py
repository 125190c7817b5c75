"""The OpenTelemetry API's non-public names we use, each behind a guarded helper.

Only this module touches them. Each helper falls back to the public (slower or
coarser) route, logging once at DEBUG, when a name is gone; ``tests/test_compat.py``
names every one of them so an API release that drops one fails our tests first.

- ``opentelemetry.baggage._BAGGAGE_KEY``: read the session straight from the
  context (``baggage.get_baggage`` builds a read-only view of the whole baggage
  per call, on the hot path). Without it: ``baggage.get_baggage``.
- ``_real_instrument`` of the API's proxy instruments: skip building
  measurements while no MeterProvider is set. Without it: they are built and dropped.
- ``opentelemetry._logs``: the Logs API (GenAI content events) still lives in a
  module named ``_logs``. Without it: no content events.
- The OTLP exporters' logger names (``OTLP_LOGGERS``), one of them in the private
  module ``..._log_exporter``: their per-retry warnings are filtered by logger name.
  Without a name: that exporter's retry warnings show, one per retry.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Final

from opentelemetry import baggage
from opentelemetry.context import Context, get_value

_logger = logging.getLogger(__name__)

_warned: set[str] = set()


def _gone(name: str) -> None:
    if name not in _warned:
        _warned.add(name)
        _logger.debug(
            "instrumentors: %s is gone from this OpenTelemetry API; using the fallback", name
        )


BAGGAGE_KEY: Final[str | None] = getattr(baggage, "_BAGGAGE_KEY", None)
if BAGGAGE_KEY is None:
    _gone("opentelemetry.baggage._BAGGAGE_KEY")


def baggage_value(key: str, context: Context | None = None) -> object:
    """One baggage entry, read without copying the whole baggage when the API allows."""
    if BAGGAGE_KEY is not None:
        entries = get_value(BAGGAGE_KEY, context)
        return entries.get(key) if isinstance(entries, dict) else None
    return baggage.get_baggage(key, context)


_NO_PROXY: Final = object()


def proxy_target(instrument: object) -> object:
    """The real instrument behind an API proxy instrument (None while no provider is set);
    the instrument itself when it is no proxy or the name is gone."""
    target = getattr(instrument, "_real_instrument", _NO_PROXY)
    return instrument if target is _NO_PROXY else target


def logs_api() -> Any | None:
    """The OpenTelemetry Logs API module, or None where this API has none."""
    try:
        return importlib.import_module("opentelemetry._logs")
    except ImportError:
        _gone("opentelemetry._logs")
        return None


# The loggers of the OTLP exporters that warn once per retry (modules, so logger names).
OTLP_LOGGERS: Final = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
)

# Every private name above, for tests/test_compat.py.
PRIVATE_NAMES: Final = (
    ("opentelemetry.baggage", "_BAGGAGE_KEY"),
    ("opentelemetry.metrics._internal.instrument", "_ProxyHistogram._real_instrument"),
    ("opentelemetry._logs", "LogRecord"),
)
