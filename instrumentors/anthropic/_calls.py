"""One instrumented request (``Call``): its run, what the SDK returned, its retries.

Shared by the method wrappers (``_wrappers``) and the ``.stream()`` helper's proxies
(``_helpers``); ``active`` is the request in progress in this thread or task, which
the retry hooks and the SDK-span hook read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

from instrumentors import _sdk_calls, semconv
from instrumentors._sdk_client import ResultKinds
from instrumentors._sdk_streams import Accumulator, Proxies
from instrumentors.anthropic import _client, _compat, _extract, _stream
from instrumentors.telemetry import LLMRun, Telemetry, guard

_START_GUARD: Final = guard("starting an Anthropic span")
_REQUEST_GUARD: Final = guard("reading an Anthropic request")


@dataclass(frozen=True, slots=True)
class Api:
    """How one endpoint's SDK objects map onto a run."""

    operation: str
    request: Callable[[LLMRun, Mapping[str, Any]], None]
    response: Callable[[LLMRun, Any], None]
    accumulator: Callable[[LLMRun, bool], Accumulator | None] | None = None
    measure: None = None  # a span that does not record: nothing read (its duration is measured)
    streams: bool = True
    kinds: ResultKinds = _client.KINDS
    proxies: Proxies = _stream.PROXIES


CHAT: Final = Api(
    semconv.OP_CHAT, _extract.chat_request, _extract.chat_response, _stream.accumulator
)
COUNT: Final = Api(
    _extract.OP_COUNT_TOKENS, _extract.count_request, _extract.count_response, streams=False
)


class Call(_sdk_calls.SdkCall):
    """One instrumented Anthropic request (the reading is shared: ``_sdk_calls``)."""

    # The failed attempt's response, for the next retry (set by the sleep hook before
    # a retry; unset until the first one, so a call costs no more than it needs).
    __slots__ = ("retry_response",)
    retry_response: Any

    def on_error(self, exc: BaseException) -> None:
        _client.on_error(self.run, exc)

    def retried(self, delay: Any, cause: BaseException | None) -> None:
        """The SDK is about to retry this request after ``delay`` seconds."""
        self.retries += 1
        response = getattr(self, "retry_response", None)
        self.retry_response = None
        if self.recording:
            _client.on_retry(self.run, self.retries, delay, cause, response)


# The request in progress in this thread / task (for the retry and SDK-span hooks).
active: ContextVar[Call | None] = ContextVar("instrumentors_anthropic_call", default=None)


def start(tel: Telemetry, api: Api, instance: Any, kwargs: Mapping[str, Any]) -> Call | None:
    """Open the run of one request (None: a telemetry bug, the request goes on untraced)."""
    call = None
    with _START_GUARD:
        info = _client.client_info(_compat.client_of(instance))
        run = _extract.start(tel, info, kwargs.get("model"), api.operation)
        # An enriching run: another layer's chat run (LangChain...) owns this request's span.
        call = Call(api, run, run.enriching)
        if not api.streams and call.enriching:
            # A token count inside another layer's chat request is not that request.
            call = None
    if call is not None and call.recording:
        with _REQUEST_GUARD:
            api.request(call.run, kwargs)
    return call
