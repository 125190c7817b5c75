"""A job run in a ``ProcessPoolExecutor`` worker (spawned: a fresh interpreter, its own provider).

The worker's spans stay in its memory; ``collect()``, run in the same worker
process afterwards, hands them back as plain data.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import instrumentors

EXPORTER = InMemorySpanExporter()
if not isinstance(trace.get_tracer_provider(), TracerProvider):  # a spawned worker
    _provider = TracerProvider()
    _provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(_provider)


@instrumentors.job(name="summarise", system="process_pool")
def summarise(job: dict[str, Any]) -> str:
    with instrumentors.agent_step("summarise-text"):
        return str(job["text"]).upper()


def collect() -> list[dict[str, Any]]:
    """This worker's finished spans, as plain data."""
    return [
        {
            "name": span.name,
            "kind": span.kind.name,
            "trace_id": span.context.trace_id,
            "span_id": span.context.span_id,
            "parent_id": span.parent.span_id if span.parent else None,
            "links": [link.context.span_id for link in span.links],
            "attributes": dict(span.attributes or {}),
        }
        for span in EXPORTER.get_finished_spans()
    ]
