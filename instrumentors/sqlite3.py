"""``SQLite3Instrumentor``: ``sqlite3`` queries as CLIENT spans (the official DB-API integration).

Registered as ``agent_sqlite3``, so ``instrument_all()``, ``setup()`` and
``opentelemetry-instrument`` enable it. Query text has its literals replaced by
``?`` and parameters are never recorded; a query inside a tool is rolled up onto
its ``execute_tool`` span (``db.system.name``, query count, error type). Trace
context in SQL comments is off unless ``instrument(enable_commenter=True)``.
Importing this module does not import ``sqlite3``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from instrumentors._instrumentor import AgentInstrumentor

__all__ = ["SQLite3Instrumentor"]

_instruments: Final = ("opentelemetry-instrumentation-dbapi >= 0.60b0",)


class SQLite3Instrumentor(AgentInstrumentor):
    """Trace ``sqlite3`` connections made after instrumenting (cursor and connection calls)."""

    _instruments: ClassVar[tuple[str, ...]] = _instruments
    trigger: ClassVar[str] = "sqlite3"
    scope: ClassVar[str] = "instrumentors.sqlite3"

    def _start(self, options: dict[str, Any]) -> Any:
        from instrumentors import _db_hooks

        return _db_hooks.start(options)

    def _stop(self, state: Any) -> None:
        from instrumentors import _db_hooks

        _db_hooks.stop(state)
