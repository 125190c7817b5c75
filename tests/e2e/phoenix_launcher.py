"""Start the Phoenix server with every socket on loopback (run by Phoenix's own Python).

Phoenix binds its OTLP/gRPC receiver with ``add_insecure_port(f"[::]:{port}")`` in
``phoenix/server/grpc_server.py`` (``GrpcServer.__aenter__``), i.e. on every interface,
whatever ``PHOENIX_HOST`` says. This launcher rewrites the host of every address given to
``grpc.aio`` servers before Phoenix starts, so the receiver binds ``E2E_BIND_HOST``
(127.0.0.1) only; the test fixture then checks the listening sockets of this process.

It also exits when the process that started it dies, so a killed test run cannot
leave a server behind. Not imported by the tests: only run as a script.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any

BIND_HOST = os.environ.get("E2E_BIND_HOST", "127.0.0.1")


def _loopback_address(address: str) -> str:
    """``[::]:4317`` / ``0.0.0.0:4317`` / ``host:4317`` -> ``127.0.0.1:4317``."""
    port = address.rsplit(":", 1)[-1]
    return f"{BIND_HOST}:{port}"


def _patch_grpc() -> None:
    from grpc.aio import _server

    insecure = _server.Server.add_insecure_port
    secure = _server.Server.add_secure_port

    def add_insecure_port(self: Any, address: str) -> int:
        bound = _loopback_address(address)
        print(f"phoenix_launcher: gRPC {address} -> {bound}", file=sys.stderr, flush=True)
        return insecure(self, bound)

    def add_secure_port(self: Any, address: str, server_credentials: Any) -> int:
        bound = _loopback_address(address)
        print(f"phoenix_launcher: gRPC {address} -> {bound}", file=sys.stderr, flush=True)
        return secure(self, bound, server_credentials)

    # A plain reassignment: this process only runs Phoenix and never undoes it.
    _server.Server.add_insecure_port = add_insecure_port  # type: ignore[method-assign]
    _server.Server.add_secure_port = add_secure_port  # type: ignore[method-assign]


def _exit_with_parent(parent: int) -> None:
    """Stop when the test process is gone (it was SIGKILLed and could not clean up)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    print("phoenix_launcher: parent exited; stopping", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn shuts down gracefully on SIGTERM
    time.sleep(15.0)
    os._exit(1)


def main() -> None:
    # Nothing may leave the machine: no telemetry pixels, web fonts or downloads.
    for name, value in {
        "PHOENIX_HOST": BIND_HOST,
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
        "PHOENIX_ENABLE_MCP_SERVER": "false",
        "PHOENIX_ENABLE_PROMETHEUS": "false",
    }.items():
        os.environ.setdefault(name, value)
    _patch_grpc()
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()

    from phoenix.server.main import main as phoenix_main

    sys.argv = ["phoenix", "serve", *sys.argv[1:]]
    phoenix_main()


if __name__ == "__main__":
    main()
