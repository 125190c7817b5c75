"""Every MCP SDK internal our layer relies on (``instrumentors/mcp/_compat.py``), by name.

Each test fails when the installed SDK no longer has what we use, so the compat
matrix and the newest-release run say so before users do; the public names our
patch table wraps are checked too. Which names apply depends on the SDK line.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentors._patching import attribute_exists
from instrumentors.mcp import _compat, _wrappers
from tests.mcp._inproc import connect, make_app
from tests.mcp._procs import V2


def test_every_patch_target_of_this_sdk_line_exists() -> None:
    rows = [r for r in _wrappers.PATCHES if r.available is None or r.available()]
    assert len(rows) == (7 if V2 else 4)
    missing = [
        f"{r.module}.{r.attribute}" for r in rows if not attribute_exists(r.module, r.attribute)
    ]
    assert missing == []


def test_the_sdk_line_is_told_apart() -> None:
    # 2.x makes its own spans; 1.x has no ``mcp.Client`` (a public 2.x name).
    import mcp

    from instrumentors.mcp import _extract

    assert _extract.sdk_traces_itself() is V2 is hasattr(mcp, "Client")


async def test_request_id_source(exporter: InMemorySpanExporter, instrumentor: Any) -> None:
    """1.x: ``BaseSession._request_id``, the id the session's next request gets. 2.x:
    ``inject_trace_context``, called inside the SDK's client span, which holds the id."""
    if not V2:
        async with connect(make_app()) as session:
            before = _compat.next_request_id(session)
            await session.list_tools()
            assert isinstance(before, int)
            assert _compat.next_request_id(session) == before + 1
        return
    import mcp.shared.jsonrpc_dispatcher as dispatcher
    from opentelemetry import trace

    seen: list[dict[str, Any]] = []
    original = dispatcher.inject_trace_context

    def spy(meta: dict[str, Any]) -> None:
        seen.append(dict(getattr(trace.get_current_span(), "attributes", None) or {}))
        original(meta)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dispatcher, "inject_trace_context", spy)
        async with connect(make_app()) as session:
            await session.call_tool("add", {"a": 1, "b": 1})
    assert {"mcp.method.name": "tools/call", "jsonrpc.request.id": "2"} in seen


async def test_sdk_scope_name(exporter: InMemorySpanExporter, instrumentor: Any) -> None:
    """2.x: the scope of the SDK's own spans, which tells its server span from others."""
    async with connect(make_app()) as session:
        await session.call_tool("add", {"a": 1, "b": 1})
    scopes = {
        s.name: s.instrumentation_scope.name
        for s in exporter.get_finished_spans()
        if s.instrumentation_scope is not None
    }
    if V2:
        assert scopes["tools/call add"] == scopes["MCP send tools/call add"] == _compat.SDK_SCOPE
    else:  # 1.x makes no spans: every one is ours
        assert set(scopes.values()) == {"instrumentors.mcp"}


def test_a_missing_name_is_logged_once_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    _compat._missing.discard("BaseSession._request_id")
    with caplog.at_level(logging.DEBUG, logger="instrumentors.mcp._compat"):
        assert _compat.next_request_id(object()) is None
        assert _compat.next_request_id(object()) is None
    assert [r.getMessage() for r in caplog.records].count(
        "mcp: BaseSession._request_id is gone in this SDK version; skipping what it served"
    ) == 1


async def test_calls_work_without_the_internals(
    exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every internal gone at once: no patch on ``inject_trace_context`` (2.x), no
    ``_request_id`` (1.x). The call and its span are whole; only the request id is missing."""

    from instrumentors._patching import apply
    from instrumentors.mcp._server import State
    from instrumentors.telemetry import Telemetry

    monkeypatch.setattr(_compat, "next_request_id", lambda session: None)
    rows = [r for r in _wrappers.PATCHES if (r.module, r.attribute) != _compat.INJECT_TRACE_CONTEXT]
    state = State(Telemetry(scope="instrumentors.mcp"))
    patches = apply(rows, state)
    try:
        async with connect(make_app()) as session:
            result = await session.call_tool("add", {"a": 2, "b": 3})
    finally:
        patches.revert()
        _wrappers.stop(state)
    assert result.content[0].text == "5"
    (client,) = [s for s in exporter.get_finished_spans() if s.name == "execute_tool add"]
    (server,) = [s for s in exporter.get_finished_spans() if s.name == "tools/call add"]
    assert "jsonrpc.request.id" not in (client.attributes or {})
    assert (client.attributes or {})["mcp.method.name"] == "tools/call"
    assert server.context.trace_id == client.context.trace_id  # context still travels
