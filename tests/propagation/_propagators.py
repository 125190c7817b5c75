"""Build the propagators ``OTEL_PROPAGATORS=<names>`` names, from their entry points."""

from __future__ import annotations

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
