"""``agent(name, id=None)``: an ``invoke_agent {name}`` span around a plain-Python agent run.

A context manager (``with`` and ``async with``) and a decorator (sync, async,
generators, async generators), like ``agent_step``: the span is the current one
while the run's code runs, so its steps, tools and model calls nest under it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from instrumentors._generators import decorate
from instrumentors._lazy import default_telemetry
from instrumentors._scopes import RunScope

if TYPE_CHECKING:
    from instrumentors.telemetry import AgentRun

_logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def _start(name: str, agent_id: str | None, attach: bool) -> AgentRun | None:
    try:
        return default_telemetry().agent(name, agent_id=agent_id, attach=attach)
    except Exception:
        _logger.debug("instrumentors: starting agent %s failed", name, exc_info=True)
        return None


class agent(RunScope):
    """An ``invoke_agent {name}`` span (``gen_ai.agent.name``, ``gen_ai.agent.id``)."""

    __slots__ = ("_id", "_name")

    def __init__(self, name: str, id: str | None = None) -> None:
        self._name = str(name) if name else "agent"
        self._id = str(id) if id is not None and id != "" else None
        super().__init__()

    def _open(self) -> AgentRun | None:
        return _start(self._name, self._id, attach=True)

    def __call__(self, func: F) -> F:
        """Decorate ``func``: each call (or each generator run) is one agent run."""
        name, agent_id = self._name, self._id
        return decorate(
            func,
            lambda: agent(name, agent_id),
            lambda: _start(name, agent_id, attach=False),
        )
