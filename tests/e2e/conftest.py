"""End-to-end fixtures: one Phoenix server for the whole run, and a client to read it.

Every test under tests/e2e is marked ``e2e`` and skipped unless
``AGENT_INSTRUMENTORS_E2E=1`` (``nox -s e2e`` sets it), so the default test run
neither installs nor starts anything.
"""

from __future__ import annotations

import atexit
import functools
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .harness import PhoenixServer, ensure_phoenix_venv, start_phoenix
from .phoenix_client import PhoenixClient

E2E_ENV = "AGENT_INSTRUMENTORS_E2E"
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    enabled = os.environ.get(E2E_ENV) == "1"
    skip = pytest.mark.skip(reason=f"end-to-end: set {E2E_ENV}=1 or run `nox -s e2e`")
    for item in items:
        if _HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)
            if not enabled:
                item.add_marker(skip)


def report(config: pytest.Config, line: str) -> None:
    """Print a line on the terminal now, even from inside a captured fixture."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    if capture is None:
        reporter.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.ensure_newline()
        reporter.write_line(line)


@pytest.fixture(scope="session")
def phoenix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PhoenixServer]:
    """A ready Phoenix server on loopback with a fresh database, stopped at the end."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the end-to-end harness reads listening sockets from /proc (Linux)")
    started = time.monotonic()
    python = ensure_phoenix_venv()
    venv_s = time.monotonic() - started
    server = start_phoenix(python, tmp_path_factory.mktemp("phoenix"))
    # Also at interpreter exit: a KeyboardInterrupt can skip fixture teardown.
    atexit.register(server.stop)
    try:
        started = time.monotonic()
        server.wait_ready()
        listening = server.assert_loopback_only()
        report(
            request.config,
            f"phoenix: venv {venv_s:.1f}s, ready in {time.monotonic() - started:.1f}s at "
            f"{server.base_url} (gRPC :{server.grpc_port}); "
            f"listening on {', '.join(map(str, listening))}",
        )
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def phoenix_client(phoenix: PhoenixServer) -> PhoenixClient:
    """A REST reader for the session's Phoenix server."""
    return PhoenixClient(phoenix.base_url)


@pytest.fixture(scope="session")
def e2e_report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``e2e_report(line)`` prints a line (e.g. a timing) on the terminal right away."""
    return functools.partial(report, request.config)
