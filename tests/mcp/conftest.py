"""Fixtures for the MCP tests: the instrumentor, an OTLP receiver and a shared HTTP server."""

from __future__ import annotations

from tests.propagation._shadow import mcp_installed

# Where mcp is absent, this suite is not collected: a skip raised from a conftest that
# pytest loads first (``pytest tests/mcp``) would abort the run instead of skipping.
if not mcp_installed():
    collect_ignore_glob = ["test_*.py"]


# Shared with the other package (imported fixtures are registered by this conftest).
from tests.mcp._fixtures import instrumentor, receiver, server_url  # noqa: F401
