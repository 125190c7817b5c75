"""The ``with`` / ``async with`` half of our span helpers (``agent``, ``agent_step``,
``job``): one run per entry, ended on exit (failed with the block's exception), so one
helper object can be entered again, nested or re-entered, safely."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from instrumentors.telemetry import Run

S = TypeVar("S", bound="RunScope")


class RunScope:
    """Subclasses say how a run starts (``_open``; None: nothing to end, e.g. a telemetry
    failure or instrumentation suppressed)."""

    __slots__ = ("_runs",)

    def __init__(self) -> None:
        self._runs: list[Run | None] = []

    def _open(self) -> Run | None:
        raise NotImplementedError

    def __enter__(self: S) -> S:
        self._runs.append(self._open())
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

    async def __aenter__(self: S) -> S:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
