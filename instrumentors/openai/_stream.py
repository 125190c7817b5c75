"""Stream proxies: the chat span stays open while the user reads, and ends exactly once.

A proxy wraps the SDK's ``Stream`` / ``AsyncStream`` (or a
``with_streaming_response`` ``APIResponse``, or the ``with_raw_response``
response of a stream) and stays what it wraps for the user (``isinstance``,
attributes, iteration, context managers). Per chunk it only notes what it needs
(first-chunk time, ids, finish reasons, tool-call deltas, usage) in an
accumulator; everything is written to the span once, when the stream is
exhausted, closed, exited, fails or is garbage-collected.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, Protocol

import wrapt

from instrumentors.openai import _client, _extract
from instrumentors.telemetry import LLMRun, Message, Run, ToolCallRequest, guard

if TYPE_CHECKING:
    _Proxy = wrapt.ObjectProxy[Any]
else:  # wrapt < 2 proxies are not subscriptable at run time
    _Proxy = wrapt.ObjectProxy

_logger = logging.getLogger(__name__)
_END_GUARD: Final = guard("ending an OpenAI stream span")
_CHUNK_GUARD: Final = guard("timing an OpenAI stream's first chunk")
_FINAL_EVENTS: Final = frozenset({"response.completed", "response.incomplete", "response.failed"})


class Accumulator(Protocol):
    def add(self, chunk: Any) -> None: ...

    def apply(self, run: LLMRun) -> None: ...


class ChatAccumulator:
    """What a chat completion stream said, gathered chunk by chunk."""

    __slots__ = ("calls", "capture", "finish", "id", "model", "texts", "usage")

    def __init__(self, run: LLMRun) -> None:
        self.capture = run.capture_content
        self.id: str | None = None
        self.model: str | None = None
        self.usage: Any = None
        self.finish: dict[int, str] = {}
        # (choice index, tool call index) -> [id, name, argument fragments]
        self.calls: dict[tuple[int, int], list[Any]] = {}
        self.texts: dict[int, list[str]] = {}

    def add(self, chunk: Any) -> None:
        if self.id is None:
            self.id, self.model = chunk.id, chunk.model
        usage = chunk.usage
        if usage is not None:
            self.usage = usage
        for choice in chunk.choices:
            if choice.finish_reason is not None:
                self.finish[choice.index] = choice.finish_reason
            delta = choice.delta
            if delta is None:
                continue
            if delta.tool_calls:
                self._tool_deltas(choice.index, delta.tool_calls)
            if self.capture and delta.content:
                self.texts.setdefault(choice.index, []).append(delta.content)

    def _tool_deltas(self, choice: int, deltas: Any) -> None:
        for delta in deltas:
            entry = self.calls.get((choice, delta.index))
            if entry is None:
                entry = self.calls[(choice, delta.index)] = [None, None, []]
            if delta.id:
                entry[0] = delta.id
            function = delta.function
            if function is not None:
                if function.name:
                    entry[1] = function.name
                if self.capture and function.arguments:
                    entry[2].append(function.arguments)

    def apply(self, run: LLMRun) -> None:
        finish = self.finish
        reasons = [finish[i] for i in sorted(finish)]
        per_choice: dict[int, list[ToolCallRequest]] = {}
        for (choice, _), (call_id, name, fragments) in sorted(self.calls.items()):
            call = ToolCallRequest(
                name=name or "", id=call_id, arguments="".join(fragments) or None
            )
            per_choice.setdefault(choice, []).append(call)
        calls = [c for calls in per_choice.values() for c in calls]
        run.set_response(response_id=self.id, model=self.model, finish_reasons=reasons)
        _extract.chat_usage(run, self.usage)
        run.register_tool_calls(calls)
        if self.capture:
            indexes = sorted(set(self.texts) | set(per_choice) | set(finish))
            run.set_messages(
                outputs=[
                    Message(
                        role="assistant",
                        text="".join(self.texts.get(i, ())) or None,
                        tool_calls=per_choice.get(i, ()),
                        finish_reason=finish.get(i),
                    )
                    for i in indexes
                ]
            )


class ResponsesAccumulator:
    """What a Responses API event stream said: the final response, or what came before it."""

    __slots__ = ("created", "final", "items")

    def __init__(self, run: LLMRun) -> None:
        self.created: Any = None
        self.final: Any = None
        self.items: list[Any] = []

    def add(self, event: Any) -> None:
        kind = event.type
        if kind in _FINAL_EVENTS:
            self.final = event.response
        elif kind == "response.output_item.done":
            self.items.append(event.item)
        elif kind == "response.created":
            self.created = event.response

    def apply(self, run: LLMRun) -> None:
        if self.final is not None:
            _extract.responses_response(run, self.final)
            return
        # Ended early: what is known so far, but no finish reason.
        if self.created is not None:
            run.set_response(response_id=self.created.id, model=self.created.model)
        run.register_tool_calls(_extract.tool_calls_of(self.items))


def fail_run(run: Run, exc: BaseException, enriching: bool) -> None:
    """End ``run`` failed; an enriching run only stops: the outer layer records the exception."""
    if enriching:
        run.stop()
    else:
        run.fail(exc)


def _ending_after(method: str) -> Callable[[Any], Any]:
    """A proxy method that calls the wrapped object's ``method``, then ends the span."""

    def ending(self: Any) -> Any:
        try:
            return getattr(self.__wrapped__, method)()
        finally:
            self._self_end()

    ending.__name__ = method
    return ending


def _aending_after(method: str) -> Callable[[Any], Awaitable[Any]]:
    """The async twin of ``_ending_after`` (``close`` / ``aclose`` of async streams)."""

    async def ending(self: Any) -> Any:
        try:
            return await getattr(self.__wrapped__, method)()
        finally:
            self._self_end()

    ending.__name__ = method
    return ending


class _StreamMixin(_Proxy):
    """Chunk and end logic shared by the sync and async stream proxies."""

    def __init__(
        self, stream: Any, run: LLMRun, acc: Accumulator | None, enriching: bool = False
    ) -> None:
        super().__init__(stream)
        self._self_run = run
        self._self_acc = acc
        self._self_enriching = enriching
        self._self_first = True
        self._self_ended = False

    def _self_chunk(self, chunk: Any) -> None:
        # The hot path of a stream: a flag test and the accumulator, nothing else.
        if self._self_first:
            self._self_first = False
            with _CHUNK_GUARD:
                self._self_run.record_chunk()
        acc = self._self_acc
        if acc is not None:
            try:
                acc.add(chunk)
            except Exception:  # a telemetry bug: log once per stream, keep streaming
                self._self_acc = None
                _logger.debug("instrumentors: reading an OpenAI stream chunk failed", exc_info=True)

    def _self_apply(self) -> None:
        acc, self._self_acc = self._self_acc, None
        if acc is not None:
            acc.apply(self._self_run)

    def _self_end(self) -> None:
        """Exhausted, closed, exited or collected: end with what was seen (once)."""
        if self._self_ended:
            return
        self._self_ended = True
        run = self._self_run
        with _END_GUARD:  # this runs inside the user's iteration: nothing may escape
            try:
                if not run.finished:  # a closed ``with_streaming_response`` may have ended it
                    self._self_apply()
            finally:
                run.stop()  # idempotent

    def _self_fail(self, exc: BaseException) -> None:
        if self._self_ended:
            return
        self._self_ended = True
        run = self._self_run
        with _END_GUARD:
            try:
                if not run.finished:
                    self._self_apply()
            finally:
                fail_run(run, exc, self._self_enriching)

    def __del__(self) -> None:  # abandoned half-way: end with what was seen, status UNSET
        if not getattr(self, "_self_ended", True):  # (True: half-built, nothing to end)
            self._self_end()


class StreamProxy(_StreamMixin):
    """A ``Stream`` whose span ends with it."""

    def __iter__(self) -> StreamProxy:
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self.__wrapped__)
        except StopIteration:
            self._self_end()
            raise
        except BaseException as exc:
            self._self_fail(exc)
            raise
        self._self_chunk(chunk)
        return chunk

    def __enter__(self) -> StreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_end()

    close = _ending_after("close")


class AsyncStreamProxy(_StreamMixin):
    """An ``AsyncStream`` whose span ends with it."""

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_end()
            raise
        except BaseException as exc:
            self._self_fail(exc)
            raise
        self._self_chunk(chunk)
        return chunk

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_end()

    close = _aending_after("close")

    if _client.ASYNC_STREAM_HAS_ACLOSE:
        aclose = _aending_after("aclose")


# ``.stream()`` helper -> the stream proxy it reads (kept while the helper lives).
_helpers: weakref.WeakKeyDictionary[Any, _StreamMixin] = weakref.WeakKeyDictionary()


def track_helper(helper: Any, raw_stream: Any) -> None:
    """A ``.stream()`` helper was made over ``raw_stream`` (its public constructor argument)."""
    if isinstance(raw_stream, _StreamMixin):
        _helpers[helper] = raw_stream


def end_helper_stream(helper: Any) -> None:
    """End the span under a ``.stream()`` helper that closed its HTTP response directly."""
    raw = _helpers.pop(helper, None)
    if raw is not None:
        raw._self_end()


class RawResponseProxy(_Proxy):
    """A ``with_raw_response`` response of a stream: ``parse()`` gives the traced stream."""

    def __init__(self, response: Any, stream: Any) -> None:
        super().__init__(response)
        self._self_stream = stream

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:  # ``parse(to=...)``: another type, not the stream we trace
            return self.__wrapped__.parse(*args, **kwargs)
        return self._self_stream


class _ResponseMixin(_Proxy):
    """``with_streaming_response``: the span ends when the body is parsed or the response closed."""

    def __init__(self, response: Any, run: Run, on_parsed: Callable[[Any], Any]) -> None:
        super().__init__(response)
        self._self_run = run
        self._self_on_parsed = on_parsed
        self._self_last: tuple[Any, Any] | None = None

    def _self_parsed(self, parsed: Any) -> Any:
        last = self._self_last
        if last is not None and last[0] is parsed:  # the SDK caches parse(): same proxy again
            return last[1]
        out = self._self_on_parsed(parsed)
        self._self_last = (parsed, out)
        return out

    def _self_end(self) -> None:
        with _END_GUARD:
            self._self_run.stop()  # idempotent: a parsed body has ended it already

    def __del__(self) -> None:
        last = getattr(self, "_self_last", ())
        if last is None or (last and last[1] is last[0]):  # else a stream's proxy owns the run
            self._self_end()


class ResponseProxy(_ResponseMixin):
    """An ``APIResponse`` (body not read yet) carrying the open span."""

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_parsed(self.__wrapped__.parse(*args, **kwargs))

    close = _ending_after("close")


class AsyncResponseProxy(_ResponseMixin):
    """An ``AsyncAPIResponse`` (body not read yet) carrying the open span."""

    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_parsed(await self.__wrapped__.parse(*args, **kwargs))

    close = _aending_after("close")
