"""Cost on spans: a model call's price, a tool's own cost, and roll-ups without double counting.

A model span carries ``gen_ai.usage.cost.*`` (from the response when it says,
else priced by ``instrumentors.cost``). The enclosing tool, step and agent
spans never repeat that attribute: each one adds up what ran under it and
writes ``agent.cost.total`` (everything) and ``agent.cost.model_calls`` (the
model calls' part) when it ends, then hands its total to its own enclosing run.
Only costs create state here, so a run with no cost under it pays nothing.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

from instrumentors import cost as _cost_module
from instrumentors import semconv
from instrumentors.cost import USD, pricer

if TYPE_CHECKING:
    from instrumentors.telemetry._runs import Run

_logger = logging.getLogger(__name__)

# Open agent and step runs by span id, and open tool runs (``_tool`` fills this one).
active_scopes: dict[int, Run] = {}
active_tools: dict[int, Run] = {}
ACTIVE_SCOPES_CAP: Final = 100_000
# Costs gathered under an open run, by its span id: [total, of which model calls].
_totals: dict[int, list[float]] = {}
_TOTALS_CAP: Final = 100_000
_lock = threading.Lock()
_AMOUNT: Final = semconv.GEN_AI_USAGE_COST_AMOUNT
_CURRENCY: Final = semconv.GEN_AI_USAGE_COST_CURRENCY
_SOURCE: Final = semconv.GEN_AI_USAGE_COST_SOURCE
_INPUT: Final = semconv.GEN_AI_USAGE_INPUT_TOKENS
_OUTPUT: Final = semconv.GEN_AI_USAGE_OUTPUT_TOKENS
_CACHE_READ: Final = semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
_CACHE_WRITE: Final = semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
_RESPONSE_MODEL: Final = semconv.GEN_AI_RESPONSE_MODEL
_PROVIDER: Final = semconv.GEN_AI_PROVIDER_NAME
_REQUEST_MODEL: Final = semconv.GEN_AI_REQUEST_MODEL


def run_of(span_id: int) -> Run | None:
    """The open tool, step or agent run of ours whose span has this id."""
    return active_tools.get(span_id) or active_scopes.get(span_id)


def enclosing(context: Context | None) -> int:
    """The span id of the nearest open run of ours around ``context`` (0 when none).

    Looks through one span of another library (a user's span, an HTTP span), whose
    parent is ours.
    """
    span: Any = trace.get_current_span(context)
    span_id = span.get_span_context().span_id
    if span_id and run_of(span_id) is not None:
        return int(span_id)
    parent = getattr(span, "parent", None)  # the SDK span's parent context
    parent_id = getattr(parent, "span_id", 0)
    if parent_id and run_of(parent_id) is not None:
        return int(parent_id)
    return 0


def add(owner_id: int, amount: float, model: bool) -> None:
    """Count ``amount`` USD (a model call's when ``model``) under the open run ``owner_id``."""
    _accumulate(owner_id, amount, amount if model else 0.0)


def _accumulate(owner_id: int, total: float, models: float) -> None:
    if not owner_id or total <= 0:
        return
    with _lock:
        totals = _totals.get(owner_id)
        if totals is None:
            if len(_totals) >= _TOTALS_CAP:
                return  # bounded: a flood of open runs with costs loses roll-ups, not memory
            totals = _totals[owner_id] = [0.0, 0.0]
        totals[0] += total
        totals[1] += models


def close(span: Span, pending: dict[str, AttributeValue]) -> None:
    """At the end of any run: forget it as an enclosing run; if costs were gathered under
    it, write its totals and pass them to its own enclosing run."""
    if not _totals and not active_scopes:
        return
    span_id = span.get_span_context().span_id
    active_scopes.pop(span_id, None)
    if not _totals:
        return
    with _lock:
        totals = _totals.pop(span_id, None)
    if totals is None:
        return
    total, models = totals
    pending[semconv.AGENT_COST_TOTAL] = total
    if models:
        pending[semconv.AGENT_COST_MODEL_CALLS] = models
    parent = getattr(getattr(span, "parent", None), "span_id", 0)
    if parent and run_of(parent) is not None:
        _accumulate(parent, total, models)


def open_scope(span: Span, run: Run) -> None:
    """Register an agent or step run as one that gathers the costs under it."""
    if len(active_scopes) < ACTIVE_SCOPES_CAP:
        active_scopes[span.get_span_context().span_id] = run


def price_chat(values: dict[str, AttributeValue], start: dict[str, AttributeValue]) -> float | None:
    """Put the call's cost in ``values`` (a cost the response carried wins); returns it (USD)."""
    get = values.get
    given = get(_AMOUNT)
    if given is not None:
        values.setdefault(_CURRENCY, USD)
        values.setdefault(_SOURCE, semconv.COST_SOURCE_PROVIDER)
        if isinstance(given, (int, float)) and get(_CURRENCY) == USD:
            return float(given)
        return None
    inputs, outputs = get(_INPUT), get(_OUTPUT)
    if inputs is None and outputs is None:
        return None
    cache_read, cache_write = get(_CACHE_READ), get(_CACHE_WRITE)
    for count in (inputs, outputs, cache_read, cache_write):
        if count is not None and type(count) is not int:
            return None
    provider = start.get(_PROVIDER)
    if type(provider) is not str:
        provider = ""
    prices = _cost_module._pricer or pricer()
    # The response's (dated) model first, then the requested one.
    model = get(_RESPONSE_MODEL)
    cost = None
    if type(model) is str and model:
        cost = prices.price(provider, model, inputs, outputs, cache_read, cache_write)  # type: ignore[arg-type]
    if cost is None:
        model = start.get(_REQUEST_MODEL)
        if type(model) is not str or not model:
            return None
        cost = prices.price(provider, model, inputs, outputs, cache_read, cache_write)  # type: ignore[arg-type]
        if cost is None:
            return None
    values[_AMOUNT] = cost
    values[_CURRENCY] = USD
    values[_SOURCE] = semconv.COST_SOURCE_LOCAL
    return cost


def own_cost(pending: dict[str, AttributeValue], amount: float, currency: str, source: str) -> None:
    """A run's own cost (a paid tool call): added to what it already carries."""
    previous = pending.get(semconv.GEN_AI_USAGE_COST_AMOUNT)
    total = float(amount) + (float(previous) if isinstance(previous, (int, float)) else 0.0)
    pending[semconv.GEN_AI_USAGE_COST_AMOUNT] = total
    pending[semconv.GEN_AI_USAGE_COST_CURRENCY] = currency
    pending[semconv.GEN_AI_USAGE_COST_SOURCE] = source
