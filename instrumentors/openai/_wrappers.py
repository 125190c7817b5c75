"""Wrapper factories for the OpenAI SDK methods, and the table of what gets patched.

Each public request method is patched on its resource class, so the plain,
``with_raw_response``, ``with_streaming_response`` and ``.stream()`` helper
routes all pass through one wrapper (the helpers call ``create(stream=True)``).
Retries are seen through the SDK's retry-delay method (``_compat``), which its
retry loop calls once per retry, inside the ``except`` of the failed attempt,
in the task or thread of the request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry.trace import get_current_span

from instrumentors import _sdk_calls
from instrumentors._patching import Patch, Wrapper, fixed
from instrumentors._sdk_client import ResultKinds
from instrumentors._sdk_streams import Proxies
from instrumentors.openai import _client, _compat, _extract, _request, _stream
from instrumentors.openai._client import ClientInfo
from instrumentors.telemetry import LLMRun, Telemetry, guard

_START_GUARD: Final = guard("starting an OpenAI span")
_REQUEST_GUARD: Final = guard("reading an OpenAI request")
_HELPER_GUARD: Final = guard("following an OpenAI stream helper")


@dataclass(frozen=True, slots=True)
class Api:
    """How one endpoint's SDK objects map onto a run."""

    start: Callable[[Telemetry, ClientInfo, Any], Any]
    request: Callable[[Any, Mapping[str, Any], ClientInfo], None]
    response: Callable[[Any, Any], None]
    # What the metrics need when the span does not record (model, usage...).
    measure: Callable[[Any, Any], None]
    accumulator: Callable[[LLMRun, bool], _stream.Accumulator] | None = None
    kinds: ResultKinds = _client.KINDS
    proxies: Proxies = _stream.PROXIES


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


class _Call(_sdk_calls.SdkCall):
    """One instrumented OpenAI request (the reading is shared: ``_sdk_calls``)."""

    __slots__ = ()

    def on_error(self, exc: BaseException) -> None:
        _client.on_error(self.run, exc)

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
    return _sdk_calls.sync_call(_start, api, _active)


def async_call(api: Api) -> Callable[[Telemetry], Wrapper]:
    """Factory of the wrapper of an async request method; nothing starts until awaited."""
    return _sdk_calls.async_call(_start, api, _active)


# The SDK's retry delay: one ``retry.attempted`` per retry of a request we trace.
retry_hook: Final = _sdk_calls.retry_delay(_active)


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
