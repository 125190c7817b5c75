"""Fixtures shared by tests/mcp and tests/propagation: receiver, HTTP tool server, instrumentor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from instrumentors.mcp import MCPInstrumentor
from tests.fakes.otlp_receiver import HTTPReceiver


@pytest.fixture(scope="session")
def receiver() -> Iterator[HTTPReceiver]:
    """Where the server processes export their spans (OTLP/HTTP on loopback)."""
    with HTTPReceiver() as running:
        yield running


@pytest.fixture(scope="session")
def server_url(receiver: HTTPReceiver) -> Iterator[str]:
    """One streamable-HTTP tool server process per test package."""
    from tests.mcp._procs import http_server

    with http_server(receiver) as url:
        yield url


@pytest.fixture
def instrumentor() -> Iterator[MCPInstrumentor]:
    """MCPInstrumentor on the global (test) providers, undone after the test."""
    instance = MCPInstrumentor()
    instance.instrument()
    yield instance
    instance.uninstrument()
