"""The single bridge between invocation records and spans, events and metrics.

Every call into ``opentelemetry-util-genai`` (a beta API that changes between
minor releases) lives in this module. On top of it we add what it lacks:
session ids, parameter hashing and capture, the ``tool.name`` alias, span
links from tool calls to the chat span that requested them, the
``exception`` event, step spans, and the one-span-per-call merge for tools.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.context import Context, attach, detach
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import Span, SpanKind, Tracer, TracerProvider
from opentelemetry.util.genai.handler import TelemetryHandler
from opentelemetry.util.genai.invocation import (
    EmbeddingInvocation,
    Error,
    GenAIInvocation,
    InferenceInvocation,
    LocalAgentInvocation,
    RetrievalInvocation,
    ToolInvocation,
)
from opentelemetry.util.genai.types import (
    ContentCapturingMode,
    InputMessage,
    MessagePart,
    OutputMessage,
    TextPart,
    ToolCallRequestPart,
    ToolCallResponsePart,
)
from opentelemetry.util.types import AttributeValue

from instrumentors import semconv
from instrumentors.config import Settings, settings
from instrumentors.events import error_type
from instrumentors.links import registry as link_registry
from instrumentors.params import hash_params, safe_content, should_capture, truncate
from instrumentors.session import context_with_session, current_session_id, normalize_session_id
from instrumentors.version import __version__

_logger = logging.getLogger(__name__)

SCOPE: Final = "instrumentors"
NO_PARAMS: Final[Any] = object()
# Open tool runs by span, to find the one a second layer should enrich. A plain
# dict (atomic get/set under the GIL) is far cheaper than a context copy per call.
_active_tools: dict[Span, ToolRun] = {}
_ACTIVE_TOOLS_CAP: Final = 100_000


class _Guard:
    """Swallow and log (DEBUG, with traceback) a telemetry bug; never the user's exception."""

    __slots__ = ("_what",)

    def __init__(self, what: str) -> None:
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        _logger.debug("instrumentors: %s failed", self._what, exc_info=(exc_type, exc, tb))
        return True


_START_GUARD: Final = _Guard("starting a span")
_STOP_GUARD: Final = _Guard("ending a span")
_ATTR_GUARD: Final = _Guard("setting span attributes")


def guard(what: str) -> _Guard:
    """A context manager that logs and swallows telemetry errors (not the user's)."""
    return _Guard(what)


# --------------------------------------------------------------------------- records


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


class Run:
    """A started span for one operation; ``stop``/``fail`` end it exactly once."""

    __slots__ = ("_inv",)

    def __init__(self, inv: GenAIInvocation | _StepInvocation) -> None:
        self._inv = inv

    @property
    def span(self) -> Span:
        """The span (for suppressed/merged runs, the outer span being enriched)."""
        return self._inv.span

    @property
    def context(self) -> Context:
        """The context in which this run's span is current."""
        return self._inv.context

    @property
    def finished(self) -> bool:
        """True once the run has ended."""
        return bool(self._inv._finished)

    def set_attribute(self, key: str, value: AttributeValue | None) -> None:
        """Set an attribute now (skipped for None values and non-recording spans)."""
        if value is None:
            return
        with _ATTR_GUARD:
            span = self._inv.span
            if span.is_recording():
                span.set_attribute(key, value)

    def set_attributes(self, attributes: Mapping[str, AttributeValue | None]) -> None:
        """Set several attributes now; None values are skipped."""
        with _ATTR_GUARD:
            span = self._inv.span
            if span.is_recording():
                span.set_attributes({k: v for k, v in attributes.items() if v is not None})

    def add_link(self, tool_call_id: str | None) -> None:
        """Link this span to the chat span that requested ``tool_call_id``, if known."""
        with _ATTR_GUARD:
            requested_by = link_registry.lookup(tool_call_id)
            if requested_by is not None and self._inv.span.is_recording():
                self._inv.span.add_link(requested_by)

    @contextmanager
    def activate(self) -> Iterator[None]:
        """Make the span current inside the block (streams and generators between reads)."""
        token = None
        with _ATTR_GUARD:
            if not self._inv._finished:
                token = attach(self._inv.context)
        try:
            yield
        finally:
            if token is not None:
                detach(token)

    def suspend(self) -> None:
        """Restore the caller's context while the run goes on (a stream handed back)."""
        with _STOP_GUARD:
            self._inv.suspend()

    def stop(self) -> None:
        """End successfully (idempotent, never raises)."""
        with _STOP_GUARD:
            self._inv.stop()

    def fail(self, exc: BaseException) -> None:
        """End with status ERROR, ``error.type`` and an ``exception`` event (never raises)."""
        with _STOP_GUARD:
            if self._inv._finished:
                return
            span = self._inv.span
            if span.is_recording():
                span.record_exception(exc)
            self._inv.fail(Error(message=str(exc), type=error_type(exc), exception=exc))


class ToolRun(Run):
    """An ``execute_tool`` span."""

    __slots__ = ("_capture", "_config", "call_id", "has_hash", "name")

    def __init__(self, name: str, config: Settings) -> None:
        self.name = name
        self._config = config
        self._capture = False
        self.call_id: str | None = None
        self.has_hash = False

    def set_call_id(self, call_id: str | None) -> None:
        """Record the tool call id (and link to the requesting chat span) if not known yet."""
        if not call_id or self.call_id:
            return
        self.call_id = call_id
        with _ATTR_GUARD:
            inv = self._inv
            if isinstance(inv, ToolInvocation):
                inv.tool_call_id = call_id
            else:
                self.set_attribute(semconv.GEN_AI_TOOL_CALL_ID, call_id)
        self.add_link(call_id)

    def set_params(self, params: Any) -> None:
        """Hash the tool's input; capture it (redacted, truncated) when capture is on or sampled."""
        if self.has_hash:
            return
        with _ATTR_GUARD:
            span = self._inv.span
            if not span.is_recording():
                return
            self.has_hash = True
            attrs: dict[str, AttributeValue] = {
                semconv.REQUEST_PARAMETERS_HASH: hash_params(params, self._config)
            }
            if should_capture(self._config):
                self._capture = True
                captured = safe_content(params, self._config)
                attrs[semconv.REQUEST_PARAMETERS] = captured
                attrs[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] = captured
            self._pending().update(attrs)

    def _pending(self) -> dict[str, AttributeValue]:
        inv = self._inv
        # util-genai sets ``attributes`` in one batch at finish: cheaper than per-key writes.
        return inv.attributes if isinstance(inv, GenAIInvocation) else inv.pending

    def stop(self, result: Any = NO_PARAMS) -> None:  # type: ignore[override]
        """End successfully; the result is recorded only when this call's content is captured."""
        if self._capture and result is not NO_PARAMS:
            with _ATTR_GUARD:
                self._pending()[semconv.GEN_AI_TOOL_CALL_RESULT] = safe_content(
                    result, self._config
                )
        _active_tools.pop(self._inv.span, None)
        super().stop()

    def fail(self, exc: BaseException) -> None:
        """End with status ERROR (see ``Run.fail``)."""
        _active_tools.pop(self._inv.span, None)
        super().fail(exc)


class _MergedToolRun(ToolRun):
    """A second layer seeing the same tool call: enriches the outer span, ends nothing."""

    __slots__ = ("_outer",)

    def __init__(self, outer: ToolRun) -> None:
        super().__init__(outer.name, outer._config)
        self._outer = outer
        self._inv = outer._inv

    def set_call_id(self, call_id: str | None) -> None:
        self._outer.set_call_id(call_id)

    def set_params(self, params: Any) -> None:
        self._outer.set_params(params)

    def stop(self, result: Any = NO_PARAMS) -> None:  # type: ignore[override]
        return None

    def fail(self, exc: BaseException) -> None:
        return None  # the exception reaches the outer layer, which records it once


class LLMRun(Run):
    """A ``chat`` / ``text_completion`` span (or, nested in another layer's, an enrichment)."""

    __slots__ = ("_config",)

    def __init__(self, inv: InferenceInvocation, config: Settings) -> None:
        super().__init__(inv)
        self._config = config

    @property
    def _llm(self) -> InferenceInvocation:
        inv = self._inv
        assert isinstance(inv, InferenceInvocation)
        return inv

    @property
    def capture_content(self) -> bool:
        """Whether message content is recorded for this call."""
        return self._config.capture_content

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
        inv = self._inv
        if inv._ttfc_seconds is not None:
            return
        with _ATTR_GUARD:
            self._llm.record_stream_chunk()
            ttfc = inv._ttfc_seconds
            if ttfc is not None:
                self._llm.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ttfc

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
                    OutputMessage(role=m.role, parts=_parts(m, limit), finish_reason=m.finish_reason)
                    for m in outputs
                ]

    def register_tool_calls(self, calls: Sequence[ToolCallRequest]) -> None:
        """Record the tool calls this response requested (ids, names) and register them for links."""
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
            ToolCallResponsePart(response=safe_content(message.tool_result), id=message.tool_call_id)
        )
    return parts


def safe_text(text: str, limit: int) -> str:
    """Message text as captured: secret-looking values redacted, truncated."""
    return truncate(safe_content(text), limit)


class RetrievalRun(Run):
    """A ``retrieval {name}`` span."""

    __slots__ = ()

    def set_documents(self, count: int | None) -> None:
        """Number of documents returned."""
        self.set_attribute(semconv.RETRIEVAL_DOCUMENTS_COUNT, count)

    def set_top_k(self, top_k: int | None) -> None:
        """``gen_ai.request.top_k`` when the retriever says."""
        if top_k is None:
            return
        with _ATTR_GUARD:
            inv = self._inv
            assert isinstance(inv, RetrievalInvocation)
            inv.top_k = int(top_k)


class EmbeddingRun(Run):
    """An ``embeddings {model}`` span."""

    __slots__ = ()

    def set_usage(self, input_tokens: int | None = None) -> None:
        """Input tokens used."""
        if input_tokens is None:
            return
        with _ATTR_GUARD:
            inv = self._inv
            assert isinstance(inv, EmbeddingInvocation)
            inv.input_tokens = int(input_tokens)

    def set_response(self, model: str | None = None, dimension: int | None = None) -> None:
        """Response model and embedding dimension."""
        with _ATTR_GUARD:
            inv = self._inv
            assert isinstance(inv, EmbeddingInvocation)
            if model:
                inv.response_model_name = model
            if dimension:
                inv.dimension_count = int(dimension)


class AgentRun(Run):
    """An ``invoke_agent {name}`` span."""

    __slots__ = ()


class _StepInvocation:
    """The lifecycle util-genai gives invocations, for step spans it has no type for."""

    __slots__ = ("_finished", "_token", "context", "pending", "span")

    def __init__(self, span: Span, context: Context, attach_now: bool) -> None:
        self.span = span
        self.context = context
        self.pending: dict[str, AttributeValue] = {}
        self._finished = False
        self._token = attach(context) if attach_now else None

    def suspend(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            detach(token)

    def stop(self) -> None:
        self._end()

    def fail(self, error: Error) -> None:
        if self.span.is_recording():
            self.span.set_status(trace.Status(trace.StatusCode.ERROR, error.message))
            self.pending[semconv.ERROR_TYPE] = error.type
        self._end()

    def _end(self) -> None:
        if self._finished:
            return
        self._finished = True
        try:
            if self.pending and self.span.is_recording():
                self.span.set_attributes(self.pending)
        finally:
            self.suspend()
            self.span.end()


class StepRun(Run):
    """A planning / reasoning step span named after the step."""

    __slots__ = ()


# --------------------------------------------------------------------------- the bridge


class Telemetry:
    """Starts runs; one per instrumentor (its providers), plus a process default."""

    def __init__(
        self,
        scope: str = SCOPE,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        config: Settings | None = None,
    ) -> None:
        self.config = config or settings()
        self._handler = TelemetryHandler(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            instrumentation_scope_name=scope,
            instrumentation_scope_version=__version__,
        )
        _apply_capture_mode(self._handler, self.config)
        self._tracer: Tracer = trace.get_tracer(scope, __version__, tracer_provider)

    def _session_context(
        self, session_id: object, context: Context | None
    ) -> tuple[str | None, Context | None]:
        """The effective session (an explicit ``session()`` wins) and the context to start in."""
        current = current_session_id(context)
        if current is not None:
            return current, context
        framework = normalize_session_id(session_id) if session_id is not None else None
        if framework is None:
            return None, context
        # Children of this span (HTTP calls, nested tools) inherit the framework's session.
        return framework, context_with_session(framework, context)

    def tool(
        self,
        name: str,
        *,
        tool_type: str | None = semconv.TOOL_TYPE_FUNCTION,
        description: str | None = None,
        call_id: str | None = None,
        params: Any = NO_PARAMS,
        agent_name: str | None = None,
        session_id: object = None,
        context: Context | None = None,
        attach: bool = True,
        merge_any: bool = False,
    ) -> ToolRun:
        """Start an ``execute_tool {name}`` span (or enrich the directly enclosing one)."""
        outer = _active_tools.get(trace.get_current_span(context)) if _active_tools else None
        if outer is not None and not outer.finished and (merge_any or outer.name == name):
            merged = _MergedToolRun(outer)
            merged.set_call_id(call_id)
            if params is not NO_PARAMS:
                merged.set_params(params)
            return merged
        run = ToolRun(name, self.config)
        sid, ctx = self._session_context(session_id, context)
        run._inv = self._handler.tool(
            name,
            tool_type=tool_type,
            agent_name=agent_name,
            context=ctx,
            _attach_to_context=attach,
        )
        with _START_GUARD:
            inv = run._inv
            if len(_active_tools) < _ACTIVE_TOOLS_CAP:
                _active_tools[inv.span] = run
            assert isinstance(inv, ToolInvocation)
            pending = inv.attributes
            pending[semconv.TOOL_NAME] = name
            if sid is not None:
                pending[semconv.AGENT_SESSION_ID] = sid
                pending[semconv.GEN_AI_CONVERSATION_ID] = sid
            if description:
                inv.tool_description = truncate(str(description), self.config.max_attribute_length)
            if call_id:
                run.set_call_id(call_id)
            if params is not NO_PARAMS:
                run.set_params(params)
        return run

    def llm(
        self,
        provider: str,
        model: str | None,
        *,
        operation: str = semconv.OP_CHAT,
        server_address: str | None = None,
        server_port: int | None = None,
        session_id: object = None,
        context: Context | None = None,
        attach: bool = True,
    ) -> LLMRun:
        """Start a ``chat {model}`` span, or enrich the enclosing one from another layer."""
        sid, ctx = self._session_context(session_id, context)
        inv = self._handler.inference(
            provider,
            request_model=model or None,
            server_address=server_address,
            server_port=server_port,
            operation_name=operation,
            context=ctx,
            _attach_to_context=attach,
            conversation_id=sid,
        )
        if sid is not None:
            inv.attributes[semconv.AGENT_SESSION_ID] = sid
        return LLMRun(inv, self.config)

    def embedding(
        self,
        provider: str,
        model: str | None,
        *,
        server_address: str | None = None,
        server_port: int | None = None,
        session_id: object = None,
        context: Context | None = None,
        attach: bool = True,
    ) -> EmbeddingRun:
        """Start an ``embeddings {model}`` span."""
        sid, ctx = self._session_context(session_id, context)
        inv = self._handler.embedding(
            provider,
            request_model=model or None,
            server_address=server_address,
            server_port=server_port,
            context=ctx,
            _attach_to_context=attach,
        )
        _session_attributes(inv, sid)
        return EmbeddingRun(inv)

    def retrieval(
        self,
        name: str,
        *,
        top_k: int | None = None,
        provider: str | None = None,
        session_id: object = None,
        context: Context | None = None,
        attach: bool = True,
    ) -> RetrievalRun:
        """Start a ``retrieval {name}`` span (``gen_ai.data_source.id`` = name)."""
        sid, ctx = self._session_context(session_id, context)
        inv = self._handler.retrieval(
            data_source_id=name or None,
            provider=provider,
            context=ctx,
            _attach_to_context=attach,
        )
        _session_attributes(inv, sid)
        run = RetrievalRun(inv)
        run.set_top_k(top_k)
        return run

    def agent(
        self,
        name: str,
        *,
        agent_id: str | None = None,
        model: str | None = None,
        description: str | None = None,
        session_id: object = None,
        context: Context | None = None,
        attach: bool = True,
    ) -> AgentRun:
        """Start an ``invoke_agent {name}`` span."""
        sid, ctx = self._session_context(session_id, context)
        inv = self._handler.invoke_local_agent(
            request_model=model,
            agent_name=name or None,
            context=ctx,
            _attach_to_context=attach,
            conversation_id=sid,
        )
        with _START_GUARD:
            if agent_id:
                inv.agent_id = str(agent_id)
            if description:
                inv.agent_description = truncate(str(description), self.config.max_attribute_length)
            if sid is not None:
                inv.attributes[semconv.AGENT_SESSION_ID] = sid
        return AgentRun(inv)

    def step(
        self,
        name: str,
        *,
        session_id: object = None,
        context: Context | None = None,
        attach: bool = True,
    ) -> StepRun:
        """Start a step span named ``name`` with ``agent.step.name``."""
        sid, ctx = self._session_context(session_id, context)
        attributes: dict[str, AttributeValue] = {
            semconv.GEN_AI_OPERATION_NAME: semconv.OP_AGENT_STEP,
            semconv.AGENT_STEP_NAME: name,
        }
        if sid is not None:
            attributes[semconv.AGENT_SESSION_ID] = sid
            attributes[semconv.GEN_AI_CONVERSATION_ID] = sid
        span = self._tracer.start_span(
            name, context=ctx, kind=SpanKind.INTERNAL, attributes=attributes
        )
        span_ctx = trace.set_span_in_context(span, ctx)
        return StepRun(_StepInvocation(span, span_ctx, attach))


def _session_attributes(inv: GenAIInvocation, sid: str | None) -> None:
    if sid is not None:
        inv.attributes[semconv.AGENT_SESSION_ID] = sid
        inv.attributes[semconv.GEN_AI_CONVERSATION_ID] = sid


def _apply_capture_mode(handler: TelemetryHandler, config: Settings) -> None:
    """Make util-genai honour the spellings we accept (it only knows its enum names)."""
    with guard("applying the content capturing mode"):
        mode = ContentCapturingMode[config.capture_mode]
        handler._content_capturing_mode = mode
        handler._capture_content = mode is not ContentCapturingMode.NO_CONTENT


_default: Telemetry | None = None


def default() -> Telemetry:
    """The process-wide Telemetry on the global providers (``@tool``, ``agent_step``, events)."""
    global _default
    current = _default
    if current is None:
        current = _default = Telemetry()
    return current


def reset_default() -> None:
    """Forget the default Telemetry, so the next use re-reads settings (tests, ``setup()``)."""
    global _default
    _default = None
