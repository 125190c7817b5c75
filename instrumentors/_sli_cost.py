"""Cost in the SLIs: what each tool, model, agent and session cost, and the cost objective.

A span's cost for its own row is what it carries: a model span's
``gen_ai.usage.cost.amount``, a tool's, step's or agent's ``agent.cost.total``
(the model calls under it included). A session's total adds only the costs
spans carry themselves (``gen_ai.usage.cost.amount``), never the roll-ups, so
nothing is counted twice; its per-run figures come from its agent runs' totals.
Only USD is summed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ddsketch import DDSketch

from instrumentors import semconv

USD: Final = "USD"


def own_cost(attributes: Mapping[str, Any]) -> float | None:
    """The cost the span carries itself (a model call, a paid tool), in USD, or None."""
    amount = attributes.get(semconv.GEN_AI_USAGE_COST_AMOUNT)
    if not isinstance(amount, (int, float)) or isinstance(amount, bool):
        return None
    if attributes.get(semconv.GEN_AI_USAGE_COST_CURRENCY, USD) != USD:
        return None
    return float(amount) if math.isfinite(amount) and amount >= 0 else None


def row_cost(attributes: Mapping[str, Any]) -> float | None:
    """The cost of the call a row counts: a run's total (its model calls included), else its
    own cost."""
    total = attributes.get(semconv.AGENT_COST_TOTAL)
    if isinstance(total, (int, float)) and not isinstance(total, bool):
        return float(total) if math.isfinite(total) and total >= 0 else None
    return own_cost(attributes)


class CostStats:
    """Costs of one key: total, how many calls had one, and a sketch per call for p95."""

    __slots__ = ("count", "sketch", "total")

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0
        self.sketch: DDSketch | None = None

    def add(self, amount: float, relative_accuracy: float) -> None:
        if self.sketch is None:
            self.sketch = DDSketch(relative_accuracy=relative_accuracy)
        self.sketch.add(amount)
        self.total += amount
        self.count += 1


@dataclass(frozen=True)
class CostSummary:
    """A key's cost: total and per call (USD), and the cost objective's verdict when set.

    ``budget_remaining`` is ``1 - total / (cost_per_run * calls)`` (negative when
    overspent); ``burn_rate`` the mean cost per call divided by ``cost_per_run``.
    """

    total: float
    calls: int
    mean: float
    p95: float
    cost_per_run: float | None = None
    met: bool | None = None
    budget_remaining: float | None = None
    burn_rate: float | None = None


def summarize(
    stats: CostStats | None, calls: int, cost_per_run: float | None = None
) -> CostSummary | None:
    """The summary of ``stats`` over ``calls`` calls (runs), or None when nothing cost."""
    if stats is None or stats.count == 0:
        return None
    calls = max(calls, stats.count)
    mean = stats.total / calls
    p95 = _nearest_rank(stats.sketch, 0.95, stats.count)
    if cost_per_run is None or cost_per_run <= 0:
        return CostSummary(stats.total, calls, mean, p95)
    allowed = cost_per_run * calls
    return CostSummary(
        stats.total,
        calls,
        mean,
        p95,
        cost_per_run=cost_per_run,
        met=p95 <= cost_per_run,
        budget_remaining=1.0 - stats.total / allowed,
        burn_rate=mean / cost_per_run,
    )


def _nearest_rank(sketch: DDSketch | None, q: float, n: int) -> float:
    if sketch is None or n == 0:
        return 0.0
    rank = (math.ceil(q * n) - 1) / (n - 1) if n > 1 else q
    value = sketch.get_quantile_value(min(max(rank, 0.0), 1.0))
    return float(value) if value is not None else 0.0


@dataclass(frozen=True)
class SessionCost:
    """One session's cost: everything its spans carried, and per agent run."""

    session: str
    total: float
    runs: int
    per_run: CostSummary | None


class SessionCosts:
    """Per-session totals and agent-run costs; bounded (sessions past the cap fold into
    ``other``). Not thread-safe: the SLI processor calls it under its lock."""

    def __init__(self, max_keys: int, relative_accuracy: float) -> None:
        self.max_keys = max_keys
        self.relative_accuracy = relative_accuracy
        self._totals: dict[str, float] = {}
        self._runs: dict[str, tuple[int, CostStats]] = {}

    def record(self, session: str, own: float | None, run_total: float | None) -> None:
        """A span of ``session``: its own cost, and its total when it is an agent run."""
        if own is None and run_total is None:
            return
        if session not in self._totals and len(self._totals) >= self.max_keys:
            session = "other"
        self._totals[session] = self._totals.get(session, 0.0) + (own or 0.0)
        if run_total is not None:
            count, stats = self._runs.get(session) or (0, CostStats())
            stats.add(run_total, self.relative_accuracy)
            self._runs[session] = (count + 1, stats)

    def report(self, cost_per_run: float | None) -> list[SessionCost]:
        """One entry per session with a cost, sorted by session."""
        out = []
        for session, total in sorted(self._totals.items()):
            count, stats = self._runs.get(session) or (0, None)
            out.append(SessionCost(session, total, count, summarize(stats, count, cost_per_run)))
        return out
