"""Fixtures for the LangChain / LangGraph instrumentor tests (skipped without langchain-core)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("langgraph")

from instrumentors.langchain import LangChainInstrumentor


@pytest.fixture(autouse=True)
def _no_detach_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test: OpenTelemetry never logs "Failed to detach context"."""
    caplog.set_level(logging.WARNING, logger="opentelemetry.context")
    yield
    failures = [r for r in caplog.records if "Failed to detach context" in r.getMessage()]
    assert not failures, failures


@pytest.fixture
def instrumented() -> Iterator[LangChainInstrumentor]:
    """The instrumentor, installed on the global providers for the test."""
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument()
    yield instrumentor
    instrumentor.uninstrument()
