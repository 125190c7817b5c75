"""The official gRPC, Celery, Redis and SQLAlchemy instrumentations, as ``instrument_all()``
enables them: with our options and, around them, our own hooks.

Each companion waits until the program imports its library (nothing is imported
here before that: the distribution's metadata says whether the installed library
version is supported). Then, in this order: our ``prepare`` step (hooks that must
run before the official ones: the gRPC client gate sits under the official
interceptor, Celery's header filter runs before its context extraction), the
official ``instrument(**options)``, and our ``finish`` step (hooks that must run
after it). An official instrumentation the program enabled itself is left as it
is, without ours. ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` names them as their
entry points do (``grpc_client``, ``grpc_server``, ``celery``, ``redis``, ``sqlalchemy``).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Final

from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider
from wrapt import register_post_import_hook

_logger = logging.getLogger(__name__)

GROUP: Final = "opentelemetry_instrumentor"


def _plain(tracer_provider: TracerProvider | None) -> dict[str, Any]:
    return {"tracer_provider": tracer_provider} if tracer_provider is not None else {}


def _db(tracer_provider: TracerProvider | None) -> dict[str, Any]:
    from instrumentors._db_spans import DBTracerProvider

    # Trace context in SQL comments stays off (the official default, said out loud).
    return {"tracer_provider": DBTracerProvider(tracer_provider), "enable_commenter": False}


def _grpc_client() -> None:
    from instrumentors import _grpc_hooks

    _grpc_hooks.install_client()


def _grpc_server() -> None:
    from instrumentors import _grpc_hooks

    _grpc_hooks.install_server()


def _celery_before() -> None:
    from instrumentors import _celery_hooks

    _celery_hooks.connect_before()


def _celery_after() -> None:
    from instrumentors import _celery_hooks

    _celery_hooks.connect_after()


@dataclass(frozen=True)
class Companion:
    """How one official instrumentation is enabled."""

    trigger: str  # the module whose import starts it
    options: Callable[[TracerProvider | None], dict[str, Any]] = _plain
    prepare: Callable[[], None] | None = None
    finish: Callable[[], None] | None = None


COMPANIONS: Final = {
    "grpc_client": Companion("grpc", prepare=_grpc_client),
    "grpc_server": Companion("grpc", prepare=_grpc_server),
    "celery": Companion("celery", prepare=_celery_before, finish=_celery_after),
    "redis": Companion("redis", options=_db),
    "sqlalchemy": Companion("sqlalchemy", options=_db),
}

_lock: Final = threading.RLock()
_enabled: dict[str, Any] = {}  # name -> the official instrumentor we instrumented


def _start(
    ep: EntryPoint,
    companion: Companion,
    tracer_provider: TracerProvider | None,
    meter_provider: MeterProvider | None,
) -> None:
    with _lock:
        try:
            instrumentor: Any = ep.load()()
            if instrumentor.is_instrumented_by_opentelemetry:
                return  # the program's own instrumentation stays as it is
            if companion.prepare is not None:
                companion.prepare()
            options = companion.options(tracer_provider)
            if meter_provider is not None:
                options["meter_provider"] = meter_provider
            instrumentor.instrument(**options)
            _enabled[ep.name] = instrumentor
            if companion.finish is not None:
                companion.finish()
        except Exception:
            _logger.debug("could not instrument %s", ep.name, exc_info=True)


def enable(
    tracer_provider: TracerProvider | None,
    meter_provider: MeterProvider | None,
    disabled: set[str],
) -> list[str]:
    """Enable every installed companion now or when its library is imported; their names."""
    names = []
    for ep in entry_points(group=GROUP):
        companion = COMPANIONS.get(ep.name)
        if companion is None or ep.name in disabled:
            continue
        try:
            conflict = get_dist_dependency_conflicts(ep.dist) if ep.dist is not None else None
        except Exception:
            _logger.debug("could not check %s's requirements", ep.name, exc_info=True)
            continue
        if conflict is not None:
            _logger.debug("skipping %s: %s", ep.name, conflict)
            continue
        names.append(ep.name)

        def start(
            _module: object = None, ep: EntryPoint = ep, companion: Companion = companion
        ) -> None:
            _start(ep, companion, tracer_provider, meter_provider)

        if companion.trigger in sys.modules:
            start()
        else:
            register_post_import_hook(start, companion.trigger)
    return names


def disable() -> None:
    """Undo ``enable()`` for what it instrumented (tests; a program rarely needs it)."""
    with _lock:
        for name, instrumentor in list(_enabled.items()):
            try:
                instrumentor.uninstrument()
            except Exception:
                _logger.debug("could not uninstrument %s", name, exc_info=True)
        _enabled.clear()
        for module, off in (
            ("instrumentors._grpc_hooks", "uninstall"),
            ("instrumentors._celery_hooks", "disconnect"),
        ):
            loaded = sys.modules.get(module)
            if loaded is not None:
                getattr(loaded, off)()
