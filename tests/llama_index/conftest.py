"""Fixtures for the LlamaIndex instrumentor tests (skipped where LlamaIndex is absent)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

from instrumentors.llama_index import LlamaIndexInstrumentor
from tests._instrumenting import reinstrumenting

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


@pytest.fixture
def instrument() -> Iterator[Callable[..., LlamaIndexInstrumentor]]:
    """Instrument (again) on demand, e.g. after changing settings; uninstrumented at teardown."""
    yield from reinstrumenting(LlamaIndexInstrumentor())


@pytest.fixture
def instrumented(instrument: Callable[..., LlamaIndexInstrumentor]) -> LlamaIndexInstrumentor:
    """Instrumented with the global providers and default settings."""
    return instrument()


@pytest.fixture
def capture(
    settings_env: Any, instrument: Callable[..., LlamaIndexInstrumentor]
) -> LlamaIndexInstrumentor:
    """Content capture on (settings are read at instrument() time)."""
    settings_env(**{CAPTURE_ENV: "true"})
    return instrument()


@pytest.fixture
def drained(
    instrumented: LlamaIndexInstrumentor, caplog: pytest.LogCaptureFixture
) -> Iterator[LlamaIndexInstrumentor]:
    """Instrumented; at the end every map keyed by LlamaIndex span id is empty, no detach error."""
    yield instrumented
    tracker = instrumented.tracker
    assert tracker is not None
    assert set(tracker.sizes().values()) == {0}, tracker.sizes()
    assert "Failed to detach context" not in caplog.text
