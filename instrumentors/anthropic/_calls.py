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

from instrumentors import semconv
from instrumentors.anthropic import _client, _compat, _extract, _stream
from instrumentors.telemetry import LLMRun, Telemetry, guard

_START_GUARD: Final = guard("starting an Anthropic span")
_REQUEST_GUARD: Final = guard("reading an Anthropic request")
_RESPONSE_GUARD: Final = guard("reading an Anthropic response")
_ERROR_GUARD: Final = guard("recording an Anthropic error")
_END_GUARD: Final = guard("ending an Anthropic span")


@dataclass(frozen=True, slots=True)
class Api:
    """How one endpoint's SDK objects map onto a run."""

    operation: str
    request: Callable[[LLMRun, Mapping[str, Any]], None]
    response: Callable[[LLMRun, Any], None]
    streams: bool = True


CHAT: Final = Api(semconv.OP_CHAT, _extract.chat_request, _extract.chat_response)
COUNT: Final = Api(
    _extract.OP_COUNT_TOKENS, _extract.count_request, _extract.count_response, streams=False
)


class Call:
    """One instrumented request: its run, and how to read what the SDK returns."""

    __slots__ = ("api", "enriching", "recording", "retries", "retry_response", "run")

    def __init__(self, api: Api, run: LLMRun, enriching: bool) -> None:
        self.api = api
        self.run = run
        # Nested in another layer's chat run (LangChain...): that layer owns the span.
        self.enriching = enriching
        self.recording: bool = run.span.is_recording()
        self.retries = 0
        self.retry_response: Any = None  # the failed attempt's response, for the next retry

    def accumulator(self) -> _stream.Accumulator | None:
        return _stream.Accumulator(self.run) if self.recording else None

    def finish(self, result: Any) -> Any:
        """Record the response (or hand the run to a proxy); return what the user gets."""
        with _RESPONSE_GUARD:
            kind = _client.result_kind(result)
            if kind <= _client.STREAM:  # a parsed body or a stream: the common cases
                return self.parsed(result, kind)
            if kind == _client.UNREAD:  # with_streaming_response: the body is read later
                self.run.suspend()
                proxy = (
                    _stream.AsyncResponseProxy
                    if isinstance(result, _client.ASYNC_RESPONSE)
                    else _stream.ResponseProxy
                )
                return proxy(result, self.run, self.parsed)
            # with_raw_response: the body is read. Parse it now (the SDK caches it, so the
            # user's parse() gets the same object); a stream's proxy comes from parse().
            parsed = result.parse()
            traced = self.parsed(parsed)
            return result if traced is parsed else _stream.RawResponseProxy(result, traced)
        with _END_GUARD:  # reading it failed: the span ends with what it has
            self.run.stop()
        return result

    def parsed(self, value: Any, kind: int | None = None) -> Any:
        """A parsed body: a stream gets a proxy carrying the run; anything else ends it."""
        with _RESPONSE_GUARD:
            if kind is None:
                kind = _client.result_kind(value)
            if kind == _client.STREAM:
                proxy = (
                    _stream.AsyncStreamProxy
                    if isinstance(value, _client.ASYNC_STREAM)
                    else _stream.StreamProxy
                )
                self.run.suspend()
                return proxy(value, self.run, self.accumulator(), self.enriching)
            try:
                if self.recording:
                    self.api.response(self.run, value)
            finally:
                self.run.stop()
            return value
        with _END_GUARD:
            self.run.stop()
        return value

    def fail(self, exc: BaseException) -> None:
        with _ERROR_GUARD:
            try:
                if self.recording:
                    _client.on_error(self.run, exc)
            finally:
                _stream.fail_run(self.run, exc, self.enriching)

    def retried(self, delay: Any, cause: BaseException | None) -> None:
        """The SDK is about to retry this request after ``delay`` seconds."""
        self.retries += 1
        response, self.retry_response = self.retry_response, None
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
