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
from typing import TYPE_CHECKING, Any, Final

import wrapt

from instrumentors.openai import _client
from instrumentors.openai._accumulators import Accumulator, ChatAccumulator, ResponsesAccumulator
from instrumentors.telemetry import LLMRun, Run, guard

if TYPE_CHECKING:
    _Proxy = wrapt.ObjectProxy[Any]
else:  # wrapt < 2 proxies are not subscriptable at run time
    _Proxy = wrapt.ObjectProxy

_logger = logging.getLogger(__name__)
__all__ = ["Accumulator", "ChatAccumulator", "ResponsesAccumulator", "StreamProxy"]
_END_GUARD: Final = guard("ending an OpenAI stream span")
_CHUNK_GUARD: Final = guard("timing an OpenAI stream's first chunk")


def fail_run(run: Run, exc: BaseException, enriching: bool) -> None:
    """End ``run`` failed; an enriching run only stops: the outer layer records the exception."""
    if enriching:
        run.stop()
    else:
        run.fail(exc)


def _ending_after(method: str) -> Callable[[Any], Any]:
    """A proxy method that calls the wrapped object's ``method``, then ends the span
    (failed, with ``error.type``, when the method raises)."""

    def ending(self: Any) -> Any:
        try:
            result = getattr(self.__wrapped__, method)()
        except BaseException as exc:
            self._self_fail(exc)
            raise
        self._self_end()
        return result

    ending.__name__ = method
    return ending


def _aending_after(method: str) -> Callable[[Any], Awaitable[Any]]:
    """The async twin of ``_ending_after`` (``close`` / ``aclose`` of async streams).

    Returns a coroutine, as the SDK's method does. One dropped without being awaited
    (``stream.close()`` called as if it were sync) still ends the span when collected.
    """

    async def closing(self: Any) -> Any:
        try:
            result = await getattr(self.__wrapped__, method)()
        except BaseException as exc:
            self._self_fail(exc)
            raise
        self._self_end()
        return result

    def ending(self: Any) -> Awaitable[Any]:
        coroutine = closing(self)
        with _END_GUARD:
            weakref.finalize(coroutine, self._self_end)  # a no-op once it has ended
        return coroutine

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

    def _self_exited(self, exc: BaseException | None, suppressed: Any) -> None:
        """The ``with`` block is left: an exception raised in it fails the span."""
        if exc is not None and not suppressed:
            self._self_fail(exc)
        else:
            self._self_end()

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
            result = self.__wrapped__.__exit__(*exc_info)
        except BaseException as exc:
            self._self_fail(exc)
            raise
        self._self_exited(exc_info[1], result)
        return result

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
            result = await self.__wrapped__.__aexit__(*exc_info)
        except BaseException as exc:
            self._self_fail(exc)
            raise
        self._self_exited(exc_info[1], result)
        return result

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

    def _self_fail(self, exc: BaseException) -> None:
        with _END_GUARD:
            self._self_run.fail(exc)  # idempotent too

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
