"""Fixtures for the cross-process propagation tests: receiver, MCP HTTP server, propagators."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opentelemetry import propagate
from opentelemetry.propagators.textmap import TextMapPropagator

from tests.propagation._propagators import propagators_named
from tests.propagation._shadow import hide_test_dir_shadow, mcp_installed

hide_test_dir_shadow("httpx2")  # tests/httpx2 is not the library
# Where mcp is absent, its tests here are not collected (see tests/mcp/conftest.py).
if not mcp_installed():
    collect_ignore_glob = ["test_propagation_mcp.py"]


# Shared with the other package (imported fixtures are registered by this conftest).
from tests.mcp._fixtures import instrumentor, receiver, server_url  # noqa: E402, F401


@pytest.fixture
def use_propagators() -> Iterator[Callable[[str], TextMapPropagator]]:
    """Set this process's global propagators as ``OTEL_PROPAGATORS=<names>`` would."""
    before = propagate.get_global_textmap()

    def apply(names: str) -> TextMapPropagator:
        propagator = propagators_named(names)
        propagate.set_global_textmap(propagator)
        return propagator

    yield apply
    propagate.set_global_textmap(before)
