"""Agent sessions: ``session()`` scopes, reading a session from context, and the span processor.

The session id travels as the baggage entry ``agent.session_id``, so it follows
the OpenTelemetry context into asyncio tasks, copied-context threads and, through
the baggage propagator, into downstream services.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, TypeVar

from opentelemetry import baggage
from opentelemetry.context import Context, attach, detach
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from instrumentors import semconv
from instrumentors._compat import baggage_value
from instrumentors._controls import strip_controls
from instrumentors._generators import decorate

_logger = logging.getLogger(__name__)

MAX_SESSION_ID_LENGTH: Final = 256

F = TypeVar("F", bound=Callable[..., Any])


def current_session_id(context: Context | None = None) -> str | None:
    """The session id in ``context`` (default: the current context), or None."""
    value = baggage_value(semconv.BAGGAGE_SESSION_KEY, context)
    return value if isinstance(value, str) and value else None


def normalize_session_id(value: object) -> str | None:
    """A usable session id from a framework value (str, int, UUID...), or None.

    Control characters are dropped (a caller's id must not forge lines where it is shown).
    """
    if value is None or isinstance(value, bool):
        return None
    text = value if isinstance(value, str) else str(value)
    text = strip_controls(text).strip()
    if not text:
        return None
    return text[:MAX_SESSION_ID_LENGTH]


def context_with_session(session_id: str, context: Context | None = None) -> Context:
    """``context`` with the session baggage entry set."""
    return baggage.set_baggage(semconv.BAGGAGE_SESSION_KEY, session_id, context)


class session:
    """Put ``agent.session_id`` on every span in scope; a context manager and a decorator."""

    __slots__ = ("_session_id", "_tokens")

    def __init__(self, session_id: object) -> None:
        normalized = normalize_session_id(session_id)
        if normalized is None:
            _logger.warning("instrumentors.session(%r): empty session id ignored", session_id)
        self._session_id = normalized
        self._tokens: list[object] = []

    @property
    def session_id(self) -> str | None:
        """The normalized session id (None when the given id was empty)."""
        return self._session_id

    def __enter__(self) -> session:
        token = attach(context_with_session(self._session_id)) if self._session_id else None
        self._tokens.append(token)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token = self._tokens.pop() if self._tokens else None
        if token is not None:
            detach(token)  # type: ignore[arg-type]

    def __call__(self, func: F) -> F:
        """Decorate ``func`` so each call (or each generator step) runs inside this session."""
        session_id = self._session_id
        if session_id is None:
            return func

        return decorate(func, lambda: session(session_id), lambda: _SessionScope(session_id))


class _SessionScope:
    """The session as a "run" for the shared generator driver: current only while it runs."""

    __slots__ = ("_session_id",)

    def __init__(self, session_id: str) -> None:
        self._session_id = session_id

    def activate(self) -> session:
        return session(self._session_id)

    def stop(self) -> None:
        return None

    def fail(self, exc: BaseException) -> None:
        return None


def annotate(span: Any, context: Context | None = None) -> None:
    """Put the session in ``context`` on a span our core did not start (unless it has one).

    The value may come from another process through a server that did not filter its
    baggage: it is normalized (control characters stripped, capped) before it is shown.
    """
    try:
        raw = current_session_id(context)
        if raw is None or not span.is_recording():
            return
        session_id = normalize_session_id(raw)
        if session_id is None:
            return
        attributes = span.attributes or {}
        if semconv.AGENT_SESSION_ID not in attributes:
            span.set_attribute(semconv.AGENT_SESSION_ID, session_id)
        if semconv.GEN_AI_CONVERSATION_ID not in attributes:
            span.set_attribute(semconv.GEN_AI_CONVERSATION_ID, session_id)
    except Exception:
        _logger.debug("instrumentors: annotating a span with the session failed", exc_info=True)


class SessionSpanProcessor(SpanProcessor):
    """Copy the ``agent.session_id`` baggage onto every span started in that context.

    Our own spans carry the session already; this is for other libraries'
    spans (HTTP clients, databases, downstream services that install it).
    """

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        annotate(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
