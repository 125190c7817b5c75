"""Stream proxies: the chat span stays open while the user reads, and ends exactly once.

The SDK's ``Stream`` / ``AsyncStream`` of raw events (``create(stream=True)``, or a
raw response's ``parse()``) gets one of the shared proxies (``instrumentors._sdk_streams``,
as the OpenAI layer's), the ``.stream()`` helper's ``MessageStream`` one built on the
same reading classes (``_helpers``). What is Anthropic's is here: the accumulator
that reads its events, and two rules: a stream read to its end without
``message_stop`` was cut short; closing a stream or a response never fails its span.
"""

from __future__ import annotations

from typing import Any, Final

from instrumentors import _sdk_streams
from instrumentors._sdk_fields import field as _field
from instrumentors._sdk_streams import AsyncReading, Proxies, StreamMixin, SyncReading
from instrumentors.anthropic import _extract
from instrumentors.anthropic._extract import TOOL_USES
from instrumentors.telemetry import LLMRun, Message, ToolCallRequest


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


def accumulator(run: LLMRun, full: bool) -> Accumulator | None:
    """A stream's accumulator; none for a span that does not record."""
    return Accumulator(run) if full else None


class _Rules(StreamMixin):
    """What Anthropic's streams add to the shared reading: a stream read to its end
    without ``message_stop`` was cut short by the server; closing one (``close``,
    ``with``) ends its span, never fails it, whatever was raised."""

    _self_close_fails = False

    def _self_exhausted(self, cut: str | None = None) -> None:
        acc = self._self_acc
        if cut is None and isinstance(acc, Accumulator) and acc.started and not acc.stopped:
            cut = "the stream ended before message_stop"
        self._self_end(cut)


class SyncEvents(_Rules, SyncReading):
    """``__next__`` through the proxy (raw events, or the ``.stream()`` helper's)."""


class AsyncEvents(_Rules, AsyncReading):
    """``__anext__`` through the proxy."""


class StreamProxy(_Rules, _sdk_streams.StreamProxy):
    """A ``Stream`` of raw events whose span ends with it."""


class AsyncStreamProxy(_Rules, _sdk_streams.AsyncStreamProxy):
    """An ``AsyncStream`` of raw events whose span ends with it."""


class ResponseProxy(_sdk_streams.ResponseProxy):
    """An ``APIResponse`` (body not read yet) carrying the open span."""

    _self_close_fails = False


class AsyncResponseProxy(_sdk_streams.AsyncResponseProxy):
    """An ``AsyncAPIResponse`` (body not read yet) carrying the open span."""

    _self_close_fails = False


PROXIES: Final = Proxies(StreamProxy, AsyncStreamProxy, ResponseProxy, AsyncResponseProxy)
