"""Reading back what one run recorded, for tests that compare two ways of recording."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentors.links import registry
from instrumentors.telemetry import LLMRun, Telemetry


def ended_run(run: Any, exporter: InMemorySpanExporter) -> tuple[dict[str, Any], dict[str, bool]]:
    """Stop ``run``; its span's attributes, and for each tool call id it requested whether the
    link registry points at that span."""
    run.stop()
    (span,) = exporter.get_finished_spans()
    exporter.clear()
    ids = (span.attributes or {}).get("gen_ai.response.tool_call.ids", ())
    return dict(span.attributes or {}), {i: registry.lookup(i) == span.context for i in ids}


Recorded = tuple[dict[str, Any], dict[str, bool]]


def lean_and_general(
    exporter: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
    record: Callable[[LLMRun], None],
) -> tuple[Recorded, Recorded]:
    """What ``record(run)`` leaves on a default-mode chat run (its fast path) and on one
    sent down the general path (the setters), for parity tests."""
    tel = Telemetry("parity")
    results = []
    for lean in (True, False):
        registry.clear()
        if not lean:
            monkeypatch.setattr(LLMRun, "lean_values", property(lambda self: None))
        run = tel.llm("openai", "gpt-4o")
        record(run)
        results.append(ended_run(run, exporter))
    return results[0], results[1]


def by_name(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    """Finished spans with this name, in start order."""
    return sorted((s for s in spans if s.name == name), key=lambda s: s.start_time or 0)


def one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    """The single finished span with this name."""
    (span,) = by_name(spans, name)
    return span


def parent_of(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> ReadableSpan | None:
    """The finished span that is ``span``'s parent, if any."""
    if span.parent is None:
        return None
    for candidate in spans:
        if candidate.context.span_id == span.parent.span_id:
            return candidate
    return None
