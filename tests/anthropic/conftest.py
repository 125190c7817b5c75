"""Fixtures for the Anthropic instrumentor tests: the fake server, instrumented real SDK clients.

No ``__init__.py`` here on purpose: this directory must not become a package
named ``anthropic`` shadowing the SDK. Test modules skip themselves
(``importorskip``) where the SDK is absent; this file imports nothing from it at
import time. The SDK's own tracing stays at its default (on, through the global
provider, in the releases that have it): every test sees what a user sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from instrumentors.anthropic import AnthropicInstrumentor
from tests._instrumenting import reinstrumenting
from tests.fakes.anthropic_server import FakeAnthropicServer

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


@pytest.fixture(autouse=True)
def _sdk_tracing_at_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_OPEN_TELEMETRY", "ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[FakeAnthropicServer]:
    """A fresh fake Messages API server on a free loopback port."""
    with FakeAnthropicServer() as fake:
        yield fake


@pytest.fixture
def instrument() -> Iterator[Callable[..., AnthropicInstrumentor]]:
    """Instrument (again) on demand, e.g. after changing settings; uninstrumented at teardown."""
    yield from reinstrumenting(AnthropicInstrumentor())


@pytest.fixture
def instrumented(instrument: Callable[..., AnthropicInstrumentor]) -> AnthropicInstrumentor:
    """The instrumentor, instrumented with the global providers and default settings."""
    return instrument()


@pytest.fixture
def capture(
    settings_env: Any, instrument: Callable[..., AnthropicInstrumentor]
) -> AnthropicInstrumentor:
    """Content capture on (settings are read at instrument() time)."""
    settings_env(**{CAPTURE_ENV: "true"})
    return instrument()


@pytest.fixture
def client(server: FakeAnthropicServer) -> Iterator[Any]:
    """A real sync ``anthropic.Anthropic`` client talking HTTP to the fake server."""
    import anthropic

    sdk = anthropic.Anthropic(
        base_url=server.base_url, api_key="sk-ant-test", max_retries=2, timeout=10
    )
    yield sdk
    sdk.close()


@pytest.fixture
async def aclient(server: FakeAnthropicServer) -> Any:
    """A real ``anthropic.AsyncAnthropic`` client talking HTTP to the fake server."""
    import anthropic

    sdk = anthropic.AsyncAnthropic(
        base_url=server.base_url, api_key="sk-ant-test", max_retries=2, timeout=10
    )
    yield sdk
    await sdk.close()
