"""The tree view: every finished trace printed as an indented tree a person reads at a glance.

Also the ``agent_tree`` traces-exporter entry point, so
``OTEL_TRACES_EXPORTER=agent_tree opentelemetry-instrument python agent.py`` works.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import IO, Final

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from instrumentors import semconv

_logger = logging.getLogger(__name__)

MAX_TRACES: Final = 256
MAX_SPANS_PER_TRACE: Final = 2_000
_MAX_EVENTS_SHOWN: Final = 4

# Attributes worth a glance, in the order shown.
_SHOWN: Final = (
    (semconv.GEN_AI_PROVIDER_NAME, "provider"),
    (semconv.GEN_AI_RESPONSE_MODEL, "model"),
    (semconv.GEN_AI_TOOL_CALL_ID, "call"),
    (semconv.GEN_AI_USAGE_INPUT_TOKENS, "in"),
    (semconv.GEN_AI_USAGE_OUTPUT_TOKENS, "out"),
    (semconv.RETRIEVAL_DOCUMENTS_COUNT, "docs"),
    (semconv.AGENT_SESSION_ID, "session"),
)
_EVENT_SHOWN: Final = (
    semconv.RETRY_ATTEMPT,
    semconv.RETRY_DELAY_S,
    semconv.ERROR_TYPE,
    semconv.HTTP_RESPONSE_STATUS_CODE,
    semconv.RETRY_AFTER_S,
    semconv.CACHE_NAME,
    semconv.CIRCUIT_NAME,
    "exception.type",
)


def _duration_ms(span: ReadableSpan) -> float:
    if span.start_time is None or span.end_time is None:
        return 0.0
    return (span.end_time - span.start_time) / 1e6


def _format_duration(ms: float) -> str:
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 1:
        return f"{ms:.1f} ms"
    return f"{ms * 1000:.0f} µs"


def _describe(span: ReadableSpan) -> str:
    attrs = span.attributes or {}
    parts = [span.name, _format_duration(_duration_ms(span))]
    if span.status.status_code is StatusCode.ERROR:
        parts.append(f"ERROR {attrs.get(semconv.ERROR_TYPE, '')}".rstrip())
    extras = [f"{label}={attrs[key]!s}" for key, label in _SHOWN if key in attrs]
    if span.links:
        extras.append(f"links={len(span.links)}")
    if extras:
        parts.append(" ".join(extras))
    events = []
    for event in list(span.events)[:_MAX_EVENTS_SHOWN]:
        eattrs = event.attributes or {}
        detail = " ".join(f"{k.split('.')[-1]}={eattrs[k]!s}" for k in _EVENT_SHOWN if k in eattrs)
        events.append(f"{event.name}{' ' + detail if detail else ''}")
    if len(span.events) > _MAX_EVENTS_SHOWN:
        events.append(f"+{len(span.events) - _MAX_EVENTS_SHOWN} more")
    if events:
        parts.append("[" + "; ".join(events) + "]")
    return "  ".join(parts)


def render_trace(spans: Sequence[ReadableSpan]) -> str:
    """The tree text of one trace's spans (roots: spans whose parent is not among them)."""
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        key = parent if parent in by_id else None
        children.setdefault(key, []).append(span)
    for group in children.values():
        group.sort(key=lambda s: s.start_time or 0)
    first = spans[0]
    trace_id = f"{first.context.trace_id:032x}" if first.context else "?"
    service = first.resource.attributes.get("service.name", "") if first.resource else ""
    lines = [f"trace {trace_id}  {service}  ({len(spans)} spans)"]

    def walk(parent: int | None, prefix: str) -> None:
        group = children.get(parent, [])
        for index, span in enumerate(group):
            last = index == len(group) - 1
            lines.append(f"{prefix}{'└─ ' if last else '├─ '}{_describe(span)}")
            if span.context is not None:
                walk(span.context.span_id, prefix + ("   " if last else "│  "))

    walk(None, "")
    return "\n".join(lines)


class TreeSpanExporter(SpanExporter):
    """Buffers spans per trace and prints the tree when the trace's local root ends."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self._out = out
        self._traces: OrderedDict[int, list[ReadableSpan]] = OrderedDict()
        self._lock = threading.Lock()
        self._shutdown = False

    def _write(self, text: str) -> None:
        stream = self._out if self._out is not None else sys.stderr
        try:
            stream.write(text + "\n")
            stream.flush()
        except Exception:
            _logger.debug("tree exporter could not write", exc_info=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        ready: list[list[ReadableSpan]] = []
        with self._lock:
            for span in spans:
                if span.context is None:
                    continue
                trace_id = span.context.trace_id
                bucket = self._traces.setdefault(trace_id, [])
                bucket.append(span)
                is_local_root = span.parent is None or span.parent.is_remote
                if is_local_root or len(bucket) >= MAX_SPANS_PER_TRACE:
                    ready.append(self._traces.pop(trace_id))
            while len(self._traces) > MAX_TRACES:
                ready.append(self._traces.popitem(last=False)[1])
        for bucket in ready:
            self._write(render_trace(bucket))
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        with self._lock:
            pending = list(self._traces.values())
            self._traces.clear()
        for bucket in pending:
            self._write(render_trace(bucket))
        return True

    def shutdown(self) -> None:
        self.force_flush()
        self._shutdown = True
