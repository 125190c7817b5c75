"""Stream proxies: the chat span stays open while the user reads, and ends exactly once.

The SDK's ``Stream`` / ``AsyncStream`` of raw events (``create(stream=True)``, or a
raw response's ``parse()``) gets a proxy that stays what it wraps for the user
(``isinstance``, attributes, iteration, context managers); the ``.stream()``
helper's ``MessageStream`` gets one built on the same reading classes
(``_helpers``). Per event a proxy only notes what it needs in an accumulator;
everything is written to the span once, when the stream is exhausted, closed,
exited, fails or is garbage-collected. Also the proxies of ``with_raw_response``
and ``with_streaming_response`` results.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import wrapt

from instrumentors.anthropic import _extract
from instrumentors.anthropic._extract import TOOL_USES, _field
from instrumentors.telemetry import LLMRun, Message, Run, ToolCallRequest, guard

if TYPE_CHECKING:
    _Proxy = wrapt.ObjectProxy[Any]
else:  # wrapt < 2 proxies are not subscriptable at run time
    _Proxy = wrapt.ObjectProxy

_logger = logging.getLogger(__name__)
_END_GUARD: Final = guard("ending an Anthropic stream span")
_CHUNK_GUARD: Final = guard("timing an Anthropic stream's first event")
INCOMPLETE: Final = "incomplete_stream"  # error.type of a stream cut before message_stop


class Accumulator:
    """What a message stream said, gathered event by event (raw and helper events alike)."""

    __slots__ = ("blocks", "capture", "id", "model", "started", "stop", "stopped", "texts", "usage")

    def __init__(self, run: LLMRun) -> None:
        self.capture = run.capture_content
        self.id: str | None = None
        self.model: str | None = None
        self.usage: dict[str, Any] = {}
        self.stop: str | None = None
        self.started = False
        self.stopped = False
        self.blocks: dict[int, list[Any]] = {}  # index -> [id, name, JSON fragments]
        self.texts: list[str] = []

    def add(self, event: Any) -> None:
        kind = event.type
        if kind == "content_block_delta":
            if self.capture:
                self._delta(event.index, event.delta)
        elif kind == "content_block_start":
            block = event.content_block
            if _field(block, "type") in TOOL_USES:
                self.blocks[event.index] = [_field(block, "id"), _field(block, "name"), []]
            elif self.capture and _field(block, "type") == "text" and _field(block, "text"):
                self.texts.append(_field(block, "text"))
        elif kind == "message_start":
            self.started = True
            message = event.message
            self.id, self.model = _field(message, "id"), _field(message, "model")
            self._usage(_field(message, "usage"))
        elif kind == "message_delta":
            self.stop = _field(event.delta, "stop_reason")
            self._usage(_field(event, "usage"))
        elif kind == "message_stop":
            self.stopped = True

    def _delta(self, index: int, delta: Any) -> None:
        kind = _field(delta, "type")
        if kind == "text_delta":
            self.texts.append(_field(delta, "text") or "")
        elif kind == "input_json_delta":
            entry = self.blocks.get(index)
            if entry is not None:
                entry[2].append(_field(delta, "partial_json") or "")

    def _usage(self, used: Any) -> None:
        # message_delta carries the final output count (and, in newer APIs, the input counts).
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ):
            value = _field(used, name) if used is not None else None
            if type(value) is int:
                self.usage[name] = value

    def apply(self, run: LLMRun) -> None:
        calls = [
            ToolCallRequest(name=name or "", id=call_id, arguments="".join(parts) or None)
            for call_id, name, parts in (self.blocks[i] for i in sorted(self.blocks))
        ]
        run.set_response(
            response_id=self.id, model=self.model, finish_reasons=[self.stop] if self.stop else None
        )
        if self.usage:
            _extract.usage(run, self.usage)
        run.register_tool_calls(calls)
        if self.capture:
            text = "".join(self.texts) or None
            run.set_messages(
                outputs=[
                    Message(role="assistant", text=text, tool_calls=calls, finish_reason=self.stop)
                ]
            )


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
    """The async twin of ``_ending_after``."""

    async def ending(self: Any) -> Any:
        try:
            return await getattr(self.__wrapped__, method)()
        finally:
            self._self_end()

    ending.__name__ = method
    return ending


class _StreamMixin(_Proxy):
    """Event and end logic shared by every stream proxy, sync and async."""

    def __init__(
        self, stream: Any, run: LLMRun, acc: Accumulator | None, enriching: bool = False
    ) -> None:
        super().__init__(stream)
        self._self_run = run
        self._self_acc = acc
        self._self_enriching = enriching
        self._self_first = True
        self._self_ended = False

    def _self_event(self, event: Any) -> None:
        # The hot path of a stream: a flag test and the accumulator, nothing else.
        if self._self_first:
            self._self_first = False
            with _CHUNK_GUARD:
                self._self_run.record_chunk()
        acc = self._self_acc
        if acc is not None:
            try:
                acc.add(event)
            except Exception:  # a telemetry bug: log once per stream, keep streaming
                self._self_acc = None
                _logger.debug(
                    "instrumentors: reading an Anthropic stream event failed", exc_info=True
                )

    def _self_apply(self) -> None:
        acc, self._self_acc = self._self_acc, None
        if acc is not None:
            acc.apply(self._self_run)

    def _self_end(self, exhausted: bool = False) -> None:
        """Exhausted, closed, exited or collected: end with what was seen (once).

        A stream read to its end without ``message_stop`` was cut short by the server:
        the user sees no error, but the span says so (``error.type`` ``incomplete_stream``).
        """
        if self._self_ended:
            return
        self._self_ended = True
        run, acc = self._self_run, self._self_acc
        cut = exhausted and acc is not None and acc.started and not acc.stopped
        with _END_GUARD:  # this runs inside the user's iteration: nothing may escape
            try:
                if not run.finished:
                    self._self_apply()
            finally:
                if cut and not self._self_enriching:
                    run.fail_with(INCOMPLETE, "the stream ended before message_stop")
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


class _SyncReading(_StreamMixin):
    """``__next__`` through the proxy: every event is seen, every end is noticed."""

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        try:
            event = self.__wrapped__.__next__()
        except StopIteration:
            self._self_end(exhausted=True)
            raise
        except BaseException as exc:
            self._self_fail(exc)
            raise
        self._self_event(event)
        return event

    close = _ending_after("close")


class _AsyncReading(_StreamMixin):
    """``__anext__`` through the proxy."""

    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> Any:
        try:
            event = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_end(exhausted=True)
            raise
        except BaseException as exc:
            self._self_fail(exc)
            raise
        self._self_event(event)
        return event

    close = _aending_after("close")


class StreamProxy(_SyncReading):
    """A ``Stream`` of raw events whose span ends with it."""

    def __enter__(self) -> StreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_end()


class AsyncStreamProxy(_AsyncReading):
    """An ``AsyncStream`` of raw events whose span ends with it."""

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_end()


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
