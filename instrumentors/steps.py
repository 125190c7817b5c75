"""``agent_step(name)``: a planning / reasoning step span, as context manager or decorator."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from instrumentors._generators import decorate
from instrumentors._lazy import default_telemetry
from instrumentors._scopes import RunScope

if TYPE_CHECKING:
    from instrumentors.telemetry import StepRun

_logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def _start(name: str, attach: bool) -> StepRun | None:
    try:
        return default_telemetry().step(name, attach=attach)
    except Exception:
        _logger.debug("instrumentors: starting step %s failed", name, exc_info=True)
        return None


class agent_step(RunScope):
    """A span named ``name`` with ``agent.step.name`` around a block or each call of a function."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = str(name) if name else "agent_step"
        super().__init__()

    def _open(self) -> StepRun | None:
        return _start(self._name, attach=True)

    def __call__(self, func: F) -> F:
        """Decorate ``func``: each call (or each generator run) is one step span."""
        name = self._name

        return decorate(func, lambda: agent_step(name), lambda: _start(name, attach=False))
