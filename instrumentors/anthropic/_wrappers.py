"""Wrapper factories for the Anthropic SDK methods, and the table of what gets patched.

``create`` / ``parse`` / ``count_tokens`` are patched on the ``Messages`` resources
(stable and beta, sync and async), so the plain, ``with_raw_response`` and
``with_streaming_response`` routes and every client (``Anthropic``, Bedrock,
Vertex) pass through one wrapper. ``.stream()`` builds its request itself: its
manager is handed out behind a proxy that starts the span when it is entered
(``_helpers``). Retries are seen through two methods of the SDK's retry loop
(``_compat``). In the releases that trace themselves, the SDK's own span is left
out of the requests this layer traces (``sdk_span``), so one request is one span.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, Final

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from instrumentors._patching import Patch, Wrapper, fixed
from instrumentors.anthropic import _compat, _helpers
from instrumentors.anthropic._calls import CHAT, COUNT, Api, active, start
from instrumentors.telemetry import Telemetry, guard

_RETRY_GUARD: Final = guard("recording an Anthropic retry")


def sync_call(api: Api) -> Callable[[Telemetry], Wrapper]:
    """Factory of the wrapper of a sync request method (``Messages.create`` and friends)."""

    def factory(tel: Telemetry) -> Wrapper:
        def traced(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            if not is_instrumentation_enabled():
                return wrapped(*args, **kwargs)
            call = start(tel, api, instance, kwargs)
            if call is None:
                return wrapped(*args, **kwargs)
            token = active.set(call)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                call.fail(exc)
                raise
            finally:
                active.reset(token)
            return call.finish(result)

        return traced

    return factory


def async_call(api: Api) -> Callable[[Telemetry], Wrapper]:
    """Factory of the wrapper of an async request method; nothing starts until awaited."""

    def factory(tel: Telemetry) -> Wrapper:
        async def traced(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            if not is_instrumentation_enabled():
                return await wrapped(*args, **kwargs)
            call = start(tel, api, instance, kwargs)
            if call is None:
                return await wrapped(*args, **kwargs)
            token = active.set(call)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                call.fail(exc)
                raise
            finally:
                active.reset(token)
            return call.finish(result)

        return traced

    return factory


def retry_delay(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The SDK's retry delay: one ``retry.attempted`` per retry of a request we trace."""
    delay = wrapped(*args, **kwargs)
    call = active.get()
    if call is not None:
        with _RETRY_GUARD:
            call.retried(delay, sys.exc_info()[1])
    return delay


def retry_sleep(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The SDK's sleep before a retry (sync, or a coroutine it awaits at once): its
    ``response=`` is the failed attempt's answer, read by ``retry_delay`` inside it."""
    call = active.get()
    if call is not None:
        call.retry_response = kwargs.get("response")
    return wrapped(*args, **kwargs)


def sdk_span(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The SDK's own span: none for a request we trace, or under suppression."""
    if active.get() is not None or not is_instrumentation_enabled():
        return None  # the SDK's documented "no span": the request goes on without one
    return wrapped(*args, **kwargs)


_MESSAGES: Final = "anthropic.resources.messages.messages"
_BETA_MESSAGES: Final = "anthropic.resources.beta.messages.messages"


def _resource_rows(module: str) -> list[Patch[Any]]:
    return [
        Patch(module, "Messages.create", sync_call(CHAT)),
        Patch(module, "Messages.parse", sync_call(CHAT)),
        Patch(module, "Messages.count_tokens", sync_call(COUNT)),
        Patch(module, "Messages.stream", _helpers.stream_helper(CHAT)),
        Patch(module, "AsyncMessages.create", async_call(CHAT)),
        Patch(module, "AsyncMessages.parse", async_call(CHAT)),
        Patch(module, "AsyncMessages.count_tokens", async_call(COUNT)),
        Patch(module, "AsyncMessages.stream", _helpers.stream_helper(CHAT)),
    ]


# (module, ``Class.method``, wrapper factory): rows missing in the installed SDK are skipped.
PATCHES: Final[tuple[Patch[Any], ...]] = (
    *_resource_rows(_MESSAGES),
    *_resource_rows(_BETA_MESSAGES),
    Patch(
        _compat.BASE_CLIENT,
        _compat.RETRY_METHOD,
        fixed(retry_delay),
        available=_compat.retry_hook_available,
    ),
    *(
        Patch(
            _compat.BASE_CLIENT,
            method,
            fixed(retry_sleep),
            available=functools.partial(_compat.sleep_hook_available, method),
        )
        for method in _compat.SLEEP_METHODS
    ),
    Patch(
        _compat.BASE_CLIENT,
        _compat.SDK_SPAN_FUNCTION,
        fixed(sdk_span),
        available=_compat.sdk_span_hook_available,
    ),
)
