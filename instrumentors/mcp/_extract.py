"""MCP SDK objects (1.x and 2.x) -> what our spans record: tool calls, results, transports.

Both SDK lines are read through duck typing (``isError`` vs ``is_error``,
pydantic ``Meta`` vs plain dict) so one code path serves both. Which server a
client session talks to is learnt from public constructor arguments: the write
stream a ``ClientSession`` (or a 2.x ``JSONRPCDispatcher``) is built on, and the
one a streamable-HTTP transport's ``post_writer`` serves.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import weakref
from collections.abc import Mapping
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.util.types import AttributeValue

from instrumentors import _semconv_net as net
from instrumentors.propagation import host_of

# The id of the client write stream each ClientSession / 2.x JSONRPCDispatcher writes to.
# The owner holds its stream, so the id stays that stream's while the entry lives.
_stream_ids: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
# Streamable-HTTP transports by the id of the client write stream they serve, while they
# serve it (2.x wraps the stream in a slotted object that cannot be weakly referenced).
_transports: dict[int, Any] = {}


@cache
def sdk_traces_itself() -> bool:
    """True for mcp 2.x, which makes its own client/server spans and injects ``_meta``."""
    try:
        major = importlib.metadata.version("mcp").split(".", 1)[0]
        return int(major) >= 2
    except (importlib.metadata.PackageNotFoundError, ValueError):
        # No distribution metadata (a vendored copy): the 2.x dispatcher module tells.
        try:
            return importlib.util.find_spec("mcp.shared.jsonrpc_dispatcher") is not None
        except (ImportError, ValueError):
            return False


def tool_call_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any]:
    """``(name, arguments)`` of ``ClientSession.call_tool(name, arguments=None, ...)``."""
    name = args[0] if args else kwargs.get("name", "")
    arguments = args[1] if len(args) > 1 else kwargs.get("arguments")
    return str(name), arguments if arguments is not None else {}


def is_tool_error(result: Any) -> bool:
    """Whether a ``CallToolResult`` reports a tool error (1.x ``isError``, 2.x ``is_error``)."""
    fields = getattr(type(result), "model_fields", None)
    if fields is not None:
        # Ask only for a declared field: a pydantic miss raises, slowly, inside getattr.
        name = "is_error" if "is_error" in fields else "isError"
        return name in fields and getattr(result, name, None) is True
    if isinstance(result, Mapping):
        return result.get("isError") is True
    return False


def rpc_error_code(error: Any) -> str | None:
    """The JSON-RPC error code of an ``McpError``/``MCPError`` or an ``ErrorData``, as text."""
    data = getattr(error, "error", error)
    code = getattr(data, "code", None)
    return str(code) if isinstance(code, int) else None


def meta_carrier(meta: Any) -> dict[str, Any]:
    """A request's ``_meta`` as a plain dict (1.x: a pydantic ``Meta``; 2.x: a dict)."""
    if meta is None:
        return {}
    if isinstance(meta, Mapping):
        return dict(meta)
    dump = getattr(meta, "model_dump", None)
    if dump is None:
        return {}
    dumped = dump(by_alias=True, exclude_none=True)
    return dumped if isinstance(dumped, dict) else {}


def remember_stream(owner: Any, write_stream: Any) -> None:
    """Note the client write stream a ClientSession or a 2.x dispatcher is built on."""
    if write_stream is not None:
        _stream_ids[owner] = id(write_stream)


def remember_dispatcher(session: Any, dispatcher: Any) -> None:
    """2.x ``ClientSession(dispatcher=...)``: the session writes to the dispatcher's stream."""
    try:
        stream_id = _stream_ids.get(dispatcher)
    except TypeError:  # a dispatcher that cannot be weakly referenced (in-process ones)
        return
    if stream_id is not None:
        _stream_ids[session] = stream_id


def serve(write_stream: Any, transport: Any) -> int | None:
    """A streamable-HTTP transport starts serving this client write stream; returns its key."""
    if write_stream is None:
        return None
    key = id(write_stream)
    _transports[key] = transport
    return key


def stop_serving(key: int) -> None:
    """The transport's writer ended: forget it."""
    _transports.pop(key, None)


def transport_of(owner: Any) -> Any:
    """The streamable-HTTP transport behind a ClientSession or a 2.x dispatcher, or None
    (stdio, in-memory, or built before instrumenting)."""
    try:
        stream_id = _stream_ids.get(owner)
    except TypeError:  # an owner that cannot be weakly referenced
        return None
    return _transports.get(stream_id) if stream_id is not None else None


def destination_of(transport: Any) -> str | None:
    """The server URL a transport posts to (None for stdio and in-memory sessions)."""
    url = getattr(transport, "url", None) if transport is not None else None
    return str(url) if url else None


def client_attributes(transport: Any) -> dict[str, AttributeValue]:
    """MCP session id, server address/port and network transport for a client call."""
    if transport is None:
        return {}
    attributes: dict[str, AttributeValue] = {net.NETWORK_TRANSPORT: net.TRANSPORT_TCP}
    session_id = getattr(transport, "session_id", None)
    if isinstance(session_id, str) and session_id:
        attributes[net.MCP_SESSION_ID] = session_id
    url = destination_of(transport)
    host = host_of(url)
    if url and host:
        attributes[net.SERVER_ADDRESS] = host
        port = _port(url)
        if port:
            attributes[net.SERVER_PORT] = port
    return attributes


def _port(url: str) -> int | None:
    try:
        parts = urlsplit(url)
        return parts.port or net.DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None


def server_attributes(http_request: Any) -> dict[str, AttributeValue]:
    """MCP session id and transport from the HTTP request a server message came in on."""
    if http_request is None:  # stdio or in-memory
        return {}
    attributes: dict[str, AttributeValue] = {net.NETWORK_TRANSPORT: net.TRANSPORT_TCP}
    headers = getattr(http_request, "headers", None)
    session_id = headers.get(net.HEADER_MCP_SESSION_ID) if headers is not None else None
    if isinstance(session_id, str) and session_id:
        attributes[net.MCP_SESSION_ID] = session_id
    return attributes


def tool_name_of_params(params: Any) -> str | None:
    """The tool name of ``tools/call`` params (a model in 1.x, a mapping in 2.x)."""
    name = params.get("name") if isinstance(params, Mapping) else getattr(params, "name", None)
    return name if isinstance(name, str) else None


def protocol_version_of(server_session: Any) -> str | None:
    """1.x: the protocol version the client asked for in ``initialize`` (None before it)."""
    params = getattr(server_session, "client_params", None)
    version = getattr(params, "protocolVersion", None)
    return version if isinstance(version, str) else None
