"""Runs: one started span per operation and the one lifecycle they all share.

A run owns its span, the context in which that span is current (attached or
not), the attributes written with its last batch, and ``stop``/``fail``, which
end it exactly once, never raise, and always end the span and restore the
caller's context, whatever the user's exception does. Built on the public
OpenTelemetry API only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from timeit import default_timer

from opentelemetry.context import Context, attach, detach
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from instrumentors import semconv
from instrumentors._errors import error_type as _error_type
from instrumentors._errors import record_exception, safe_message
from instrumentors.cost import USD
from instrumentors.links import registry as link_registry
from instrumentors.telemetry import _cost
from instrumentors.telemetry._guard import ATTR_GUARD as _ATTR_GUARD
from instrumentors.telemetry._metrics import Instruments, metrics_recorded

_logger = logging.getLogger(__name__)


class Run:
    """A started span for one operation; ``stop``/``fail`` end it exactly once."""

    __slots__ = ("_finished", "_token", "context", "pending", "span")

    def __init__(self, span: Span, context: Context, attach_now: bool) -> None:
        self.span = span
        self.context = context  # the context in which this run's span is current
        self.pending: dict[str, AttributeValue] = {}  # written with the span's last batch
        self._finished = False
        self._token = attach(context) if attach_now else None

    @property
    def finished(self) -> bool:
        """True once the run has ended."""
        return self._finished

    def set_attribute(self, key: str, value: AttributeValue | None) -> None:
        """Set an attribute now (skipped for None values and non-recording spans)."""
        if value is None:
            return
        with _ATTR_GUARD:
            if self.span.is_recording():
                self.span.set_attribute(key, value)

    def set_attributes(self, attributes: Mapping[str, AttributeValue | None]) -> None:
        """Set several attributes now; None values are skipped."""
        with _ATTR_GUARD:
            if self.span.is_recording():
                self.span.set_attributes({k: v for k, v in attributes.items() if v is not None})

    def set_at_end(self, key: str, value: AttributeValue | None) -> None:
        """An attribute written with the span's last batch (cheaper than a write now)."""
        if value is not None:
            self.pending[key] = value

    def add_cost(self, amount: float, currency: str = USD, source: str = "local") -> None:
        """This run's own cost (a paid API a tool calls), on top of what runs under it."""
        with _ATTR_GUARD:
            _cost.own_cost(self.pending, amount, currency, source)
            if currency == USD:
                _cost.add(self.span.get_span_context().span_id, float(amount), model=False)

    def add_link(self, tool_call_id: str | None) -> None:
        """Link this span to the chat span that requested ``tool_call_id``, if known."""
        with _ATTR_GUARD:
            requested_by = link_registry.lookup(tool_call_id)
            if requested_by is not None and self.span.is_recording():
                self.span.add_link(requested_by)

    @contextmanager
    def activate(self) -> Iterator[None]:
        """Make the span current inside the block (streams and generators between reads)."""
        token = None
        with _ATTR_GUARD:
            if not self._finished:
                token = attach(self.context)
        try:
            yield
        finally:
            if token is not None:
                detach(token)

    def suspend(self) -> None:
        """Restore the caller's context while the run goes on (a stream handed back)."""
        token, self._token = self._token, None
        if token is not None:
            try:
                detach(token)
            except Exception:
                _logger.debug("instrumentors: restoring the caller's context failed", exc_info=True)

    def stop(self) -> None:
        """End successfully (idempotent, never raises)."""
        self._end(None, None)

    def fail(self, exc: BaseException, error_type: str | None = None) -> None:
        """End with status ERROR, ``error.type`` and an ``exception`` event (never raises).

        ``error_type`` replaces the class name where the protocol names the error (an
        RPC error code).
        """
        if self._finished:
            return
        try:
            record_exception(self.span, exc)
        finally:
            self._end(error_type or _error_type(exc), safe_message(exc))

    def fail_with(self, error_type: str, message: str | None = None) -> None:
        """End with status ERROR and ``error.type`` for a failure that is not an exception
        (an MCP ``isError`` result, an HTTP error status); idempotent, never raises."""
        self._end(str(error_type), message)

    def _finish(self, error_type: str | None) -> None:
        """What a kind of run adds at its end (attributes into ``pending``, metrics)."""

    def _end(self, error_type: str | None, message: str | None) -> None:
        if self._finished:
            return
        self._finished = True
        span = self.span
        try:
            self._finish(error_type)
            _cost.close(span, self.pending)
            if span.is_recording():
                if error_type is not None:
                    self.pending[semconv.ERROR_TYPE] = error_type
                    span.set_status(Status(StatusCode.ERROR, message))
                if self.pending:
                    span.set_attributes(self.pending)
        except Exception:
            _logger.debug("instrumentors: ending a span failed", exc_info=True)
        finally:
            self.suspend()
            try:
                span.end()
            except Exception:  # a span processor's bug must not reach the user's call
                _logger.debug("instrumentors: ending a span failed", exc_info=True)


class _TimedRun(Run):
    """A run that records a duration histogram at its end."""

    __slots__ = ("_metric", "_start_s")

    def __init__(
        self,
        span: Span,
        context: Context,
        attach_now: bool,
        metric: tuple[object, dict[str, AttributeValue]] | None,
    ) -> None:
        self._start_s = default_timer()
        self._metric = metric  # (histogram, its attributes), or None when nothing records
        super().__init__(span, context, attach_now)

    def _record_duration(self, error_type: str | None) -> None:
        metric = self._metric
        if metric is None:
            return
        histogram, attributes = metric
        if error_type is not None:
            attributes = {**attributes, semconv.ERROR_TYPE: error_type}
        histogram.record(  # type: ignore[attr-defined]
            max(default_timer() - self._start_s, 0.0), attributes=attributes, context=self.context
        )

    def _finish(self, error_type: str | None) -> None:
        self._record_duration(error_type)


def timed(
    histogram: object, attributes: dict[str, AttributeValue]
) -> tuple[object, dict[str, AttributeValue]] | None:
    """The metric a timed run records, or None when the histogram records nowhere."""
    return (histogram, attributes) if metrics_recorded(histogram) else None


class StepRun(Run):
    """A planning / reasoning step span named after the step."""

    __slots__ = ()


class AgentRun(_TimedRun):
    """An ``invoke_agent {name}`` span (and ``gen_ai.invoke_agent.duration``)."""

    __slots__ = ()


class RetrievalRun(Run):
    """A ``retrieval {name}`` span."""

    __slots__ = ()

    def set_documents(self, count: int | None) -> None:
        """Number of documents returned."""
        if count is not None:
            self.pending[semconv.RETRIEVAL_DOCUMENTS_COUNT] = int(count)

    def set_top_k(self, top_k: int | None) -> None:
        """``gen_ai.request.top_k`` when the retriever says."""
        with _ATTR_GUARD:
            if top_k is not None:
                self.pending[semconv.GEN_AI_REQUEST_TOP_K] = int(top_k)


_EMBEDDING_METRIC_KEYS = (semconv.GEN_AI_RESPONSE_MODEL, semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT)


class EmbeddingRun(_TimedRun):
    """An ``embeddings {model}`` span (operation duration and input token metrics)."""

    __slots__ = ("_instruments", "priced_as")

    def __init__(
        self,
        span: Span,
        context: Context,
        attach_now: bool,
        instruments: Instruments,
        metric_attributes: dict[str, AttributeValue],
    ) -> None:
        self._instruments = instruments
        # (the span's start attributes: provider and model, the run that gathers its cost)
        self.priced_as: tuple[dict[str, AttributeValue], int] | None = None
        super().__init__(
            span, context, attach_now, timed(instruments.operation_duration, metric_attributes)
        )

    @property
    def measured(self) -> bool:
        """Whether this call's metrics are recorded: read the response for them, sampled or not."""
        return self._metric is not None

    def set_request(
        self, *, encoding_formats: list[str] | None = None, dimensions: int | None = None
    ) -> None:
        """Request parameters: encoding formats, requested dimensions."""
        with _ATTR_GUARD:
            if encoding_formats:
                self.pending[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = [
                    str(f) for f in encoding_formats
                ]
            if dimensions is not None:
                self.pending[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = int(dimensions)

    def set_usage(self, input_tokens: int | None = None) -> None:
        """Input tokens used."""
        with _ATTR_GUARD:
            if input_tokens is not None:
                self.pending[semconv.GEN_AI_USAGE_INPUT_TOKENS] = int(input_tokens)

    def set_response(self, model: str | None = None, dimension: int | None = None) -> None:
        """Response model and embedding dimension."""
        with _ATTR_GUARD:
            if model:
                self.pending[semconv.GEN_AI_RESPONSE_MODEL] = str(model)
            if dimension:
                self.pending[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = int(dimension)

    def _finish(self, error_type: str | None) -> None:
        if self.priced_as is not None:
            start, cost_parent = self.priced_as
            cost = _cost.price_chat(self.pending, start)
            if cost is not None:
                _cost.add(cost_parent, cost, model=True)
        metric = self._metric
        if metric is None:
            return
        _, attributes = metric
        # The response model and the vector size are dimensions of the metrics too.
        found = {k: self.pending[k] for k in _EMBEDDING_METRIC_KEYS if k in self.pending}
        if found:
            attributes = {**attributes, **found}
            self._metric = (metric[0], attributes)
        self._record_duration(error_type)
        tokens = self.pending.get(semconv.GEN_AI_USAGE_INPUT_TOKENS)
        if isinstance(tokens, int):
            if error_type is not None:
                attributes = {**attributes, semconv.ERROR_TYPE: error_type}
            self._instruments.token_usage.record(
                tokens,
                attributes={**attributes, semconv.GEN_AI_TOKEN_TYPE: semconv.TOKEN_TYPE_INPUT},
                context=self.context,
            )
