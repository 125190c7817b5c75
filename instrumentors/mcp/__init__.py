"""``MCPInstrumentor``: MCP tool calls as ``execute_tool`` spans, in one trace across processes.

Client: an ``execute_tool {tool}`` span around ``ClientSession.call_tool``
(``gen_ai.tool.type`` ``extension``, hashed arguments, ``mcp.method.name``,
``mcp.session.id``, ``jsonrpc.request.id``), with the trace context and baggage
in the request's ``_meta``. Server: the handler runs in the caller's trace with
the baggage we trust from it, so ``agent.session_id`` is on the server's spans
and on everything the tool does. mcp 1.x: our layer injects, extracts and makes
the server span; mcp 2.x traces itself, and our layer cooperates (see
``_wrappers``, ``_server``, ``_middleware``). Importing this module does not
import mcp: instrumenting starts when mcp is imported.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from instrumentors._instrumentor import AgentInstrumentor

__all__ = ["SCOPE", "MCPInstrumentor"]

SCOPE: Final = "instrumentors.mcp"
_instruments: Final = ("mcp >= 1.9",)


class MCPInstrumentor(AgentInstrumentor):
    """Instrument the MCP Python SDK (1.x and 2.x), client and server."""

    _instruments: ClassVar[tuple[str, ...]] = _instruments
    trigger: ClassVar[str] = "mcp"
    scope: ClassVar[str] = SCOPE

    def _start(self, options: dict[str, Any]) -> Any:
        from instrumentors._patching import apply
        from instrumentors.mcp import _server, _wrappers

        state = _server.State(self.telemetry(options))
        return apply(_wrappers.PATCHES, state), state

    def _stop(self, state: Any) -> None:
        from instrumentors.mcp import _wrappers

        patches, wrappers_state = state
        patches.revert()
        _wrappers.stop(wrappers_state)
