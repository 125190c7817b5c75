"""``TenacityInstrumentor``: every tenacity retry becomes a ``retry.attempted`` event.

Hooks ``BaseRetrying.iter`` (and the async ``AsyncRetrying.iter``): a call that
returns ``DoSleep`` means one retry is about to happen after the attempt that
just failed; a call that raises means tenacity gave up. Covers ``Retrying``,
``AsyncRetrying``, ``@retry`` and LangChain's ``.with_retry()``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from wrapt import wrap_function_wrapper

from instrumentors import semconv
from instrumentors.events import error_type, record_retry
from instrumentors.telemetry import guard

_logger = logging.getLogger(__name__)

_instruments = ("tenacity >= 8.2",)


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


class TenacityInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Adds ``retry.attempted`` events for tenacity retries to the current span."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        wrap_function_wrapper("tenacity", "BaseRetrying.iter", _sync_iter)
        wrap_function_wrapper("tenacity.asyncio", "AsyncRetrying.iter", _async_iter)

    def _uninstrument(self, **kwargs: Any) -> None:
        import tenacity
        import tenacity.asyncio

        unwrap(tenacity.BaseRetrying, "iter")
        unwrap(tenacity.asyncio.AsyncRetrying, "iter")
