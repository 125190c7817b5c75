"""The real servers the job, gRPC and database tests talk to: a Redis on 127.0.0.1.

``.ci/run`` (and ``nox -s servers``) start ``redis-server`` on loopback and name its
port in ``AGENT_INSTRUMENTORS_TEST_REDIS_PORT``. Without one, these tests skip with
the reason in the default ``tests`` session; with ``AGENT_INSTRUMENTORS_REQUIRE_SERVERS=1``
(the ``servers`` session) they fail instead.
"""

from __future__ import annotations

import os
import socket

import pytest

PORT_VAR = "AGENT_INSTRUMENTORS_TEST_REDIS_PORT"
REQUIRE_VAR = "AGENT_INSTRUMENTORS_REQUIRE_SERVERS"


def redis_port() -> int:
    """The test Redis's port; skips (or fails, when servers are required) without one."""
    raw = os.environ.get(PORT_VAR, "").strip()
    reason = None
    if not raw.isdigit():
        reason = f"no Redis server: set {PORT_VAR} (nox -s servers and .ci/run start one)"
    else:
        try:
            socket.create_connection(("127.0.0.1", int(raw)), timeout=2).close()
        except OSError as error:
            reason = f"no Redis server reachable on 127.0.0.1:{raw} ({error})"
    if reason is not None:
        if os.environ.get(REQUIRE_VAR) == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return int(raw)
