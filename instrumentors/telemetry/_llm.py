"""LLM runs (chat / text completion) and the neutral message records frameworks fill."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context, get_value
from opentelemetry.util.genai._conversation_context import with_conversation_id
from opentelemetry.util.genai._inference_invocation import SuppressedInferenceInvocation
from opentelemetry.util.genai.handler import TelemetryHandler
from opentelemetry.util.genai.invocation import (
    CLIENT_INFERENCE_CONTEXT_KEY,
    InferenceData,
    InferenceInvocation,
)
from opentelemetry.util.genai.types import (
    InputMessage,
    MessagePart,
    OutputMessage,
    TextPart,
    ToolCallRequestPart,
    ToolCallResponsePart,
)
from opentelemetry.util.types import AttributeValue

from instrumentors import semconv
from instrumentors.config import Settings
from instrumentors.links import registry as link_registry
from instrumentors.params import safe_content, truncate
from instrumentors.telemetry._chat import LeanChat, chat_shape, start_attributes
from instrumentors.telemetry._guard import ATTR_GUARD as _ATTR_GUARD
from instrumentors.telemetry._runs import Run

_logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ToolCallRequest:
    """A tool call a model asked for (neutral form)."""

    name: str
    id: str | None = None
    arguments: Any = None


@dataclass(slots=True)
class Message:
    """A chat message in neutral form; converted to GenAI message parts only under capture."""

    role: str
    text: str | None = None
    tool_calls: Sequence[ToolCallRequest] = field(default_factory=tuple)
    tool_call_id: str | None = None
    tool_result: Any = None
    finish_reason: str | None = None


# --------------------------------------------------------------------------- runs


class _LeanInference(InferenceInvocation):
    """util-genai's inference invocation, minus its costliest step when it does nothing.

    At finish util-genai merges the context data that inner layers may have
    published (a field-by-field walk over ~50 dataclass fields) even when none
    did, which is most calls; skip the merge then.
    """

    def enrich_from_context(self, data: InferenceData) -> None:
        # An inner layer that published set at least one of these (plain checks: hot path).
        if (
            data.attributes
            or data.response_id is not None
            or data.response_model is not None
            or data.response_finish_reasons is not None
            or data.usage_input_tokens is not None
            or data.usage_output_tokens is not None
            or data.error_type is not None
            or data.server_address is not None
            or data.request_stream is not None
            or data.input_messages
            or data.output_messages
        ):
            super().enrich_from_context(data)


def new_inference(
    handler: TelemetryHandler,
    provider: str,
    *,
    request_model: str | None,
    server_address: str | None,
    server_port: int | None,
    operation_name: str,
    context: Context | None,
    attach: bool,
    conversation_id: str | None,
    lean: bool = False,
    session_id: str | None = None,
) -> InferenceInvocation | LeanChat:
    """``handler.inference(...)``, lighter when this layer owns the span.

    ``lean`` (no content capture, events or completion hooks): our own lifecycle,
    ``LeanChat``, which starts with ``session_id`` too; else util-genai's
    invocation, minus its empty per-finish merge (the caller sets the session).
    """
    if not isinstance(get_value(CLIENT_INFERENCE_CONTEXT_KEY, context=context), InferenceData):
        try:
            if lean:
                shape = chat_shape(
                    operation_name, provider, request_model, server_address, server_port
                )
                if conversation_id:
                    context = with_conversation_id(conversation_id, context)
                return LeanChat(
                    handler._tracer,
                    handler._instruments,
                    shape,
                    start_attributes(shape, conversation_id, session_id),
                    context,
                    attach,
                )
            return _LeanInference(
                handler._tracer,
                handler._instruments,
                handler._logger,
                handler._completion_hook,
                provider,
                request_model=request_model,
                server_address=server_address,
                server_port=server_port,
                operation_name=operation_name,
                content_capturing_mode=handler._content_capturing_mode,
                context=context,
                _attach_to_context=attach,
                conversation_id=conversation_id,
            )
        except (AttributeError, TypeError):  # util-genai changed its internals: the public way
            _logger.debug("lean inference unavailable", exc_info=True)
    return handler.inference(
        provider,
        request_model=request_model,
        server_address=server_address,
        server_port=server_port,
        operation_name=operation_name,
        context=context,
        _attach_to_context=attach,
        conversation_id=conversation_id,
    )


class LLMRun(Run):
    """A ``chat`` / ``text_completion`` span (or, nested in another layer's, an enrichment)."""

    __slots__ = ("_config",)

    def __init__(self, inv: InferenceInvocation | LeanChat, config: Settings) -> None:
        super().__init__(inv)
        self._config = config

    @property
    def _llm(self) -> Any:
        """util-genai's invocation or ``LeanChat``: the same setters by name."""
        return self._inv

    @property
    def capture_content(self) -> bool:
        """Whether message content is recorded for this call."""
        return self._config.capture_content

    @property
    def lean_values(self) -> dict[str, AttributeValue] | None:
        """The attribute batch a lean chat run writes when it ends, or None for other runs.

        For extractors' fast paths: keys are span attributes, written as the setters
        would (``set_response`` and friends stay the general way, for every run).
        """
        inv = self._inv
        return inv.values if type(inv) is LeanChat else None

    def register_tool_calls_in(
        self, values: dict[str, AttributeValue], calls: Sequence[ToolCallRequest]
    ) -> None:
        """``register_tool_calls`` for a lean run's batch (``lean_values``)."""
        if not calls:
            return
        span_context = self._inv.span.get_span_context()
        ids = []
        for call in calls:
            if call.id:
                link_registry.register(call.id, span_context)
                ids.append(call.id)
        if ids:
            values[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS] = ids
        values[semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES] = [c.name for c in calls]

    @property
    def enriching(self) -> bool:
        """True when another layer's chat span owns this request and this run only enriches it."""
        return isinstance(self._inv, SuppressedInferenceInvocation)

    def fail(self, exc: BaseException) -> None:
        """End with ERROR; an enriching run leaves recording the error to the owning layer."""
        if self.enriching:
            self.stop()  # the exception reaches the outer layer, which records it once
            return
        super().fail(exc)

    def set_request(
        self,
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        stop_sequences: Sequence[str] | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        choice_count: int | None = None,
        stream: bool | None = None,
    ) -> None:
        """Request parameters (``gen_ai.request.*``)."""
        with _ATTR_GUARD:
            inv = self._llm
            values = {
                "temperature": temperature,
                "top_p": top_p,
                "max_tokens": max_tokens,
                "seed": seed,
                "frequency_penalty": frequency_penalty,
                "presence_penalty": presence_penalty,
                "request_choice_count": choice_count,
                "request_stream": stream,
            }
            for name, value in values.items():
                if value is not None:
                    setattr(inv, name, value)
            if stop_sequences:
                inv.stop_sequences = list(stop_sequences)

    def set_response(
        self,
        *,
        response_id: str | None = None,
        model: str | None = None,
        finish_reasons: Sequence[str] | None = None,
    ) -> None:
        """Response identity (``gen_ai.response.*``)."""
        with _ATTR_GUARD:
            inv = self._llm
            if response_id:
                inv.response_id = response_id
            if model:
                inv.response_model_name = model
            if finish_reasons:
                inv.finish_reasons = [str(r) for r in finish_reasons]

    def set_usage(
        self,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_input_tokens: int | None = None,
        cache_creation_input_tokens: int | None = None,
        reasoning_tokens: int | None = None,
    ) -> None:
        """Token usage (``gen_ai.usage.*``)."""
        with _ATTR_GUARD:
            inv = self._llm
            if input_tokens is not None:
                inv.input_tokens = int(input_tokens)
            if output_tokens is not None:
                inv.output_tokens = int(output_tokens)
            if cache_read_input_tokens is not None:
                inv.cache_read_input_tokens = int(cache_read_input_tokens)
            if cache_creation_input_tokens is not None:
                inv.cache_creation_input_tokens = int(cache_creation_input_tokens)
            if reasoning_tokens is not None:
                inv.thinking_tokens = int(reasoning_tokens)

    def record_chunk(self) -> None:
        """A streamed chunk arrived (time to first chunk; cheap after the first)."""
        inv: Any = self._inv
        if inv._ttfc_seconds is not None:
            return
        with _ATTR_GUARD:
            inv.record_stream_chunk()
            ttfc = inv._ttfc_seconds
            if ttfc is not None and isinstance(inv, InferenceInvocation):
                inv.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ttfc

    def set_messages(
        self,
        inputs: Sequence[Message] | None = None,
        outputs: Sequence[Message] | None = None,
    ) -> None:
        """Message content; recorded only when content capture is on (redacted, truncated)."""
        if not self._config.capture_content:
            return
        with _ATTR_GUARD:
            inv = self._llm
            limit = self._config.max_attribute_length
            if inputs is not None:
                inv.input_messages = [
                    InputMessage(role=m.role, parts=_parts(m, limit)) for m in inputs
                ]
            if outputs is not None:
                inv.output_messages = [
                    OutputMessage(
                        role=m.role, parts=_parts(m, limit), finish_reason=m.finish_reason
                    )
                    for m in outputs
                ]

    def register_tool_calls(self, calls: Sequence[ToolCallRequest]) -> None:
        """Record the tool calls this response requested (ids, names); register them for links."""
        if not calls:
            return
        with _ATTR_GUARD:
            inv = self._llm
            span_context = inv.span.get_span_context()
            for call in calls:
                if call.id:
                    link_registry.register(call.id, span_context)
            ids = [c.id for c in calls if c.id]
            if ids:
                inv.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS] = ids
            inv.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES] = [c.name for c in calls]


def _parts(message: Message, limit: int) -> list[MessagePart]:
    parts: list[MessagePart] = []
    if message.text:
        parts.append(TextPart(content=safe_text(message.text, limit)))
    for call in message.tool_calls:
        parts.append(
            ToolCallRequestPart(
                arguments=safe_content(call.arguments) if call.arguments is not None else None,
                name=call.name,
                id=call.id,
            )
        )
    if message.tool_call_id is not None or message.tool_result is not None:
        parts.append(
            ToolCallResponsePart(
                response=safe_content(message.tool_result), id=message.tool_call_id
            )
        )
    return parts


def safe_text(text: str, limit: int) -> str:
    """Message text as captured: secret-looking values redacted, truncated."""
    return truncate(safe_content(text), limit)
