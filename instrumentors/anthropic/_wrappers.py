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
from collections.abc import Callable
from typing import Any, Final

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from instrumentors import _sdk_calls
from instrumentors._patching import Patch, Wrapper, fixed
from instrumentors.anthropic import _compat, _helpers
from instrumentors.anthropic._calls import CHAT, COUNT, Api, active, start
from instrumentors.telemetry import Telemetry


def sync_call(api: Api) -> Callable[[Telemetry], Wrapper]:
    """Factory of the wrapper of a sync request method (``Messages.create`` and friends)."""
    return _sdk_calls.sync_call(start, api, active)


def async_call(api: Api) -> Callable[[Telemetry], Wrapper]:
    """Factory of the wrapper of an async request method; nothing starts until awaited."""
    return _sdk_calls.async_call(start, api, active)


# The SDK's retry delay: one ``retry.attempted`` per retry of a request we trace.
retry_delay: Final = _sdk_calls.retry_delay(active)


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
