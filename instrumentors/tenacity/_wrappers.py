"""tenacity wrappers: a ``DoSleep`` from ``iter`` is one retry; an exception, giving up."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from instrumentors import semconv
from instrumentors._errors import error_type
from instrumentors._patching import Patch, fixed
from instrumentors.events import record_retry
from instrumentors.telemetry import guard

_logger = logging.getLogger(__name__)


def _on_result(retry_state: Any, result: Any) -> None:
    """A ``DoSleep`` result: one retry after attempt ``retry_state.attempt_number``."""
    from tenacity import DoSleep

    if not isinstance(result, DoSleep) or not is_instrumentation_enabled():
        return
    with guard("recording a tenacity retry"):
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        record_retry(
            attempt=int(retry_state.attempt_number),
            delay_s=float(result),
            error_type=error_type(exc) if exc is not None else None,
        )


def _on_give_up(retry_state: Any) -> None:
    """tenacity stopped retrying: the last attempt's exception as an ``exception`` event."""
    if not is_instrumentation_enabled():
        return
    with guard("recording a tenacity give-up"):
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        span = trace.get_current_span()
        if exc is not None and span.is_recording():
            span.record_exception(
                exc, attributes={semconv.RETRY_ATTEMPT: int(retry_state.attempt_number)}
            )


def _sync_iter(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    retry_state = args[0] if args else kwargs.get("retry_state")
    try:
        result = wrapped(*args, **kwargs)
    except BaseException:
        _on_give_up(retry_state)
        raise
    _on_result(retry_state, result)
    return result


def _async_iter(
    wrapped: Callable[..., Awaitable[Any]],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Awaitable[Any]:
    retry_state = args[0] if args else kwargs.get("retry_state")

    async def traced() -> Any:
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException:
            _on_give_up(retry_state)
            raise
        _on_result(retry_state, result)
        return result

    return traced()


PATCHES: Final[tuple[Patch[Any], ...]] = (
    Patch("tenacity", "BaseRetrying.iter", fixed(_sync_iter)),
    # tenacity 9 overrides iter for asyncio; 8.x has no such module (the row waits, harmlessly).
    Patch("tenacity.asyncio", "AsyncRetrying.iter", fixed(_async_iter)),
)
