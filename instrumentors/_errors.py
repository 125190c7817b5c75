"""The ``exception`` event and status message of a failed span, whatever the exception does.

An exception is user data: its ``__str__`` may raise, loop over a huge value, or
quote a secret (a URL with a password or a query token, an API key). The event is built here,
once: every text is read under a guard, redacted like captured content and cut
to a bounded size, so a hostile exception can neither break a span nor leak.
"""

from __future__ import annotations

import logging
import traceback
from typing import Final

from opentelemetry.semconv.attributes import exception_attributes as exc_attrs
from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

_logger = logging.getLogger(__name__)

EXCEPTION_EVENT: Final = "exception"
_MESSAGE_LIMIT: Final = 4096
_STACK_LIMIT: Final = 16384
_UNPRINTABLE: Final = "<unprintable exception>"


def error_type(exc: BaseException | type[BaseException]) -> str:
    """The ``error.type`` value: the exception class's ``__qualname__``."""
    kind = exc if isinstance(exc, type) else type(exc)
    try:
        return str(kind.__qualname__)
    except Exception:  # noqa: BLE001 - a hostile metaclass
        return "Exception"


def _clean(text: str, limit: int) -> str:
    # Imported here: the failure path pays for these, not ``import instrumentors``.
    from instrumentors.params import redact, truncate
    from instrumentors.propagation import scrub_text

    cleaned = redact(scrub_text(text))
    return truncate(cleaned if isinstance(cleaned, str) else text, limit)


def safe_message(exc: BaseException) -> str | None:
    """``str(exc)``, redacted and bounded; None when it raises or is empty."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - the user's __str__ may raise anything
        return None
    return _clean(text, _MESSAGE_LIMIT) if text else None


def _stacktrace(exc: BaseException) -> str:
    try:
        return _clean("".join(traceback.format_exception(exc)), _STACK_LIMIT)
    except Exception:  # noqa: BLE001 - format_exception calls str() on the exception too
        return ""


def _qualified_type(exc: BaseException) -> str:
    kind = type(exc)
    module = getattr(kind, "__module__", None)
    name = error_type(kind)
    return f"{module}.{name}" if module and module != "builtins" else name


def record_exception(span: Span, exc: BaseException) -> None:
    """Add the ``exception`` event (as the SDK would) to a recording span; never raises."""
    try:
        if not span.is_recording():
            return
        attributes: dict[str, AttributeValue] = {
            exc_attrs.EXCEPTION_TYPE: _qualified_type(exc),
            exc_attrs.EXCEPTION_MESSAGE: safe_message(exc) or _UNPRINTABLE,
            exc_attrs.EXCEPTION_STACKTRACE: _stacktrace(exc),
            exc_attrs.EXCEPTION_ESCAPED: "False",
        }
        span.add_event(EXCEPTION_EVENT, attributes)
    except Exception:
        _logger.debug("instrumentors: recording an exception event failed", exc_info=True)
