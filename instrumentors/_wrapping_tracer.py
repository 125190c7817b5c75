"""The tracer and provider shape shared by our wrappers of other instrumentations' spans
(``_http_spans``: scrubbed HTTP spans; ``_db_spans``: sanitized queries with a tool
roll-up). A subclass says how a span starts (``start_span``) and how a failure inside
``start_as_current_span`` is recorded; the rest is the API's behaviour."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.util.types import Attributes

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpanStart:
    """The arguments of one ``start_span`` call, as the instrumentation gave them."""

    name: str
    context: Context | None
    kind: SpanKind
    attributes: Attributes
    links: Sequence[Link] | None
    start_time: int | None
    record_exception: bool
    set_status_on_exception: bool

    def on(self, tracer: trace.Tracer, attributes: Attributes) -> Span:
        """The span ``tracer`` starts for this call, with ``attributes`` in place of the given."""
        return tracer.start_span(
            self.name, self.context, self.kind, attributes, self.links, self.start_time,
            self.record_exception, self.set_status_on_exception,
        )  # fmt: skip


class WrappingTracer(trace.Tracer):
    """``start_span`` / ``start_as_current_span`` on top of the subclass's ``wrap_start``."""

    def wrap_start(self, start: SpanStart) -> Span:
        """The span (a wrapper of ours around the wrapped tracer's) for ``start``."""
        raise NotImplementedError

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        return self.wrap_start(
            SpanStart(
                name, context, kind, attributes, links, start_time, record_exception,
                set_status_on_exception,
            )
        )  # fmt: skip

    def record_failure(
        self, span: Span, exc: Exception, record_exception: bool, set_status_on_exception: bool
    ) -> None:
        """Record ``exc`` on ``span`` (status and exception event, as the options say)."""
        raise NotImplementedError

    # The API types this with a private context-manager class of its own; contextlib's
    # behaves the same in ``with`` (how every official instrumentation calls it).
    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[Span]:
        span = self.start_span(
            name, context, kind, attributes, links, start_time, record_exception,
            set_status_on_exception,
        )  # fmt: skip
        # What ``trace.use_span`` does, except that the failure is recorded our way and
        # a hostile exception (its __str__ raising) cannot replace the user's own.
        token = context_api.attach(trace.set_span_in_context(span))
        try:
            yield span
        except Exception as exc:  # as use_span: not BaseException (GeneratorExit...)
            try:
                if span.is_recording():
                    self.record_failure(span, exc, record_exception, set_status_on_exception)
            except Exception:  # the user's exception goes on, whatever happens here
                _logger.debug("recording a failure on %s failed", name, exc_info=True)
            raise
        finally:
            context_api.detach(token)
            if end_on_exit:
                span.end()


class WrappingTracerProvider(trace.TracerProvider):
    """Tracers of ``provider`` (None: the global one, or a proxy that follows it once set,
    as the instrumentation has without us), each wrapped by ``wrap``."""

    def __init__(self, provider: trace.TracerProvider | None = None) -> None:
        self._provider = provider

    def wrap(self, tracer: trace.Tracer) -> trace.Tracer:
        raise NotImplementedError

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> trace.Tracer:
        tracer = trace.get_tracer(
            instrumenting_module_name,
            instrumenting_library_version,
            self._provider,
            schema_url,
            attributes,
        )
        return self.wrap(tracer)
