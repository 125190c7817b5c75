"""Fixtures for the cross-process propagation tests: receiver, MCP HTTP server, propagators."""

from __future__ import annotations

from tests.propagation._propagators import use_propagators  # noqa: F401 - a fixture
from tests.propagation._shadow import hide_test_dir_shadow, mcp_installed

hide_test_dir_shadow("httpx2")  # tests/httpx2 is not the library
# Where mcp is absent, its tests here are not collected (see tests/mcp/conftest.py).
if not mcp_installed():
    collect_ignore_glob = ["test_propagation_mcp.py"]


# Shared with the other package (imported fixtures are registered by this conftest).
from tests.mcp._fixtures import instrumentor, receiver, server_url  # noqa: E402, F401
