"""Server side: a tool call runs inside the caller's trace, with the caller's baggage (session).

mcp 1.x: ``Server._handle_request`` is wrapped; the context in ``_meta`` is
extracted and a SERVER span ``tools/call {tool}`` is current while the tool
runs; ``RequestResponder.respond`` reports the outcome on it.

mcp 2.x: the SDK's ``OpenTelemetryMiddleware`` makes the SERVER span itself but
parents it only, dropping the baggage. We add one middleware right inside the
SDK's: it makes the baggage current under the SDK's span and puts the session
ids on that span. If the user removed the SDK's middleware, ours goes outermost
and opens our own span instead.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

from instrumentors import _semconv_net as net
from instrumentors import propagation, semconv
from instrumentors.events import error_type
from instrumentors.mcp import _extract
from instrumentors.mcp._wrappers import AsyncWrapper, Wrapper, observing
from instrumentors.session import current_session_id
from instrumentors.telemetry import guard

_logger = logging.getLogger(__name__)

SDK_SCOPE: Final = "mcp-python-sdk"  # the tracer name of mcp 2.x's own spans


def session_attributes(ctx: otel_context.Context | None = None) -> dict[str, AttributeValue]:
    """``agent.session_id`` / ``gen_ai.conversation.id`` from the baggage, if any."""
    session_id = current_session_id(ctx)
    if session_id is None:
        return {}
    return {semconv.AGENT_SESSION_ID: session_id, semconv.GEN_AI_CONVERSATION_ID: session_id}


def _context_of(carrier: dict[str, Any]) -> otel_context.Context:
    """The current context plus what the request carries (malformed values ignored)."""
    current = otel_context.get_current()
    if not carrier:
        return current
    extracted = propagation.extract(carrier, context=current)
    return extracted if extracted is not None else current


class ServerCall:
    """Our SERVER span for one ``tools/call``; current while the tool runs, ended once."""

    __slots__ = ("_ended", "_token", "message", "span")

    def __init__(self, span: Span, token: Token[otel_context.Context], message: Any) -> None:
        self.span = span
        self.message = message
        self._token: Token[otel_context.Context] | None = token
        self._ended = False

    @classmethod
    def start(
        cls,
        tracer: Tracer,
        carrier: dict[str, Any],
        tool: str | None,
        request_id: object,
        http_request: Any,
        message: Any = None,
        protocol_version: object = None,
    ) -> ServerCall:
        """Open the span under the caller's context (or a new trace) and make it current."""
        ctx = _context_of(carrier)
        attributes: dict[str, AttributeValue] = {
            semconv.GEN_AI_OPERATION_NAME: semconv.OP_EXECUTE_TOOL,
            net.MCP_METHOD_NAME: net.METHOD_TOOLS_CALL,
        }
        if isinstance(protocol_version, str):
            attributes[net.MCP_PROTOCOL_VERSION] = protocol_version
        if tool:
            attributes[semconv.GEN_AI_TOOL_NAME] = tool
        if request_id is not None:
            attributes[net.JSONRPC_REQUEST_ID] = str(request_id)
        attributes.update(_extract.server_attributes(http_request))
        attributes.update(session_attributes(ctx))
        name = f"{net.METHOD_TOOLS_CALL} {tool}" if tool else net.METHOD_TOOLS_CALL
        span = tracer.start_span(name, context=ctx, kind=SpanKind.SERVER, attributes=attributes)
        token = otel_context.attach(trace.set_span_in_context(span, ctx))
        return cls(span, token, message)

    def record_result(self, result: Any) -> None:
        """Mark a JSON-RPC error response or an ``isError`` tool result on the span."""
        span = self.span
        if not span.is_recording():
            return
        root = getattr(result, "root", result)  # 1.x wraps results in ServerResult
        if _extract.is_tool_error(root):
            span.set_attribute(net.ERROR_TYPE, net.TOOL_ERROR)
            span.set_status(Status(StatusCode.ERROR))
            return
        code = _extract.rpc_error_code(root)
        if code is not None and hasattr(root, "message"):  # an ErrorData response
            span.set_attributes({net.ERROR_TYPE: code, net.RPC_RESPONSE_STATUS_CODE: code})
            span.set_status(Status(StatusCode.ERROR, str(root.message)))

    def end(self, exc: BaseException | None = None) -> None:
        """Restore the caller's context, record an exception, end the span (once)."""
        token, self._token = self._token, None
        if token is not None:
            with guard("detaching an MCP server span"):
                otel_context.detach(token)
        if self._ended:
            return
        self._ended = True
        with guard("ending an MCP server span"):
            span = self.span
            if exc is not None and span.is_recording():
                span.record_exception(exc)
                code = _extract.rpc_error_code(exc)
                span.set_attribute(net.ERROR_TYPE, code or error_type(exc))
                span.set_status(Status(StatusCode.ERROR, str(exc) or error_type(exc)))
            span.end()


_server_call: ContextVar[ServerCall | None] = ContextVar("instrumentors_mcp_server", default=None)


# --------------------------------------------------------------------------- mcp 1.x


def handle_request(tracer: Tracer) -> AsyncWrapper:
    """Wrap 1.x ``Server._handle_request(message, req, session, lifespan_context, ...)``."""
    from mcp import types

    async def traced(
        wrapped: Callable[..., Awaitable[Any]],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        message = args[0] if args else kwargs.get("message")
        req = args[1] if len(args) > 1 else kwargs.get("req")
        if not isinstance(req, types.CallToolRequest) or not is_instrumentation_enabled():
            return await wrapped(*args, **kwargs)
        call: ServerCall | None = None
        with guard("starting an MCP server span"):
            call = ServerCall.start(
                tracer,
                _extract.meta_carrier(getattr(message, "request_meta", None)),
                _extract.tool_name_of_params(req.params),
                getattr(message, "request_id", None),
                _extract.http_request_of_message(message),
                message,
                _extract.protocol_version_of(args[2] if len(args) > 2 else kwargs.get("session")),
            )
        if call is None:
            return await wrapped(*args, **kwargs)
        token = _server_call.set(call)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            _server_call.reset(token)
            call.end(exc)
            raise
        _server_call.reset(token)
        call.end()
        return result

    return traced


def _record_response(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    call = _server_call.get()
    if call is not None and call.message is instance:
        call.record_result(args[0] if args else kwargs.get("response"))


def respond() -> AsyncWrapper:
    """Wrap 1.x ``RequestResponder.respond(response)``: the outcome of our server span."""
    return observing("recording an MCP server result", _record_response)


# --------------------------------------------------------------------------- mcp 2.x


# What the 2.x SDK's own middleware extracts and uses; anything else in ``_meta`` may be
# baggage or another propagator's entries, which only an attached context carries on.
_SDK_EXTRACTS: Final = frozenset({"traceparent", "tracestate"})
_RESTORE_GUARD: Final = guard("restoring an MCP request's context")
_RESULT_GUARD: Final = guard("recording an MCP server result")
_ENRICH_GUARD: Final = guard("enriching the MCP server span")


class RestoreContext:
    """Outermost 2.x server middleware where the SDK's own is absent: our SERVER span for
    ``tools/call``, and the caller's context (parent and baggage) current for the rest."""

    __slots__ = ("_tracer",)

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        call: ServerCall | None = None
        token: Token[otel_context.Context] | None = None
        with _RESTORE_GUARD:
            if is_instrumentation_enabled():
                carrier = _extract.meta_carrier(ctx.meta)
                if ctx.method == net.METHOD_TOOLS_CALL:
                    call = ServerCall.start(
                        self._tracer,
                        carrier,
                        _extract.tool_name_of_params(ctx.params),
                        ctx.request_id,
                        ctx.request,
                        protocol_version=ctx.protocol_version,
                    )
                elif carrier:
                    token = otel_context.attach(_context_of(carrier))
        try:
            result = await call_next(ctx)
        except BaseException as exc:
            if call is not None:
                call.end(exc)
            raise
        finally:
            if token is not None:
                otel_context.detach(token)
        if call is not None:
            with _RESULT_GUARD:
                call.record_result(result)
            call.end()
        return result


class ServerContext:
    """2.x server middleware right inside the SDK's: the caller's baggage (which the SDK
    drops) current under the SDK's span, and the session ids on that span."""

    __slots__ = ()

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        token: Token[otel_context.Context] | None = None
        with _ENRICH_GUARD:
            if is_instrumentation_enabled():
                span = trace.get_current_span()
                carrier = _extract.meta_carrier(ctx.meta)
                restored = None
                if not _SDK_EXTRACTS.issuperset(carrier):
                    # The SDK parented its span from traceparent itself; keep its span
                    # current and add what else the request carries (not parsed again).
                    rest = {k: v for k, v in carrier.items() if k not in _SDK_EXTRACTS}
                    restored = trace.set_span_in_context(span, _context_of(rest))
                    token = otel_context.attach(restored)
                scope = getattr(span, "instrumentation_scope", None)
                if span.is_recording() and getattr(scope, "name", None) == SDK_SCOPE:
                    attributes = _extract.server_attributes(ctx.request)
                    attributes.update(session_attributes(restored))
                    if attributes:
                        span.set_attributes(attributes)
        try:
            return await call_next(ctx)
        finally:
            if token is not None:
                otel_context.detach(token)


_OURS: Final = (RestoreContext, ServerContext)


def install(server: Any, tracer: Tracer, servers: weakref.WeakSet[Any]) -> None:
    """Put our middleware in a 2.x server's chain for its new connection.

    Right inside the SDK's ``OpenTelemetryMiddleware`` when the chain has it, else
    outermost, making the server span itself. Decided anew per connection, so a
    chain changed since the last one gets the right one.
    """
    from mcp.server._otel import OpenTelemetryMiddleware

    chain = getattr(server, "middleware", None)
    if not isinstance(chain, list):
        return
    chain[:] = [m for m in chain if not isinstance(m, _OURS)]
    sdk = next((i for i, m in enumerate(chain) if isinstance(m, OpenTelemetryMiddleware)), None)
    if sdk is None:
        chain.insert(0, RestoreContext(tracer))
    else:
        chain.insert(sdk + 1, ServerContext())
    servers.add(server)


def uninstall(servers: weakref.WeakSet[Any]) -> None:
    """Take our middlewares out of every server we added them to."""
    for server in list(servers):
        chain = getattr(server, "middleware", None)
        if isinstance(chain, list):
            chain[:] = [m for m in chain if not isinstance(m, _OURS)]
    servers.clear()


def runner_init(tracer: Tracer, servers: weakref.WeakSet[Any]) -> Wrapper:
    """Wrap 2.x ``ServerRunner.__init__`` (one per connection): install on its server."""

    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = wrapped(*args, **kwargs)
        with guard("adding the MCP server middlewares"):
            install(getattr(instance, "server", None), tracer, servers)
        return result

    return traced
