"""The MCP SDK's internals our layer relies on: the only place for them, each one guarded.

- ``BaseSession._request_id`` (1.x, private): the ``jsonrpc.request.id`` of the client
  span; 1.x has no public way to learn the id of a request it is about to send.
  Gone: the client span has no ``jsonrpc.request.id``; everything else works.
- ``"mcp-python-sdk"`` (2.x), the instrumentation scope of the SDK's own spans (seen in
  every export): tells the SDK's server span, which gets the session ids, from spans
  other middlewares start. Renamed: the SDK's server span lacks ``agent.session_id``
  (the tool still runs with the baggage).
- ``mcp.shared.jsonrpc_dispatcher.inject_trace_context`` (2.x; a public name, but an SDK
  internal the SDK plans to move into an outbound middleware): the host allowlist on
  what the SDK injects, and the request id, read from the SDK's client span that is
  current while it injects. Gone: the patch row is skipped, the SDK injects into every
  host and the client span has no ``jsonrpc.request.id``.

Everything else our layer touches is public: ``ClientSession.call_tool(meta=...)`` and
its constructor arguments, ``StreamableHTTPTransport.post_writer``, the low-level
``Server.request_handlers`` / ``Server.request_context`` / ``Server.run`` (1.x),
``Server.middleware``, ``ServerRunner`` and ``ServerRequestContext`` (2.x).
``tests/mcp/test_compat.py`` names each entry above and fails when one is missing from
the installed SDK.
"""

from __future__ import annotations

import logging
from typing import Any, Final

_logger = logging.getLogger(__name__)

# The instrumentation scope name of mcp 2.x's own spans.
SDK_SCOPE: Final = "mcp-python-sdk"
# (module, attribute) of the 2.x module function the SDK calls to put trace context in ``_meta``.
INJECT_TRACE_CONTEXT: Final = ("mcp.shared.jsonrpc_dispatcher", "inject_trace_context")

_missing: set[str] = set()


def _gone(name: str) -> None:
    """Log once, at DEBUG, that an SDK internal we use is missing (its feature is skipped)."""
    if name not in _missing:
        _missing.add(name)
        _logger.debug("mcp: %s is gone in this SDK version; skipping what it served", name)


def next_request_id(session: Any) -> int | None:
    """1.x: the JSON-RPC id the session's next request gets (``BaseSession._request_id``).

    1.x assigns it synchronously at the start of ``send_request``, before its first
    await, so read right before ``call_tool`` runs it is that call's id.
    """
    value = getattr(session, "_request_id", None)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    _gone("BaseSession._request_id")
    return None
