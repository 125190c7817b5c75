"""Fixtures for the OpenAI instrumentor tests: the fake server, instrumented real SDK clients.

No ``__init__.py`` here on purpose: this directory must not become a package
named ``openai`` shadowing the SDK. Test modules skip themselves (``importorskip``)
where the SDK is absent; this file imports nothing from it at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from instrumentors.openai import OpenAIInstrumentor
from tests._instrumenting import reinstrumenting
from tests.fakes.openai_server import FakeOpenAIServer

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    """A fresh fake OpenAI server on a free loopback port."""
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def instrument() -> Iterator[Callable[..., OpenAIInstrumentor]]:
    """Instrument (again) on demand, e.g. after changing settings; uninstrumented at teardown."""
    yield from reinstrumenting(OpenAIInstrumentor())


@pytest.fixture
def instrumented(instrument: Callable[..., OpenAIInstrumentor]) -> OpenAIInstrumentor:
    """The instrumentor, instrumented with the global providers and default settings."""
    return instrument()


@pytest.fixture
def capture(settings_env: Any, instrument: Callable[..., OpenAIInstrumentor]) -> OpenAIInstrumentor:
    """Content capture on (settings are read at instrument() time)."""
    settings_env(**{CAPTURE_ENV: "true"})
    return instrument()


@pytest.fixture
def client(server: FakeOpenAIServer) -> Iterator[Any]:
    """A real sync ``openai.OpenAI`` client talking HTTP to the fake server."""
    import openai

    sdk = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=2, timeout=10)
    yield sdk
    sdk.close()


@pytest.fixture
async def aclient(server: FakeOpenAIServer) -> Any:
    """A real ``openai.AsyncOpenAI`` client talking HTTP to the fake server."""
    import openai

    sdk = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=2, timeout=10)
    yield sdk
    await sdk.close()
