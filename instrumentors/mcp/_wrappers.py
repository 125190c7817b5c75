"""Client-side wrapper factories: one ``execute_tool {tool}`` span per ``ClientSession.call_tool``.

mcp 1.x has no tracing: our layer injects the trace context and baggage into
the request's ``_meta``. mcp 2.x injects by itself, inside its own CLIENT span
``MCP send tools/call``, from the current context: our span is made current
around the SDK call so the SDK's span nests under it, and our layer never
injects (the SDK would overwrite it anyway). What both lines lack, we add: the
server address and MCP session id (from the streamable-HTTP transport), the
JSON-RPC id, and, on 2.x, the host allowlist for what the SDK injects.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar, Token
from typing import Any, Final

from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.util.types import AttributeValue

from instrumentors import _semconv_net as net
from instrumentors import propagation, semconv
from instrumentors.config import settings
from instrumentors.mcp import _extract
from instrumentors.telemetry import Telemetry, ToolRun, guard

_logger = logging.getLogger(__name__)

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]
AsyncWrapper = Callable[
    [Callable[..., Awaitable[Any]], Any, tuple[Any, ...], dict[str, Any]], Awaitable[Any]
]


class _Outbound:
    """The tool call in flight in this task, for the SDK internals it reaches."""

    __slots__ = ("awaiting_id", "has_request_id", "run")

    def __init__(self, run: ToolRun) -> None:
        self.run = run
        self.has_request_id = False
        self.awaiting_id = False  # 2.x: the tools/call request is being sent; its id is next

    def note_request_id(self, request_id: object) -> None:
        """The JSON-RPC id of this call's request, on the span's last attribute batch."""
        self.has_request_id = True
        self.run.set_at_end(net.JSONRPC_REQUEST_ID, str(request_id))


_DESCRIBE_GUARD: Final = guard("describing an MCP tool call")
_START_GUARD: Final = guard("starting an MCP tool span")
_INJECT_GUARD: Final = guard("injecting an MCP tool call's trace context")
_ERROR_GUARD: Final = guard("recording an MCP tool error")
_RESULT_GUARD: Final = guard("recording an MCP tool result")
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
        if inject:
            # 1.x assigns the id before its first await, so it is this call's.
            request_id = getattr(session, "_request_id", None)
            if isinstance(request_id, int):
                attributes[net.JSONRPC_REQUEST_ID] = str(request_id)
    run: ToolRun | None = None
    with _START_GUARD:
        name, arguments = _extract.tool_call_args(args, kwargs)
        run = tel.tool(
            name,
            tool_type=semconv.TOOL_TYPE_EXTENSION,
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


def observing(
    what: str, observe: Callable[[Any, tuple[Any, ...], dict[str, Any]], None]
) -> AsyncWrapper:
    """An async wrapper that looks at a call first (guarded: ``what``), then makes it unchanged."""

    observe_guard = guard(what)

    async def traced(
        wrapped: Callable[..., Awaitable[Any]],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        with observe_guard:
            observe(instance, args, kwargs)
        return await wrapped(*args, **kwargs)

    return traced


def _register_transport(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # post_writer(client, write_stream_reader, read_stream_writer, write_stream, ...)
    stream = args[3] if len(args) > 3 else kwargs.get("write_stream")
    _extract.register_transport(stream, instance)


def post_writer() -> AsyncWrapper:
    """Wrap ``StreamableHTTPTransport.post_writer``: learn which session stream it serves."""
    return observing("registering an MCP transport", _register_transport)


def _note_request_id(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    outbound = _outbound.get()
    if outbound is None or outbound.has_request_id:
        return
    message = args[0] if args else kwargs.get("message")
    if getattr(message, "method", None) == net.METHOD_TOOLS_CALL:
        request_id = getattr(message, "id", None)
        if request_id is not None:
            outbound.note_request_id(request_id)


def dispatcher_write() -> AsyncWrapper:
    """Wrap 2.x ``JSONRPCDispatcher._write``: the wire id of the tools/call in flight.

    Only where the dispatcher has no ``_allocate_id`` (see ``allocate_id``): an async
    wrapper on every message written costs more than a sync one on each id minted.
    """
    return observing("reading an MCP request id", _note_request_id)


def allocate_id(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrap 2.x ``JSONRPCDispatcher._allocate_id``: the id minted for our tools/call request.

    ``send_raw_request`` mints ids before its first await, so in this task the id minted
    while our request is being sent is its id (the last one, if an id was taken).
    """
    request_id = wrapped(*args, **kwargs)
    outbound = _outbound.get()
    if outbound is not None and outbound.awaiting_id:
        with _REQUEST_ID_GUARD:
            outbound.note_request_id(request_id)
    return request_id


def send_raw_request() -> AsyncWrapper:
    """Wrap 2.x ``JSONRPCDispatcher.send_raw_request``: note the destination of the request."""

    async def traced(
        wrapped: Callable[..., Awaitable[Any]],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        token: Token[str | None] | None = None
        outbound: _Outbound | None = None
        with _DESTINATION_GUARD:
            if settings().propagate_hosts is not None:  # only an allowlist needs the host
                stream = getattr(instance, "_write_stream", None)
                transport = _extract.transport_of_stream(stream)
                token = _destination.set(_extract.destination_of(transport))
            outbound = _awaiting_id(args, kwargs)
        try:
            return await wrapped(*args, **kwargs)
        finally:
            if outbound is not None:
                outbound.awaiting_id = False
            if token is not None:
                _destination.reset(token)

    return traced


def _awaiting_id(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Outbound | None:
    """``send_raw_request(method, params, opts)`` of our tools/call: note a caller's id, or
    wait for the one ``_allocate_id`` mints."""
    method = args[0] if args else kwargs.get("method")
    outbound = _outbound.get()
    if method != net.METHOD_TOOLS_CALL or outbound is None or outbound.has_request_id:
        return None
    opts = args[2] if len(args) > 2 else kwargs.get("opts")
    supplied = opts.get("request_id") if isinstance(opts, Mapping) else None
    if supplied is not None:
        outbound.note_request_id(supplied)
        return None
    outbound.awaiting_id = True
    return outbound


def inject_trace_context() -> Wrapper:
    """Wrap 2.x ``inject_trace_context(meta)``: nothing for hosts outside the allowlist."""

    def traced(
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        destination = _destination.get()
        if destination is not None and not _allowed(destination):
            return None
        return wrapped(*args, **kwargs)

    return traced


def _allowed(destination: str) -> bool:
    with _ALLOWLIST_GUARD:
        return propagation.host_allowed(destination)
    return False  # a broken check sends nothing rather than leaking context
