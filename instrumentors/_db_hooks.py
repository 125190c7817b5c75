"""``sqlite3`` through the official DB-API integration (``opentelemetry-instrumentation-dbapi``).

The official ``opentelemetry-instrumentation-sqlite3`` lags a release behind the
other instrumentations (it pins an older ``opentelemetry-instrumentation``), so we
wrap ``sqlite3.connect`` (and ``sqlite3.dbapi2.connect``, which SQLAlchemy calls)
with the DB-API integration's public ``wrap_connect``, as that package does, with
our ``DBTracerProvider`` (``_db_spans``). The DB-API integration traces cursor calls;
sqlite3's ``Connection.execute`` / ``executemany`` / ``executescript`` shortcuts make
their own cursor out of its reach, so our connection proxy routes them through a
traced cursor (sqlite3 documents them as exactly that). Parameters are never
captured; trace context in SQL comments stays off unless ``enable_commenter=True``.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from typing import Any, Final, cast

from opentelemetry.instrumentation import dbapi

from instrumentors._db_spans import DBTracerProvider
from instrumentors.version import __version__

SYSTEM: Final = "sqlite"


class TracedConnection(dbapi.TracedConnectionProxy[Any]):  # type: ignore[misc]
    """The DB-API proxy, with sqlite3's connection-level shortcuts traced like cursor calls."""

    def __init__(self, connection: Any, integration: dbapi.DatabaseApiIntegration) -> None:
        super().__init__(connection, integration)
        self._self_integration = integration  # ours (wrapt keeps ``_self_`` names on the proxy)

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self.cursor().execute(*args, **kwargs)

    def executemany(self, *args: Any, **kwargs: Any) -> Any:
        return self.cursor().executemany(*args, **kwargs)

    def executescript(self, *args: Any, **kwargs: Any) -> Any:
        cursor = self.__wrapped__.cursor()
        tracer: dbapi.CursorTracer[Any] = dbapi.CursorTracer(self._self_integration)
        return tracer.traced_execution(cursor, cursor.executescript, *args, **kwargs)


class Integration(dbapi.DatabaseApiIntegration):  # type: ignore[misc]
    """The DB-API integration handing out ``TracedConnection`` s."""

    def wrapped_connection(
        self, connect_method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        connection = connect_method(*args, **kwargs)
        self.get_connection_attributes(connection)
        return TracedConnection(connection, self)


def sqlalchemy_traced() -> bool:
    """Whether the official SQLAlchemy instrumentation is on (it traces SQLAlchemy's queries)."""
    if "sqlalchemy" not in sys.modules:
        return False
    try:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    except ImportError:
        return False
    return bool(SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry)


class Dbapi2Integration(Integration):
    """For ``sqlite3.dbapi2.connect``, which SQLAlchemy calls: left to the official SQLAlchemy
    instrumentation when that is on (one span per query, not two)."""

    def wrapped_connection(
        self, connect_method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if sqlalchemy_traced():
            return connect_method(*args, **kwargs)
        return super().wrapped_connection(connect_method, args, kwargs)


def start(options: dict[str, Any]) -> tuple[tuple[Any, str], ...]:
    """Wrap the connect functions; the returned state is what ``stop`` unwraps."""
    targets = ((sqlite3, "connect", Integration), (sqlite3.dbapi2, "connect", Dbapi2Integration))
    for module, name, factory in targets:
        dbapi.wrap_connect(
            "instrumentors.sqlite3",
            cast(Any, module),
            name,
            SYSTEM,
            connection_attributes={},
            version=__version__,
            tracer_provider=DBTracerProvider(options.get("tracer_provider")),
            capture_parameters=False,  # never: query values are the user's data
            enable_commenter=bool(options.get("enable_commenter", False)),
            db_api_integration_factory=factory,
            commenter_options=options.get("commenter_options"),
            meter_provider=options.get("meter_provider"),
        )
    return tuple((module, name) for module, name, _ in targets)


def stop(state: tuple[tuple[Any, str], ...]) -> None:
    """Put the original connect functions back."""
    for module, name in state:
        dbapi.unwrap_connect(module, name)
