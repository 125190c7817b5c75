"""``sqlite3`` (standard library) through the official DB-API integration (``agent_sqlite3``):
query spans under the tool, literals out of the query text, the roll-up, SQL comments off."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import instrumentors
from tests._spans import one, parent_of

SECRET = "bob@example.com"


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def queries(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]


def statement(span: ReadableSpan) -> str:
    values = attrs(span)
    return str(values.get("db.query.text", values.get("db.statement")))


@instrumentors.tool
def lookup_user(email: str) -> list[Any]:
    """A tool over a small database: every way sqlite3 runs SQL."""
    with sqlite3.connect(":memory:") as conn:
        conn.executescript(
            "CREATE TABLE users (id INTEGER, email TEXT); CREATE INDEX i ON users(id);"
        )
        conn.executemany("INSERT INTO users VALUES (?, ?)", [(1, email), (2, "x@example.com")])
        conn.execute(f"INSERT INTO users VALUES (3, '{email}')")  # a literal in the text
        cursor = conn.cursor()
        cursor.execute("SELECT id FROM users WHERE email = ? AND id < 10", (email,))
        return cursor.fetchall()


def test_query_spans_nest_under_the_tool_with_a_roll_up(
    exporter: InMemorySpanExporter, sqlite_traced: Any
) -> None:
    with instrumentors.session("sess-db"):
        assert lookup_user(SECRET) == [(1,), (3,)]
    spans = exporter.get_finished_spans()
    tool = one(spans, "execute_tool lookup_user")
    found = queries(exporter)
    assert [s.name for s in found] == ["CREATE", "INSERT", "INSERT", "SELECT"]
    assert all(parent_of(s, spans) is tool for s in found)
    assert [statement(s) for s in found] == [
        "CREATE TABLE users (id INTEGER, email TEXT); CREATE INDEX i ON users(id);",
        "INSERT INTO users VALUES (?, ?)",
        "INSERT INTO users VALUES (?, ?)",
        "SELECT id FROM users WHERE email = ? AND id < ?",
    ]
    assert {attrs(s).get("db.system", attrs(s).get("db.system.name")) for s in found} == {"sqlite"}
    rolled = {k: v for k, v in attrs(tool).items() if k.startswith(("db.", "tool.db."))}
    assert rolled == {"db.system.name": "sqlite", "tool.db.query_count": 4}
    exported = json.dumps([attrs(s) for s in spans])
    assert SECRET not in exported and "x@example.com" not in exported  # no value anywhere


def test_failed_query_error_type_in_the_roll_up(
    exporter: InMemorySpanExporter, sqlite_traced: Any
) -> None:
    @instrumentors.tool
    def count_orders() -> int:
        conn = sqlite3.connect(":memory:")
        try:
            conn.execute("SELECT count(*) FROM orders")
        except sqlite3.OperationalError:
            return -1  # the tool copes; the query failed all the same
        finally:
            conn.close()
        return 0

    assert count_orders() == -1
    (query,) = queries(exporter)
    assert query.status.status_code is StatusCode.ERROR
    assert [e.name for e in query.events] == ["exception"]
    tool = one(exporter.get_finished_spans(), "execute_tool count_orders")
    assert tool.status.status_code is StatusCode.UNSET
    assert attrs(tool)["tool.db.error_type"] == "OperationalError"
    assert attrs(tool)["tool.db.query_count"] == 1


def test_sql_comments_stay_off_unless_turned_on(
    exporter: InMemorySpanExporter, sqlite_traced: Any
) -> None:
    executed: list[str] = []

    def run() -> None:
        with instrumentors.agent_step("step"):
            conn = sqlite3.connect(":memory:")
            conn.set_trace_callback(executed.append)
            conn.cursor().execute("SELECT 1")
            conn.close()

    run()
    assert executed == ["SELECT 1"]
    sqlite_traced.uninstrument()
    sqlite_traced.instrument(enable_commenter=True)  # the user's choice
    run()
    assert executed[1].startswith("SELECT 1 /*") and "traceparent=" in executed[1]


def test_outside_a_tool_suppressed_and_uninstrumented(
    exporter: InMemorySpanExporter, sqlite_traced: Any
) -> None:
    conn = sqlite3.connect(":memory:")
    assert conn.execute("SELECT 2").fetchone() == (2,)
    (query,) = queries(exporter)
    assert query.parent is None and statement(query) == "SELECT ?"
    with suppress_instrumentation():
        conn.execute("SELECT 3")
    conn.close()
    sqlite_traced.uninstrument()
    assert not hasattr(sqlite3.connect, "__wrapped__")
    sqlite3.connect(":memory:").execute("SELECT 4").close()
    assert len(queries(exporter)) == 1


def test_sqlalchemy_over_sqlite(
    exporter: InMemorySpanExporter, sqlite_traced: Any, companions: Any
) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    version = tuple(int(p) for p in sqlalchemy.__version__.split(".")[:2])
    enabled = companions("sqlalchemy")
    # The official SQLAlchemy instrumentation declares sqlalchemy < 2.1: skipped beyond it.
    assert enabled == (["sqlalchemy"] if version < (2, 1) else [])
    from sqlalchemy import create_engine, text

    engine = create_engine("sqlite://")
    engine.connect().close()  # SQLAlchemy's first-connect queries, outside the tool

    @instrumentors.tool
    def report() -> int:
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE t (v TEXT)"))
            conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": SECRET})
            return int(conn.execute(text("SELECT count(*) FROM t WHERE v != 'z'")).scalar_one())

    assert report() == 1
    spans = exporter.get_finished_spans()
    tool = one(spans, "execute_tool report")
    # One span per query: SQLAlchemy's own (sqlalchemy < 2.1) or the DB-API one under it.
    direct = [
        s for s in queries(exporter)
        if parent_of(s, spans) is tool and {"db.statement", "db.query.text"} & set(attrs(s))
    ]  # fmt: skip
    assert [statement(s) for s in direct] == [
        "CREATE TABLE t (v TEXT)",
        "INSERT INTO t VALUES (?)",
        "SELECT count(*) FROM t WHERE v != ?",
    ]
    assert attrs(tool)["tool.db.query_count"] == 3
    assert SECRET not in json.dumps([attrs(s) for s in spans])
