"""``agent(name, id=None)``: an ``invoke_agent {name}`` span around a plain-Python agent run.

A context manager (``with`` and ``async with``) and a decorator (sync, async,
generators, async generators), like ``agent_step``: the span is the current one
while the run's code runs, so its steps, tools and model calls nest under it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from instrumentors._generators import decorate
from instrumentors._lazy import default_telemetry

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


class agent:
    """An ``invoke_agent {name}`` span (``gen_ai.agent.name``, ``gen_ai.agent.id``)."""

    __slots__ = ("_id", "_name", "_runs")

    def __init__(self, name: str, id: str | None = None) -> None:
        self._name = str(name) if name else "agent"
        self._id = str(id) if id is not None and id != "" else None
        self._runs: list[AgentRun | None] = []

    def __enter__(self) -> agent:
        self._runs.append(_start(self._name, self._id, attach=True))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        run = self._runs.pop() if self._runs else None
        if run is None:
            return
        if exc is not None:
            run.fail(exc)
        else:
            run.stop()

    async def __aenter__(self) -> agent:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        """Decorate ``func``: each call (or each generator run) is one agent run."""
        name, agent_id = self._name, self._id
        return decorate(
            func,
            lambda: agent(name, agent_id),
            lambda: _start(name, agent_id, attach=False),
        )
