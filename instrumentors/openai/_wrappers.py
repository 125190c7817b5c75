"""Wrapper factories for the OpenAI SDK methods, and the table of what gets patched.

Each public request method is patched on its resource class, so the plain,
``with_raw_response``, ``with_streaming_response`` and ``.stream()`` helper
routes all pass through one wrapper (the helpers call ``create(stream=True)``).
Retries are seen through ``BaseClient._calculate_retry_timeout``, which the
SDK's retry loop calls once per retry, inside the ``except`` of the failed
attempt, in the task or thread of the request.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from opentelemetry.trace import get_current_span
from wrapt import wrap_function_wrapper

from instrumentors._patching import attribute_exists
from instrumentors.openai import _extract, _stream
from instrumentors.telemetry import LLMRun, Run, Telemetry, guard

# The run of the request in progress in this thread / task (for the retry hook).
_active: ContextVar[Run | None] = ContextVar("instrumentors_openai_run", default=None)

_START_GUARD: Final = guard("starting an OpenAI span")
_REQUEST_GUARD: Final = guard("reading an OpenAI request")
_RESPONSE_GUARD: Final = guard("reading an OpenAI response")
_ERROR_GUARD: Final = guard("recording an OpenAI error")
_RETRY_GUARD: Final = guard("recording an OpenAI retry")
_CLOSE_GUARD: Final = guard("ending the span of an OpenAI stream helper")

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Api:
    """How one endpoint's SDK objects map onto a run."""

    start: Callable[[Telemetry, Any, Any], Any]
    request: Callable[[Any, Mapping[str, Any], Any], None]
    response: Callable[[Any, Any], None]
    accumulator: Callable[[LLMRun], _stream.Accumulator] | None = None


CHAT: Final = Api(
    _extract.start_llm, _extract.chat_request, _extract.chat_response, _stream.ChatAccumulator
)
RESPONSES: Final = Api(
    _extract.start_llm,
    _extract.responses_request,
    _extract.responses_response,
    _stream.ResponsesAccumulator,
)
EMBEDDINGS: Final = Api(
    _extract.start_embedding, _extract.embeddings_request, _extract.embeddings_response
)


class _Call:
    """One instrumented request: its run, and how to read what the SDK returns."""

    __slots__ = ("api", "client", "enriching", "recording", "run")

    def __init__(self, api: Api, run: Any, client: Any, enriching: bool) -> None:
        self.api = api
        self.run = run
        self.client = client
        # Nested in another layer's chat run (LangChain...): that layer owns the span.
        self.enriching = enriching
        self.recording: bool = run.span.is_recording()

    def finish(self, result: Any, kwargs: Mapping[str, Any]) -> Any:
        """Record the response (or hand the run to a stream proxy); return what the user gets."""
        with _RESPONSE_GUARD:
            mode = _extract.raw_mode(kwargs)
            if mode is None:
                return self.parsed(result)
            if mode == _extract.RAW_STREAMED and isinstance(result, _extract.STREAMED_RESPONSES):
                self.run.suspend()
                proxy = (
                    _stream.AsyncResponseProxy
                    if isinstance(result, _extract.STREAMED_RESPONSES[1])
                    else _stream.ResponseProxy
                )
                return proxy(result, self.run, self.parsed)
            if isinstance(result, _extract.LEGACY_RESPONSE):
                # Parse now (the SDK caches it, so the user's parse() gets the same object);
                # a stream is swapped for our proxy in that cache.
                parsed = result.parse()
                traced = self.parsed(parsed)
                if traced is not parsed:
                    result._parsed_by_type[result._cast_to] = traced
                return result
        self.run.stop()
        return result

    def parsed(self, value: Any) -> Any:
        """A parsed body: a stream gets a proxy carrying the run; anything else ends it."""
        with _RESPONSE_GUARD:
            if isinstance(value, _extract.STREAMS):
                acc = self.api.accumulator
                proxy = (
                    _stream.AsyncStreamProxy
                    if isinstance(value, _extract.ASYNC_STREAM)
                    else _stream.StreamProxy
                )
                self.run.suspend()
                accumulator = acc(self.run) if acc and self.recording else None
                return proxy(value, self.run, accumulator, self.enriching)
            if self.recording:
                self.api.response(self.run, value)
        self.run.stop()
        return value

    def fail(self, exc: BaseException) -> None:
        with _ERROR_GUARD:
            if self.recording:
                _extract.on_error(self.run, exc, self.client)
        _stream.fail_run(self.run, exc, self.enriching)


def _start(tel: Telemetry, api: Api, instance: Any, kwargs: Mapping[str, Any]) -> _Call | None:
    call = None
    with _START_GUARD:
        client = instance._client
        outer = get_current_span()
        run = api.start(tel, client, kwargs.get("model"))
        # An enriching run (the core's answer inside another layer's run) is that outer span.
        call = _Call(api, run, client, run.span is outer)
    if call is not None and call.recording:
        with _REQUEST_GUARD:
            api.request(call.run, kwargs, call.client)
    return call


def sync_call(tel: Telemetry, api: Api) -> Wrapper:
    """Wrapper for a sync request method (``Completions.create`` and friends)."""

    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        call = _start(tel, api, instance, kwargs)
        if call is None:
            return wrapped(*args, **kwargs)
        token = _active.set(call.run)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            _active.reset(token)
        return call.finish(result, kwargs)

    return traced


def async_call(tel: Telemetry, api: Api) -> Wrapper:
    """Wrapper for an async request method; nothing starts until the coroutine is awaited."""

    async def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not is_instrumentation_enabled():
            return await wrapped(*args, **kwargs)
        call = _start(tel, api, instance, kwargs)
        if call is None:
            return await wrapped(*args, **kwargs)
        token = _active.set(call.run)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            _active.reset(token)
        return call.finish(result, kwargs)

    return traced


def retry_hook(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``BaseClient._calculate_retry_timeout``: one ``retry.attempted`` per retry."""
    delay = wrapped(*args, **kwargs)
    run = _active.get()
    if run is not None:
        with _RETRY_GUARD:
            _extract.on_retry(run, instance, args, kwargs, delay, sys.exc_info()[1])
    return delay


def helper_close(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``ChatCompletionStream.close`` / ``ResponseStream.close`` bypass the raw stream's close."""
    try:
        return wrapped(*args, **kwargs)
    finally:
        with _CLOSE_GUARD:
            _stream.end_helper_stream(instance)


async def async_helper_close(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The async twin of ``helper_close`` (the method is a coroutine)."""
    try:
        return await wrapped(*args, **kwargs)
    finally:
        with _CLOSE_GUARD:
            _stream.end_helper_stream(instance)


_CHAT: Final = "openai.resources.chat.completions.completions"
_RESPONSES: Final = "openai.resources.responses.responses"
_BETA_RESPONSES: Final = "openai.resources.beta.responses.responses"  # 2.x+
_EMBEDDINGS: Final = "openai.resources.embeddings"
_CHAT_HELPER: Final = "openai.lib.streaming.chat._completions"
_RESPONSES_HELPER: Final = "openai.lib.streaming.responses._responses"
_BASE_CLIENT: Final = "openai._base_client"


def patches(tel: Telemetry) -> list[tuple[str, str, Wrapper]]:
    """(module, ``Class.method``, wrapper) for everything we patch; missing ones are skipped."""
    chat, achat = sync_call(tel, CHAT), async_call(tel, CHAT)
    resp, aresp = sync_call(tel, RESPONSES), async_call(tel, RESPONSES)
    return [
        (_CHAT, "Completions.create", chat),
        (_CHAT, "Completions.parse", chat),
        (_CHAT, "AsyncCompletions.create", achat),
        (_CHAT, "AsyncCompletions.parse", achat),
        (_RESPONSES, "Responses.create", resp),
        (_RESPONSES, "Responses.parse", resp),
        (_RESPONSES, "AsyncResponses.create", aresp),
        (_RESPONSES, "AsyncResponses.parse", aresp),
        (_BETA_RESPONSES, "Responses.create", resp),
        (_BETA_RESPONSES, "AsyncResponses.create", aresp),
        (_EMBEDDINGS, "Embeddings.create", sync_call(tel, EMBEDDINGS)),
        (_EMBEDDINGS, "AsyncEmbeddings.create", async_call(tel, EMBEDDINGS)),
        (_CHAT_HELPER, "ChatCompletionStream.close", helper_close),
        (_CHAT_HELPER, "AsyncChatCompletionStream.close", async_helper_close),
        (_RESPONSES_HELPER, "ResponseStream.close", helper_close),
        (_RESPONSES_HELPER, "AsyncResponseStream.close", async_helper_close),
        (_BASE_CLIENT, "BaseClient._calculate_retry_timeout", retry_hook),
    ]


def patch(tel: Telemetry) -> list[tuple[str, str]]:
    """Apply every patch that exists in the installed SDK; returns (owner path, method)."""
    done: list[tuple[str, str]] = []
    for module, path, wrapper in patches(tel):
        if attribute_exists(module, path):
            wrap_function_wrapper(module, path, wrapper)
            owner, method = path.rsplit(".", 1)
            done.append((f"{module}.{owner}", method))
    return done


def unpatch(done: list[tuple[str, str]]) -> None:
    """Restore the original functions."""
    for owner, method in done:
        unwrap(owner, method)
