"""Our URL and exception scrubbing on the official HTTP instrumentations' spans.

``instrument_all()`` hands the official httpx and requests instrumentations a
``ScrubbingTracerProvider`` (their public ``tracer_provider=`` option). Its spans
are ``HTTPSpan`` wrappers around the real ones that

- scrub ``url.full`` / ``http.url`` (no user or password, every query value
  ``REDACTED``) before the span even starts, so samplers and processors never
  see the raw URL;
- record exceptions with ``exception.message`` and ``exception.stacktrace``
  scrubbed the same way (a connection error quotes the URL), through the API's
  documented rule that attributes passed to ``record_exception`` win over the
  ones it computes, and scrub the status description;
- remember the request's host, so the propagation gate (``_http_gate``) can
  withhold trace headers from hosts outside the allowlist.

Only the public OpenTelemetry API is used; processors and exporters still get
the SDK's own spans.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.semconv.attributes.exception_attributes import (
    EXCEPTION_ESCAPED,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
)
from opentelemetry.trace import Span, SpanContext, Status, StatusCode
from opentelemetry.util.types import Attributes, AttributeValue

from instrumentors import _semconv_net as net
from instrumentors._wrapping_tracer import SpanStart, WrappingTracer, WrappingTracerProvider
from instrumentors.propagation import REDACTED, host_of, sanitize_url, scrub_text

_logger = logging.getLogger(__name__)

# The URL attribute of the stable HTTP conventions and of the old ones, which the
# official instrumentations still write by default (OTEL_SEMCONV_STABILITY_OPT_IN).
URL_KEYS: Final = frozenset({net.URL_FULL, net.HTTP_URL_OLD})


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a hostile __str__ must not break the user's call
        _logger.debug("str() of an exception failed", exc_info=True)
        return f"<{type(exc).__qualname__}: str() failed>"


def scrubbed_message(exc: BaseException) -> str:
    """``str(exc)`` with every quoted URL scrubbed (and never raising)."""
    return scrub_text(_safe_str(exc))


def exception_type(exc: BaseException) -> str:
    """``exception.type`` as the SDK writes it: ``module.QualName`` (builtins bare)."""
    cls = type(exc)
    module = cls.__module__
    return f"{module}.{cls.__qualname__}" if module and module != "builtins" else cls.__qualname__


def exception_attributes(exc: BaseException) -> dict[str, AttributeValue]:
    """``exception.message`` and ``exception.stacktrace`` with every quoted URL scrubbed."""
    try:
        stacktrace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        _logger.debug("formatting an exception failed", exc_info=True)
        stacktrace = ""
    return {
        EXCEPTION_MESSAGE: scrubbed_message(exc),
        EXCEPTION_STACKTRACE: scrub_text(stacktrace),
    }


def _scrubbed_url(value: str) -> str:
    try:
        return sanitize_url(value)
    except Exception:  # never the raw URL
        _logger.debug("scrubbing a URL failed", exc_info=True)
        return REDACTED


def scrubbed_attributes(attributes: Attributes) -> tuple[Attributes, str | None]:
    """``attributes`` with the URL scrubbed, and the host of the raw URL (None without one)."""
    if not attributes:
        return attributes, None
    host = None
    clean: dict[str, AttributeValue] | None = None
    for key in URL_KEYS:
        value = attributes.get(key)
        if isinstance(value, str):
            host = host or host_of(value)
            if clean is None:
                clean = dict(attributes)
            clean[key] = _scrubbed_url(value)
    return (clean if clean is not None else attributes), host


class HTTPSpan(Span):
    """A CLIENT span of an official HTTP instrumentation, scrubbed on the way in.

    Everything the API does not name (the SDK's ``parent``, ``attributes``...) is
    read from the wrapped span.
    """

    def __init__(
        self,
        span: Span,
        host: str | None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> None:
        self._span = span
        self.host = host
        # Trace headers this request got: what a redirect may carry on (``_http_gate``).
        self.injected: dict[str, str] = {}
        self._record_exception = record_exception
        self._set_status_on_exception = set_status_on_exception

    @property
    def wrapped(self) -> Span:
        """The span the tracer made."""
        return self._span

    def get_span_context(self) -> SpanContext:
        return self._span.get_span_context()

    def is_recording(self) -> bool:
        return self._span.is_recording()

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        clean, host = scrubbed_attributes(attributes)
        self.host = host or self.host
        self._span.set_attributes(clean or {})

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        if key in URL_KEYS and isinstance(value, str):
            self.host = host_of(value) or self.host
            value = _scrubbed_url(value)
        self._span.set_attribute(key, value)

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        self._span.add_event(name, attributes, timestamp)

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        self._span.add_link(context, attributes)

    def update_name(self, name: str) -> None:
        self._span.update_name(name)

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if isinstance(status, Status) and status.description:
            status = Status(status.status_code, scrub_text(status.description))
        elif description:
            description = scrub_text(description)
        self._span.set_status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        # The event the SDK's record_exception writes, built here: its text scrubbed,
        # and no str() of the exception outside a guard (a hostile __str__ raises).
        event: dict[str, AttributeValue] = {
            EXCEPTION_TYPE: exception_type(exception),
            EXCEPTION_MESSAGE: "",
            EXCEPTION_STACKTRACE: "",
            EXCEPTION_ESCAPED: str(escaped),
        }
        try:
            event.update(exception_attributes(exception))
        except Exception:  # never the raw text: without scrubbed values, none
            _logger.debug("scrubbing an exception failed", exc_info=True)
        event.update(attributes or {})
        self._span.add_event("exception", event, timestamp)

    def end(self, end_time: int | None = None) -> None:
        self._span.end(end_time)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        # As the SDK's span does when used as ``with tracer.start_span(...)``.
        if exc_val is not None and self.is_recording():
            if self._record_exception:
                self.record_exception(exc_val, escaped=True)
            if self._set_status_on_exception:
                description = f"{type(exc_val).__name__}: {_safe_str(exc_val)}"
                self.set_status(Status(StatusCode.ERROR, description))
        self.end()

    def __getattr__(self, name: str) -> Any:
        if name == "_span":  # not set yet (a copy in the making): no recursion
            raise AttributeError(name)
        return getattr(self._span, name)


class ScrubbingTracer(WrappingTracer):
    """Starts ``HTTPSpan`` wrappers around the spans of ``tracer``; ``on_start`` runs first."""

    def __init__(self, tracer: trace.Tracer, on_start: Callable[[], None] | None = None) -> None:
        self._tracer = tracer
        self._on_start = on_start

    def wrap_start(self, start: SpanStart) -> Span:
        if self._on_start is not None:
            try:
                self._on_start()
            except Exception:
                _logger.debug("the HTTP span start hook failed", exc_info=True)
        clean, host = scrubbed_attributes(start.attributes)
        span = start.on(self._tracer, clean)
        return HTTPSpan(span, host, start.record_exception, start.set_status_on_exception)

    def record_failure(
        self, span: Span, exc: Exception, record_exception: bool, set_status_on_exception: bool
    ) -> None:
        if record_exception:
            span.record_exception(exc)
        if set_status_on_exception:
            description = f"{type(exc).__name__}: {_safe_str(exc)}"
            span.set_status(Status(StatusCode.ERROR, description))


class ScrubbingTracerProvider(WrappingTracerProvider):
    """Tracers whose spans are scrubbed ``HTTPSpan`` s; ``provider=None`` means the global one.

    ``on_start`` runs as each span starts (the propagation gate checks it is in place).
    """

    def __init__(
        self,
        provider: trace.TracerProvider | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(provider)
        self._on_start = on_start

    def wrap(self, tracer: trace.Tracer) -> trace.Tracer:
        return ScrubbingTracer(tracer, self._on_start)
