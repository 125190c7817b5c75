"""Server side: a tool call runs inside the caller's trace, with the caller's trusted baggage.

Incoming context is untrusted input: whatever a request's ``_meta`` carries goes
through ``propagation.accept_incoming`` (only the baggage keys we trust, values
capped, control characters stripped) before anything of ours or the tool sees it.

mcp 1.x: the low-level server's ``tools/call`` handler (its public
``request_handlers``) is wrapped when the server starts a connection; the
context in ``_meta`` (``Server.request_context.meta``) is extracted and a SERVER
span ``tools/call {tool}`` is current while the tool runs.

mcp 2.x: the SDK's own middleware makes the SERVER span; ours (``_middleware``)
restore the baggage it drops and put the session ids on its span, or, with the
SDK's middleware removed, make this module's SERVER span.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from instrumentors import _semconv_net as net
from instrumentors import propagation, semconv
from instrumentors._patching import Wrapper
from instrumentors.mcp import _extract
from instrumentors.session import current_session_id
from instrumentors.telemetry import Telemetry, ToolRun, guard

_START_GUARD: Final = guard("starting an MCP server span")
_RESULT_GUARD: Final = guard("recording an MCP server result")
_INSTALL_GUARD: Final = guard("adding the MCP server's tracing")


class State:
    """What the wrappers share for one instrumentation: the core, and the servers we put
    handlers or middlewares into (so ``uninstrument`` takes them out)."""

    __slots__ = ("servers", "tel")

    def __init__(self, tel: Telemetry) -> None:
        self.tel = tel
        self.servers: weakref.WeakSet[Any] = weakref.WeakSet()


def session_attributes(ctx: otel_context.Context | None = None) -> dict[str, AttributeValue]:
    """``agent.session_id`` / ``gen_ai.conversation.id`` from the baggage, if any."""
    session_id = current_session_id(ctx)
    if session_id is None:
        return {}
    return {semconv.AGENT_SESSION_ID: session_id, semconv.GEN_AI_CONVERSATION_ID: session_id}


def incoming_context(
    carrier: Mapping[str, Any], base: otel_context.Context
) -> otel_context.Context:
    """``base`` plus what a request's ``_meta`` carries (malformed values ignored), with only
    the baggage we trust, capped and stripped of control characters."""
    if not carrier:
        return base
    # ``propagation.extract`` hands the caller's baggage to ``accept_incoming``.
    extracted = propagation.extract(carrier, context=base)
    return extracted if extracted is not None else base


class ServerCall:
    """Our SERVER span ``tools/call {tool}`` for one call: a core tool run of SERVER kind
    (it never merges with the tool function's own span), current while the tool runs."""

    __slots__ = ("run",)

    def __init__(self, run: ToolRun) -> None:
        self.run = run

    @classmethod
    def start(
        cls,
        tel: Telemetry,
        ctx: otel_context.Context,
        tool: str | None,
        request_id: object,
        http_request: Any,
        protocol_version: object = None,
    ) -> ServerCall:
        """Open the span in ``ctx`` (the caller's, already accepted) and make it current."""
        transport: dict[str, AttributeValue] = {net.MCP_METHOD_NAME: net.METHOD_TOOLS_CALL}
        if isinstance(protocol_version, str):
            transport[net.MCP_PROTOCOL_VERSION] = protocol_version
        if request_id is not None:
            transport[net.JSONRPC_REQUEST_ID] = str(request_id)
        transport.update(_extract.server_attributes(http_request))
        span_name = f"{net.METHOD_TOOLS_CALL} {tool}" if tool else net.METHOD_TOOLS_CALL
        template = tel.tool_template(tool or "", None, kind=SpanKind.SERVER, span_name=span_name)
        return cls(tel.tool(template, context=ctx, attributes=transport))

    def record_result(self, result: Any) -> None:
        """Mark a JSON-RPC error response or an ``isError`` tool result on the span."""
        root = getattr(result, "root", result)  # 1.x wraps results in ServerResult
        if _extract.is_tool_error(root):
            self.run.fail_with(net.TOOL_ERROR)
            return
        code = _extract.rpc_error_code(root)
        if code is not None and hasattr(root, "message"):  # an ErrorData response
            self.run.set_attribute(net.RPC_RESPONSE_STATUS_CODE, code)
            self.run.fail_with(code, str(root.message))

    def end(self, exc: BaseException | None = None) -> None:
        """Record an exception (its RPC code as ``error.type``), end the span, restore the
        caller's context; once."""
        if exc is None:
            self.run.stop()
        else:
            self.run.fail(exc, _extract.rpc_error_code(exc))

    async def around(self, call: Awaitable[Any]) -> Any:
        """Await the handler, then report its outcome and end the span."""
        try:
            result = await call
        except BaseException as exc:
            self.end(exc)
            raise
        with _RESULT_GUARD:
            self.record_result(result)
        self.end()
        return result


# --------------------------------------------------------------------------- mcp 1.x


class CallToolHandler:
    """1.x: a low-level server's ``tools/call`` handler, run inside our SERVER span."""

    __slots__ = ("original", "server", "tel")

    def __init__(self, original: Callable[[Any], Awaitable[Any]], server: Any, tel: Telemetry):
        self.original = original
        self.server = server
        self.tel = tel

    async def __call__(self, req: Any) -> Any:
        call: ServerCall | None = None
        if is_instrumentation_enabled():
            with _START_GUARD:
                call = self._start(req)
        if call is None:
            return await self.original(req)
        return await call.around(self.original(req))

    def _start(self, req: Any) -> ServerCall:
        request = self.server.request_context  # public: this request's id, _meta, session
        return ServerCall.start(
            self.tel,
            incoming_context(_extract.meta_carrier(request.meta), otel_context.get_current()),
            _extract.tool_name_of_params(getattr(req, "params", None)),
            request.request_id,
            getattr(request, "request", None),
            _extract.protocol_version_of(getattr(request, "session", None)),
        )


def _install_v1(server: Any, tel: Telemetry, servers: weakref.WeakSet[Any]) -> None:
    """Wrap the server's current ``tools/call`` handler, unless it is ours already."""
    from mcp import types

    handlers = getattr(server, "request_handlers", None)
    if not isinstance(handlers, dict):
        return
    handler = handlers.get(types.CallToolRequest)
    if handler is None or isinstance(handler, CallToolHandler):
        return
    handlers[types.CallToolRequest] = CallToolHandler(handler, server, tel)
    servers.add(server)


def server_run(state: State) -> Wrapper:
    """Wrap 1.x ``Server.run`` (one per connection): our span around its tools/call handler.

    At run time rather than at registration, so a handler set straight into
    ``request_handlers`` is covered too.
    """

    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        with _INSTALL_GUARD:
            _install_v1(instance, state.tel, state.servers)
        return wrapped(*args, **kwargs)

    return traced


def uninstall(servers: weakref.WeakSet[Any]) -> None:
    """1.x: put back the original ``tools/call`` handler of every server we wrapped."""
    for server in list(servers):
        handlers = getattr(server, "request_handlers", None)
        if not isinstance(handlers, dict):
            continue
        for key, handler in list(handlers.items()):
            if isinstance(handler, CallToolHandler):
                handlers[key] = handler.original
