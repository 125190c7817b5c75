"""icount driver: one ``@instrumentors.tool`` call (``overhead.py``'s workload).

Modes: ``plain`` (the undecorated function), ``bare`` (a bare SDK span with the
attributes our span ends up with, started where ours is), ``ours`` (decorated),
and ``plain-new`` / ``ours-new`` (new arguments every call: the parameter hash is
computed each time)::

    python benchmarks/icount/tool.py MODE CALLS
"""

from __future__ import annotations

import itertools

from _icount import attributes_of, measure, parse_args, tracing
from opentelemetry import trace
from opentelemetry.trace import SpanKind

import instrumentors

MODES = ("plain", "bare", "ours", "plain-new", "ours-new")
SPAN = "execute_tool get_weather"


def get_weather(city: str, units: str = "C") -> str:
    """Get the weather for a city."""
    return f"{city}: 21 {units}"


def main() -> None:
    mode, calls = parse_args(MODES)
    _, exporter = tracing()
    decorated = instrumentors.tool(get_weather)
    cities = itertools.cycle([f"city-{i}" for i in range(4096)])

    tracer = trace.get_tracer("bench")
    # The attributes our span ends up with (one decorated call, outside the count).
    attributes = attributes_of(exporter, lambda: decorated("Paris"))[SPAN]

    def bare() -> object:
        with tracer.start_as_current_span(SPAN, kind=SpanKind.INTERNAL, attributes=attributes):
            return get_weather("Paris")

    fn = {
        "plain": lambda: get_weather("Paris"),
        "bare": bare,
        "ours": lambda: decorated("Paris"),
        "plain-new": lambda: get_weather(next(cities)),
        "ours-new": lambda: decorated(next(cities)),
    }[mode]
    measure(mode, fn, calls, warmup=500, exporter=exporter)


if __name__ == "__main__":
    main()
