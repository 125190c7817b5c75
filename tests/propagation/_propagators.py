"""Build the propagators ``OTEL_PROPAGATORS=<names>`` names, from their entry points."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opentelemetry import propagate
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.util._importlib_metadata import entry_points


def propagators_named(names: str) -> TextMapPropagator:
    """The composite propagator the SDK builds for ``OTEL_PROPAGATORS=<names>``."""
    found = []
    for name in names.split(","):
        (entry,) = entry_points(group="opentelemetry_propagator", name=name.strip())
        found.append(entry.load()())
    return CompositePropagator(found)


@pytest.fixture
def use_propagators() -> Iterator[Callable[[str], TextMapPropagator]]:
    """Set this process's global propagators as ``OTEL_PROPAGATORS=<names>`` would."""
    before = propagate.get_global_textmap()

    def apply(names: str) -> TextMapPropagator:
        propagator = propagators_named(names)
        propagate.set_global_textmap(propagator)
        return propagator

    yield apply
    propagate.set_global_textmap(before)
