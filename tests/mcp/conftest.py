"""Fixtures for the MCP tests: the instrumentor, an OTLP receiver and a shared HTTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from instrumentors.mcp import MCPInstrumentor
from tests.fakes.otlp_receiver import HTTPReceiver
from tests.propagation._shadow import mcp_installed

# Where mcp is absent, this suite is not collected: a skip raised from a conftest that
# pytest loads first (``pytest tests/mcp``) would abort the run instead of skipping.
if not mcp_installed():
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def receiver() -> Iterator[HTTPReceiver]:
    """Where the server processes export their spans (OTLP/HTTP on loopback)."""
    with HTTPReceiver() as running:
        yield running


@pytest.fixture(scope="session")
def server_url(receiver: HTTPReceiver) -> Iterator[str]:
    """One streamable-HTTP tool server process for the whole package."""
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
