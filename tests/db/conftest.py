"""Fixtures for the database and cache tests: instrumented as ``instrument_all()`` does it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from instrumentors import _companions


@pytest.fixture
def sqlite_traced() -> Iterator[Any]:
    """``agent_sqlite3`` (the official DB-API integration on ``sqlite3.connect``), then undone."""
    pytest.importorskip("opentelemetry.instrumentation.dbapi")
    from instrumentors.sqlite3 import SQLite3Instrumentor

    instrumentor = SQLite3Instrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    instrumentor.instrument()
    yield instrumentor
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


@pytest.fixture
def companions() -> Iterator[Any]:
    """``enable(names)``: the named official companions as ``instrument_all()`` enables them."""

    def enable(*names: str) -> list[str]:
        _companions.disable()
        return _companions.enable(None, None, set(_companions.COMPANIONS) - set(names))

    yield enable
    _companions.disable()
