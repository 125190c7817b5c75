"""Stream proxies: the chat span stays open while the user reads, and ends exactly once.

``generate_content_stream`` returns a generator (``client.aio``: an async
generator) that does its work while it is read: the HTTP requests, the retries,
and the automatic-function-calling turns. So the proxy makes the call current
(its span and ``ACTIVE``) while it pulls each chunk, and only then. Per chunk it
notes what it needs in a ``StreamState``; everything is written to the span
once, when the stream is exhausted, closed, fails or is garbage-collected.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

import wrapt
from opentelemetry.context import attach, detach

from instrumentors.google_genai._call import ACTIVE, Call
from instrumentors.telemetry import guard

if TYPE_CHECKING:
    _Proxy = wrapt.ObjectProxy[Any]
else:  # wrapt < 2 proxies are not subscriptable at run time
    _Proxy = wrapt.ObjectProxy

_logger = logging.getLogger(__name__)
_END_GUARD: Final = guard("ending a Gemini stream span")
_CHUNK_GUARD: Final = guard("timing a Gemini stream's first chunk")


class _StreamMixin(_Proxy):
    """Chunk and end logic shared by the sync and async stream proxies."""

    def __init__(self, stream: Any, call: Call) -> None:
        super().__init__(stream)
        self._self_call = call
        self._self_first = True
        self._self_ended = False

    def _self_chunk(self, chunk: Any) -> None:
        call = self._self_call
        if self._self_first:
            self._self_first = False
            with _CHUNK_GUARD:
                if call.run is not None:  # (a chat session's span opens with its first request)
                    call.run.record_chunk()
        if call.recording:
            try:
                call.chunk(chunk)
            except Exception:  # a telemetry bug: log once per stream, keep streaming
                call.recording = False
                call.chunks = None
                _logger.debug("instrumentors: reading a Gemini stream chunk failed", exc_info=True)

    def _self_apply(self) -> None:
        call = self._self_call
        state, call.chunks = call.chunks, None
        if state is not None:
            state.apply(call.run)

    def _self_end(self) -> None:
        """Exhausted, closed or collected: end with what was seen (once)."""
        if self._self_ended:
            return
        self._self_ended = True
        run = self._self_call.run
        if run is None:  # a chat session that sent no request: no span
            return
        with _END_GUARD:  # this runs inside the user's iteration: nothing may escape
            try:
                self._self_apply()
            finally:
                run.stop()

    def _self_fail(self, exc: BaseException) -> None:
        if self._self_ended:
            return
        self._self_ended = True
        if self._self_call.run is None:
            return
        with _END_GUARD:
            try:
                self._self_apply()
            finally:
                self._self_call.fail(exc)

    def _self_enter(self) -> tuple[Any, Any]:
        """Make the call current while the SDK works for it (requests, retries, tools)."""
        call = self._self_call
        run = call.run
        return (attach(run.context) if run is not None else None), ACTIVE.set(call)

    def _self_leave(self, tokens: tuple[Any, Any]) -> None:
        ACTIVE.reset(tokens[1])
        if tokens[0] is not None:
            detach(tokens[0])

    def __del__(self) -> None:  # abandoned half-way: end with what was seen, status UNSET
        if not getattr(self, "_self_ended", True):  # (True: half-built, nothing to end)
            self._self_end()


class StreamProxy(_StreamMixin):
    """The generator of ``generate_content_stream``, whose span ends with it."""

    def __iter__(self) -> StreamProxy:
        return self

    def __next__(self) -> Any:
        tokens = self._self_enter()
        try:
            chunk = next(self.__wrapped__)
        except StopIteration:
            self._self_end()
            raise
        except BaseException as exc:
            self._self_fail(exc)
            raise
        finally:
            self._self_leave(tokens)
        self._self_chunk(chunk)
        return chunk

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end()


class AsyncStreamProxy(_StreamMixin):
    """The async generator of ``client.aio.models.generate_content_stream``."""

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        tokens = self._self_enter()
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_end()
            raise
        except BaseException as exc:
            self._self_fail(exc)
            raise
        finally:
            self._self_leave(tokens)
        self._self_chunk(chunk)
        return chunk

    async def aclose(self) -> None:
        try:
            await self.__wrapped__.aclose()
        finally:
            self._self_end()
