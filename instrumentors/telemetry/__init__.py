"""The single bridge between invocation records and spans, events and metrics.

Every call into ``opentelemetry-util-genai`` (a beta API that changes between
minor releases) lives in this sub-package. On top of it we add what it lacks:
session ids, parameter hashing and capture, the ``tool.name`` alias, span
links from tool calls to the chat span that requested them, the
``exception`` event, step spans, and the one-span-per-call merge for tools.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import Histogram, MeterProvider
from opentelemetry.trace import SpanKind, Tracer, TracerProvider
from opentelemetry.util.genai.handler import TelemetryHandler
from opentelemetry.util.genai.invocation import GenAIInvocation
from opentelemetry.util.genai.types import ContentCapturingMode
from opentelemetry.util.types import AttributeValue

from instrumentors import semconv
from instrumentors.config import CAPTURE_MESSAGE_CONTENT, Settings, settings
from instrumentors.links import registry as link_registry
from instrumentors.params import truncate
from instrumentors.session import context_with_session, current_session_id, normalize_session_id
from instrumentors.telemetry._chat import LeanChat, metrics_recorded
from instrumentors.telemetry._guard import START_GUARD as _START_GUARD
from instrumentors.telemetry._guard import guard
from instrumentors.telemetry._llm import LLMRun, Message, ToolCallRequest, new_inference, safe_text
from instrumentors.telemetry._runs import (
    ACTIVE_TOOLS_CAP,
    NO_PARAMS,
    AgentRun,
    EmbeddingRun,
    RetrievalRun,
    Run,
    StepRun,
    ToolRun,
    _MergedToolRun,
    _StepInvocation,
    _ToolInvocation,
    active_tools,
)
from instrumentors.version import __version__

_logger = logging.getLogger(__name__)

SCOPE: Final = "instrumentors"
_TEMPLATES_CAP: Final = 1024  # distinct tools per Telemetry; cleared (not grown) past it
_EMIT_EVENT: Final = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"
# Samplers that record every root span (the SDK default is the second).
_ALWAYS_ON_SAMPLERS: Final = frozenset(
    {
        "AlwaysOnSampler",
        "ParentBased{root:AlwaysOnSampler,remoteParentSampled:AlwaysOnSampler,"
        "remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,"
        "localParentNotSampled:AlwaysOffSampler}",
    }
)

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
    "safe_text",
]


class ToolTemplate:
    """Per-tool constants of ``execute_tool`` spans (made by ``Telemetry.tool_template``)."""

    __slots__ = ("metric", "name", "owner", "span_name", "start")

    def __init__(
        self,
        owner: Telemetry,
        name: str,
        span_name: str,
        start: dict[str, AttributeValue],
        metric: dict[str, AttributeValue],
    ) -> None:
        self.owner = owner
        self.name = name
        self.span_name = span_name
        self.start = start  # shared by every span of the tool: never mutated
        self.metric = metric


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
        with _quiet_about_capture_spellings(self.config):
            self._handler = TelemetryHandler(
                tracer_provider=tracer_provider,
                meter_provider=meter_provider,
                instrumentation_scope_name=scope,
                instrumentation_scope_version=__version__,
            )
        _apply_capture_mode(self._handler, self.config)
        self._tracer: Tracer = trace.get_tracer(scope, __version__, tracer_provider)
        # The tool fast path shares util-genai's tracer (scope, schema) and histogram.
        self._tool_tracer: Tracer = getattr(self._handler, "_tracer", self._tracer)
        instruments = getattr(self._handler, "_instruments", None)
        self._tool_histogram: Histogram | None = getattr(instruments, "execute_tool_duration", None)
        self._sampler_cache: str | None = None
        # Templates for tools started without one (by name, type, description, agent).
        self._templates: dict[tuple[str, str | None, str | None, str | None], ToolTemplate] = {}
        # Our lean chat lifecycle covers everything but content, events and completion
        # hooks; with any of those on, util-genai's own invocation does the work.
        self._lean_chat = (
            not self.config.capture_content
            and not self._handler.should_capture_content()
            and os.environ.get("OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT", "").strip().lower()
            != "true"
        )

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

    def will_record(self, context: Context | None = None) -> bool:
        """Whether a span started now will surely be recorded (False when unsure).

        True under a sampled parent, or at a root with an always-on sampler (the
        SDK default): then parameters are hashed before the span starts and go
        in with its first attributes. When unsure, they are hashed after the
        start, and only if the span records.
        """
        parent = trace.get_current_span(context).get_span_context()
        if parent.is_valid:
            return parent.trace_flags.sampled and self._sampler_kind() != "other"
        return self._sampler_kind() == "always_on"

    def _sampler_kind(self) -> str:
        kind = self._sampler_cache
        if kind is None:
            tracer = getattr(self._tool_tracer, "_tracer", self._tool_tracer)
            sampler = getattr(tracer, "sampler", None)
            if sampler is None:
                return "other"  # no SDK provider yet: decide again next time
            description = sampler.get_description()
            kind = (
                "always_on"
                if description in _ALWAYS_ON_SAMPLERS
                else "parent_based"
                if description.startswith("ParentBased{")
                else "other"
            )
            self._sampler_cache = kind
        return kind

    def tool_template(
        self,
        name: str,
        tool_type: str | None = semconv.TOOL_TYPE_FUNCTION,
        description: str | None = None,
        agent_name: str | None = None,
    ) -> ToolTemplate:
        """What every span of one tool shares; build once per tool, pass to ``tool()``."""
        start: dict[str, AttributeValue] = {
            semconv.GEN_AI_OPERATION_NAME: semconv.OP_EXECUTE_TOOL,
            semconv.GEN_AI_TOOL_NAME: name,
            semconv.TOOL_NAME: name,
        }
        metric: dict[str, AttributeValue] = {semconv.GEN_AI_TOOL_NAME: name}
        if tool_type:
            start[semconv.GEN_AI_TOOL_TYPE] = metric[semconv.GEN_AI_TOOL_TYPE] = tool_type
        if agent_name:
            start[semconv.GEN_AI_AGENT_NAME] = metric[semconv.GEN_AI_AGENT_NAME] = agent_name
        if description:
            start[semconv.GEN_AI_TOOL_DESCRIPTION] = truncate(
                str(description), self.config.max_attribute_length
            )
        span_name = f"{semconv.OP_EXECUTE_TOOL} {name}" if name else semconv.OP_EXECUTE_TOOL
        return ToolTemplate(self, name, span_name, start, metric)

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
        template: ToolTemplate | None = None,
        recording: bool | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> ToolRun:
        """Start an ``execute_tool {name}`` span, or enrich the one another layer opened.

        A second layer seeing the same call (directly inside the other layer's
        span, same tool name or ``merge_any``) enriches that span instead.
        ``recording`` passes on a ``will_record()`` answer the caller already has;
        ``attributes`` (a layer's own, such as transport details) go in at start.
        """
        if active_tools:
            outer = active_tools.get(trace.get_current_span(context).get_span_context().span_id)
            if (
                outer is not None
                and outer.layer is not self
                and not outer.finished
                and (merge_any or outer.name == name)
            ):
                merged = _MergedToolRun(outer)
                if attributes:
                    merged.set_attributes(attributes)
                merged.set_call_id(call_id)
                if params is not NO_PARAMS:
                    merged.set_params(params)
                return merged
        if template is not None and template.owner is self:
            tpl = template
        else:
            key = (name, tool_type, description, agent_name)
            cached = self._templates.get(key)
            if cached is None:
                if len(self._templates) >= _TEMPLATES_CAP:
                    self._templates.clear()
                cached = self._templates[key] = self.tool_template(*key)
            tpl = cached
        sid = current_session_id(context)
        ctx = context
        if sid is None and session_id is not None:
            sid, ctx = self._session_context(session_id, context)
        # What this call adds to the tool's template, merged into one first batch.
        added: dict[str, AttributeValue] = {}
        if sid is not None:
            added[semconv.AGENT_SESSION_ID] = added[semconv.GEN_AI_CONVERSATION_ID] = sid
        if attributes:
            added.update({k: v for k, v in attributes.items() if v is not None})
        run = ToolRun(name, self.config, self)
        hashed_early = False
        if params is not NO_PARAMS and (recording or self.will_record(ctx)):
            # One attribute batch at start instead of a second one after it.
            with _START_GUARD:
                added.update(run.param_attributes(params))
                hashed_early = True
        links = None
        if call_id:
            # Known at start: the id and the link to the requesting chat span go in with
            # the first attributes (samplers see them; no second write after the start).
            run.call_id = call_id
            added[semconv.GEN_AI_TOOL_CALL_ID] = call_id
            requested_by = link_registry.lookup(call_id)
            if requested_by is not None:
                links = (trace.Link(requested_by),)
        start = {**tpl.start, **added} if added else tpl.start
        span = self._tool_tracer.start_span(
            tpl.span_name, context=ctx, kind=SpanKind.INTERNAL, attributes=start, links=links
        )
        run._inv = _ToolInvocation(
            span, trace.set_span_in_context(span, ctx), attach, self._tool_histogram, tpl.metric
        )
        run.span_id = span.get_span_context().span_id
        if len(active_tools) < ACTIVE_TOOLS_CAP:
            active_tools[run.span_id] = run
        if params is not NO_PARAMS and not hashed_early:
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
        inv = new_inference(
            self._handler,
            provider,
            request_model=model or None,
            server_address=server_address,
            server_port=server_port,
            operation_name=operation,
            context=ctx,
            attach=attach,
            conversation_id=sid,
            lean=self._lean_chat,
            session_id=sid,
        )
        if sid is not None and not isinstance(inv, LeanChat):  # LeanChat starts with it
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
                # util-genai 1.3 emits the id only on remote agents; local ones need it too.
                inv.attributes[semconv.GEN_AI_AGENT_ID] = str(agent_id)
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


def enclosing_tool(span_id: int | None) -> ToolRun | None:
    """The open ``execute_tool`` run whose span has this id (an HTTP span's parent), if any."""
    return active_tools.get(span_id) if span_id else None


def _session_attributes(inv: GenAIInvocation, sid: str | None) -> None:
    if sid is not None:
        inv.attributes[semconv.AGENT_SESSION_ID] = sid
        inv.attributes[semconv.GEN_AI_CONVERSATION_ID] = sid


class _DropCaptureWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "is not a valid option" not in record.getMessage()


@contextmanager
def _quiet_about_capture_spellings(config: Settings) -> Iterator[None]:
    """util-genai warns that ``true`` is no capture mode; we accept it, so hush that one warning."""
    util_logger = logging.getLogger("opentelemetry.util.genai.utils")
    hush = config.capture_content and _capture_env_upper() not in ContentCapturingMode.__members__
    log_filter = _DropCaptureWarning()
    if hush:
        util_logger.addFilter(log_filter)
    try:
        yield
    finally:
        if hush:
            util_logger.removeFilter(log_filter)


def _capture_env_upper() -> str:
    return os.environ.get(CAPTURE_MESSAGE_CONTENT, "").strip().upper()


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
