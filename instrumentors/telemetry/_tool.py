"""Tool runs: ``execute_tool`` spans, the hot path of ``@tool``, and the one-span-per-call merge.

Everything fixed per tool (span name, first attributes, metric attributes) is a
``ToolTemplate`` built once. A run adds what is particular to the call (session,
call id and the link to the requesting chat span, the parameter hash) in the
same first batch when the span will surely be recorded, so a sampler sees them
and no second write is needed.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from timeit import default_timer
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.context import Context, attach
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import AttributeValue

from instrumentors import semconv
from instrumentors.config import Settings
from instrumentors.events import record_rate_limit
from instrumentors.links import registry as link_registry
from instrumentors.params import hash_params, safe_content, truncate
from instrumentors.propagation import sanitize_url
from instrumentors.telemetry import _cost
from instrumentors.telemetry._content import ContentPolicy
from instrumentors.telemetry._guard import ATTR_GUARD as _ATTR_GUARD
from instrumentors.telemetry._guard import START_GUARD as _START_GUARD
from instrumentors.telemetry._metrics import metrics_recorded
from instrumentors.telemetry._runs import Run

_logger = logging.getLogger(__name__)

NO_PARAMS: Final[Any] = object()
# Open tool runs by span, to find the one a second layer should enrich. A plain
# dict (atomic get/set under the GIL) is far cheaper than a context copy per call.
# (The dict lives in ``_cost``, which looks runs up by span id at every model call.)
active_tools: dict[int, ToolRun] = _cost.active_tools  # type: ignore[assignment]
ACTIVE_TOOLS_CAP: Final = 100_000

_ON_SPAN: Final = 1
_IN_EVENT: Final = 2

_IDEMPOTENCY_NAMES: Final = frozenset(
    {"idempotency_key", "idempotency-key", "Idempotency-Key", "idempotencyKey", "IdempotencyKey"}
)


class ToolTemplate:
    """Per-tool constants of ``execute_tool`` spans (made by ``Telemetry.tool_template``).

    ``kind`` is INTERNAL for a tool run in this process; SERVER for the remote end of a
    tool call (an MCP server's ``tools/call``), whose span never merges with the local
    tool function's: across a process boundary each side has its own span.
    """

    __slots__ = ("kind", "metric", "name", "owner", "span_name", "start")

    def __init__(
        self,
        owner: object,
        name: str,
        tool_type: str | None,
        description: str | None,
        agent_name: str | None,
        max_length: int,
        kind: SpanKind = SpanKind.INTERNAL,
        span_name: str | None = None,
    ) -> None:
        self.owner = owner  # the Telemetry it belongs to (its tracer and histogram)
        self.name = name
        self.kind = kind
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
            start[semconv.GEN_AI_TOOL_DESCRIPTION] = truncate(str(description), max_length)
        self.start = start  # shared by every span of the tool: never mutated
        self.metric = metric
        default_name = f"{semconv.OP_EXECUTE_TOOL} {name}" if name else semconv.OP_EXECUTE_TOOL
        self.span_name = span_name or default_name


def capture_flags(policy: ContentPolicy) -> int:
    """Where this call's parameters and result go: span, event, both, or nowhere (0)."""
    if policy.on:
        return (_ON_SPAN if policy.on_span else 0) | (_IN_EVENT if policy.in_event else 0)
    rate = policy.config.capture_sample_rate
    return _ON_SPAN if rate > 0.0 and random.random() < rate else 0


class ToolRun(Run):
    """An ``execute_tool`` span (and ``gen_ai.execute_tool.duration``)."""

    __slots__ = (
        "_arguments",
        "_capture",
        "_histogram",
        "_metric_attributes",
        "_policy",
        "_start_s",
        "call_id",
        "has_hash",
        "layer",
        "name",
        "span_id",
    )

    def __init__(self, name: str, policy: ContentPolicy, layer: object) -> None:
        # Flat on purpose (the span comes in ``begin``): this runs once per @tool call.
        self.name = name
        self.layer = layer  # the Telemetry that opened it: layers merge, a layer never with itself
        self._policy = policy
        self._capture = 0
        self._arguments: str | None = None
        self.call_id: str | None = None
        self.has_hash = False
        self.span_id = 0
        self.pending = {}
        self._finished = False
        self._token = None

    def begin(
        self,
        span: Span,
        context: Context,
        attach_now: bool,
        histogram: Any,
        metric_attributes: dict[str, AttributeValue],
        mergeable: bool = True,
    ) -> None:
        """Take the started span; the run is live from here (``mergeable``: a second layer
        seeing the same call in this process enriches it)."""
        self.span = span
        self.context = context
        self._histogram = histogram if metrics_recorded(histogram) else None
        self._metric_attributes = metric_attributes
        self._start_s = default_timer()
        self.span_id = span.get_span_context().span_id
        if mergeable and len(active_tools) < ACTIVE_TOOLS_CAP:
            active_tools[self.span_id] = self
        if attach_now:
            self._token = attach(context)

    def set_call_id(self, call_id: str | None) -> None:
        """Record the tool call id (and link to the requesting chat span) if not known yet."""
        if not call_id or self.call_id:
            return
        self.call_id = call_id
        self.pending[semconv.GEN_AI_TOOL_CALL_ID] = call_id
        self.add_link(call_id)

    def set_params(self, params: Any) -> None:
        """Hash the tool's input; capture it (redacted, truncated) when capture is on or sampled."""
        if self.has_hash:
            return
        with _ATTR_GUARD:
            if self.span.is_recording():
                self.pending.update(self.param_attributes(params))

    def param_attributes(self, params: Any) -> dict[str, AttributeValue]:
        """The hash (and, when captured, the redacted parameters) as attributes; marks them done."""
        self.has_hash = True
        config: Settings = self._policy.config
        attrs: dict[str, AttributeValue] = {
            semconv.REQUEST_PARAMETERS_HASH: hash_params(params, config)
        }
        if isinstance(params, Mapping) and not _IDEMPOTENCY_NAMES.isdisjoint(params):
            key = _idempotency_key(params)
            if key is not None:
                attrs[semconv.REQUEST_IDEMPOTENCY_KEY] = key
        capture = self._capture = capture_flags(self._policy)
        if capture:
            captured = safe_content(params, config)
            if capture & _ON_SPAN:
                attrs[semconv.REQUEST_PARAMETERS] = captured
                attrs[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] = captured
            if capture & _IN_EVENT:
                self._arguments = captured
        return attrs

    def record_http(
        self,
        method: str,
        url: str,
        status_code: int | None,
        retry_after_s: float | None = None,
    ) -> None:
        """Roll up the tool's last HTTP request onto its span (URL without secrets)."""
        with _ATTR_GUARD:
            span = self.span
            if not span.is_recording():
                return
            safe_url = sanitize_url(url)
            span.set_attributes(
                {
                    semconv.HTTP_REQUEST_METHOD: method,
                    semconv.HTTP_METHOD_OLD: method,
                    semconv.URL_FULL: safe_url,
                    semconv.HTTP_URL_OLD: safe_url,
                }
            )
            if status_code is not None:
                span.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status_code)
                span.set_attribute(semconv.HTTP_STATUS_CODE_OLD, status_code)
                if status_code == 429:
                    record_rate_limit(status_code, retry_after_s, span=span)

    def stop(self, result: Any = NO_PARAMS) -> None:  # type: ignore[override]
        """End successfully; the result is recorded only when this call's content is captured."""
        if self._capture and result is not NO_PARAMS:
            self._capture_result(result)
        active_tools.pop(self.span_id, None)
        self._end(None, None)

    def fail(self, exc: BaseException, error_type: str | None = None) -> None:
        """End with status ERROR (see ``Run.fail``)."""
        active_tools.pop(self.span_id, None)
        super().fail(exc, error_type)

    def fail_with(self, error_type: str, message: str | None = None) -> None:
        """End with status ERROR and ``error.type`` without an exception."""
        active_tools.pop(self.span_id, None)
        super().fail_with(error_type, message)

    def _capture_result(self, result: Any) -> None:
        with _ATTR_GUARD:
            captured = safe_content(result, self._policy.config)
            if self._capture & _ON_SPAN:
                self.pending[semconv.GEN_AI_TOOL_CALL_RESULT] = captured
            if self._capture & _IN_EVENT:
                self._emit_event(captured)

    def _emit_event(self, result: str | None) -> None:
        attributes: dict[str, AttributeValue] = {semconv.GEN_AI_TOOL_NAME: self.name}
        if self.call_id:
            attributes[semconv.GEN_AI_TOOL_CALL_ID] = self.call_id
        if self._arguments is not None:
            attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] = self._arguments
        if result is not None:
            attributes[semconv.GEN_AI_TOOL_CALL_RESULT] = result
        self._policy.emit(semconv.EVENT_TOOL_CALL_DETAILS, attributes, self.context)

    def _finish(self, error_type: str | None) -> None:
        histogram = self._histogram
        if histogram is None:
            return
        attributes = self._metric_attributes
        if error_type is not None:
            attributes = {**attributes, semconv.ERROR_TYPE: error_type}
        histogram.record(
            max(default_timer() - self._start_s, 0.0), attributes=attributes, context=self.context
        )


def _idempotency_key(params: Mapping[Any, Any]) -> str | None:
    """A tool given an idempotency key (argument ``idempotency_key``): retries share it."""
    for name, value in params.items():
        if name in _IDEMPOTENCY_NAMES and value:
            return str(value)[:256]
    return None


class MergedToolRun(ToolRun):
    """A second layer seeing the same tool call: enriches the outer span, ends nothing."""

    __slots__ = ("_outer",)

    def __init__(self, outer: ToolRun) -> None:
        super().__init__(outer.name, outer._policy, outer.layer)
        self._outer = outer
        self.span = outer.span
        self.context = outer.context
        self.pending = outer.pending
        self.span_id = outer.span_id

    @property
    def finished(self) -> bool:
        return self._outer.finished

    def set_call_id(self, call_id: str | None) -> None:
        self._outer.set_call_id(call_id)

    def set_params(self, params: Any) -> None:
        self._outer.set_params(params)

    def stop(self, result: Any = NO_PARAMS) -> None:  # type: ignore[override]
        return None

    def fail(self, exc: BaseException, error_type: str | None = None) -> None:
        return None  # the exception reaches the outer layer, which records it once

    def fail_with(self, error_type: str, message: str | None = None) -> None:
        self._outer.fail_with(error_type, message)

    def suspend(self) -> None:
        return None


def merge_into(
    outer: ToolRun,
    call_id: str | None,
    params: Any,
    attributes: Mapping[str, AttributeValue] | None,
) -> MergedToolRun:
    """A second layer's view of ``outer``, with what that layer knows added to it."""
    merged = MergedToolRun(outer)
    if attributes:
        merged.set_attributes(attributes)
    merged.set_call_id(call_id)
    if params is not NO_PARAMS:
        merged.set_params(params)
    return merged


def start_tool(
    tel: Any,
    tpl: ToolTemplate,
    added: dict[str, AttributeValue],
    call_id: str | None,
    params: Any,
    context: Context | None,
    attach_now: bool,
    hash_early: bool,
) -> ToolRun:
    """Start the span of one call of ``tpl``: ``added`` (session, transport details) and,
    when ``hash_early``, the parameter hash go in with the template's first attributes."""
    run = ToolRun(tpl.name, tel.content, tel)
    if hash_early:
        with _START_GUARD:  # one attribute batch at start instead of a second after it
            added.update(run.param_attributes(params))
    links = None
    if call_id:
        # The id and the link to the requesting chat span go in with the first attributes.
        run.call_id = added[semconv.GEN_AI_TOOL_CALL_ID] = call_id
        requested_by = link_registry.lookup(call_id)
        if requested_by is not None:
            links = (trace.Link(requested_by),)
    span = tel._tracer.start_span(
        tpl.span_name,
        context=context,
        kind=tpl.kind,
        attributes={**tpl.start, **added} if added else tpl.start,
        links=links,
    )
    run.begin(
        span,
        trace.set_span_in_context(span, context),
        attach_now,
        tel._instruments.tool_duration,
        tpl.metric,
        tpl.kind is SpanKind.INTERNAL,
    )
    if params is not NO_PARAMS and not run.has_hash:
        run.set_params(params)
    return run
