"""Fixtures for the Google Gen AI instrumentor tests: the fake Gemini server, real SDK clients.

No ``__init__.py`` here, like the other provider test folders. Test modules skip
themselves (``importorskip``) where the SDK is absent; this file imports
nothing from it at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from instrumentors.google_genai import GoogleGenAIInstrumentor
from tests._instrumenting import reinstrumenting
from tests.fakes.gemini_server import FakeGeminiServer

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


@pytest.fixture
def server() -> Iterator[FakeGeminiServer]:
    """A fresh fake Gemini server on a free loopback port."""
    with FakeGeminiServer() as fake:
        yield fake


@pytest.fixture
def instrument() -> Iterator[Callable[..., GoogleGenAIInstrumentor]]:
    """Instrument (again) on demand, e.g. after changing settings; uninstrumented at teardown."""
    yield from reinstrumenting(GoogleGenAIInstrumentor())


@pytest.fixture
def instrumented(instrument: Callable[..., GoogleGenAIInstrumentor]) -> GoogleGenAIInstrumentor:
    """The instrumentor, instrumented with the global providers and default settings."""
    return instrument()


@pytest.fixture
def capture(
    settings_env: Any, instrument: Callable[..., GoogleGenAIInstrumentor]
) -> GoogleGenAIInstrumentor:
    """Content capture on (settings are read at instrument() time)."""
    settings_env(**{CAPTURE_ENV: "true"})
    return instrument()


@pytest.fixture
def client(server: FakeGeminiServer) -> Any:
    """A real ``genai.Client`` talking HTTP to the fake server (retries: 3 quick attempts)."""
    from google import genai
    from google.genai import types

    retry = types.HttpRetryOptions(attempts=3, initial_delay=0.01, max_delay=0.02)
    return genai.Client(api_key="test-key", http_options=server.http_options(retry_options=retry))


@pytest.fixture
def plain_client(server: FakeGeminiServer) -> Any:
    """A client with the SDK's defaults (no retries)."""
    from google import genai

    return genai.Client(api_key="test-key", http_options=server.http_options())
