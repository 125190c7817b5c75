"""Shared fixture logic for the instrumentor test packages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

I = TypeVar("I")  # noqa: E741 - an instrumentor


def reinstrumenting(instrumentor: I) -> Iterator[Callable[..., I]]:
    """Yield ``apply(**kwargs)``: (re)instrument on demand, e.g. after changing settings;
    uninstrumented at teardown. Use as ``yield from reinstrumenting(XInstrumentor())``."""
    target: Any = instrumentor

    def apply(**kwargs: Any) -> I:
        if target.is_instrumented_by_opentelemetry:
            target.uninstrument()
        target.instrument(**kwargs)
        return instrumentor

    yield apply
    if target.is_instrumented_by_opentelemetry:
        target.uninstrument()


@contextmanager
def instrumenting(instrumentor: I, **kwargs: Any) -> Iterator[I]:
    """Instrumented (``kwargs`` to ``instrument()``) for the ``with`` block, uninstrumented after,
    however the block ends."""
    target: Any = instrumentor
    target.instrument(**kwargs)
    try:
        yield instrumentor
    finally:
        target.uninstrument()
