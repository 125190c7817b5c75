"""``MCPInstrumentor``: MCP tool calls as ``execute_tool`` spans, in one trace across processes.

Client: an ``execute_tool {tool}`` span around ``ClientSession.call_tool``
(``gen_ai.tool.type`` ``extension``, hashed arguments, ``mcp.method.name``,
``mcp.session.id``, ``jsonrpc.request.id``), with the trace context and baggage
in the request's ``_meta``. Server: the handler runs in the caller's trace with
its baggage, so ``agent.session_id`` is on the server's spans and on everything
the tool does. mcp 1.x: our layer injects, extracts and makes the server span;
mcp 2.x traces itself, and our layer cooperates (see ``_wrappers``, ``_server``).
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Collection
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from instrumentors._patching import attribute_exists
from instrumentors.mcp import _extract, _server, _wrappers
from instrumentors.telemetry import Telemetry, guard
from instrumentors.version import __version__

__all__ = ["MCPInstrumentor"]

SCOPE: Final = "instrumentors.mcp"
_instruments: Final = ("mcp >= 1.9",)

_CLIENT: Final = "mcp.client.session"
_DISPATCHER: Final = "mcp.shared.jsonrpc_dispatcher"
_POST_WRITER: Final = ("mcp.client.streamable_http", "StreamableHTTPTransport.post_writer")
_CALL_TOOL: Final = (_CLIENT, "ClientSession.call_tool")
# mcp 1.x: we trace both ends ourselves.
_V1: Final = (
    ("mcp.server.lowlevel.server", "Server._handle_request"),
    ("mcp.shared.session", "RequestResponder.respond"),
)
# mcp 2.x: the SDK traces; we add what it lacks. The request id comes from
# ``_allocate_id`` where the dispatcher has one, else from ``_write``.
_ALLOCATE_ID: Final = (_DISPATCHER, "JSONRPCDispatcher._allocate_id")
_V2: Final = (
    (_DISPATCHER, "JSONRPCDispatcher._write"),
    (_DISPATCHER, "JSONRPCDispatcher.send_raw_request"),
    (_DISPATCHER, "inject_trace_context"),
    ("mcp.server.runner", "ServerRunner.__init__"),
)


class MCPInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instrument the MCP Python SDK (1.x and 2.x), client and server."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        provider = kwargs.get("tracer_provider")
        tel = Telemetry(
            scope=SCOPE, tracer_provider=provider, meter_provider=kwargs.get("meter_provider")
        )
        tracer = trace.get_tracer(SCOPE, __version__, provider)
        # BaseInstrumentor is a singleton: state lives on the one instance, set here.
        self._servers: weakref.WeakSet[Any] = weakref.WeakSet()
        wrappers: list[tuple[tuple[str, str], Any]] = [(_POST_WRITER, _wrappers.post_writer())]
        if _extract.sdk_traces_itself():
            v2 = (
                _wrappers.dispatcher_write(),
                _wrappers.send_raw_request(),
                _wrappers.inject_trace_context(),
                _server.runner_init(tracer, self._servers),
            )
            request_id: tuple[tuple[str, str], Any] = (
                (_ALLOCATE_ID, _wrappers.allocate_id)
                if attribute_exists(*_ALLOCATE_ID)
                else (_V2[0], v2[0])
            )
            wrappers += [
                (_CALL_TOOL, _wrappers.call_tool(tel, inject=False)),
                request_id,
                *zip(_V2[1:], v2[1:], strict=True),
            ]
        else:
            from mcp.client.session import ClientSession

            inject = "meta" in inspect.signature(ClientSession.call_tool).parameters
            v1 = (_server.handle_request(tracer), _server.respond())
            wrappers += [(_CALL_TOOL, _wrappers.call_tool(tel, inject)), *zip(_V1, v1, strict=True)]
        for (module, name), wrapper in wrappers:
            with guard(f"wrapping {module}.{name}"):
                wrap_function_wrapper(module, name, wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        for module, name in (_POST_WRITER, _CALL_TOOL, *_V1, *_V2, _ALLOCATE_ID):
            owner, _, attribute = f"{module}.{name}".rpartition(".")
            with guard(f"unwrapping {module}.{name}"):
                unwrap(owner, attribute)
        _server.uninstall(getattr(self, "_servers", weakref.WeakSet()))
