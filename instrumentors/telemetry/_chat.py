"""A lean ``chat`` lifecycle for the default, content-free mode: the hot path of model calls.

Same span (name, kind, attributes), the same ``gen_ai.client.operation.duration``,
``gen_ai.client.token.usage`` and time-to-first-chunk metrics as util-genai's
InferenceInvocation, and the same interop: util-genai's context data is placed in
the context, so an inner layer built on util-genai (ours or another package's)
enriches this span instead of opening a second one. What it leaves out is what
only content capture needs (messages, events, completion hooks): with capture
on, ``new_inference`` uses util-genai itself.
"""

from __future__ import annotations

import dataclasses
import logging
import typing
from timeit import default_timer
from typing import Any, Final

from opentelemetry.context import Context, attach, detach, set_value
from opentelemetry.metrics import NoOpHistogram
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer, set_span_in_context
from opentelemetry.util.genai.invocation import CLIENT_INFERENCE_CONTEXT_KEY, Error, InferenceData
from opentelemetry.util.types import AttributeValue

from instrumentors import semconv

_logger = logging.getLogger(__name__)

_CACHE_WRITE: Final = semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS
_INPUT: Final = GenAI.GenAiTokenTypeValues.INPUT.value
_OUTPUT: Final = GenAI.GenAiTokenTypeValues.OUTPUT.value

# util-genai data field -> span attribute, for what an inner layer publishes.
_PUBLISHED: Final = (
    ("response_id", GenAI.GEN_AI_RESPONSE_ID),
    ("response_model", GenAI.GEN_AI_RESPONSE_MODEL),
    ("response_finish_reasons", GenAI.GEN_AI_RESPONSE_FINISH_REASONS),
    ("usage_input_tokens", GenAI.GEN_AI_USAGE_INPUT_TOKENS),
    ("usage_output_tokens", GenAI.GEN_AI_USAGE_OUTPUT_TOKENS),
    ("usage_cache_read_input_tokens", GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    ("usage_cache_write_input_tokens", _CACHE_WRITE),
    ("usage_reasoning_output_tokens", GenAI.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
    ("server_address", semconv.SERVER_ADDRESS),
    ("server_port", semconv.SERVER_PORT),
    ("request_stream", GenAI.GEN_AI_REQUEST_STREAM),
    ("response_time_to_first_chunk", GenAI.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK),
)
_METRIC_KEYS: Final = (
    GenAI.GEN_AI_OPERATION_NAME,
    GenAI.GEN_AI_PROVIDER_NAME,
    GenAI.GEN_AI_REQUEST_MODEL,
    GenAI.GEN_AI_RESPONSE_MODEL,
    semconv.SERVER_ADDRESS,
    semconv.SERVER_PORT,
)


def _setter(key: str, keep_zero: bool = True) -> property:
    def fset(self: LeanChat, value: Any) -> None:
        if value is None or (not keep_zero and not value):
            self.values.pop(key, None)
        else:
            self.values[key] = list(value) if isinstance(value, (list, tuple)) else value

    return property(lambda self: self.values.get(key), fset)


class LeanChat:
    """The lifecycle and setters ``LLMRun`` uses, over one span and one attribute batch."""

    __slots__ = (
        "_finished",
        "_instruments",
        "_start_s",
        "_token",
        "_ttfc_seconds",
        "attributes",
        "context",
        "data",
        "shape",
        "span",
        "values",
    )

    temperature = _setter(GenAI.GEN_AI_REQUEST_TEMPERATURE)
    top_p = _setter(GenAI.GEN_AI_REQUEST_TOP_P)
    max_tokens = _setter(GenAI.GEN_AI_REQUEST_MAX_TOKENS)
    seed = _setter(GenAI.GEN_AI_REQUEST_SEED)
    frequency_penalty = _setter(GenAI.GEN_AI_REQUEST_FREQUENCY_PENALTY)
    presence_penalty = _setter(GenAI.GEN_AI_REQUEST_PRESENCE_PENALTY)
    request_choice_count = _setter(GenAI.GEN_AI_REQUEST_CHOICE_COUNT)
    request_stream = _setter(GenAI.GEN_AI_REQUEST_STREAM)
    stop_sequences = _setter(GenAI.GEN_AI_REQUEST_STOP_SEQUENCES)
    response_id = _setter(GenAI.GEN_AI_RESPONSE_ID)
    response_model_name = _setter(GenAI.GEN_AI_RESPONSE_MODEL)
    finish_reasons = _setter(GenAI.GEN_AI_RESPONSE_FINISH_REASONS)
    input_tokens = _setter(GenAI.GEN_AI_USAGE_INPUT_TOKENS)
    output_tokens = _setter(GenAI.GEN_AI_USAGE_OUTPUT_TOKENS)
    cache_read_input_tokens = _setter(GenAI.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, keep_zero=False)
    cache_creation_input_tokens = _setter(_CACHE_WRITE, keep_zero=False)
    thinking_tokens = _setter(GenAI.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, keep_zero=False)

    def __init__(
        self,
        tracer: Tracer,
        instruments: Any,
        shape: ChatShape,
        start: dict[str, AttributeValue],
        context: Context | None,
        attach_now: bool,
    ) -> None:
        self.span = tracer.start_span(
            shape.span_name, context=context, kind=SpanKind.CLIENT, attributes=start
        )
        self.data = new_inference_data()  # where util-genai-based inner layers publish
        self.context = set_value(
            CLIENT_INFERENCE_CONTEXT_KEY, self.data, set_span_in_context(self.span, context)
        )
        self.shape = shape
        # Set after the start (the start attributes are on the span already).
        self.values: dict[str, AttributeValue] = {}
        self.attributes: dict[str, AttributeValue] = {}
        self._instruments = instruments
        self._finished = False
        self._ttfc_seconds: float | None = None
        self._start_s = default_timer()
        self._token = attach(self.context) if attach_now else None

    def record_stream_chunk(self) -> None:
        """The first streamed chunk: time to first chunk (attribute and metric)."""
        if self._finished or self._ttfc_seconds is not None:
            return
        self._ttfc_seconds = max(default_timer() - self._start_s, 0.0)
        self.values[GenAI.GEN_AI_REQUEST_STREAM] = True
        self.values[GenAI.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = self._ttfc_seconds
        histogram = self._instruments.time_to_first_chunk
        if metrics_recorded(histogram):
            histogram.record(
                self._ttfc_seconds, attributes=self._metric_attributes(), context=self.context
            )

    def suspend(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            detach(token)

    def stop(self) -> None:
        self._end(None)

    def fail(self, error: Error) -> None:
        self._end(error)

    def _metric_attributes(self, error_type: str | None = None) -> dict[str, AttributeValue]:
        """The shape's metric attributes (shared, never mutated) plus what this call adds."""
        model = self.values.get(GenAI.GEN_AI_RESPONSE_MODEL)
        if model is None and error_type is None:
            return self.shape.metric
        attrs = dict(self.shape.metric)
        if model is not None:
            attrs[GenAI.GEN_AI_RESPONSE_MODEL] = model
        if error_type is not None:
            attrs[semconv.ERROR_TYPE] = error_type
        return attrs

    def _merge_published(self) -> None:
        """Fill what an inner layer published and this layer did not set (ours wins)."""
        if not was_published(self.data):
            return
        data, values, start = self.data, self.values, self.shape.start
        for field, key in _PUBLISHED:
            value = getattr(data, field, None)
            if value is not None and key not in values and key not in start:
                values[key] = list(value) if isinstance(value, (list, tuple)) else value
        for key, value in data.attributes.items():
            self.attributes.setdefault(key, value)

    def _end(self, error: Error | None) -> None:
        if self._finished:
            return
        self._finished = True
        try:
            self._merge_published()
            error_type = error.type if error is not None else self.data.error_type
            if self.span.is_recording():
                attributes = {**self.values, **self.attributes} if self.attributes else self.values
                if error_type is not None:
                    attributes[semconv.ERROR_TYPE] = error_type
                    self.span.set_status(Status(StatusCode.ERROR, error.message if error else None))
                self.span.set_attributes(attributes)
            self._record_metrics(error_type)
        finally:
            self.suspend()
            self.span.end()

    def _record_metrics(self, error_type: str | None) -> None:
        instruments = self._instruments
        if not metrics_recorded(instruments.operation_duration):
            return  # no MeterProvider: building the measurements would be wasted
        attrs = self._metric_attributes(error_type)
        instruments.operation_duration.record(
            max(default_timer() - self._start_s, 0.0), attributes=attrs, context=self.context
        )
        for token_type, key in (
            (_INPUT, GenAI.GEN_AI_USAGE_INPUT_TOKENS),
            (_OUTPUT, GenAI.GEN_AI_USAGE_OUTPUT_TOKENS),
        ):
            count = self.values.get(key)
            if isinstance(count, int):
                instruments.token_usage.record(
                    count,
                    attributes={**attrs, GenAI.GEN_AI_TOKEN_TYPE: token_type},
                    context=self.context,
                )


def metrics_recorded(instrument: Any) -> bool:
    """False for an instrument that records nowhere: the API's no-op one, or its proxy
    while no MeterProvider is set (it starts recording as soon as one is)."""
    if isinstance(instrument, NoOpHistogram):
        return False
    return getattr(instrument, "_real_instrument", True) is not None


class ChatShape:
    """What every chat span of one (operation, provider, model, server) starts with."""

    __slots__ = ("metric", "span_name", "start")

    def __init__(self, span_name: str, start: dict[str, AttributeValue]) -> None:
        self.span_name = span_name
        self.start = start  # shared by every span of this shape: never mutated
        self.metric: dict[str, AttributeValue] = {k: start[k] for k in _METRIC_KEYS if k in start}


_shapes: dict[tuple[str, str, str | None, str | None, int | None], ChatShape] = {}
_SHAPES_CAP: Final = 1024  # models x servers seen; cleared (not grown) past it


def chat_shape(
    operation: str,
    provider: str,
    request_model: str | None,
    server_address: str | None,
    server_port: int | None,
) -> ChatShape:
    """The span name and start attributes util-genai would give this chat span (cached)."""
    key = (operation, provider, request_model, server_address, server_port)
    shape = _shapes.get(key)
    if shape is None:
        start: dict[str, AttributeValue] = {
            GenAI.GEN_AI_OPERATION_NAME: operation,
            GenAI.GEN_AI_PROVIDER_NAME: provider,
        }
        if request_model:
            start[GenAI.GEN_AI_REQUEST_MODEL] = request_model
        if server_address:
            start[semconv.SERVER_ADDRESS] = server_address
        if server_port is not None:
            start[semconv.SERVER_PORT] = server_port
        name = f"{operation} {request_model}" if request_model else operation
        shape = ChatShape(name, start)
        if len(_shapes) >= _SHAPES_CAP:
            _shapes.clear()
        _shapes[key] = shape
    return shape


def start_attributes(
    shape: ChatShape, conversation_id: str | None, session_id: str | None
) -> dict[str, AttributeValue]:
    """A span's first attributes: the shape's, plus the conversation and session if any."""
    if not conversation_id and not session_id:
        return shape.start
    start = dict(shape.start)
    if conversation_id:
        start[GenAI.GEN_AI_CONVERSATION_ID] = conversation_id
    if session_id:
        start[semconv.AGENT_SESSION_ID] = session_id
    return start


def _makes_dict(f: dataclasses.Field[Any]) -> bool:
    """A field whose default factory is ``dict`` or a parametrized ``dict[...]``."""
    factory: Any = f.default_factory
    return factory is dict or typing.get_origin(factory) is dict


def _data_defaults() -> dict[str, Any] | None:
    """InferenceData's field defaults, for a cheap copy per call; None if it is not that simple."""
    if hasattr(InferenceData, "__post_init__") or hasattr(InferenceData, "__slots__"):
        return None
    defaults: dict[str, Any] = {}
    for f in dataclasses.fields(InferenceData):
        if f.default is not dataclasses.MISSING:
            defaults[f.name] = f.default
        elif not _makes_dict(f):  # only dict factories are known here
            return None
    return defaults


_DATA_DEFAULTS: Final = _data_defaults()
_DATA_DICTS: Final = tuple(f.name for f in dataclasses.fields(InferenceData) if _makes_dict(f))


class _PublishedData(InferenceData):
    """``InferenceData`` that notes whether an inner layer wrote to it (util-genai's
    ``merge`` and direct writes alike set fields), so an untouched one costs no merge."""

    def __setattr__(self, name: str, value: Any) -> None:
        self.__dict__["_written"] = True
        super().__setattr__(name, value)


def new_inference_data() -> InferenceData:
    """``InferenceData()`` without running its 50-field ``__init__`` (same values)."""
    if _DATA_DEFAULTS is None:
        return InferenceData()
    data = object.__new__(_PublishedData)
    fields = data.__dict__
    fields.update(_DATA_DEFAULTS)
    for name in _DATA_DICTS:
        fields[name] = {}
    return data


def was_published(data: InferenceData) -> bool:
    """Whether an inner layer may have written to ``data`` (True unless surely untouched)."""
    return type(data) is not _PublishedData or "_written" in data.__dict__ or bool(data.attributes)
