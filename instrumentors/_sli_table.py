"""The SLI report as a terminal table: one row per (operation, name)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, Protocol

from instrumentors._sli_cost import CostSummary, SessionCost
from instrumentors._units import format_duration, format_money
from instrumentors.config import DEFAULT_SLI_MIN_CALLS

# Below this many calls a budget or burn rate says nothing yet ("-1900% left" after
# one failure reads as a bug): the table shows "n<20" instead.
DEFAULT_MIN_CALLS: Final = DEFAULT_SLI_MIN_CALLS

# This module reads rows through these Protocols only, so it never imports
# instrumentors.sli (which imports it): no import circle.


class _Objective(Protocol):
    @property
    def latency_p95(self) -> float | None: ...

    @property
    def success_rate(self) -> float | None: ...


class Row(Protocol):
    """What the table reads from an ``instrumentors.sli.SLIRow``."""

    @property
    def operation(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def count(self) -> int: ...

    @property
    def errors(self) -> int: ...

    @property
    def error_rate(self) -> float: ...

    @property
    def p50(self) -> float: ...

    @property
    def p95(self) -> float: ...

    @property
    def p99(self) -> float: ...

    @property
    def objective(self) -> _Objective | None: ...

    @property
    def latency_met(self) -> bool | None: ...

    @property
    def success_met(self) -> bool | None: ...

    @property
    def error_budget_remaining(self) -> float | None: ...

    @property
    def burn_rate(self) -> float | None: ...

    @property
    def cost(self) -> CostSummary | None: ...


_HEADERS = (
    "operation",
    "name",
    "calls",
    "errors",
    "error rate",
    "p50",
    "p95",
    "p99",
    "SLO",
    "budget left",
    "burn",
)
# Added when any row has a cost: the total, per call (mean and p95), the cost objective.
_COST_HEADERS = ("cost", "cost/call mean, p95", "cost SLO")


def _met(value: bool | None) -> str:
    return "" if value is None else ("ok" if value else "MISSED")


def _percent(value: float | None) -> str:
    """Every percentage alike: ``95%``, ``33.3%``, ``-inf%``."""
    if value is None:
        return ""
    if math.isinf(value):
        return "-inf%" if value < 0 else "inf%"
    percent = value * 100
    return f"{percent:.0f}%" if abs(percent - round(percent)) < 0.05 else f"{percent:.1f}%"


def _slo(row: Row) -> str:
    objective = row.objective
    if objective is None:
        return ""
    parts = []
    if objective.latency_p95 is not None:
        parts.append(f"p95<={format_duration(objective.latency_p95)} {_met(row.latency_met)}")
    if objective.success_rate is not None:
        parts.append(f"{_percent(objective.success_rate)} {_met(row.success_met)}")
    return ", ".join(parts)


def _budget(row: Row, min_calls: int) -> tuple[str, str]:
    """(budget left, burn rate), or ("n<20", "") while the key has too few calls."""
    if row.error_budget_remaining is not None and row.count < min_calls:
        return f"n<{min_calls}", ""
    burn = row.burn_rate
    return _percent(row.error_budget_remaining), (
        "" if burn is None else ("inf" if math.isinf(burn) else f"{burn:.2f}")
    )


def table_cells(
    rows: Sequence[Row], min_calls: int = DEFAULT_MIN_CALLS
) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """(headers, one tuple of cell texts per row): the terminal table and the HTML report's."""
    body: list[tuple[str, ...]] = [
        (
            row.operation,
            row.name,
            str(row.count),
            str(row.errors),
            _percent(row.error_rate),
            format_duration(row.p50),
            format_duration(row.p95),
            format_duration(row.p99),
            _slo(row),
            *_budget(row, min_calls),
        )
        for row in rows
    ]
    if not any(row.cost is not None for row in rows):
        return _HEADERS, body
    body = [cells + _cost_cells(row.cost) for cells, row in zip(body, rows, strict=True)]
    return _HEADERS + _COST_HEADERS, body


def _cost_cells(cost: CostSummary | None) -> tuple[str, str, str]:
    if cost is None:
        return "", "", ""
    per_call = f"{format_money(cost.mean)}, {format_money(cost.p95)}"
    return format_money(cost.total), per_call, _cost_slo(cost)


def _cost_slo(cost: CostSummary) -> str:
    """``<=$0.05/run ok, 40% left, burn 0.60``, or '' without a cost objective."""
    if cost.cost_per_run is None:
        return ""
    burn = cost.burn_rate
    return (
        f"<={format_money(cost.cost_per_run)}/run {_met(cost.met)}, "
        f"{_percent(cost.budget_remaining)} left, burn {burn:.2f}"
    )


def render_sessions(sessions: Sequence[SessionCost]) -> str:
    """What each session cost, and per agent run; '' when no session had a cost."""
    if not sessions:
        return ""
    headers = ("session", "cost", "agent runs", "cost/run mean, p95", "cost SLO")
    body = [
        (
            s.session,
            format_money(s.total),
            str(s.runs),
            f"{format_money(s.per_run.mean)}, {format_money(s.per_run.p95)}" if s.per_run else "",
            _cost_slo(s.per_run) if s.per_run else "",
        )
        for s in sessions
    ]
    return "\n".join(["Cost per session", *_aligned(headers, body)])


def _aligned(headers: tuple[str, ...], body: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
    return lines


def render_table(rows: Sequence[Row], overflow: int = 0, min_calls: int = DEFAULT_MIN_CALLS) -> str:
    """Aligned columns; '' when there are no rows."""
    if not rows:
        return ""
    headers, body = table_cells(rows, min_calls)
    lines = ["SLIs", *_aligned(headers, body)]
    if overflow:
        lines.append(f"({overflow} spans of further names counted under 'other': key cap reached)")
    return "\n".join(lines)
