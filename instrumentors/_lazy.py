"""The telemetry core and the suppression check, imported on first use.

``import instrumentors`` stays light: a program that only decorates its tools
pays for the core (and for ``opentelemetry.instrumentation``, whose public
``is_instrumentation_enabled`` is the suppression check) at its first tool
call, not at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from instrumentors.telemetry import Telemetry

_module: ModuleType | None = None
_enabled: Callable[[], bool] | None = None


def default_telemetry() -> Telemetry:
    """``instrumentors.telemetry.default()``, importing the core the first time."""
    module = _module
    if module is None:
        module = _load()
    telemetry: Telemetry = module.default()
    return telemetry


def instrumentation_enabled() -> bool:
    """False inside ``suppress_instrumentation()`` (the public OpenTelemetry check)."""
    check = _enabled
    if check is None:
        check = _load_check()
    return check()


def _load() -> ModuleType:
    global _module
    from instrumentors import telemetry

    _module = telemetry
    return telemetry


def _load_check() -> Callable[[], bool]:
    global _enabled
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled

    _enabled = is_instrumentation_enabled
    return is_instrumentation_enabled
