"""Helpers for tests with real MCP server processes (both SDK lines) and their exported spans."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.fakes.otlp_receiver import HTTPReceiver

V2 = Path(__import__("mcp").__file__).parent.joinpath("shared", "_otel.py").exists()
APP = str(Path(__file__).with_name("_server_app.py"))
ROOT = str(Path(__file__).resolve().parents[2])


def server_env(receiver: HTTPReceiver, **extra: str) -> dict[str, str]:
    """Environment of a server process: OTLP to the receiver, quick batches, no metrics."""
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "20",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "mcp-tool-server",
        "PYTHONPATH": ROOT,
    }
    for name in ("PATH", "HOME", "SYSTEMROOT"):
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(port)


@contextmanager
def http_server(receiver: HTTPReceiver, **env: str) -> Iterator[str]:
    """Run the tool server over streamable HTTP on loopback; yields its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, APP, "http", str(port)],
        env=server_env(receiver, **env),
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@asynccontextmanager
async def http_session(url: str) -> AsyncIterator[ClientSession]:
    """An initialized ClientSession over streamable HTTP."""
    # 1.x yields (read, write, get_session_id), 2.x (read, write)
    async with (
        streamable_http_client(url) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        yield session


@asynccontextmanager
async def stdio_session(receiver: HTTPReceiver, **env: str) -> AsyncIterator[ClientSession]:
    """An initialized ClientSession to a fresh stdio server process."""
    params = StdioServerParameters(
        command=sys.executable, args=[APP, "stdio"], env=server_env(receiver, **env)
    )
    async with stdio_client(params) as streams, ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        yield session


def text_of(result: Any) -> str:
    """The text of a tool result's first content block."""
    return str(result.content[0].text)


def payload_of(result: Any) -> dict[str, Any]:
    """A JSON tool result (our whoami / inner tools) as a dict."""
    structured = getattr(result, "structuredContent", None) or getattr(
        result, "structured_content", None
    )
    if isinstance(structured, dict) and "trace_id" in structured:
        return structured
    value: dict[str, Any] = json.loads(text_of(result))
    return value


def is_error(result: Any) -> bool:
    return bool(getattr(result, "is_error", None) or getattr(result, "isError", None))


def wait_spans(
    receiver: HTTPReceiver,
    predicate: Callable[[dict[str, Any]], bool],
    count: int = 1,
    timeout: float = 10.0,
) -> list[dict[str, Any]]:
    """Poll the receiver until ``count`` exported spans match (server spans arrive in batches)."""
    end = time.monotonic() + timeout
    while True:
        found = [span for span in list(receiver.spans) if predicate(span)]
        if len(found) >= count or time.monotonic() > end:
            return found
        time.sleep(0.02)


def hex_trace(span: Any) -> str:
    return format(span.context.trace_id, "032x")


def hex_span(span: Any) -> str:
    return format(span.context.span_id, "016x")


class RawSession:
    """JSON-RPC over streamable HTTP by hand, to send ``_meta`` values no SDK client would."""

    PROTOCOL = "2025-06-18"

    def __init__(self, url: str) -> None:
        self.url = url
        self.session_id: str | None = None
        self._next_id = 0

    def _post(self, body: dict[str, Any]) -> dict[str, Any] | None:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        if self.session_id:
            headers["mcp-session-id"] = self.session_id
            headers["mcp-protocol-version"] = self.PROTOCOL
        request = urllib.request.Request(
            self.url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            self.session_id = response.headers.get("mcp-session-id") or self.session_id
            text = response.read().decode()
            kind = response.headers.get("Content-Type", "")
        if not text.strip():
            return None
        if kind.startswith("text/event-stream"):
            data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
            text = data[-1]
        value: dict[str, Any] = json.loads(text)
        return value

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        reply = self._post(
            {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}
        )
        assert reply is not None
        return reply

    def initialize(self) -> None:
        self.request(
            "initialize",
            {
                "protocolVersion": self.PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"},
            },
        )
        self._post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def call_tool(self, name: str, meta: dict[str, Any]) -> dict[str, Any]:
        reply = self.request("tools/call", {"name": name, "arguments": {}, "_meta": meta})
        result: dict[str, Any] = reply["result"]
        return result
