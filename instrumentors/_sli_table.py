"""The SLI report as a terminal table: one row per (operation, name)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

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


_HEADERS = (
    "operation",
    "name",
    "calls",
    "errors",
    "err%",
    "p50",
    "p95",
    "p99",
    "SLO",
    "budget left",
    "burn",
)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}ms" if seconds < 1 else f"{seconds:.2f}s"


def _met(value: bool | None) -> str:
    return "" if value is None else ("ok" if value else "MISSED")


def _fraction(value: float | None) -> str:
    if value is None:
        return ""
    if math.isinf(value):
        return "-inf" if value < 0 else "inf"
    return f"{value * 100:.0f}%"


def _slo(row: Row) -> str:
    objective = row.objective
    if objective is None:
        return ""
    parts = []
    if objective.latency_p95 is not None:
        parts.append(f"p95<={_ms(objective.latency_p95)} {_met(row.latency_met)}")
    if objective.success_rate is not None:
        parts.append(f"{objective.success_rate * 100:g}% {_met(row.success_met)}")
    return ", ".join(parts)


def render_table(rows: Sequence[Row], overflow: int = 0) -> str:
    """Aligned columns; '' when there are no rows."""
    if not rows:
        return ""
    body = [
        (
            row.operation,
            row.name,
            str(row.count),
            str(row.errors),
            f"{row.error_rate * 100:.1f}",
            _ms(row.p50),
            _ms(row.p95),
            _ms(row.p99),
            _slo(row),
            _fraction(row.error_budget_remaining),
            ""
            if row.burn_rate is None
            else ("inf" if math.isinf(row.burn_rate) else f"{row.burn_rate:.2f}"),
        )
        for row in rows
    ]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(_HEADERS)]
    lines = ["SLIs", "  ".join(h.ljust(w) for h, w in zip(_HEADERS, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
    if overflow:
        lines.append(f"({overflow} spans of further names counted under 'other': key cap reached)")
    return "\n".join(lines)
