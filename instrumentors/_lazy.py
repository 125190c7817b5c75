"""The telemetry bridge, imported on first use: ``import instrumentors`` stays light.

opentelemetry-util-genai and everything behind it cost more to import than the
OpenTelemetry SDK itself; a program that only decorates its tools pays for it
at its first tool call, not at start-up.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from instrumentors.telemetry import Telemetry

_module: ModuleType | None = None


def default_telemetry() -> Telemetry:
    """``instrumentors.telemetry.default()``, importing the bridge the first time."""
    module = _module
    if module is None:
        module = _load()
    telemetry: Telemetry = module.default()
    return telemetry


def _load() -> ModuleType:
    global _module
    from instrumentors import telemetry

    _module = telemetry
    return telemetry
