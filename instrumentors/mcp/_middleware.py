"""mcp 2.x server: two middlewares of ours around the server's public ``Server.middleware`` chain.

``IncomingContext`` goes first (outermost). It makes the caller's baggage from
``_meta`` current for the whole chain, keeping only what
``propagation.accept_incoming`` trusts (allowed keys, capped, no control
characters): the SDK's middleware parents its SERVER span from ``traceparent``
but drops the baggage, and its span is made current on top of this context, so
the baggage reaches the tool. When the request's baggage held anything we do not
accept, the rest of the chain is handed a ``_meta`` without it
(``dataclasses.replace``, as the SDK documents for middlewares), so the context
the SDK extracts for its span carries nothing untrusted either; the handler gets
the original ``_meta`` back.

``ServerSpan`` goes last (innermost, right before the handler). If a span was
started in between (the SDK's SERVER span), it puts the session ids and the MCP
session id on it. If none was (the user took the SDK's middleware out), it makes
our own SERVER span for ``tools/call``.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from typing import Any, Final

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Span

from instrumentors import _semconv_net as net
from instrumentors import propagation
from instrumentors._patching import Wrapper
from instrumentors.config import Settings, settings
from instrumentors.mcp import _compat, _extract
from instrumentors.mcp._server import ServerCall, State, session_attributes
from instrumentors.telemetry import Telemetry, guard

# What the SDK's own middleware extracts for its span's parent (W3C trace context);
# anything else in ``_meta`` may be baggage, which only a context we attach carries on.
_SDK_EXTRACTS: Final = frozenset({"traceparent", "tracestate"})
_W3C_BAGGAGE: Final = W3CBaggagePropagator()
_BAGGAGE: Final = "baggage"  # the W3C baggage entry of a carrier

_RESTORE_GUARD: Final = guard("restoring an MCP request's context")
_ENRICH_GUARD: Final = guard("enriching the MCP server span")

CallNext = Callable[[Any], Awaitable[Any]]


class _Inbound:
    """One request, from our first middleware to our last: the span current when the chain
    started and, when the chain was handed a cleaned ``_meta``, that one and the original."""

    __slots__ = ("cleaned_meta", "original_meta", "span")

    def __init__(self, span: Span, cleaned_meta: Any = None, original_meta: Any = None) -> None:
        self.span = span
        self.cleaned_meta = cleaned_meta
        self.original_meta = original_meta


_inbound: ContextVar[_Inbound | None] = ContextVar("instrumentors_mcp_inbound", default=None)


class IncomingContext:
    """Outermost: the caller's trusted baggage current for the whole chain."""

    __slots__ = ()

    async def __call__(self, ctx: Any, call_next: CallNext) -> Any:
        token: Token[otel_context.Context] | None = None
        inbound_token: Token[_Inbound | None] | None = None
        with _RESTORE_GUARD:
            if is_instrumentation_enabled():
                cleaned, accepted = _accept(ctx)
                inbound = _Inbound(trace.get_current_span(accepted))
                if cleaned is not None:
                    inbound.cleaned_meta, inbound.original_meta = cleaned.meta, ctx.meta
                    ctx = cleaned
                if accepted is not None:
                    token = otel_context.attach(accepted)
                inbound_token = _inbound.set(inbound)
        try:
            return await call_next(ctx)
        finally:
            if inbound_token is not None:
                _inbound.reset(inbound_token)
            if token is not None:
                otel_context.detach(token)


def _accept(ctx: Any) -> tuple[Any, otel_context.Context | None]:
    """(the request context with a cleaned ``_meta``, or None when it needs none; the
    accepted OTel context to attach, or None). The SDK parses trace context itself."""
    carrier = _extract.meta_carrier(ctx.meta)
    rest = {k: v for k, v in carrier.items() if k not in _SDK_EXTRACTS}
    if not rest:
        return None, None
    current = otel_context.get_current()
    sent = carrier.get(_BAGGAGE)
    if len(rest) == 1 and isinstance(sent, str):  # only baggage: a session's, as a rule
        accepted = current
        for key, value in _incoming_baggage(sent).items():
            accepted = baggage.set_baggage(key, value, accepted)
    else:
        # ``propagation.extract`` keeps only the baggage we trust (``accept_incoming``).
        accepted = propagation.extract(rest, context=current) or current
    if isinstance(sent, str) and not _all_trusted(sent):
        # The SDK extracts ``_meta`` for its own span: it must not see the raw baggage.
        cleaned = {k: v for k, v in carrier.items() if k != _BAGGAGE}
        return dataclasses.replace(ctx, meta=cleaned), accepted
    return None, accepted


# The entries we keep of a baggage header (``propagation.extract`` with the configured
# propagators, then ``accept_incoming``), under the settings they were found with: a
# session sends the same header on every request, and parsing it is most of the
# server's work per request. Put on top of the current context's own baggage, they
# give what the full extraction gives (a trusted key's incoming value wins, an
# untrusted one never replaces a local entry).
_ACCEPTED_CAP: Final = 64
_accepted: dict[str, tuple[Settings, dict[str, object]]] = {}


def _incoming_baggage(header: str) -> dict[str, object]:
    """The trusted, cleaned entries of a ``baggage`` header (cached per header)."""
    if len(header) > propagation.MAX_HEADER_LENGTH:
        return {}  # what ``propagation.extract`` makes of it too
    config = settings()
    known = _accepted.get(header)
    if known is not None and known[0] is config:
        return known[1]
    extracted = propagation.extract({_BAGGAGE: header}, context=otel_context.Context())
    entries = dict(baggage.get_all(extracted)) if extracted is not None else {}
    if len(_accepted) >= _ACCEPTED_CAP:
        _accepted.clear()  # bounded whatever callers send
    _accepted[header] = (config, entries)
    return entries


# Baggage headers found to hold only what we accept, as they are, under the settings
# they were checked with: a session sends the same header on every request.
_TRUSTED_HEADERS_CAP: Final = 64
_trusted_headers: dict[str, Settings] = {}


def _all_trusted(header: str) -> bool:
    """Whether ``accept_incoming`` keeps this baggage header whole (nothing dropped or cut)."""
    config = settings()
    if _trusted_headers.get(header) is config:
        return True
    raw = _W3C_BAGGAGE.extract({_BAGGAGE: header}, context=otel_context.Context())
    carrier: dict[str, str] = {}
    _W3C_BAGGAGE.inject(carrier, context=propagation.accept_incoming(raw))
    if carrier.get(_BAGGAGE) != header:
        return False
    if len(_trusted_headers) >= _TRUSTED_HEADERS_CAP:
        _trusted_headers.clear()  # bounded whatever callers send
    _trusted_headers[header] = config
    return True


class ServerSpan:
    """Innermost: the session ids on the SDK's server span, or our own server span."""

    __slots__ = ("tel",)

    def __init__(self, tel: Telemetry) -> None:
        self.tel = tel

    async def __call__(self, ctx: Any, call_next: CallNext) -> Any:
        call: ServerCall | None = None
        with _ENRICH_GUARD:
            inbound = _inbound.get()  # set only while instrumentation is enabled
            if inbound is not None:
                if inbound.cleaned_meta is not None and ctx.meta is inbound.cleaned_meta:
                    # The request's own ``_meta`` back for the handler (unless a middleware
                    # in between set another).
                    ctx = dataclasses.replace(ctx, meta=inbound.original_meta)
                span = trace.get_current_span()
                if span is not inbound.span:  # someone in the chain (the SDK) traces it
                    _enrich(span, ctx)
                elif ctx.method == net.METHOD_TOOLS_CALL and is_instrumentation_enabled():
                    call = self._start(ctx)
        if call is None:
            return await call_next(ctx)
        return await call.around(call_next(ctx))

    def _start(self, ctx: Any) -> ServerCall:
        carrier = _extract.meta_carrier(ctx.meta)
        # The accepted baggage is current already; only the parent is left to read.
        trace_context = {k: v for k, v in carrier.items() if k in _SDK_EXTRACTS}
        current = otel_context.get_current()
        parent = propagation.extract(trace_context, context=current) or current
        return ServerCall.start(
            self.tel,
            parent,
            _extract.tool_name_of_params(ctx.params),
            ctx.request_id,
            ctx.request,
            ctx.protocol_version,
        )


def _enrich(span: Span, ctx: Any) -> None:
    """The MCP session id, transport and session ids on the SDK's span for this request."""
    scope = getattr(span, "instrumentation_scope", None)
    if not span.is_recording() or getattr(scope, "name", None) != _compat.SDK_SCOPE:
        return
    attributes = _extract.server_attributes(ctx.request)
    attributes.update(session_attributes())
    if attributes:
        span.set_attributes(attributes)


_OURS: Final = (IncomingContext, ServerSpan)


def install(server: Any, tel: Telemetry) -> bool:
    """Put our two middlewares first and last in a 2.x server's chain (for a new connection).

    Placed anew per connection, so middlewares the user added since stay inside ours.
    Returns whether the server now has them.
    """
    chain = getattr(server, "middleware", None)
    if not isinstance(chain, list):
        return False
    if (
        len(chain) >= 2
        and isinstance(chain[0], IncomingContext)
        and isinstance(chain[-1], ServerSpan)
        and chain[-1].tel is tel
        and sum(isinstance(m, _OURS) for m in chain) == 2
    ):
        return True
    theirs = [m for m in chain if not isinstance(m, _OURS)]
    chain[:] = [IncomingContext(), *theirs, ServerSpan(tel)]
    return True


def uninstall(server: Any) -> None:
    """Take our middlewares out of a server's chain."""
    chain = getattr(server, "middleware", None)
    if isinstance(chain, list):
        chain[:] = [m for m in chain if not isinstance(m, _OURS)]


def runner_init(state: State) -> Wrapper:
    """Wrap 2.x ``ServerRunner.__init__`` (one per connection): our middlewares on its server."""

    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = wrapped(*args, **kwargs)
        with guard("adding the MCP server middlewares"):
            server = getattr(instance, "server", None)
            if install(server, state.tel):
                state.servers.add(server)
        return result

    return traced


def uninstall_all(servers: weakref.WeakSet[Any]) -> None:
    """Take our middlewares out of every server we added them to."""
    for server in list(servers):
        with guard("removing the MCP server middlewares"):
            uninstall(server)
