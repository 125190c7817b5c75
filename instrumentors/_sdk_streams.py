"""Stream and response proxies of the model SDKs built alike (openai, anthropic).

Both SDKs hand out the same kinds of results: a ``Stream`` / ``AsyncStream``, a
``with_streaming_response`` response whose body is not read yet, and a
``with_raw_response`` response. A proxy wraps one and stays what it wraps for the
user (``isinstance``, attributes, iteration, context managers) while the chat span
stays open; it ends the span exactly once, when the stream is exhausted, closed,
exited, fails or is garbage-collected. Per chunk a proxy only notes what it needs
in the layer's accumulator; everything is written to the span once, at the end.

What differs per SDK stays in the layer: the accumulator (how chunks are read),
and a few class-level rules (``_self_exhausted``, ``_self_close_fails``).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol

import wrapt

from instrumentors.telemetry import LLMRun, Run, guard

if TYPE_CHECKING:
    _Proxy = wrapt.ObjectProxy[Any]
else:  # wrapt < 2 proxies are not subscriptable at run time
    _Proxy = wrapt.ObjectProxy

_logger = logging.getLogger(__name__)
_END_GUARD: Final = guard("ending an SDK stream span")
_CHUNK_GUARD: Final = guard("timing an SDK stream's first chunk")
INCOMPLETE: Final = "incomplete_stream"  # error.type of a stream cut before its last event


class Accumulator(Protocol):
    """What a layer gathers from a stream, chunk by chunk, and writes to the run once."""

    def add(self, chunk: Any) -> None: ...

    def apply(self, run: LLMRun) -> None: ...


def fail_run(run: Run, exc: BaseException, enriching: bool) -> None:
    """End ``run`` failed; an enriching run only stops: the outer layer records the exception."""
    if enriching:
        run.stop()
    else:
        run.fail(exc)


def ending_after(method: str) -> Callable[[Any], Any]:
    """A proxy method that calls the wrapped object's ``method``, then ends the span
    (``_self_closed`` decides what an exception raised by the method does to it)."""

    def ending(self: Any) -> Any:
        try:
            result = getattr(self.__wrapped__, method)()
        except BaseException as exc:
            self._self_closed(exc)
            raise
        self._self_end()
        return result

    ending.__name__ = method
    return ending


def aending_after(method: str) -> Callable[[Any], Awaitable[Any]]:
    """The async twin of ``ending_after`` (``close`` / ``aclose`` of async objects).

    Returns a coroutine, as the SDK's method does. One dropped without being awaited
    (``stream.close()`` called as if it were sync) still ends the span when collected.
    """

    async def closing(self: Any) -> Any:
        try:
            result = await getattr(self.__wrapped__, method)()
        except BaseException as exc:
            self._self_closed(exc)
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


class _Ending(_Proxy):
    """A proxy that ends its run: ``_self_end``, ``_self_fail``, and the closing rule."""

    # Whether an exception raised by ``close`` / ``__exit__``, or in the ``with`` block,
    # fails the span (the conventions' rule); a layer may keep such spans unfailed.
    _self_close_fails: ClassVar[bool] = True

    def _self_end(self) -> None:
        raise NotImplementedError

    def _self_fail(self, exc: BaseException) -> None:
        raise NotImplementedError

    def _self_closed(self, exc: BaseException | None) -> None:
        """Closed or left (``close``, ``with``), ``exc`` raised by it or in the block."""
        if exc is not None and self._self_close_fails:
            self._self_fail(exc)
        else:
            self._self_end()


class StreamMixin(_Ending):
    """Chunk and end logic shared by every stream proxy, sync and async."""

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
                _logger.debug(
                    "instrumentors: reading a stream chunk (%s) failed",
                    type(acc).__qualname__,
                    exc_info=True,
                )

    def _self_apply(self) -> None:
        acc, self._self_acc = self._self_acc, None
        if acc is not None:
            acc.apply(self._self_run)

    def _self_end(self, cut: str | None = None) -> None:
        """Exhausted, closed, exited or collected: end with what was seen (once).

        ``cut``: the stream was read to its end but the server cut it short (the user
        sees no error; the span says so, ``error.type`` ``incomplete_stream``).
        """
        if self._self_ended:
            return
        self._self_ended = True
        run = self._self_run
        with _END_GUARD:  # this runs inside the user's iteration: nothing may escape
            try:
                if not run.finished:  # a closed ``with_streaming_response`` may have ended it
                    self._self_apply()
            finally:
                if cut is not None and not self._self_enriching:
                    run.fail_with(INCOMPLETE, cut)
                run.stop()  # idempotent

    # Read to the end: a layer whose streams end with a known last event checks it here.
    _self_exhausted = _self_end

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


class SyncReading(StreamMixin):
    """``__next__`` through the proxy: every chunk is seen, every end is noticed."""

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self.__wrapped__)
        except StopIteration:
            self._self_exhausted()
            raise
        except BaseException as exc:
            self._self_fail(exc)
            raise
        self._self_chunk(chunk)
        return chunk

    close = ending_after("close")


class AsyncReading(StreamMixin):
    """``__anext__`` through the proxy."""

    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_exhausted()
            raise
        except BaseException as exc:
            self._self_fail(exc)
            raise
        self._self_chunk(chunk)
        return chunk

    close = aending_after("close")


class StreamProxy(SyncReading):
    """A ``Stream`` whose span ends with it."""

    def __enter__(self) -> Any:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            result = self.__wrapped__.__exit__(*exc_info)
        except BaseException as exc:
            self._self_closed(exc)
            raise
        self._self_closed(None if result else exc_info[1])
        return result


class AsyncStreamProxy(AsyncReading):
    """An ``AsyncStream`` whose span ends with it."""

    async def __aenter__(self) -> Any:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            result = await self.__wrapped__.__aexit__(*exc_info)
        except BaseException as exc:
            self._self_closed(exc)
            raise
        self._self_closed(None if result else exc_info[1])
        return result


class RawResponseProxy(_Proxy):
    """A ``with_raw_response`` response of a stream: ``parse()`` gives the traced stream."""

    def __init__(self, response: Any, stream: Any) -> None:
        super().__init__(response)
        self._self_stream = stream

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:  # ``parse(to=...)``: another type, not the stream we trace
            return self.__wrapped__.parse(*args, **kwargs)
        return self._self_stream


class ResponseMixin(_Ending):
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


class ResponseProxy(ResponseMixin):
    """An ``APIResponse`` (body not read yet) carrying the open span."""

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_parsed(self.__wrapped__.parse(*args, **kwargs))

    close = ending_after("close")


class AsyncResponseProxy(ResponseMixin):
    """An ``AsyncAPIResponse`` (body not read yet) carrying the open span."""

    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_parsed(await self.__wrapped__.parse(*args, **kwargs))

    close = aending_after("close")


@dataclass(frozen=True, slots=True)
class Proxies:
    """The proxy classes of one SDK's results (a layer names the ones it changes)."""

    stream: type[StreamMixin] = StreamProxy
    async_stream: type[StreamMixin] = AsyncStreamProxy
    response: type[ResponseMixin] = ResponseProxy
    async_response: type[ResponseMixin] = AsyncResponseProxy
    raw: type[RawResponseProxy] = RawResponseProxy
