"""Reading back what one run recorded, for tests that compare two ways of recording."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentors.links import registry


def ended_run(run: Any, exporter: InMemorySpanExporter) -> tuple[dict[str, Any], dict[str, bool]]:
    """Stop ``run``; its span's attributes, and for each tool call id it requested whether the
    link registry points at that span."""
    run.stop()
    (span,) = exporter.get_finished_spans()
    exporter.clear()
    ids = (span.attributes or {}).get("gen_ai.response.tool_call.ids", ())
    return dict(span.attributes or {}), {i: registry.lookup(i) == span.context for i in ids}
