"""The httpx2 patch table: one CLIENT span per ``Client.send`` / ``AsyncClient.send``.

``send`` sees every request once (redirects and auth happen inside it) on any
transport, including ``MockTransport``, which transport-level patches miss. The
redirect row (``_compat``) keeps the host allowlist per hop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from timeit import default_timer
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.utils import (
    http_status_to_status_code,
    is_http_instrumentation_enabled,
    suppress_http_instrumentation,
)
from opentelemetry.metrics import Histogram, MeterProvider
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider
from opentelemetry.util.types import AttributeValue

from instrumentors import _semconv_net as net
from instrumentors import propagation
from instrumentors._errors import error_type
from instrumentors._http_hooks import roll_up
from instrumentors._http_spans import exception_attributes, scrubbed_message
from instrumentors._patching import Patch, fixed
from instrumentors.httpx2 import _compat, _extract
from instrumentors.telemetry import guard, metrics_recorded
from instrumentors.version import __version__

_logger = logging.getLogger(__name__)

HTTP_CLIENT_REQUEST_DURATION: Final = "http.client.request.duration"
# The HTTP semantic conventions' advised boundaries for request durations (seconds).
_DURATION_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1,
    2.5,
    5,
    7.5,
    10,
)


@dataclass(frozen=True)
class Instruments:
    """The tracer and the duration histogram the wrappers record with."""

    tracer: Tracer
    duration: Histogram | None

    @classmethod
    def create(
        cls,
        scope: str,
        tracer_provider: TracerProvider | None,
        meter_provider: MeterProvider | None,
    ) -> Instruments:
        meter = metrics.get_meter(scope, __version__, meter_provider)
        duration = meter.create_histogram(
            name=HTTP_CLIENT_REQUEST_DURATION,
            unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=list(_DURATION_BUCKETS),
        )
        return cls(trace.get_tracer(scope, __version__, tracer_provider), duration)


Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]
AsyncWrapper = Callable[
    [Callable[..., Awaitable[Any]], Any, tuple[Any, ...], dict[str, Any]], Awaitable[Any]
]


# The trace headers this task's request in flight may carry (ours, not the caller's), for
# the redirects ``send`` follows: each new host gets them only if the allowlist agrees.
_trace_headers: ContextVar[dict[str, str] | None] = ContextVar(
    "instrumentors_httpx2_trace_headers", default=None
)


class _HTTPCall:
    """One request's span: started before sending, ended once with the response or error."""

    __slots__ = (
        "_ended",
        "duration",
        "headers_token",
        "method",
        "metric",
        "parent_id",
        "request",
        "span",
        "start_s",
        "suppression",
        "token",
    )

    def __init__(self, span: Span, request: Any, method: str, parent_id: int) -> None:
        self.span = span
        self.request = request
        self.method = method
        self.parent_id = parent_id
        self.token: Token[otel_context.Context] | None = None
        self.suppression: AbstractContextManager[None] | None = None
        self.headers_token: Token[dict[str, str] | None] | None = None
        self._ended = False
        self.duration: Histogram | None = None
        self.metric: dict[str, AttributeValue] = {}
        self.start_s = default_timer()

    @classmethod
    def start(
        cls, tracer: Tracer, request: Any, duration: Histogram | None = None
    ) -> _HTTPCall | None:
        """Start the span and inject trace headers, or None when suppressed (or on a bug)."""
        if request is None or not is_http_instrumentation_enabled():
            return None
        with guard("starting an httpx2 span"):
            parent_id = trace.get_current_span().get_span_context().span_id
            name, method = _extract.method_of(request)
            attributes = _extract.request_attributes(request, method)
            span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
            call = cls(span, request, method, parent_id)
            if duration is not None and metrics_recorded(duration):
                call.duration = duration
                call.metric = _extract.metric_attributes(attributes)
            ctx = trace.set_span_in_context(span)
            call.headers_token = _trace_headers.set(_inject(request, ctx))
            # Current while sending, with HTTP instrumentation suppressed: a layer below
            # (the official httpx2 instrumentation on the transport) adds no second span.
            call.token = otel_context.attach(ctx)
            call.suppression = suppress_http_instrumentation()
            call.suppression.__enter__()
            return call
        return None

    def detach(self) -> None:
        token, self.token = self.token, None
        headers_token, self.headers_token = self.headers_token, None
        suppression, self.suppression = self.suppression, None
        if token is not None or headers_token is not None or suppression is not None:
            with guard("detaching an httpx2 span"):
                if suppression is not None:
                    suppression.__exit__(None, None, None)
                if headers_token is not None:
                    _trace_headers.reset(headers_token)
                if token is not None:
                    otel_context.detach(token)

    def end(self, response: Any, exc: BaseException | None) -> None:
        """Record the outcome, roll it up onto the enclosing tool, end the span (once)."""
        self.detach()
        if self._ended:
            return
        self._ended = True
        with guard("ending an httpx2 span"):
            span = self.span
            status_code = getattr(response, "status_code", None) if response is not None else None
            if span.is_recording():
                if isinstance(status_code, int):
                    span.set_attribute(net.HTTP_RESPONSE_STATUS_CODE, status_code)
                    if http_status_to_status_code(status_code) is StatusCode.ERROR:
                        span.set_attribute(net.ERROR_TYPE, str(status_code))
                        span.set_status(Status(StatusCode.ERROR))
                    version = _extract.protocol_version(response)
                    if version:
                        span.set_attribute(net.NETWORK_PROTOCOL_VERSION, version)
                if exc is not None:
                    # A transport error may quote the URL: message and trace scrubbed.
                    span.record_exception(exc, exception_attributes(exc))
                    span.set_attribute(net.ERROR_TYPE, error_type(exc))
                    description = scrubbed_message(exc) or error_type(exc)
                    span.set_status(Status(StatusCode.ERROR, description))
            retry_after = response.headers.get("retry-after") if response is not None else None
            roll_up(self.parent_id, self.method, self.request.url, status_code, retry_after)
        if self.duration is not None:
            with guard("recording an httpx2 request duration"):
                self._record_duration(response, status_code, exc)
        with guard("ending an httpx2 span"):
            self.span.end()

    def _record_duration(self, response: Any, status_code: Any, exc: BaseException | None) -> None:
        """``http.client.request.duration`` (seconds), with the HTTP conventions' attributes."""
        assert self.duration is not None
        attributes = dict(self.metric)
        if isinstance(status_code, int):
            attributes[net.HTTP_RESPONSE_STATUS_CODE] = status_code
            if http_status_to_status_code(status_code) is StatusCode.ERROR:
                attributes[net.ERROR_TYPE] = str(status_code)
            version = _extract.protocol_version(response)
            if version:
                attributes[net.NETWORK_PROTOCOL_VERSION] = version
        if exc is not None:
            attributes[net.ERROR_TYPE] = error_type(exc)
        self.duration.record(
            max(default_timer() - self.start_s, 0.0), attributes=attributes, context=self.context()
        )

    def context(self) -> otel_context.Context:
        """The context with this request's span current (exemplars link to it)."""
        return trace.set_span_in_context(self.span)


def _inject(request: Any, ctx: otel_context.Context) -> dict[str, str]:
    """Add trace headers (allowlist permitting) that no outer layer has set already.

    Returns the headers this layer owns for the request (set or withheld), so that a
    redirect can withhold or restore them for its own host.
    """
    carrier: dict[str, str] = {}
    if not propagation.inject(carrier, context=ctx):
        return {}
    headers = request.headers
    ours = {key: value for key, value in carrier.items() if key not in headers}
    if ours and propagation.host_allowed(str(request.url)):
        for key, value in ours.items():
            headers[key] = value
    return ours


def redirect_headers(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrap ``BaseClient._redirect_headers(request, url, method)``: the allowlist per hop.

    httpx2 copies the previous request's headers to the redirect target; our trace
    headers go on only if that host is allowed (and come back for an allowed one).
    """
    headers = wrapped(*args, **kwargs)
    ours = _trace_headers.get()
    if ours:
        with guard("checking trace headers on a redirect"):
            url = args[1] if len(args) > 1 else kwargs["url"]
            if propagation.host_allowed(str(url)):
                for key, value in ours.items():
                    if key not in headers:
                        headers[key] = value
            else:
                for key, value in ours.items():
                    if headers.get(key) == value:
                        del headers[key]
    return headers


def send(instruments: Instruments) -> Wrapper:
    """Wrap ``httpx2.Client.send``."""
    tracer, duration = instruments.tracer, instruments.duration

    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        call = _HTTPCall.start(tracer, _extract.request_of(args, kwargs), duration)
        if call is None:
            return wrapped(*args, **kwargs)
        try:
            response = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.end(None, exc)
            raise
        call.end(response, None)
        return response

    return traced


def async_send(instruments: Instruments) -> AsyncWrapper:
    """Wrap ``httpx2.AsyncClient.send``."""
    tracer, duration = instruments.tracer, instruments.duration

    async def traced(
        wrapped: Callable[..., Awaitable[Any]],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        call = _HTTPCall.start(tracer, _extract.request_of(args, kwargs), duration)
        if call is None:
            return await wrapped(*args, **kwargs)
        try:
            response = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.end(None, exc)
            raise
        call.end(response, None)
        return response

    return traced


PATCHES: Final[tuple[Patch[Instruments], ...]] = (
    Patch("httpx2", "Client.send", send),
    Patch("httpx2", "AsyncClient.send", async_send),
    Patch(*_compat.REDIRECT_HEADERS, fixed(redirect_headers)),
)
