"""The one place that turns invocation records into spans, events and metrics.

``Telemetry`` starts runs, one lifecycle per kind of span (chat / text completion,
embeddings, tool, retrieval, agent, step), on the public OpenTelemetry API only:
the tracer, the meter, context and baggage, the semantic-conventions constants.
Frameworks hand it records; it decides names, attributes, content capture,
hashing, links, the one-span-per-call merge across layers and metrics.
"""

from __future__ import annotations

from typing import Any, Final

from opentelemetry import trace
from opentelemetry.context import Context, get_current
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import SpanKind, Tracer, TracerProvider
from opentelemetry.util.types import AttributeValue

from instrumentors import semconv
from instrumentors.config import Settings, settings
from instrumentors.params import truncate
from instrumentors.session import context_with_session, current_session_id, normalize_session_id
from instrumentors.telemetry import _cost
from instrumentors.telemetry._chat import LLMRun, owning_chat
from instrumentors.telemetry._content import ContentPolicy, Message, ToolCallRequest
from instrumentors.telemetry._enriching import EnrichingLLMRun
from instrumentors.telemetry._guard import guard
from instrumentors.telemetry._metrics import Instruments, metrics_recorded
from instrumentors.telemetry._runs import (
    AgentRun,
    EmbeddingRun,
    RetrievalRun,
    Run,
    StepRun,
    timed,
)
from instrumentors.telemetry._sampling import SamplerKind
from instrumentors.telemetry._shapes import chat_shape
from instrumentors.telemetry._shapes import start_attributes as _chat_start
from instrumentors.telemetry._tool import (
    NO_PARAMS,
    ToolRun,
    ToolTemplate,
    active_tools,
    merge_into,
    start_tool,
)
from instrumentors.version import __version__

SCOPE: Final = "instrumentors"
_TEMPLATES_CAP: Final = 1024  # distinct tools per Telemetry; cleared (not grown) past it

__all__ = [
    "NO_PARAMS",
    "SCOPE",
    "AgentRun",
    "EmbeddingRun",
    "LLMRun",
    "Message",
    "RetrievalRun",
    "Run",
    "StepRun",
    "Telemetry",
    "ToolCallRequest",
    "ToolRun",
    "ToolTemplate",
    "default",
    "enclosing_tool",
    "guard",
    "metrics_recorded",
    "reset_default",
]


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
        self._tracer: Tracer = trace.get_tracer(scope, __version__, tracer_provider)
        self._instruments = Instruments(scope, meter_provider)
        self.content = ContentPolicy(self.config, scope)
        self._sampler = SamplerKind(tracer_provider)
        # Templates for tools started by name (by name, type, description, agent).
        self._templates: dict[tuple[Any, ...], ToolTemplate] = {}

    def _session_context(
        self, session_id: object, context: Context | None
    ) -> tuple[str | None, Context | None]:
        """The effective session (an explicit ``session()`` wins) and the context to start in
        (resolved once here: the reads after it skip their own lookups of the current one)."""
        if context is None:
            context = get_current()
        current = current_session_id(context)
        if current is not None:
            return current, context
        framework = normalize_session_id(session_id) if session_id is not None else None
        if framework is None:
            return None, context
        # Children of this span (HTTP calls, nested tools) inherit the framework's session.
        return framework, context_with_session(framework, context)

    def will_record(self, context: Context | None = None) -> bool:
        """Whether a span started now will surely be recorded (False when unsure).

        True under a sampled parent, or at a root with an always-on sampler (the
        SDK default): then parameters are hashed before the span starts and go
        in with its first attributes. When unsure, they are hashed after the
        start, and only if the span records.
        """
        parent = trace.get_current_span(context).get_span_context()
        if parent.is_valid:
            return parent.trace_flags.sampled and self._sampler.kind() != "other"
        return self._sampler.kind() == "always_on"

    def tool_template(
        self,
        name: str,
        tool_type: str | None = semconv.TOOL_TYPE_FUNCTION,
        description: str | None = None,
        agent_name: str | None = None,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        span_name: str | None = None,
    ) -> ToolTemplate:
        """What every span of one tool shares (cached per tool); pass it to ``tool()``.

        ``kind=SpanKind.SERVER`` (and a ``span_name`` such as ``tools/call {name}``) for
        the remote end of a tool call.
        """
        key = (name, tool_type, description, agent_name, kind, span_name)
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) >= _TEMPLATES_CAP:
                self._templates.clear()
            template = self._templates[key] = ToolTemplate(
                self,
                name,
                tool_type,
                description,
                agent_name,
                self.config.max_attribute_length,
                kind,
                span_name,
            )
        return template

    def tool(
        self,
        tool: ToolTemplate | str,
        *,
        call_id: str | None = None,
        params: Any = NO_PARAMS,
        session_id: object = None,
        context: Context | None = None,
        attach: bool = True,
        merge_any: bool = False,
        recording: bool | None = None,
        attributes: dict[str, AttributeValue] | None = None,
    ) -> ToolRun:
        """Start an ``execute_tool {name}`` span, or enrich the one another layer opened.

        ``tool`` is a ``tool_template(...)`` (or just the name of a plain function
        tool). A second layer seeing the same call (directly inside the other
        layer's span, same tool name or ``merge_any``) enriches that span instead.
        ``recording`` passes on a ``will_record()`` answer the caller already has;
        ``attributes`` (a layer's own, such as transport details) go in at start."""
        if context is None:
            context = get_current()  # resolved once for every read below
        tpl = tool if type(tool) is ToolTemplate and tool.owner is self else None
        if tpl is None:
            tpl = self.tool_template(tool) if isinstance(tool, str) else self._adopt(tool)
        if active_tools:
            outer = active_tools.get(trace.get_current_span(context).get_span_context().span_id)
            if (
                outer is not None
                and outer.layer is not self
                and not outer.finished
                and (merge_any or outer.name == tpl.name)
            ):
                return merge_into(outer, call_id, params, attributes)
        sid = current_session_id(context)
        ctx: Context | None = context
        if sid is None and session_id is not None:
            sid, ctx = self._session_context(session_id, context)
        early = params is not NO_PARAMS and bool(recording or self.will_record(ctx))
        return start_tool(
            self, tpl, _call_attributes(sid, attributes), call_id, params, ctx, attach, early
        )

    def _adopt(self, template: ToolTemplate) -> ToolTemplate:
        """Another Telemetry's template, rebuilt for this one (its tracer and histogram)."""
        start = template.start
        return self.tool_template(
            template.name,
            str(start.get(semconv.GEN_AI_TOOL_TYPE) or "") or None,
            str(start.get(semconv.GEN_AI_TOOL_DESCRIPTION) or "") or None,
            str(start.get(semconv.GEN_AI_AGENT_NAME) or "") or None,
        )

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
        if context is None:
            context = get_current()
        owner = owning_chat(context)
        if owner is not None:
            inner = EnrichingLLMRun(owner, self.content)
            # The framework layer may not know where the request went; this layer does.
            if server_address:
                inner.values.setdefault(semconv.SERVER_ADDRESS, server_address)
            if server_port is not None:
                inner.values.setdefault(semconv.SERVER_PORT, server_port)
            return inner
        sid, ctx = self._session_context(session_id, context)
        shape = chat_shape(operation, provider, model or None, server_address, server_port)
        cost_parent = _cost.enclosing(ctx)  # before this span becomes the current one
        span = self._tracer.start_span(
            shape.span_name, context=ctx, kind=SpanKind.CLIENT, attributes=_chat_start(shape, sid)
        )
        run = LLMRun(span, ctx, attach, shape, self._instruments, self.content)
        run.cost_parent = cost_parent
        return run

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
        shape = chat_shape(
            semconv.OP_EMBEDDINGS, provider, model or None, server_address, server_port
        )
        cost_parent = _cost.enclosing(ctx)  # before this span becomes the current one
        span = self._tracer.start_span(
            shape.span_name, context=ctx, kind=SpanKind.CLIENT, attributes=_chat_start(shape, sid)
        )
        run = EmbeddingRun(
            span, trace.set_span_in_context(span, ctx), attach, self._instruments, shape.metric
        )
        run.priced_as = (shape.start, cost_parent)
        return run

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
        """Start a ``retrieval {name}`` span (``gen_ai.data_source.id`` = name).

        CLIENT when a provider (a remote store) is named, else INTERNAL.
        """
        sid, ctx = self._session_context(session_id, context)
        attributes: dict[str, AttributeValue] = {
            semconv.GEN_AI_OPERATION_NAME: semconv.OP_RETRIEVAL
        }
        if name:
            attributes[semconv.GEN_AI_DATA_SOURCE_ID] = name
        if provider:
            attributes[semconv.GEN_AI_PROVIDER_NAME] = provider
        if top_k is not None:
            attributes[semconv.GEN_AI_REQUEST_TOP_K] = int(top_k)
        _add_session(attributes, sid)
        span_name = f"{semconv.OP_RETRIEVAL} {name}" if name else semconv.OP_RETRIEVAL
        kind = SpanKind.CLIENT if provider else SpanKind.INTERNAL
        span = self._tracer.start_span(span_name, context=ctx, kind=kind, attributes=attributes)
        return RetrievalRun(span, trace.set_span_in_context(span, ctx), attach)

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
        """Start an ``invoke_agent {name}`` span (and its duration histogram)."""
        sid, ctx = self._session_context(session_id, context)
        metric: dict[str, AttributeValue] = {}
        if name:
            metric[semconv.GEN_AI_AGENT_NAME] = name
        if model:
            metric[semconv.GEN_AI_REQUEST_MODEL] = model
        attributes: dict[str, AttributeValue] = {
            semconv.GEN_AI_OPERATION_NAME: semconv.OP_INVOKE_AGENT,
            **metric,
        }
        if agent_id:
            attributes[semconv.GEN_AI_AGENT_ID] = str(agent_id)
        if description:
            limit = self.config.max_attribute_length
            attributes[semconv.GEN_AI_AGENT_DESCRIPTION] = truncate(str(description), limit)
        _add_session(attributes, sid)
        span_name = f"{semconv.OP_INVOKE_AGENT} {name}" if name else semconv.OP_INVOKE_AGENT
        span = self._tracer.start_span(
            span_name, context=ctx, kind=SpanKind.INTERNAL, attributes=attributes
        )
        run = AgentRun(
            span,
            trace.set_span_in_context(span, ctx),
            attach,
            timed(self._instruments.invoke_agent_duration, metric),
        )
        _cost.open_scope(span, run)
        return run

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
        _add_session(attributes, sid)
        span = self._tracer.start_span(
            name, context=ctx, kind=SpanKind.INTERNAL, attributes=attributes
        )
        run = StepRun(span, trace.set_span_in_context(span, ctx), attach)
        _cost.open_scope(span, run)
        return run


def _add_session(attributes: dict[str, AttributeValue], sid: str | None) -> None:
    if sid is not None:
        attributes[semconv.AGENT_SESSION_ID] = sid
        attributes[semconv.GEN_AI_CONVERSATION_ID] = sid


def _call_attributes(
    sid: str | None, attributes: dict[str, AttributeValue] | None
) -> dict[str, AttributeValue]:
    """What one tool call adds to its template's first attributes."""
    added: dict[str, AttributeValue] = {}
    if sid is not None:
        added[semconv.AGENT_SESSION_ID] = added[semconv.GEN_AI_CONVERSATION_ID] = sid
    if attributes:
        added.update({k: v for k, v in attributes.items() if v is not None})
    return added


def enclosing_tool(span_id: int | None) -> ToolRun | None:
    """The open ``execute_tool`` run whose span has this id (an HTTP span's parent), if any."""
    return active_tools.get(span_id) if span_id else None


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
