"""Our part of gRPC tracing, next to the official ``opentelemetry-instrumentation-grpc``.

The official instrumentation makes the CLIENT and SERVER spans and carries the
context in metadata; ``instrument_all()`` enables it (``_companions``). Two public
grpc interceptors of ours go with it:

- ``ClientGate``, innermost on every channel made by ``grpc.insecure_channel`` /
  ``secure_channel`` (installed before the official wrapper, so the official span
  and its injection come first): it takes the trace headers back out of the
  metadata when the channel's target host is outside ``AGENT_INSTRUMENTORS_PROPAGATE_HOSTS``,
  and rolls the call up onto the enclosing ``execute_tool`` span (``rpc.*``, the
  status; a ``rate.limit.invoked`` event on ``RESOURCE_EXHAUSTED``).
- ``ServerGate``, last in every ``grpc.server``'s interceptors (the official one is
  first): a caller's baggage is untrusted, so the handler runs in a context whose
  baggage ``propagation.accept_incoming`` filtered; the server span gets the
  session id, and a ``retry.attempted`` event when grpc's retry policy says the
  request is a retry (``grpc-previous-rpc-attempts``; the client API exposes no retries).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final, NamedTuple

import grpc
from opentelemetry import propagate, trace
from opentelemetry.context import attach, detach, get_current
from opentelemetry.util.types import AttributeValue
from wrapt import wrap_function_wrapper

from instrumentors import _semconv_net as net
from instrumentors import semconv
from instrumentors.events import record_retry
from instrumentors.propagation import accept_incoming, host_of, parsed_host_allowed
from instrumentors.session import annotate
from instrumentors.telemetry import ToolRun, enclosing_tool, guard

_logger = logging.getLogger(__name__)

_GATE_GUARD: Final = guard("the gRPC propagation gate")
_ROLL_UP_GUARD: Final = guard("rolling up a gRPC call onto its tool")
_SERVER_GUARD: Final = guard("filtering a gRPC caller's context")


class _CallDetails(NamedTuple):
    """A ``grpc.ClientCallDetails`` with other metadata (grpc's own is not constructible)."""

    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class _Details(_CallDetails, grpc.ClientCallDetails):  # type: ignore[misc]
    pass


def _target_host(target: object) -> str | None:
    """The host of a channel target (``dns:///host:port``, ``host:port``, ``ipv4:a.b.c.d:p``)."""
    text = str(target)
    for prefix in ("dns:///", "dns:", "ipv4:", "ipv6:"):
        if text.startswith(prefix):
            text = text[len(prefix) :].split(",", 1)[0]
            break
    if text.startswith("unix:"):
        return "localhost"
    return host_of(text)


def _without_trace_headers(details: Any) -> Any:
    """``details`` with the propagators' keys taken out of its metadata."""
    fields = {str(f).lower() for f in propagate.get_global_textmap().fields}
    metadata = details.metadata
    if not metadata:
        return details
    kept = tuple((k, v) for k, v in metadata if str(k).lower() not in fields)
    return _Details(
        details.method,
        details.timeout,
        kept,
        details.credentials,
        getattr(details, "wait_for_ready", None),
        getattr(details, "compression", None),
    )


def _tool_run() -> ToolRun | None:
    """The ``execute_tool`` run the call belongs to: the current span's, or its parent's
    (the official CLIENT span is current when this innermost interceptor runs)."""
    span = trace.get_current_span()
    run = enclosing_tool(span.get_span_context().span_id)
    if run is None:
        parent = getattr(span, "parent", None)  # SDK spans only
        run = enclosing_tool(parent.span_id) if parent is not None else None
    return run


def _roll_up(run: ToolRun, method: str, host: str | None, call: Any) -> None:
    # TODO(core): a ``ToolRun.record_rpc(...)`` next to ``record_http`` (attributes and the
    # rate-limit event in one place); until then the public setters and the span's events.
    with _ROLL_UP_GUARD:
        code = call.code()
        service, _, name = method.lstrip("/").partition("/")
        values: dict[str, AttributeValue] = {
            net.RPC_SYSTEM: net.RPC_SYSTEM_GRPC,
            net.RPC_SERVICE: service,
            net.RPC_METHOD: name,
        }
        if host:
            values[net.SERVER_ADDRESS] = host
        if code is not None:
            values[net.RPC_GRPC_STATUS_CODE] = int(code.value[0])
            values[net.RPC_RESPONSE_STATUS_CODE] = code.name
        for key, value in values.items():
            run.set_at_end(key, value)
        if code is grpc.StatusCode.RESOURCE_EXHAUSTED and not run.finished:
            _rate_limited(run, call)


def _rate_limited(run: ToolRun, call: Any) -> None:
    attributes: dict[str, AttributeValue] = {
        net.RPC_GRPC_STATUS_CODE: int(grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]),
        net.RPC_RESPONSE_STATUS_CODE: grpc.StatusCode.RESOURCE_EXHAUSTED.name,
    }
    for key, value in call.trailing_metadata() or ():
        if key == net.GRPC_RETRY_PUSHBACK_MS:
            with contextlib.suppress(TypeError, ValueError):
                attributes[semconv.RETRY_AFTER_S] = max(int(value), 0) / 1000.0
    if run.span.is_recording():
        run.span.add_event(semconv.EVENT_RATE_LIMIT_INVOKED, attributes)


class ClientGate(  # type: ignore[misc]
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[misc]
    grpc.StreamStreamClientInterceptor,  # type: ignore[misc]
):
    """Innermost client interceptor of one channel: allowlist and tool roll-up."""

    def __init__(self, target: object) -> None:
        self.host = _target_host(target)

    def _call(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        run = None
        with _GATE_GUARD:
            if not parsed_host_allowed(self.host):
                details = _without_trace_headers(details)
            run = _tool_run()
        call = continuation(details, request)
        if run is not None:
            with _ROLL_UP_GUARD:
                method, host = str(details.method), self.host
                call.add_done_callback(lambda done: _roll_up(run, method, host, done))
        return call

    def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        return self._call(continuation, client_call_details, request)

    def intercept_unary_stream(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        return self._call(continuation, client_call_details, request)

    def intercept_stream_unary(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return self._call(continuation, client_call_details, request_iterator)

    def intercept_stream_stream(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return self._call(continuation, client_call_details, request_iterator)


# ------------------------------------------------------------------------------ server


def _retried(metadata: Any) -> int | None:
    """The retry number grpc's retry policy put in the request metadata, if any."""
    for key, value in metadata or ():
        if key == net.GRPC_PREVIOUS_ATTEMPTS:
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


def _enter_server_call(metadata: Any) -> object | None:
    """Filter the caller's baggage in the current context; annotate the server span."""
    filtered = None
    with _SERVER_GUARD:
        current = get_current()
        filtered = accept_incoming(current, base=None)
        span = trace.get_current_span(filtered)
        annotate(span, filtered)
        attempt = _retried(metadata)
        if attempt is not None:
            record_retry(attempt=attempt, span=span)
        if filtered is current:
            filtered = None
    return attach(filtered) if filtered is not None else None


def _leave(token: object | None) -> None:
    if token is not None:
        detach(token)  # type: ignore[arg-type]


def _unary_behavior(behavior: Callable[..., Any], metadata: Any) -> Callable[..., Any]:
    def handle(request: Any, context: Any) -> Any:
        token = _enter_server_call(metadata)
        try:
            return behavior(request, context)
        finally:
            _leave(token)

    return handle


def _streaming_behavior(behavior: Callable[..., Any], metadata: Any) -> Callable[..., Any]:
    def handle(request: Any, context: Any) -> Iterator[Any]:
        token = _enter_server_call(metadata)
        try:
            yield from behavior(request, context)
        finally:
            _leave(token)

    return handle


_HANDLER_FACTORIES: Final = {
    (False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
    (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
    (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
    (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler),
}


class ServerGate(grpc.ServerInterceptor):  # type: ignore[misc]
    """Last server interceptor: the handler sees only trusted baggage from its caller."""

    def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        try:
            key = (bool(handler.request_streaming), bool(handler.response_streaming))
            attribute, factory = _HANDLER_FACTORIES[key]
            behavior = getattr(handler, attribute)
            metadata = handler_call_details.invocation_metadata
            wrap = _streaming_behavior if handler.response_streaming else _unary_behavior
            return factory(
                wrap(behavior, metadata),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        except Exception:
            _logger.debug("instrumentors: wrapping a gRPC handler failed", exc_info=True)
            return handler


# ------------------------------------------------------------------------------ install

_lock: Final = threading.Lock()
# Wrapped once per process; turned on and off (an official wrapper may sit on top of ours).
_state: Final = {"client": False, "server": False, "client_wrapped": False, "server_wrapped": False}


def _channel(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    channel = wrapped(*args, **kwargs)
    if not _state["client"]:
        return channel
    try:
        target = args[0] if args else kwargs.get("target")
        return grpc.intercept_channel(channel, ClientGate(target))
    except Exception:
        _logger.debug("instrumentors: gating a gRPC channel failed", exc_info=True)
        return channel


def _server(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if _state["server"]:
        try:
            if len(args) > 2:
                args = (*args[:2], [*(args[2] or ()), ServerGate()], *args[3:])
            else:
                interceptors = [*(kwargs.get("interceptors") or ()), ServerGate()]
                kwargs = {**kwargs, "interceptors": interceptors}
        except Exception:
            _logger.debug("instrumentors: adding the gRPC server gate failed", exc_info=True)
    return wrapped(*args, **kwargs)


def install_client() -> None:
    """Gate every new channel (wrapping the constructors before the official instrumentation)."""
    with _lock:
        if not _state["client_wrapped"]:
            for name in ("insecure_channel", "secure_channel"):
                wrap_function_wrapper(grpc, name, _channel)
            _state["client_wrapped"] = True
        _state["client"] = True


def install_server() -> None:
    """Give every new ``grpc.server`` the gate as its last interceptor."""
    with _lock:
        if not _state["server_wrapped"]:
            wrap_function_wrapper(grpc, "server", _server)
            _state["server_wrapped"] = True
        _state["server"] = True


def uninstall() -> None:
    """Turn both gates off for new channels and servers (the wrappers stay, passing through)."""
    with _lock:
        _state["client"] = _state["server"] = False
