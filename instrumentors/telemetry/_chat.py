"""Model calls: the one ``chat`` / ``text_completion`` lifecycle, content capture on or off.

A chat run starts its CLIENT span with the attributes every call of its shape
(operation, provider, model, server) shares, collects what it learns in one
dict that goes out as the span's last attribute batch, and records the GenAI
metrics (duration, token usage, time to first chunk) for every call, sampled or
not. One model request is one span across layers: the run puts itself in its
context, and a second layer that starts a chat run inside it gets an
``EnrichingLLMRun`` that publishes into the first one instead of opening a span.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from timeit import default_timer
from typing import Any, Final

from opentelemetry.context import Context, create_key, get_value, set_value
from opentelemetry.trace import Span, set_span_in_context
from opentelemetry.util.types import AttributeValue

from instrumentors import semconv
from instrumentors.links import registry as link_registry
from instrumentors.telemetry import _cost
from instrumentors.telemetry._content import (
    CapturedChat,
    ContentPolicy,
    Message,
    ToolCallRequest,
    messages,
    system_parts,
)
from instrumentors.telemetry._metrics import Instruments, metrics_recorded
from instrumentors.telemetry._runs import Run
from instrumentors.telemetry._shapes import ChatShape

CHAT_RUN_KEY: Final = create_key("instrumentors-chat-run")
_TTFC: Final = semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
# Response attributes that are also dimensions of the call's metrics when present (the
# conventions list the response model, and OpenAI's service tier and system fingerprint).
_METRIC_RESPONSE_KEYS: Final = (
    semconv.GEN_AI_RESPONSE_MODEL,
    semconv.OPENAI_RESPONSE_SERVICE_TIER,
    semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
)


class _Published:
    """What inner layers learned about a request whose span another layer owns."""

    __slots__ = ("captured", "values")

    def __init__(self) -> None:
        self.values: dict[str, AttributeValue] = {}
        self.captured: CapturedChat | None = None


class LLMRun(Run):
    """A ``chat`` / ``text_completion`` span; the setters are cheap writes into one batch."""

    __slots__ = (
        "_captured",
        "_instruments",
        "_policy",
        "_published",
        "_start_s",
        "cost_parent",
        "shape",
        "values",
    )

    def __init__(
        self,
        span: Span,
        parent: Context | None,
        attach_now: bool,
        shape: ChatShape,
        instruments: Instruments | None,
        policy: ContentPolicy,
    ) -> None:
        self._start_s = default_timer()
        self.shape = shape
        self.values: dict[str, AttributeValue] = {}  # the last attribute batch
        self._instruments = instruments
        self._policy = policy
        self._captured: CapturedChat | None = None
        self._published: _Published | None = None
        self.cost_parent = 0  # the span id of the run of ours that gathers this call's cost
        context = set_value(CHAT_RUN_KEY, self, set_span_in_context(span, parent))
        super().__init__(span, context, attach_now)

    @property
    def enriching(self) -> bool:
        """True when another layer's chat span owns this request and this run only enriches it."""
        return False

    @property
    def capture_content(self) -> bool:
        """Whether message content is recorded for this call."""
        return self._policy.on

    @property
    def measured(self) -> bool:
        """Whether this call's metrics are recorded (a MeterProvider is set).

        A layer reads the response's model and usage for them even when the span does
        not record: metrics count every call, sampled or not.
        """
        instruments = self._instruments
        return instruments is not None and metrics_recorded(instruments.operation_duration)

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
        top_k: float | None = None,
        output_type: str | None = None,
        attributes: Mapping[str, AttributeValue | None] | None = None,
    ) -> None:
        """Request parameters (``gen_ai.request.*``, ``gen_ai.output.type``).

        ``attributes``: a provider's own request attributes (named in ``semconv``, such
        as ``openai.request.service_tier``); None values are skipped.
        """
        values = self.values
        # Unrolled (a chat call's start): most of these are None.
        if temperature is not None:
            values[semconv.GEN_AI_REQUEST_TEMPERATURE] = temperature
        if top_p is not None:
            values[semconv.GEN_AI_REQUEST_TOP_P] = top_p
        if max_tokens is not None:
            values[semconv.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
        if seed is not None:
            values[semconv.GEN_AI_REQUEST_SEED] = seed
        if frequency_penalty is not None:
            values[semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY] = frequency_penalty
        if presence_penalty is not None:
            values[semconv.GEN_AI_REQUEST_PRESENCE_PENALTY] = presence_penalty
        if choice_count is not None:
            values[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = choice_count
        if stream is not None:
            values[semconv.GEN_AI_REQUEST_STREAM] = stream
        if top_k is not None:
            values[semconv.GEN_AI_REQUEST_TOP_K] = top_k
        if stop_sequences:
            values[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [str(s) for s in stop_sequences]
        if output_type:
            values[semconv.GEN_AI_OUTPUT_TYPE] = output_type
        if attributes:
            _update(values, attributes)

    def set_response(
        self,
        *,
        response_id: str | None = None,
        model: str | None = None,
        finish_reasons: Sequence[str] | None = None,
        attributes: Mapping[str, AttributeValue | None] | None = None,
    ) -> None:
        """Response identity (``gen_ai.response.*``).

        ``attributes``: a provider's own response attributes (named in ``semconv``); the
        ones the conventions list for metrics (OpenAI's service tier and system
        fingerprint) also go on the call's metrics. None values are skipped.
        """
        values = self.values
        if response_id:
            values[semconv.GEN_AI_RESPONSE_ID] = response_id
        if model:
            values[semconv.GEN_AI_RESPONSE_MODEL] = model
        if finish_reasons:
            values[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [str(r) for r in finish_reasons]
        if attributes:
            _update(values, attributes)

    def set_usage(
        self,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_input_tokens: int | None = None,
        cache_creation_input_tokens: int | None = None,
        reasoning_tokens: int | None = None,
    ) -> None:
        """Token usage (``gen_ai.usage.*``); a reported zero is recorded, it is a fact."""
        values = self.values
        if input_tokens is not None:
            values[semconv.GEN_AI_USAGE_INPUT_TOKENS] = int(input_tokens)
        if output_tokens is not None:
            values[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = int(output_tokens)
        if cache_read_input_tokens is not None:
            values[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = int(cache_read_input_tokens)
        if cache_creation_input_tokens is not None:
            values[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = int(
                cache_creation_input_tokens
            )
        if reasoning_tokens is not None:
            values[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = int(reasoning_tokens)

    def set_cost(self, amount: float | None, currency: str = "USD") -> None:
        """The cost the response itself carried (a gateway's); it wins over local pricing."""
        if amount is not None:
            self.values[semconv.GEN_AI_USAGE_COST_AMOUNT] = float(amount)
            self.values[semconv.GEN_AI_USAGE_COST_CURRENCY] = str(currency)
            self.values[semconv.GEN_AI_USAGE_COST_SOURCE] = semconv.COST_SOURCE_PROVIDER

    def record_chunk(self) -> None:
        """A streamed chunk arrived (time to first chunk; one dict lookup after the first)."""
        if _TTFC in self.values or self._finished:
            return
        ttfc = max(default_timer() - self._start_s, 0.0)
        self.values[semconv.GEN_AI_REQUEST_STREAM] = True
        self.values[_TTFC] = ttfc
        instruments = self._instruments
        if instruments is not None and metrics_recorded(instruments.time_to_first_chunk):
            instruments.time_to_first_chunk.record(
                ttfc, attributes=self._metric_attributes(None), context=self.context
            )

    def set_messages(
        self,
        inputs: Sequence[Message] | None = None,
        outputs: Sequence[Message] | None = None,
        system: Sequence[str] | None = None,
        tool_definitions: Sequence[Any] | None = None,
    ) -> None:
        """Message content; recorded only when content capture is on (redacted, truncated)."""
        policy = self._policy
        if not policy.on:
            return
        captured = self._captured
        if captured is None:
            captured = self._captured = CapturedChat()
        if inputs is not None:
            captured.inputs = policy.value(messages(inputs, output=False))
        if outputs is not None:
            captured.outputs = policy.value(messages(outputs, output=True))
        if system:
            captured.system = policy.value(system_parts(system))
        if tool_definitions:
            captured.tool_definitions = policy.value(list(tool_definitions))

    def register_tool_calls(self, calls: Sequence[ToolCallRequest]) -> None:
        """Record the tool calls this response requested (ids, names); register them for links."""
        if not calls:
            return
        span_context = self.span.get_span_context()
        ids = []
        for call in calls:
            if call.id:
                link_registry.register(call.id, span_context)
                ids.append(call.id)
        if ids:
            self.values[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS] = ids
        self.values[semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES] = [c.name for c in calls]

    def publication(self) -> _Published:
        """Where an inner layer writes what it learns about this request."""
        published = self._published
        if published is None:
            published = self._published = _Published()
        return published

    def _metric_attributes(self, error_type: str | None) -> dict[str, AttributeValue]:
        values = self.values
        found = [key for key in _METRIC_RESPONSE_KEYS if key in values]
        if not found and error_type is None:
            return self.shape.metric  # shared, never mutated
        attributes = dict(self.shape.metric)
        for key in found:
            attributes[key] = values[key]
        if error_type is not None:
            attributes[semconv.ERROR_TYPE] = error_type
        return attributes

    def _merge_published(self) -> None:
        published = self._published
        if published is None:
            return
        values, start = self.values, self.shape.start
        for key, value in published.values.items():
            if key not in values and key not in start:  # this layer's own values win
                values[key] = value
        if published.captured is not None:
            if self._captured is None:
                self._captured = CapturedChat()
            self._captured.fill_from(published.captured)

    def _finish(self, error_type: str | None) -> None:
        self._merge_published()
        values = self.values
        cost = _cost.price_chat(values, self.shape.start)
        if cost is not None:
            _cost.add(self.cost_parent, cost, model=True)
        if self._captured is not None and self.span.is_recording():
            event_attributes = {**self.shape.start, **values}
            self._captured.write(self._policy, values, event_attributes, self.context)
        self.pending.update(values)
        self._record_metrics(error_type)

    def _record_metrics(self, error_type: str | None) -> None:
        instruments = self._instruments
        if instruments is None or not metrics_recorded(instruments.operation_duration):
            return  # no MeterProvider: building the measurements would be wasted
        attributes = self._metric_attributes(error_type)
        instruments.operation_duration.record(
            max(default_timer() - self._start_s, 0.0), attributes=attributes, context=self.context
        )
        cost = self.values.get(semconv.GEN_AI_USAGE_COST_AMOUNT)
        if isinstance(cost, (int, float)) and cost > 0:
            instruments.cost.add(cost, attributes=attributes, context=self.context)
        for token_type, key in (
            (semconv.TOKEN_TYPE_INPUT, semconv.GEN_AI_USAGE_INPUT_TOKENS),
            (semconv.TOKEN_TYPE_OUTPUT, semconv.GEN_AI_USAGE_OUTPUT_TOKENS),
        ):
            count = self.values.get(key)
            if isinstance(count, int):
                instruments.token_usage.record(
                    count,
                    attributes={**attributes, semconv.GEN_AI_TOKEN_TYPE: token_type},
                    context=self.context,
                )


def _update(
    values: dict[str, AttributeValue], attributes: Mapping[str, AttributeValue | None]
) -> None:
    for key, value in attributes.items():
        if value is not None:
            values[key] = value


def owning_chat(context: Context | None) -> LLMRun | None:
    """The open chat run that owns the request in ``context``, if any."""
    owner = get_value(CHAT_RUN_KEY, context)
    if isinstance(owner, LLMRun) and not owner.finished:
        return owner
    return None
