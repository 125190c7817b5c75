"""The official httpx and requests instrumentations as ``instrument_all()`` enables them, and
one way to send a GET through each client they cover (sync httpx, async httpx, requests)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from instrumentors import _http_gate
from instrumentors.discovery import http_hooks

CLIENTS = ("httpx", "httpx-async", "requests")


@contextmanager
def official_http() -> Iterator[None]:
    """Both official instrumentations with the options ``instrument_all()`` gives them."""
    httpx_module = pytest.importorskip("opentelemetry.instrumentation.httpx")
    requests_module = pytest.importorskip("opentelemetry.instrumentation.requests")
    instrumentors = {
        "httpx": httpx_module.HTTPXClientInstrumentor(),
        "requests": requests_module.RequestsInstrumentor(),
    }
    for name, instrumentor in instrumentors.items():
        instrumentor.instrument(**http_hooks(name))
    try:
        yield
    finally:
        for instrumentor in instrumentors.values():
            instrumentor.uninstrument()
        _http_gate.uninstall()


def sender(client: str) -> Callable[..., Any]:
    """``send(url, **kwargs)`` -> the response's status code, through ``client``."""
    if client == "requests":
        import requests

        return lambda url, **kw: requests.get(url, timeout=10, **kw).status_code
    import httpx

    if client == "httpx":

        def sync_send(url: str, **kw: Any) -> int:
            with httpx.Client(follow_redirects=True) as c:
                return c.get(url, **kw).status_code

        return sync_send

    async def fetch(url: str, **kw: Any) -> int:
        async with httpx.AsyncClient(follow_redirects=True) as c:
            return (await c.get(url, **kw)).status_code

    return lambda url, **kw: asyncio.run(fetch(url, **kw))


def refused_port() -> int:
    """A loopback port nothing listens on (connecting to it is refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
