"""What an OpenAI stream said, gathered chunk by chunk and written to the run once.

``ChatAccumulator`` reads chat completion chunks, ``ResponsesAccumulator`` Responses
API events. With ``full=False`` (a span that does not record) they keep only what
the call's metrics need: model, usage and the response attributes.
"""

from __future__ import annotations

from typing import Any, Final

from instrumentors.openai import _extract
from instrumentors.telemetry import LLMRun, Message, ToolCallRequest

_FINAL_EVENTS: Final = frozenset({"response.completed", "response.incomplete", "response.failed"})
# The conventions' output messages need a finish reason: a choice the stream never
# finished (closed early, broken off) gets this one, as the official instrumentation's.
_UNFINISHED: Final = "error"


class ChatAccumulator:
    """What a chat completion stream said, gathered chunk by chunk.

    ``full`` is False for a span that does not record: only what the metrics need.
    """

    __slots__ = (
        "attributes",
        "calls",
        "capture",
        "finish",
        "full",
        "id",
        "model",
        "texts",
        "usage",
    )

    def __init__(self, run: LLMRun, full: bool = True) -> None:
        self.full = full
        self.capture = full and run.capture_content
        self.id: str | None = None
        self.model: str | None = None
        self.attributes: dict[str, Any] | None = None
        self.usage: Any = None
        self.finish: dict[int, str] = {}
        # (choice index, tool call index) -> [id, name, argument fragments]
        self.calls: dict[tuple[int, int], list[Any]] = {}
        self.texts: dict[int, list[str]] = {}

    def add(self, chunk: Any) -> None:
        if self.id is None:
            self.id, self.model = chunk.id, chunk.model
            self.attributes = _extract.response_attributes(chunk)
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
            if self.capture:  # a choice that started has an output message, text or not
                texts = self.texts.setdefault(choice.index, [])
                if delta.content:
                    texts.append(delta.content)

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
        if not self.full:
            run.set_response(model=self.model, attributes=self.attributes)
            _extract.chat_usage(run, self.usage)
            return
        finish = self.finish
        reasons = [finish[i] for i in sorted(finish)]
        per_choice: dict[int, list[ToolCallRequest]] = {}
        for (choice, _), (call_id, name, fragments) in sorted(self.calls.items()):
            call = ToolCallRequest(
                name=name or "", id=call_id, arguments="".join(fragments) or None
            )
            per_choice.setdefault(choice, []).append(call)
        calls = [c for calls in per_choice.values() for c in calls]
        run.set_response(
            response_id=self.id,
            model=self.model,
            finish_reasons=reasons,
            attributes=self.attributes,
        )
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
                        finish_reason=finish.get(i, _UNFINISHED),
                    )
                    for i in indexes
                ]
            )


class ResponsesAccumulator:
    """What a Responses API event stream said: the final response, or what came before it."""

    __slots__ = ("created", "final", "full", "items")

    def __init__(self, run: LLMRun, full: bool = True) -> None:
        self.full = full
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
            read = _extract.responses_response if self.full else _extract.responses_measure
            read(run, self.final)
            return
        # Ended early: what is known so far, but no finish reason on the span.
        if self.created is not None:
            run.set_response(response_id=self.created.id, model=self.created.model)
        if not self.full:
            return
        calls = _extract.tool_calls_of(self.items)
        run.register_tool_calls(calls)
        if run.capture_content:
            texts = [_extract.item_text(item) for item in self.items]
            text = "".join(t for t in texts if t) or None
            run.set_messages(
                outputs=[
                    Message(
                        role="assistant", text=text, tool_calls=calls, finish_reason=_UNFINISHED
                    )
                ]
            )
