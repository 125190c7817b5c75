"""Database and cache spans of the official instrumentations, through our tracer provider.

``instrument_all()`` hands the official SQLAlchemy and Redis instrumentations, and
our DB-API one for ``sqlite3``, a ``DBTracerProvider`` (their public
``tracer_provider=`` option). Its spans wrap the real ones and

- replace the literals of the query text (``db.query.text`` / ``db.statement``:
  quoted strings, numbers, hex and blob literals) with ``?``: bound parameters never
  reach the text anyway, and a value written into the SQL does not either;
- record a failure's ``exception`` event through the core's redacted, bounded
  builder (a driver's message may quote a connection URL with its password);
- at their end, roll up onto the enclosing ``execute_tool`` span (a direct child
  of it): ``db.system.name``, the number of queries (``tool.db.query_count``: spans
  with a query text, not connects) and the error type of the last failed one
  (``tool.db.error_type``).

Only the public OpenTelemetry API is used.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.trace import Span, SpanContext, Status, StatusCode
from opentelemetry.util.types import Attributes, AttributeValue

from instrumentors import _semconv_net as net
from instrumentors._errors import error_type, record_exception
from instrumentors._wrapping_tracer import SpanStart, WrappingTracer, WrappingTracerProvider
from instrumentors.config import settings
from instrumentors.params import truncate
from instrumentors.propagation import scrub_text
from instrumentors.telemetry import enclosing_tool

_logger = logging.getLogger(__name__)

STATEMENT_KEYS: Final = frozenset({net.DB_QUERY_TEXT, net.DB_STATEMENT_OLD})
SYSTEM_KEYS: Final = frozenset({net.DB_SYSTEM_NAME, net.DB_SYSTEM_OLD})
# Parameters are never captured; drop them should an option turn them on.
DROPPED_KEYS: Final = frozenset({net.DB_STATEMENT_PARAMETERS_OLD})
ERROR_OTHER: Final = "_OTHER"

# Literals in SQL, each alternative anchored on its first character so the scan is linear:
# quoted strings (with '' escapes, also X'..', N'..', E'..', B'..'; unterminated ones to the
# end), hex numbers, and decimal numbers that are not part of a name or a placeholder ($1, :1).
# No two alternatives of a repetition match the same text, so nothing backtracks far.
_SQL_LITERAL: Final = re.compile(
    r"(?<![\w$])[xXnNeEbB]?'(?:[^']|'')*(?:'|$)"
    r"|(?<![\w$:.?])0[xX][0-9a-fA-F]+\b"
    r"|(?<![\w$:.?])(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])"
)


def sanitize_sql(text: str) -> str:
    """``text`` with every literal value replaced by ``?``, cut to the configured length."""
    return truncate(_SQL_LITERAL.sub("?", text), settings().max_attribute_length)


def _clean(attributes: Attributes) -> dict[str, AttributeValue] | None:
    if not attributes:
        return None
    clean: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        if key in DROPPED_KEYS:
            continue
        clean[key] = (
            sanitize_sql(value) if key in STATEMENT_KEYS and isinstance(value, str) else value
        )
    return clean


_count_lock: Final = threading.Lock()


def roll_up(parent_span_id: int | None, system: str | None, error: str | None) -> None:
    """Count one query on the ``execute_tool`` run whose span is the query span's parent."""
    # TODO(core): a ``ToolRun.record_db(system, error_type)`` next to ``record_http``, keeping
    # the count in the run; until then the count is read back from the run's pending batch.
    run = enclosing_tool(parent_span_id)
    if run is None or run.finished:
        return
    with _count_lock:
        count = run.pending.get(net.DB_QUERY_COUNT, 0)
        run.set_at_end(net.DB_QUERY_COUNT, int(count) + 1 if isinstance(count, int) else 1)
    if system:
        run.set_at_end(net.DB_SYSTEM_NAME, system)
    if error:
        run.set_at_end(net.DB_ERROR_TYPE, error)


class DBSpan(Span):
    """A CLIENT span of an official DB instrumentation, sanitized on the way in."""

    def __init__(
        self, span: Span, parent_span_id: int | None, system: str | None, query: bool
    ) -> None:
        self._span = span
        self._parent_span_id = parent_span_id
        self.system = system
        self.query = query  # a statement was set: a query, not a connect or a pool event
        self.error: str | None = None
        self._ended = False

    @property
    def wrapped(self) -> Span:
        """The span the tracer made."""
        return self._span

    def get_span_context(self) -> SpanContext:
        return self._span.get_span_context()

    def is_recording(self) -> bool:
        return self._span.is_recording()

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        if key in DROPPED_KEYS:
            return
        if key in STATEMENT_KEYS and isinstance(value, str):
            value = sanitize_sql(value)
            self.query = True
        elif key in SYSTEM_KEYS and isinstance(value, str):
            self.system = value
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
        code = status.status_code if isinstance(status, Status) else status
        if code is StatusCode.ERROR and self.error is None:
            self.error = ERROR_OTHER  # an error status without an exception (SQLAlchemy's)
        if isinstance(status, Status) and status.description:
            status = Status(status.status_code, _scrubbed(status.description))
        elif description:
            description = _scrubbed(description)
        self._span.set_status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        self.error = error_type(exception)
        record_exception(self._span, exception)

    def end(self, end_time: int | None = None) -> None:
        if not self._ended:
            self._ended = True
            try:
                if self.query:
                    roll_up(self._parent_span_id, self.system, self.error)
            except Exception:
                _logger.debug("rolling up a query onto its tool failed", exc_info=True)
        self._span.end(end_time)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if exc_val is not None:
            _record_failure(self, exc_val)
        self.end()

    def __getattr__(self, name: str) -> Any:
        if name == "_span":
            raise AttributeError(name)
        return getattr(self._span, name)


def _scrubbed(text: str) -> str:
    return truncate(scrub_text(text), 1024)


def _record_failure(span: Span, exc: BaseException) -> None:
    try:
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, f"{error_type(exc)}"))
    except Exception:  # the user's exception goes on, whatever happens here
        _logger.debug("recording a query error failed", exc_info=True)


def _system_of(attributes: Attributes) -> str | None:
    for key in SYSTEM_KEYS:
        value = (attributes or {}).get(key)
        if isinstance(value, str):
            return value
    return None


class DBTracer(WrappingTracer):
    """Starts ``DBSpan`` wrappers around the spans of ``tracer``."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def wrap_start(self, start: SpanStart) -> Span:
        parent = trace.get_current_span(start.context).get_span_context()
        clean = _clean(start.attributes)
        span = start.on(self._tracer, clean)
        query = bool(clean) and not STATEMENT_KEYS.isdisjoint(clean or ())
        parent_id = parent.span_id if parent.is_valid else None
        return DBSpan(span, parent_id, _system_of(clean), query)

    def record_failure(
        self, span: Span, exc: Exception, record_exception: bool, set_status_on_exception: bool
    ) -> None:
        if record_exception:
            span.record_exception(exc)
        if set_status_on_exception:
            span.set_status(Status(StatusCode.ERROR, error_type(exc)))


class DBTracerProvider(WrappingTracerProvider):
    """Tracers whose spans are ``DBSpan`` s; ``provider=None`` means the global one."""

    def wrap(self, tracer: trace.Tracer) -> trace.Tracer:
        return DBTracer(tracer)
