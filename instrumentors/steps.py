"""``agent_step(name)``: a planning / reasoning step span, as context manager or decorator."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from instrumentors._generators import traced_async_generator, traced_generator
from instrumentors._lazy import default_telemetry

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


class agent_step:
    """A span named ``name`` with ``agent.step.name`` around a block or each call of a function."""

    __slots__ = ("_name", "_runs")

    def __init__(self, name: str) -> None:
        self._name = str(name) if name else "agent_step"
        self._runs: list[StepRun | None] = []

    def __enter__(self) -> agent_step:
        self._runs.append(_start(self._name, attach=True))
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

    async def __aenter__(self) -> agent_step:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        """Decorate ``func``: each call (or each generator run) is one step span."""
        name = self._name

        if inspect.isasyncgenfunction(func):

            @functools.wraps(func)
            def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
                run = _start(name, attach=False)
                agen = func(*args, **kwargs)
                return agen if run is None else traced_async_generator(agen, run)

            return cast(F, agen_wrapper)

        if inspect.isgeneratorfunction(func):

            @functools.wraps(func)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                run = _start(name, attach=False)
                gen = func(*args, **kwargs)
                return gen if run is None else traced_generator(gen, run)

            return cast(F, gen_wrapper)

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with agent_step(name):
                    return await func(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with agent_step(name):
                return func(*args, **kwargs)

        return cast(F, wrapper)
