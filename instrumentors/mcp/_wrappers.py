"""Client-side wrapper factories and the patch table: one ``execute_tool {tool}`` span per
``ClientSession.call_tool``.

mcp 1.x has no tracing: our layer injects the trace context and baggage into
the request's ``_meta`` (the public ``call_tool(meta=...)``). mcp 2.x injects by
itself, inside its own CLIENT span ``MCP send tools/call``, from the current
context: our span is made current around the SDK call so the SDK's span nests
under it, and our layer never injects (the SDK would overwrite it anyway). What
both lines lack, we add: the server address and MCP session id (from the
streamable-HTTP transport), the JSON-RPC id, and, on 2.x, the host allowlist for
what the SDK injects. The server side is in ``_server``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextvars import ContextVar
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.util.types import AttributeValue

from instrumentors import _semconv_net as net
from instrumentors import propagation, semconv
from instrumentors._patching import Patch, Wrapper, fixed
from instrumentors.config import settings
from instrumentors.mcp import _compat, _extract, _middleware, _server
from instrumentors.mcp._server import State
from instrumentors.telemetry import Telemetry, ToolRun, guard

AsyncWrapper = Callable[
    [Callable[..., Awaitable[Any]], Any, tuple[Any, ...], dict[str, Any]], Awaitable[Any]
]


class _Outbound:
    """The tool call in flight in this task, for the SDK internals it reaches."""

    __slots__ = ("has_request_id", "run")

    def __init__(self, run: ToolRun) -> None:
        self.run = run
        self.has_request_id = False

    def note_request_id(self, request_id: object) -> None:
        """The JSON-RPC id of this call's request."""
        self.has_request_id = True
        self.run.set_attribute(net.JSONRPC_REQUEST_ID, str(request_id))


_DESCRIBE_GUARD: Final = guard("describing an MCP tool call")
_START_GUARD: Final = guard("starting an MCP tool span")
_INJECT_GUARD: Final = guard("injecting an MCP tool call's trace context")
_ERROR_GUARD: Final = guard("recording an MCP tool error")
_RESULT_GUARD: Final = guard("recording an MCP tool result")
_STREAM_GUARD: Final = guard("noting an MCP client's write stream")
_DESTINATION_GUARD: Final = guard("finding an MCP request's destination")
_REQUEST_ID_GUARD: Final = guard("reading an MCP request id")
_ALLOWLIST_GUARD: Final = guard("checking the propagation allowlist")

_outbound: ContextVar[_Outbound | None] = ContextVar("instrumentors_mcp_outbound", default=None)
# 2.x: where the request being sent goes, so the SDK's injection honours the allowlist.
_destination: ContextVar[str | None] = ContextVar("instrumentors_mcp_destination", default=None)


def call_tool(tel: Telemetry, inject: bool) -> AsyncWrapper:
    """Wrap ``ClientSession.call_tool``; ``inject``: put trace context into ``_meta`` (1.x)."""

    async def traced(
        wrapped: Callable[..., Awaitable[Any]],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        if not is_instrumentation_enabled():
            return await wrapped(*args, **kwargs)
        run = _start(tel, instance, args, kwargs, inject)
        if run is None:
            return await wrapped(*args, **kwargs)
        token = _outbound.set(_Outbound(run))
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            _outbound.reset(token)
            _fail(run, exc)
            raise
        _outbound.reset(token)
        _finish(run, result)
        return result

    return traced


def _start(
    tel: Telemetry, session: Any, args: tuple[Any, ...], kwargs: dict[str, Any], inject: bool
) -> ToolRun | None:
    transport: Any = None
    attributes: dict[str, AttributeValue] | None = None
    with _DESCRIBE_GUARD:  # a failure here costs the details, not the span
        transport = _extract.transport_of(session)
        attributes = _extract.client_attributes(transport)
        attributes[net.MCP_METHOD_NAME] = net.METHOD_TOOLS_CALL
        if inject:  # 1.x; 2.x learns the id from the SDK's own span (``inject_trace_context``)
            request_id = _compat.next_request_id(session)
            if request_id is not None:
                attributes[net.JSONRPC_REQUEST_ID] = str(request_id)
    run: ToolRun | None = None
    with _START_GUARD:
        name, arguments = _extract.tool_call_args(args, kwargs)
        run = tel.tool(
            tel.tool_template(name, semconv.TOOL_TYPE_EXTENSION),
            params=arguments,
            merge_any=True,
            attributes=attributes,
        )
    if run is None or not inject:
        return run
    # Once started, the run is returned whatever fails below, so it is always ended.
    with _INJECT_GUARD:
        _inject_meta(kwargs, run, _extract.destination_of(transport))
    return run


def _inject_meta(kwargs: dict[str, Any], run: ToolRun, destination: str | None) -> None:
    """Trace context and baggage into ``meta=``; keys the caller set win."""
    carrier: dict[str, str] = {}
    if not propagation.inject(carrier, destination=destination, context=run.context):
        return
    if not carrier:
        return
    given = kwargs.get("meta")
    if given is None:
        kwargs["meta"] = carrier
    elif isinstance(given, Mapping):
        kwargs["meta"] = {**carrier, **given}


def _fail(run: ToolRun, exc: BaseException) -> None:
    with _ERROR_GUARD:
        run.set_attribute(net.RPC_RESPONSE_STATUS_CODE, _extract.rpc_error_code(exc))
    run.fail(exc)


def _finish(run: ToolRun, result: Any) -> None:
    failed = False
    with _RESULT_GUARD:
        failed = _extract.is_tool_error(result)
    if failed:  # no exception to fail with: the conventions' ``tool_error`` (span and metric)
        run.fail_with(net.TOOL_ERROR, "the tool returned an error result")
    else:
        run.stop(result)


def session_init(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrap ``ClientSession.__init__(read_stream, write_stream, ..., dispatcher=None)``."""
    result = wrapped(*args, **kwargs)
    with _STREAM_GUARD:
        dispatcher = kwargs.get("dispatcher")
        if dispatcher is not None:  # 2.x: built on a dispatcher, which saw the stream
            _extract.remember_dispatcher(instance, dispatcher)
        else:
            stream = args[1] if len(args) > 1 else kwargs.get("write_stream")
            _extract.remember_stream(instance, stream)
    return result


def dispatcher_init(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrap 2.x ``JSONRPCDispatcher.__init__(read_stream, write_stream, ...)``."""
    result = wrapped(*args, **kwargs)
    with _STREAM_GUARD:
        stream = args[1] if len(args) > 1 else kwargs.get("write_stream")
        _extract.remember_stream(instance, stream)
    return result


async def post_writer(
    wrapped: Callable[..., Awaitable[Any]],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Wrap ``StreamableHTTPTransport.post_writer(client, reader, writer, write_stream, ...)``:
    while it runs, sessions on that write stream know their server (URL, MCP session id)."""
    key: int | None = None
    with _STREAM_GUARD:
        key = _extract.serve(args[3] if len(args) > 3 else kwargs.get("write_stream"), instance)
    try:
        return await wrapped(*args, **kwargs)
    finally:
        if key is not None:
            _extract.stop_serving(key)


def send_raw_request(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrap 2.x ``JSONRPCDispatcher.send_raw_request``: the destination, for the allowlist.

    Without an allowlist there is nothing to check: the SDK's coroutine is returned
    as is (no extra frame on every request).
    """
    if settings().propagate_hosts is None:
        return wrapped(*args, **kwargs)
    return _to_destination(wrapped(*args, **kwargs), instance)


async def _to_destination(request: Coroutine[Any, Any, Any], dispatcher: Any) -> Any:
    token = None
    with _DESTINATION_GUARD:
        token = _destination.set(_extract.destination_of(_extract.transport_of(dispatcher)))
    try:
        return await request
    finally:
        if token is not None:
            _destination.reset(token)


def inject_trace_context(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrap 2.x ``inject_trace_context(meta)``, which the SDK calls inside its client span:
    our tool call's request id (from that span), and nothing for hosts outside the allowlist."""
    outbound = _outbound.get()
    if outbound is not None and not outbound.has_request_id:
        with _REQUEST_ID_GUARD:
            _note_sdk_request_id(outbound)
    destination = _destination.get()
    if destination is not None and not _allowed(destination):
        return None
    return wrapped(*args, **kwargs)


def _note_sdk_request_id(outbound: _Outbound) -> None:
    # The SDK's span is current here and carries the id it minted (its public attributes).
    attributes = getattr(trace.get_current_span(), "attributes", None)
    if (
        isinstance(attributes, Mapping)
        and attributes.get(net.MCP_METHOD_NAME) == net.METHOD_TOOLS_CALL
        and attributes.get(net.JSONRPC_REQUEST_ID) is not None
    ):
        outbound.note_request_id(attributes[net.JSONRPC_REQUEST_ID])


def _allowed(destination: str) -> bool:
    with _ALLOWLIST_GUARD:
        return propagation.host_allowed(destination)
    return False  # a broken check sends nothing rather than leaking context


# --------------------------------------------------------------------------- the patch table


def stop(state: State) -> None:
    """Take our handlers (1.x) and middlewares (2.x) out of every server we touched."""
    _server.uninstall(state.servers)
    _middleware.uninstall_all(state.servers)
    state.servers.clear()


def _v1() -> bool:
    return not _extract.sdk_traces_itself()


def _v2() -> bool:
    return _extract.sdk_traces_itself()


def _call_tool(state: State) -> Wrapper:
    if _extract.sdk_traces_itself():
        return call_tool(state.tel, inject=False)
    from mcp.client.session import ClientSession

    # 1.x releases before ``call_tool(meta=...)`` get the span, not the propagation.
    inject = "meta" in inspect.signature(ClientSession.call_tool).parameters
    return call_tool(state.tel, inject)


_CLIENT: Final = "mcp.client.session"
_DISPATCHER: Final = "mcp.shared.jsonrpc_dispatcher"

PATCHES: Final[tuple[Patch[State], ...]] = (
    Patch(_CLIENT, "ClientSession.__init__", fixed(session_init)),
    Patch(_CLIENT, "ClientSession.call_tool", _call_tool),
    Patch("mcp.client.streamable_http", "StreamableHTTPTransport.post_writer", fixed(post_writer)),
    # mcp 2.x: the SDK traces; we add what it lacks.
    Patch(_DISPATCHER, "JSONRPCDispatcher.__init__", fixed(dispatcher_init), _v2),
    Patch(_DISPATCHER, "JSONRPCDispatcher.send_raw_request", fixed(send_raw_request), _v2),
    Patch(*_compat.INJECT_TRACE_CONTEXT, fixed(inject_trace_context), _v2),
    Patch("mcp.server.runner", "ServerRunner.__init__", _middleware.runner_init, _v2),
    # mcp 1.x: we trace the server end too.
    Patch("mcp.server.lowlevel.server", "Server.run", _server.server_run, _v1),
)
