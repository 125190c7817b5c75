"""Runs: a started span per operation with the lifecycle util-genai gives invocations.

``stop``/``fail`` end a run exactly once and never raise; tool runs add our
extras (parameter hash and capture, call id and link, the layer merge).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from timeit import default_timer
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.context import Context, attach, detach
from opentelemetry.metrics import Histogram
from opentelemetry.trace import Span
from opentelemetry.util.genai.invocation import (
    EmbeddingInvocation,
    Error,
    GenAIInvocation,
    RetrievalInvocation,
)
from opentelemetry.util.types import AttributeValue

from instrumentors import semconv
from instrumentors.config import Settings
from instrumentors.events import error_type, record_rate_limit
from instrumentors.links import registry as link_registry
from instrumentors.params import hash_params, safe_content, should_capture
from instrumentors.propagation import sanitize_url
from instrumentors.telemetry._chat import metrics_recorded
from instrumentors.telemetry._guard import ATTR_GUARD as _ATTR_GUARD
from instrumentors.telemetry._guard import STOP_GUARD as _STOP_GUARD

_logger = logging.getLogger(__name__)

NO_PARAMS: Final[Any] = object()
# Open tool runs by span, to find the one a second layer should enrich. A plain
# dict (atomic get/set under the GIL) is far cheaper than a context copy per call.
active_tools: dict[int, ToolRun] = {}  # span_id -> run
ACTIVE_TOOLS_CAP: Final = 100_000


class Run:
    """A started span for one operation; ``stop``/``fail`` end it exactly once."""

    __slots__ = ("_inv",)

    def __init__(self, inv: GenAIInvocation | _StepInvocation | Any) -> None:
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
        try:
            with _STOP_GUARD:
                self._inv.stop()
        finally:
            self._release()

    def _release(self) -> None:
        """Whatever failed while ending, never leave this span attached to the caller's context."""
        with _STOP_GUARD:
            self._inv.suspend()

    def fail_with(self, error_type: str, message: str | None = None) -> None:
        """End with status ERROR and ``error.type`` for a failure that is not an exception
        (an MCP ``isError`` result, an HTTP error status); idempotent, never raises."""
        with _STOP_GUARD:
            if self._inv._finished:
                return
            self._inv.fail(Error(message=message, type=str(error_type)))

    def fail(self, exc: BaseException) -> None:
        """End with status ERROR, ``error.type`` and an ``exception`` event (never raises)."""
        with _STOP_GUARD:
            if self._inv._finished:
                return
            span = self._inv.span
            try:
                if span.is_recording():
                    span.record_exception(exc)
                self._inv.fail(Error(message=str(exc), type=error_type(exc), exception=exc))
            finally:
                self._release()


class ToolRun(Run):
    """An ``execute_tool`` span."""

    __slots__ = ("_capture", "_config", "call_id", "has_hash", "layer", "name", "span_id")

    def __init__(self, name: str, config: Settings, layer: object = None) -> None:
        self.span_id = 0  # set when the span starts; the key in ``active_tools``
        self.name = name
        self._config = config
        self.layer = layer  # the Telemetry that opened it: layers merge, a layer never with itself
        self._capture = False
        self.call_id: str | None = None
        self.has_hash = False

    def set_call_id(self, call_id: str | None) -> None:
        """Record the tool call id (and link to the requesting chat span) if not known yet."""
        if not call_id or self.call_id:
            return
        self.call_id = call_id
        with _ATTR_GUARD:
            self._pending()[semconv.GEN_AI_TOOL_CALL_ID] = call_id
        self.add_link(call_id)

    def set_at_end(self, key: str, value: AttributeValue) -> None:
        """An attribute written with the span's last batch, when it ends (cheaper than now)."""
        with _ATTR_GUARD:
            self._pending()[key] = value

    def set_params(self, params: Any) -> None:
        """Hash the tool's input; capture it (redacted, truncated) when capture is on or sampled."""
        if self.has_hash:
            return
        with _ATTR_GUARD:
            span = self._inv.span
            if not span.is_recording():
                return
            self._pending().update(self.param_attributes(params))

    def param_attributes(self, params: Any) -> dict[str, AttributeValue]:
        """The hash (and, when captured, the redacted parameters) as attributes; marks them done."""
        self.has_hash = True
        attrs: dict[str, AttributeValue] = {
            semconv.REQUEST_PARAMETERS_HASH: hash_params(params, self._config)
        }
        if isinstance(params, Mapping) and not _IDEMPOTENCY_NAMES.isdisjoint(params):
            key = _idempotency_key(params)
            if key is not None:
                attrs[semconv.REQUEST_IDEMPOTENCY_KEY] = key
        if should_capture(self._config):
            self._capture = True
            captured = safe_content(params, self._config)
            attrs[semconv.REQUEST_PARAMETERS] = captured
            attrs[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] = captured
        return attrs

    def _pending(self) -> dict[str, AttributeValue]:
        inv = self._inv
        # util-genai sets ``attributes`` in one batch at finish: cheaper than per-key writes.
        return inv.attributes if isinstance(inv, GenAIInvocation) else inv.pending

    def record_http(
        self,
        method: str,
        url: str,
        status_code: int | None,
        retry_after_s: float | None = None,
    ) -> None:
        """Roll up the tool's last HTTP request onto its span (URL without secrets)."""
        with _ATTR_GUARD:
            span = self._inv.span
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
            with _ATTR_GUARD:
                self._pending()[semconv.GEN_AI_TOOL_CALL_RESULT] = safe_content(
                    result, self._config
                )
        active_tools.pop(self.span_id, None)
        try:  # the hot path: a bare try costs nothing, a guard's with-block does
            self._inv.stop()
        except Exception:
            _logger.debug("instrumentors: ending a tool span failed", exc_info=True)
            self._release()

    def fail(self, exc: BaseException) -> None:
        """End with status ERROR (see ``Run.fail``)."""
        active_tools.pop(self.span_id, None)
        super().fail(exc)


_IDEMPOTENCY_NAMES: Final = frozenset(
    {"idempotency_key", "idempotency-key", "Idempotency-Key", "idempotencyKey", "IdempotencyKey"}
)


def _idempotency_key(params: Mapping[Any, Any]) -> str | None:
    """A tool given an idempotency key (argument ``idempotency_key``): retries share it."""
    for name, value in params.items():
        if name in _IDEMPOTENCY_NAMES and value:
            return str(value)[:256]
    return None


class _MergedToolRun(ToolRun):
    """A second layer seeing the same tool call: enriches the outer span, ends nothing."""

    __slots__ = ("_outer",)

    def __init__(self, outer: ToolRun) -> None:
        super().__init__(outer.name, outer._config, outer.layer)
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
            # util-genai names it gen_ai.retrieval.top_k; the span model says request.top_k.
            inv.attributes[semconv.GEN_AI_REQUEST_TOP_K] = int(top_k)


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


class _ToolInvocation(_StepInvocation):
    """util-genai's ``execute_tool`` lifecycle on the hot path of ``@tool``.

    Same span (name, kind, attributes) and the same ``gen_ai.execute_tool.duration``
    histogram as util-genai's ToolInvocation, without its per-call objects: the
    decorator's whole overhead budget is a fraction of one bare span.
    """

    __slots__ = ("_histogram", "_metric_attributes", "_start_s")

    def __init__(
        self,
        span: Span,
        context: Context,
        attach_now: bool,
        histogram: Histogram | None,
        metric_attributes: dict[str, AttributeValue],
    ) -> None:
        # Flat on purpose (no super().__init__): this runs once per @tool call.
        self.span = span
        self.context = context
        self.pending = {}
        self._finished = False
        self._histogram = histogram
        self._metric_attributes = metric_attributes
        self._start_s = default_timer()
        self._token = attach(context) if attach_now else None

    def fail(self, error: Error) -> None:
        if not self._finished:
            self._metric_attributes = {**self._metric_attributes, semconv.ERROR_TYPE: error.type}
        super().fail(error)

    def _end(self) -> None:
        if self._finished:
            return
        if self._histogram is not None and metrics_recorded(self._histogram):
            try:
                self._histogram.record(
                    max(default_timer() - self._start_s, 0.0),
                    attributes=self._metric_attributes,
                    context=self.context,
                )
            except Exception:
                _logger.debug("recording the tool duration failed", exc_info=True)
        super()._end()


class StepRun(Run):
    """A planning / reasoning step span named after the step."""

    __slots__ = ()


# --------------------------------------------------------------------------- the bridge
