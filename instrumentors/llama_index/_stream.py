"""LLM streams: their span outlives the LlamaIndex span, which exits with the generator.

LlamaIndex's LLM callbacks send ``*InProgressEvent`` per chunk and an end (or
``ExceptionEvent``) when the stream ends, each carrying the id of the span that
already exited. Those events drive the run; a closed or garbage-collected
stream ends it with status UNSET.

The run stays current from the exit until the first chunk, because LlamaIndex
makes the provider request at the first read and the provider layer must find
this chat span there (one span per request). If it cannot be released where it
was attached (read in another task, or under a span the reader opened), the
attachment is remembered and released the next time we see it current.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.exception import ExceptionEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatInProgressEvent,
    LLMCompletionEndEvent,
    LLMCompletionInProgressEvent,
)
from opentelemetry.context import get_current

from instrumentors.llama_index import _extract, _extract_llm
from instrumentors.telemetry import LLMRun, guard

if TYPE_CHECKING:
    from instrumentors.llama_index._tracker import Record

_CHUNK: Final = 1
_END: Final = 2
_ERROR: Final = 3
_EVENT_KINDS: Final[dict[type, int]] = {
    LLMChatInProgressEvent: _CHUNK,
    LLMCompletionInProgressEvent: _CHUNK,
    LLMChatEndEvent: _END,
    LLMCompletionEndEvent: _END,
    ExceptionEvent: _ERROR,
}
_LEAKED_CAP: Final = 1024
_ATTRS: Final = guard("LlamaIndex stream attributes")
_STOP: Final = guard("ending a LlamaIndex stream")


class Streams:
    """LLM runs whose stream is being read, keyed by LlamaIndex span id (capped)."""

    __slots__ = ("_capacity", "_forget", "leaked", "open")

    def __init__(self, capacity: int, forget: Callable[[Record], None]) -> None:
        self._capacity = capacity
        self._forget = forget
        self.open: dict[str, Record] = {}
        self.leaked: dict[int, Record] = {}  # id(attached context) -> ended, still attached

    def hand_over(self, span_id: str, record: Record, stream: object) -> None:
        """The LLM span exited with a generator: keep the run (and its attachment) open."""
        if len(self.open) >= self._capacity:
            self._end(record)
            record.run.stop()
            return
        record.finalizer = weakref.finalize(stream, self.abandon, span_id)
        self.open[span_id] = record

    def handle(self, event: BaseEvent) -> None:
        """Apply one dispatcher event (cheap for the many that are not ours)."""
        span_id = event.span_id
        if not span_id:
            return
        record = self.open.get(span_id)
        if record is None:
            return
        kind = _EVENT_KINDS.get(type(event))
        if kind is None:
            return
        # The provider request has been made by the time anything arrives.
        record.release(on_top=True)
        run = record.run
        if not isinstance(run, LLMRun):
            return
        if kind == _CHUNK:
            run.record_chunk()
            with _ATTRS:
                reason = _extract_llm.chunk_finish_reason(getattr(event, "response", None))
                if reason is not None:
                    record.finish_reason = reason
            return
        if self.open.pop(span_id, None) is None:
            return
        self._end(record)
        if kind == _END:
            with _ATTRS:
                if run.span.is_recording():
                    finish_llm(
                        run,
                        getattr(event, "response", None),
                        chat=isinstance(event, LLMChatEndEvent),
                        finish_reason=record.finish_reason,
                    )
            run.stop()
            return
        error = getattr(event, "exception", None)
        if error is None or _extract.is_control_flow(error):
            run.stop()  # closed or cancelled: abandoned, status UNSET
        else:
            run.fail(error)

    def abandon(self, span_id: str) -> None:
        """GC fallback: a stream dropped before its end event; the span ends UNSET."""
        with _STOP:
            record = self.open.pop(span_id, None)
            if record is not None:
                self._end(record)
                record.run.stop()

    def release_leaked(self) -> None:
        """Release an ended stream's attachment if it is the current context here."""
        record = self.leaked.get(id(get_current()))
        if record is not None and record.release(on_top=True):
            del self.leaked[id(record.attached)]

    def close(self) -> None:
        """End every open stream run (uninstrument)."""
        for span_id in list(self.open):
            self.abandon(span_id)
        self.leaked.clear()

    def _end(self, record: Record) -> None:
        finalizer = record.finalizer
        if finalizer is not None:
            finalizer.detach()
        if not record.release(on_top=True):
            if len(self.leaked) >= _LEAKED_CAP:  # its context is long gone, most likely
                del self.leaked[next(iter(self.leaked))]
            self.leaked[id(record.attached)] = record
        self._forget(record)


def finish_llm(run: LLMRun, response: Any, *, chat: bool, finish_reason: str | None = None) -> None:
    """Response id, model, finish reasons, usage, requested tool calls, and (capture) output."""
    info = _extract_llm.response_info(response)
    reasons = info.finish_reasons or ([finish_reason] if finish_reason else None)
    if info.response_id or info.model or reasons:
        run.set_response(response_id=info.response_id, model=info.model, finish_reasons=reasons)
    if info.input_tokens is not None or info.output_tokens is not None:
        run.set_usage(
            input_tokens=info.input_tokens,
            output_tokens=info.output_tokens,
            cache_read_input_tokens=info.cached_tokens,
            reasoning_tokens=info.reasoning_tokens,
        )
    if chat:
        run.register_tool_calls(_extract_llm.tool_calls(response))
    if run.capture_content:
        reason = reasons[0] if reasons else None
        run.set_messages(outputs=_extract_llm.output_messages(response, reason))
