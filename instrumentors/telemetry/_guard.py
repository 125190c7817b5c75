"""The one guard around telemetry code: a bug there is logged at DEBUG, never raised."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Final

_logger = logging.getLogger(__name__)


class _Guard:
    """Swallow and log (DEBUG, with traceback) a telemetry bug; never the user's exception."""

    __slots__ = ("_what",)

    def __init__(self, what: str) -> None:
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        _logger.debug("instrumentors: %s failed", self._what, exc_info=exc)
        return True


START_GUARD: Final = _Guard("starting a span")
STOP_GUARD: Final = _Guard("ending a span")
ATTR_GUARD: Final = _Guard("setting span attributes")


def guard(what: str) -> _Guard:
    """A context manager that logs and swallows telemetry errors (not the user's)."""
    return _Guard(what)
