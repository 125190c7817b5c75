"""One way to print a duration, shared by the tree view, the SLI table and the HTML report."""

from __future__ import annotations

import math


def format_duration(seconds: float) -> str:
    """``2.77 s``, ``43.0 ms``, ``415 µs``: three significant digits, a space before the unit."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 0.001:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def format_money(amount: float, currency: str = "USD") -> str:
    """``$12.35``, ``$0.0123``, ``$0.00800``, ``$0.000127``: cents above a dollar, three
    significant digits below (other currencies as ``0.0123 EUR``)."""
    if amount >= 1:
        text = f"{amount:,.2f}"
    elif amount > 0:
        text = f"{amount:.{2 - math.floor(math.log10(amount))}f}"
    else:
        text = "0"
    return f"${text}" if currency == "USD" else f"{text} {currency}"
