"""Captured content: messages in the GenAI conventions' JSON shape, redacted and truncated,
on the span, in an event (a log record through the Logs API), or both.

Only used with content capture on (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``),
or for the sampled fraction of tool calls. Every value passes the same redaction
as parameters (secret keys, secret-looking strings, JSON inside strings) and each
string is cut to the configured length, so the JSON stays valid.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from opentelemetry.context import Context
from opentelemetry.util.types import AttributeValue

from instrumentors import semconv
from instrumentors._compat import logs_api
from instrumentors.config import Settings
from instrumentors.params import MAX_DEPTH, redact, truncate
from instrumentors.version import __version__

_logger = logging.getLogger(__name__)

EMIT_EVENT_ENV: Final = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"
_JSON_ARGUMENTS_LIMIT: Final = 1 << 20  # tool-call arguments parsed from JSON text up to 1 MB


@dataclass(slots=True)
class ToolCallRequest:
    """A tool call a model asked for (neutral form)."""

    name: str
    id: str | None = None
    arguments: Any = None


@dataclass(slots=True)
class Message:
    """A chat message in neutral form; turned into GenAI message parts only under capture."""

    role: str
    text: str | None = None
    tool_calls: Sequence[ToolCallRequest] = field(default_factory=tuple)
    tool_call_id: str | None = None
    tool_result: Any = None
    finish_reason: str | None = None


class ContentPolicy:
    """Where captured content goes, read once per ``Telemetry`` from its settings."""

    __slots__ = ("_event_logger", "_scope", "config", "in_event", "on", "on_span")

    def __init__(self, config: Settings, scope: str) -> None:
        self.config = config
        self._scope = scope
        mode = config.capture_mode
        self.on = config.capture_content
        self.on_span = mode in ("SPAN_ONLY", "SPAN_AND_EVENT")
        emit = os.environ.get(EMIT_EVENT_ENV, "").strip().lower()
        # The conventions' switch: events follow the mode unless set explicitly.
        self.in_event = self.on and (
            emit == "true" or (emit != "false" and mode in ("EVENT_ONLY", "SPAN_AND_EVENT"))
        )
        self._event_logger: Any = None

    def value(self, value: Any) -> Any:
        """``value`` redacted, each string cut to the limit: JSON-ready, never raises."""
        try:
            return _bounded(redact(value), self.config.max_attribute_length, 0)
        except Exception:
            _logger.debug("instrumentors: preparing captured content failed", exc_info=True)
            return f"<unserializable {type(value).__qualname__}>"

    def emit(self, event_name: str, attributes: Mapping[str, Any], context: Context) -> None:
        """One content event as a log record (nothing without a LoggerProvider)."""
        try:
            logger = self._event_logger
            if logger is None:
                api = logs_api()
                if api is None:
                    return
                logger = self._event_logger = api.get_logger(self._scope, __version__)
            api = logs_api()
            if api is not None:
                record = api.LogRecord(
                    event_name=event_name, attributes=dict(attributes), context=context
                )
                logger.emit(record)
        except Exception:
            _logger.debug("instrumentors: emitting %s failed", event_name, exc_info=True)


def _bounded(value: Any, limit: int, depth: int) -> Any:
    if depth > MAX_DEPTH:
        return "<max-depth>"
    if isinstance(value, str):
        return truncate(value, limit)
    if isinstance(value, Mapping):
        return {str(k): _bounded(v, limit, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_bounded(v, limit, depth + 1) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return truncate(str(value), limit)


def to_json(value: Any) -> str:
    """Compact JSON text of prepared content (as the conventions' span attributes)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _arguments(arguments: Any) -> Any:
    """Tool-call arguments as an object when the model sent JSON text (the conventions' shape)."""
    if isinstance(arguments, str) and len(arguments) <= _JSON_ARGUMENTS_LIMIT:
        text = arguments.strip()
        if text[:1] in ("{", "["):
            try:
                return json.loads(text)
            except ValueError:
                return arguments
    return arguments


def _parts(message: Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if message.text:
        parts.append({"type": "text", "content": message.text})
    for call in message.tool_calls:
        part: dict[str, Any] = {"type": "tool_call", "name": call.name}
        if call.id is not None:
            part["id"] = call.id
        if call.arguments is not None:
            part["arguments"] = _arguments(call.arguments)
        parts.append(part)
    if message.tool_call_id is not None or message.tool_result is not None:
        response: dict[str, Any] = {"type": "tool_call_response"}
        if message.tool_call_id is not None:
            response["id"] = message.tool_call_id
        response["response"] = message.tool_result
        parts.append(response)
    return parts


def messages(items: Sequence[Message], output: bool) -> list[dict[str, Any]]:
    """Neutral messages in the conventions' shape (``finish_reason`` on output messages)."""
    shaped: list[dict[str, Any]] = []
    for message in items:
        entry: dict[str, Any] = {"role": message.role, "parts": _parts(message)}
        if output and message.finish_reason is not None:
            entry["finish_reason"] = message.finish_reason
        shaped.append(entry)
    return shaped


def system_parts(texts: Sequence[str]) -> list[dict[str, Any]]:
    """System instructions as text parts."""
    return [{"type": "text", "content": text} for text in texts if text]


class CapturedChat:
    """What a chat run captured: prepared (redacted, bounded) content, written at its end."""

    __slots__ = ("inputs", "outputs", "system", "tool_definitions")

    def __init__(self) -> None:
        self.inputs: list[dict[str, Any]] | None = None
        self.outputs: list[dict[str, Any]] | None = None
        self.system: list[dict[str, Any]] | None = None
        self.tool_definitions: list[dict[str, Any]] | None = None

    def fill_from(self, other: CapturedChat) -> None:
        """Take what ``other`` (an inner layer) captured and this one did not."""
        for name in self.__slots__:
            if getattr(self, name) is None:
                setattr(self, name, getattr(other, name))

    def items(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """(attribute, content) for what was captured."""
        pairs = (
            (semconv.GEN_AI_INPUT_MESSAGES, self.inputs),
            (semconv.GEN_AI_OUTPUT_MESSAGES, self.outputs),
            (semconv.GEN_AI_SYSTEM_INSTRUCTIONS, self.system),
            (semconv.GEN_AI_TOOL_DEFINITIONS, self.tool_definitions),
        )
        return [(key, value) for key, value in pairs if value]

    def write(
        self,
        policy: ContentPolicy,
        values: dict[str, AttributeValue],
        event_attributes: Mapping[str, AttributeValue],
        context: Context,
    ) -> None:
        """Span attributes (JSON text) and/or the inference event, as the policy says."""
        captured = self.items()
        if not captured:
            return
        if policy.on_span:
            for key, value in captured:
                values[key] = to_json(value)
        if policy.in_event:
            attributes: dict[str, Any] = dict(event_attributes)
            attributes.update(captured)
            policy.emit(semconv.EVENT_INFERENCE_DETAILS, attributes, context)
