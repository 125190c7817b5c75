"""The handler's bounded map ``run_id -> run``, and where a run's span becomes current.

Runs that get no span of their own (LangChain plumbing: prompts, lambdas, LangGraph
edges and hidden writers) map to their nearest traced ancestor, so children still find
their parent. Entries leave the map when LangChain ends the run; past the cap the
oldest are evicted and their spans ended.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from contextvars import ContextVar, Token
from typing import Any, Final
from uuid import UUID

from opentelemetry.context import Context, attach

from instrumentors.langchain import _extract
from instrumentors.langchain._stream import Scope
from instrumentors.telemetry import Run

_logger = logging.getLogger(__name__)

DEFAULT_MAX_RUNS: Final = 10_000

# Entry kinds.
AGENT: Final = 1
STEP: Final = 2
NODE: Final = 3
LLM: Final = 4
TOOL: Final = 5
RETRIEVAL: Final = 6

# Tool call id given to ``BaseTool.run`` (core 0.3 does not pass it to on_tool_start).
PENDING_CALL_ID: ContextVar[list[str] | None] = ContextVar(
    "instrumentors_langchain_call_id", default=None
)
# True while the instrumentor's wrappers make spans current: callbacks never attach then.
_wrapped: list[bool] = [False]


def set_wrapped(value: bool) -> None:
    """Tell every handler whether the instrumentor's wrappers propagate context."""
    _wrapped[0] = value


class Entry:
    """One traced run (or, stored under a child's id, the ancestor standing in for it)."""

    __slots__ = ("calls", "key", "kind", "run", "run_id", "token")

    def __init__(self, run_id: UUID, run: Run, kind: int) -> None:
        self.run_id = run_id
        self.key = run_key(run_id)
        self.run = run
        self.kind = kind
        self.calls: list[tuple[str, str]] | None = None  # AgentExecutor: announced tool calls
        self.token: tuple[int, Token[Context]] | None = None


def run_key(run_id: object) -> object:
    """A run's key in the map: a UUID's integer (hashed and compared in C; ``UUID.__hash__``
    and ``__eq__`` are Python calls, dozens per agent run), else the id itself."""
    return getattr(run_id, "int", run_id)


class RunMap:
    """Thread-safe enough for LangChain's callbacks: dict operations are atomic.

    Keyed by ``run_key`` (inlined below: this runs at every callback)."""

    __slots__ = ("_lock", "_max", "_runs")

    def __init__(self, max_runs: int = DEFAULT_MAX_RUNS) -> None:
        self._runs: dict[object, Entry] = {}
        self._max = max(1, max_runs)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, run_id: UUID | None) -> Entry | None:
        """The entry for ``run_id`` (its own or its ancestor's), if any."""
        return self._runs.get(getattr(run_id, "int", run_id)) if run_id is not None else None

    def store(self, run_id: UUID, entry: Entry) -> None:
        """Map ``run_id`` to ``entry``; evict the oldest past the cap."""
        runs = self._runs
        runs[getattr(run_id, "int", run_id)] = entry
        if len(runs) > self._max:
            self._evict()

    def enter(self, entry: Entry, scope: Scope | None, attach_here: bool) -> None:
        """Store a new run and make its span current where that is safe."""
        self.store(entry.run_id, entry)
        if scope is not None:
            scope.bind(entry.run)
            # Undone by the wrapper that opened the scope, in this same context.
            attach(entry.run.context)
        elif attach_here and not _wrapped[0]:
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # no loop: the end callback runs in this same context
                entry.token = (threading.get_ident(), attach(entry.run.context))

    def pop(self, run_id: UUID) -> Entry | None:
        """Remove ``run_id``; its entry if the run has its own span (not a stand-in)."""
        key = getattr(run_id, "int", run_id)
        entry = self._runs.pop(key, None)
        if entry is None or entry.key != key:
            return None
        token = entry.token
        if token is not None:
            entry.token = None
            if token[0] == threading.get_ident():
                try:
                    token[1].var.reset(token[1])
                except (ValueError, RuntimeError):
                    _logger.debug("instrumentors: run %s ended in another context", run_id)
        return entry

    def _evict(self) -> None:
        with self._lock:
            runs = self._runs
            while len(runs) > self._max:
                try:
                    oldest = next(iter(runs))
                except (StopIteration, RuntimeError):
                    return
                entry = runs.pop(oldest, None)
                if entry is not None and entry.key == oldest:
                    # LangChain never ended it: end it now rather than hold it forever.
                    entry.run.stop()


def end_with(entry: Entry | None, error: BaseException) -> None:
    """Fail the run, unless the error is LangGraph control flow (then it just ends)."""
    if entry is None:
        return
    if _extract.is_control_flow(error):
        entry.run.stop()
    else:
        entry.run.fail(error)


def take_call_id(parent: Entry | None, name: str, given: Any) -> str | None:
    """The tool call id: given by core 1.x, else from ``BaseTool.run``, else an AgentExecutor's."""
    pending = PENDING_CALL_ID.get()
    # Always consumed, so a tool called inside this one does not take it.
    from_run = pending.pop() if pending else None
    if isinstance(given, str) and given:
        return given
    if from_run is not None:
        return from_run
    calls = parent.calls if parent is not None else None
    if calls:
        for index, (tool, call_id) in enumerate(calls):
            if tool == name:
                del calls[index]
                return call_id
    return None
