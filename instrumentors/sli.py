"""SLIs per tool and model from finished spans: latency quantiles, error rate, error budgets.

``SLIProcessor`` is a SpanProcessor: add it to a TracerProvider (``setup()``
does) and call ``report()``. Latency is kept in a DDSketch per key (relative
accuracy 1% by default), so memory is bounded by the number of keys, which is
capped too: tool, model and client names can come from remote callers, so
names past the cap (default 1,000 keys) fold into one ``other`` row per
operation, and names are cut to ``MAX_NAME_LENGTH`` characters.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import weakref
from dataclasses import dataclass, replace
from typing import Any, Final

from ddsketch import DDSketch
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from instrumentors import semconv
from instrumentors._sli_cost import (
    CostStats,
    CostSummary,
    SessionCost,
    SessionCosts,
    own_cost,
    row_cost,
    summarize,
)
from instrumentors._sli_table import DEFAULT_MIN_CALLS, render_sessions, render_table

_logger = logging.getLogger(__name__)

DEFAULT_MAX_KEYS: Final = 1_000
DEFAULT_RELATIVE_ACCURACY: Final = 0.01
OTHER: Final = "other"
MAX_NAME_LENGTH: Final = 256

# gen_ai.operation.name -> the attribute that names the tool, model, source or agent.
_NAME_BY_OPERATION: Final = {
    semconv.OP_EXECUTE_TOOL: (semconv.GEN_AI_TOOL_NAME,),
    semconv.OP_CHAT: (semconv.GEN_AI_REQUEST_MODEL, semconv.GEN_AI_RESPONSE_MODEL),
    semconv.OP_TEXT_COMPLETION: (semconv.GEN_AI_REQUEST_MODEL, semconv.GEN_AI_RESPONSE_MODEL),
    semconv.OP_EMBEDDINGS: (semconv.GEN_AI_REQUEST_MODEL, semconv.GEN_AI_RESPONSE_MODEL),
    semconv.OP_RETRIEVAL: (semconv.GEN_AI_DATA_SOURCE_ID,),
    semconv.OP_INVOKE_AGENT: (semconv.GEN_AI_AGENT_NAME,),
}


@dataclass(frozen=True)
class Objective:
    """A service level objective: P95 latency in seconds, a success-rate fraction, and/or
    the most an agent run (and a session's runs) may cost, in USD (``cost_per_run``)."""

    latency_p95: float | None = None
    success_rate: float | None = None
    cost_per_run: float | None = None

    def __post_init__(self) -> None:
        if self.latency_p95 is not None and not self.latency_p95 > 0:
            raise ValueError(f"latency_p95 must be > 0 seconds, got {self.latency_p95!r}")
        if self.success_rate is not None and not 0.0 <= self.success_rate <= 1.0:
            raise ValueError(f"success_rate must be within [0, 1], got {self.success_rate!r}")
        if self.cost_per_run is not None and not self.cost_per_run > 0:
            raise ValueError(f"cost_per_run must be > 0 USD, got {self.cost_per_run!r}")


@dataclass(frozen=True)
class SLIRow:
    """One (operation, name) line of the report. Latencies in seconds.

    Error budget: ``error_budget_allowed`` is the number of failures the
    success-rate objective allows for ``count`` calls; ``error_budget_consumed``
    the fraction of it spent (``errors / allowed``); ``error_budget_remaining``
    ``1 - consumed`` (negative when overspent); ``burn_rate`` the error rate
    divided by the allowed error rate (1.0 spends the budget exactly).
    """

    operation: str
    name: str
    count: int
    errors: int
    error_rate: float
    p50: float
    p95: float
    p99: float
    objective: Objective | None
    latency_met: bool | None
    success_met: bool | None
    error_budget_allowed: float | None
    error_budget_consumed: float | None
    error_budget_remaining: float | None
    burn_rate: float | None
    # What the calls cost (USD); None when none had a cost. The cost objective applies to
    # agent runs (invoke_agent rows).
    cost: CostSummary | None = None


class _Stats:
    __slots__ = ("cost", "count", "errors", "sketch")

    def __init__(self, relative_accuracy: float) -> None:
        self.sketch = DDSketch(relative_accuracy=relative_accuracy)
        self.count = 0
        self.errors = 0
        self.cost: CostStats | None = None


class SLIProcessor(SpanProcessor):
    """Keeps per-(operation, name) latency sketches and error counts; thread-safe, bounded."""

    def __init__(
        self,
        objectives: dict[str, Objective] | None = None,
        default: Objective | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
        relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
        min_calls: int = DEFAULT_MIN_CALLS,
    ) -> None:
        self.objectives = dict(objectives or {})
        # render() shows no error budget or burn rate for a key with fewer calls.
        self.min_calls = max(1, int(min_calls))
        self.default = default
        self.max_keys = max(1, max_keys)
        self.relative_accuracy = relative_accuracy
        self._stats: dict[tuple[str, str], _Stats] = {}
        self._sessions = SessionCosts(self.max_keys, relative_accuracy)
        self._lock = threading.Lock()
        # Spans counted under an `other` row because the key cap was reached.
        self.overflow = 0
        _LIVE.add(self)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        try:
            attributes = span.attributes or {}
            operation = attributes.get(semconv.GEN_AI_OPERATION_NAME)
            self._session_cost(attributes, operation)
            keys = _NAME_BY_OPERATION.get(operation) if isinstance(operation, str) else None
            if keys is None or span.start_time is None or span.end_time is None:
                return
            name = next((str(attributes[k]) for k in keys if attributes.get(k)), "unknown")
            self.record(
                str(operation),
                name,
                (span.end_time - span.start_time) / 1e9,
                span.status.status_code is StatusCode.ERROR,
                cost=row_cost(attributes),
            )
        except Exception:
            _logger.debug("SLIProcessor.on_end failed", exc_info=True)

    def _session_cost(self, attributes: Any, operation: object) -> None:
        session = attributes.get(semconv.AGENT_SESSION_ID)
        if not session:
            return
        own = own_cost(attributes)
        run_total = row_cost(attributes) if operation == semconv.OP_INVOKE_AGENT else None
        if own is not None or run_total is not None:
            with self._lock:
                self._sessions.record(str(session)[:MAX_NAME_LENGTH], own, run_total)

    def record(
        self,
        operation: str,
        name: str,
        duration_s: float,
        error: bool,
        cost: float | None = None,
    ) -> None:
        """Count one call (also usable without spans, e.g. from tests or other sources);
        ``cost`` in USD."""
        key = (operation[:MAX_NAME_LENGTH], name[:MAX_NAME_LENGTH])
        with self._lock:
            stats = self._stats.get(key)
            if stats is None:
                if len(self._stats) >= self.max_keys:
                    self.overflow += 1
                    # One `other` row per operation we know (a fixed set); any other
                    # operation folds into ("other", "other"): the extra rows are bounded.
                    key = (key[0] if key[0] in _NAME_BY_OPERATION else OTHER, OTHER)
                    stats = self._stats.get(key)
                if stats is None:
                    stats = self._stats[key] = _Stats(self.relative_accuracy)
            stats.sketch.add(max(duration_s, 0.0))
            stats.count += 1
            stats.errors += int(error)
            if cost is not None:
                if stats.cost is None:
                    stats.cost = CostStats()
                stats.cost.add(cost, self.relative_accuracy)

    def objective_for(self, name: str) -> Objective | None:
        """The objective for a tool or model name (else the default)."""
        return self.objectives.get(name, self.default)

    def report(self) -> list[SLIRow]:
        """One row per (operation, name), sorted by operation then name."""
        with self._lock:
            snapshot = [
                (op, name, s.count, s.errors, *_quantiles(s.sketch), s.cost)
                for (op, name), s in self._stats.items()
            ]
        rows = []
        for op, name, count, errors, p50, p95, p99, cost in sorted(snapshot, key=_sort_key):
            objective = self.objective_for(name)
            limit = objective.cost_per_run if objective and op == semconv.OP_INVOKE_AGENT else None
            row = _row(op, name, count, errors, p50, p95, p99, objective)
            rows.append(replace(row, cost=summarize(cost, count, limit)))
        return rows

    def sessions(self) -> list[SessionCost]:
        """What each session cost (sessions with a cost only); the default objective's
        ``cost_per_run`` judges their agent runs."""
        limit = self.default.cost_per_run if self.default else None
        with self._lock:
            return self._sessions.report(limit)

    def render(self) -> str:
        """The report as a terminal table ('' when nothing was recorded).

        Keys with fewer than ``min_calls`` calls show ``n<{min_calls}`` instead of a
        budget and burn rate.
        """
        table = render_table(self.report(), self.overflow, self.min_calls)
        sessions = render_sessions(self.sessions()) if table else ""
        return f"{table}\n{sessions}" if sessions else table

    def reset_lock(self) -> None:
        """A fresh lock (after a fork: another thread may have held it at that moment)."""
        self._lock = threading.Lock()

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_LIVE: weakref.WeakSet[SLIProcessor] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for processor in list(_LIVE):
        processor.reset_lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _sort_key(item: tuple[Any, ...]) -> tuple[str, str]:
    return item[0], item[1]


def _quantiles(sketch: DDSketch) -> tuple[float, float, float]:
    """p50/p95/p99 by the nearest-rank rule (the value at rank ceil(q*n)).

    DDSketch interpolates rank q*(n-1) downward, which with few samples hides
    the slowest call from p95 (2 calls: p95 = the faster one); an SLO check must
    not pass while a call was over the limit.
    """
    n = int(sketch.count)
    values = []
    for q in (0.5, 0.95, 0.99):
        rank_q = (math.ceil(q * n) - 1) / (n - 1) if n > 1 else q
        value = sketch.get_quantile_value(min(max(rank_q, 0.0), 1.0))
        values.append(float(value) if value is not None else 0.0)
    return values[0], values[1], values[2]


def _row(
    operation: str,
    name: str,
    count: int,
    errors: int,
    p50: float,
    p95: float,
    p99: float,
    objective: Objective | None,
) -> SLIRow:
    error_rate = errors / count if count else 0.0
    latency_met = success_met = None
    allowed = consumed = remaining = burn = None
    if objective is not None and objective.latency_p95 is not None:
        latency_met = p95 <= objective.latency_p95
    if objective is not None and objective.success_rate is not None:
        success_met = 1.0 - error_rate >= objective.success_rate
        allowed_rate = 1.0 - objective.success_rate
        allowed = count * allowed_rate
        if allowed > 0:
            consumed = errors / allowed
            burn = error_rate / allowed_rate
        else:  # a 100% objective: any failure overspends it
            consumed = math.inf if errors else 0.0
            burn = math.inf if errors else 0.0
        remaining = 1.0 - consumed
    return SLIRow(
        operation=operation,
        name=name,
        count=count,
        errors=errors,
        error_rate=error_rate,
        p50=p50,
        p95=p95,
        p99=p99,
        objective=objective,
        latency_met=latency_met,
        success_met=success_met,
        error_budget_allowed=allowed,
        error_budget_consumed=consumed,
        error_budget_remaining=remaining,
        burn_rate=burn,
    )
