"""Reading back what one run recorded, and finding spans among the finished ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
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


def by_name(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    """Finished spans with this name, in start order."""
    return sorted((s for s in spans if s.name == name), key=lambda s: s.start_time or 0)


def one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    """The single finished span with this name."""
    (span,) = by_name(spans, name)
    return span


def events(span: ReadableSpan, name: str) -> list[dict[str, Any]]:
    """Attributes of the span's events called ``name``, in order."""
    return [dict(e.attributes or {}) for e in span.events if e.name == name]


def all_strings(span: ReadableSpan) -> str:
    """Every attribute and event value of the span, as one string (for leak checks)."""
    values = [str(v) for v in (span.attributes or {}).values()]
    for event in span.events:
        values.extend(str(v) for v in (event.attributes or {}).values())
    return "\n".join(values)


def chat_spans(spans: Any) -> list[ReadableSpan]:
    """The ``chat`` spans among ``spans`` (a model layer's, an SDK's or a framework's)."""
    return [s for s in spans if (s.attributes or {}).get("gen_ai.operation.name") == "chat"]


def parent_of(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> ReadableSpan | None:
    """The finished span that is ``span``'s parent, if any."""
    if span.parent is None:
        return None
    for candidate in spans:
        if candidate.context.span_id == span.parent.span_id:
            return candidate
    return None
