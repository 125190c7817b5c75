"""The one timing loop every overhead benchmark uses (imported from the scripts' folder)."""

from __future__ import annotations

import time
from collections.abc import Callable

# CPU time of this thread by default: on a shared machine, time spent descheduled is not
# ours and would drown a difference of a few microseconds (``--wall`` to compare).
THREAD_CPU: Callable[[], float] = time.thread_time
WALL: Callable[[], float] = time.perf_counter


def clock_for(wall: bool) -> Callable[[], float]:
    """Wall-clock time when asked (``--wall``), else this thread's CPU time."""
    return WALL if wall else THREAD_CPU


def per_call_us(fn: Callable[[], object], calls: int, clock: Callable[[], float]) -> float:
    """Microseconds per call of ``fn`` over ``calls`` calls, by ``clock``."""
    start = clock()
    for _ in range(calls):
        fn()
    return (clock() - start) / calls * 1e6
