"""Wrapper factories for the OpenAI SDK methods, and the table of what gets patched.

Each public request method is patched on its resource class, so the plain,
``with_raw_response``, ``with_streaming_response`` and ``.stream()`` helper
routes all pass through one wrapper (the helpers call ``create(stream=True)``).
Retries are seen through the SDK's retry-delay method (``_compat``), which its
retry loop calls once per retry, inside the ``except`` of the failed attempt,
in the task or thread of the request.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import get_current_span

from instrumentors._patching import Patch, Wrapper, fixed
from instrumentors.openai import _client, _compat, _extract, _request, _stream
from instrumentors.openai._client import ClientInfo
from instrumentors.telemetry import LLMRun, Telemetry, guard

_START_GUARD: Final = guard("starting an OpenAI span")
_REQUEST_GUARD: Final = guard("reading an OpenAI request")
_RESPONSE_GUARD: Final = guard("reading an OpenAI response")
_ERROR_GUARD: Final = guard("recording an OpenAI error")
_RETRY_GUARD: Final = guard("recording an OpenAI retry")
_HELPER_GUARD: Final = guard("following an OpenAI stream helper")
_END_GUARD: Final = guard("ending an OpenAI span")


@dataclass(frozen=True, slots=True)
class Api:
    """How one endpoint's SDK objects map onto a run."""

    start: Callable[[Telemetry, ClientInfo, Any], Any]
    request: Callable[[Any, Mapping[str, Any], ClientInfo], None]
    response: Callable[[Any, Any], None]
    # What the metrics need when the span does not record (model, usage...).
    measure: Callable[[Any, Any], None]
    accumulator: Callable[[LLMRun, bool], _stream.Accumulator] | None = None


CHAT: Final = Api(
    _extract.start_llm,
    _request.chat_request,
    _extract.chat_response,
    _extract.chat_measure,
    _stream.ChatAccumulator,
)
RESPONSES: Final = Api(
    _extract.start_llm,
    _request.responses_request,
    _extract.responses_response,
    _extract.responses_measure,
    _stream.ResponsesAccumulator,
)
EMBEDDINGS: Final = Api(
    _extract.start_embedding,
    _request.embeddings_request,
    _extract.embeddings_response,
    _extract.embeddings_response,  # already only what the metrics need
)


class _Call:
    """One instrumented request: its run, and how to read what the SDK returns."""

    __slots__ = ("api", "enriching", "recording", "retries", "run")

    def __init__(self, api: Api, run: Any, enriching: bool) -> None:
        self.api = api
        self.run = run
        # Nested in another layer's chat run (LangChain...): that layer owns the span.
        self.enriching = enriching
        self.recording: bool = run.span.is_recording()
        self.retries = 0

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
            # with_raw_response: the body is read. Parse it now (the SDK caches it, so
            # the user's parse() gets the same object); a stream's proxy is handed out
            # by the response's proxy.
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
                acc = self.api.accumulator
                proxy = (
                    _stream.AsyncStreamProxy
                    if isinstance(value, _client.ASYNC_STREAM)
                    else _stream.StreamProxy
                )
                self.run.suspend()
                accumulator = None
                if acc is not None and (self.recording or self.run.measured):
                    accumulator = acc(self.run, self.recording)
                return proxy(value, self.run, accumulator, self.enriching)
            try:
                if self.recording:
                    self.api.response(self.run, value)
                elif self.run.measured:  # metrics count every call, sampled or not
                    self.api.measure(self.run, value)
            finally:
                self.run.stop()
            return value
        with _END_GUARD:  # reading failed: the span ends with what it has (stop is idempotent)
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
        if self.recording:
            _client.on_retry(self.run, self.retries, delay, cause)


# The request in progress in this thread / task (for the retry hook).
_active: ContextVar[_Call | None] = ContextVar("instrumentors_openai_call", default=None)


def _start(tel: Telemetry, api: Api, instance: Any, kwargs: Mapping[str, Any]) -> _Call | None:
    call = info = None
    with _START_GUARD:
        info = _client.client_info(_compat.client_of(instance))
        outer = get_current_span()
        run = api.start(tel, info, kwargs.get("model"))
        # An enriching run (the core's answer inside another layer's run) is that outer span.
        call = _Call(api, run, run.span is outer)
    if call is not None and info is not None and call.recording:
        with _REQUEST_GUARD:
            api.request(call.run, kwargs, info)
    return call


def sync_call(api: Api) -> Callable[[Telemetry], Wrapper]:
    """Factory of the wrapper of a sync request method (``Completions.create`` and friends)."""

    def factory(tel: Telemetry) -> Wrapper:
        def traced(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            if not is_instrumentation_enabled():
                return wrapped(*args, **kwargs)
            call = _start(tel, api, instance, kwargs)
            if call is None:
                return wrapped(*args, **kwargs)
            token = _active.set(call)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                call.fail(exc)
                raise
            finally:
                _active.reset(token)
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
            call = _start(tel, api, instance, kwargs)
            if call is None:
                return await wrapped(*args, **kwargs)
            token = _active.set(call)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                call.fail(exc)
                raise
            finally:
                _active.reset(token)
            return call.finish(result)

        return traced

    return factory


def retry_hook(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The SDK's retry delay: one ``retry.attempted`` per retry of a request we trace."""
    delay = wrapped(*args, **kwargs)
    call = _active.get()
    if call is not None:
        with _RETRY_GUARD:
            call.retried(delay, sys.exc_info()[1])
    return delay


def helper_init(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """A ``.stream()`` helper is made over our stream proxy: remember which (for ``close``)."""
    result = wrapped(*args, **kwargs)
    with _HELPER_GUARD:
        _stream.track_helper(instance, kwargs.get("raw_stream"))
    return result


def helper_close(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``ChatCompletionStream.close`` / ``ResponseStream.close`` bypass the raw stream's close."""
    try:
        return wrapped(*args, **kwargs)
    finally:
        with _HELPER_GUARD:
            _stream.end_helper_stream(instance)


async def async_helper_close(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The async twin of ``helper_close`` (the method is a coroutine)."""
    try:
        return await wrapped(*args, **kwargs)
    finally:
        with _HELPER_GUARD:
            _stream.end_helper_stream(instance)


_CHAT: Final = "openai.resources.chat.completions.completions"
_RESPONSES: Final = "openai.resources.responses.responses"
_BETA_RESPONSES: Final = "openai.resources.beta.responses.responses"  # 2.x+
_EMBEDDINGS: Final = "openai.resources.embeddings"
_CHAT_HELPER: Final = "openai.lib.streaming.chat"
_RESPONSES_HELPER: Final = "openai.lib.streaming.responses"


def _helper_rows(module: str, sync: str, asynchronous: str) -> list[Patch[Any]]:
    return [
        Patch(module, f"{sync}.__init__", fixed(helper_init)),
        Patch(module, f"{sync}.close", fixed(helper_close)),
        Patch(module, f"{asynchronous}.__init__", fixed(helper_init)),
        Patch(module, f"{asynchronous}.close", fixed(async_helper_close)),
    ]


# (module, ``Class.method``, wrapper factory): rows missing in the installed SDK are skipped.
PATCHES: Final[tuple[Patch[Any], ...]] = (
    Patch(_CHAT, "Completions.create", sync_call(CHAT)),
    Patch(_CHAT, "Completions.parse", sync_call(CHAT)),
    Patch(_CHAT, "AsyncCompletions.create", async_call(CHAT)),
    Patch(_CHAT, "AsyncCompletions.parse", async_call(CHAT)),
    Patch(_RESPONSES, "Responses.create", sync_call(RESPONSES)),
    Patch(_RESPONSES, "Responses.parse", sync_call(RESPONSES)),
    Patch(_RESPONSES, "AsyncResponses.create", async_call(RESPONSES)),
    Patch(_RESPONSES, "AsyncResponses.parse", async_call(RESPONSES)),
    Patch(_BETA_RESPONSES, "Responses.create", sync_call(RESPONSES)),
    Patch(_BETA_RESPONSES, "AsyncResponses.create", async_call(RESPONSES)),
    Patch(_EMBEDDINGS, "Embeddings.create", sync_call(EMBEDDINGS)),
    Patch(_EMBEDDINGS, "AsyncEmbeddings.create", async_call(EMBEDDINGS)),
    *_helper_rows(_CHAT_HELPER, "ChatCompletionStream", "AsyncChatCompletionStream"),
    *_helper_rows(_RESPONSES_HELPER, "ResponseStream", "AsyncResponseStream"),
    Patch(
        _compat.RETRY_MODULE,
        _compat.RETRY_METHOD,
        fixed(retry_hook),
        available=_compat.retry_hook_available,
    ),
)
