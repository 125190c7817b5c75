"""The tree view: every finished trace printed as an indented tree a person reads at a glance.

Also the ``agent_tree`` traces-exporter entry point, so
``OTEL_TRACES_EXPORTER=agent_tree opentelemetry-instrument python agent.py`` works.

Values shown can come from the network (session ids, tool names, span names of
a remote caller): control characters are escaped, so no value can start a line
of its own. Output goes through a ``Sink`` that never blocks the agent.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import IO, Final

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from instrumentors import config, semconv
from instrumentors._sink import Sink
from instrumentors._units import format_duration, format_money

_logger = logging.getLogger(__name__)

MAX_TRACES: Final = 256
MAX_SPANS_PER_TRACE: Final = 2_000
_MAX_EVENTS_SHOWN: Final = 4
# A value longer than this is cut: the tree is for a glance, the span has the value.
MAX_VALUE_SHOWN: Final = 200

# Attributes worth a glance, in the order shown: (keys, the first present is shown; label).
_SHOWN: Final = (
    ((semconv.GEN_AI_PROVIDER_NAME,), "provider"),
    # An embeddings response often names no model: the requested one, then.
    ((semconv.GEN_AI_RESPONSE_MODEL, semconv.GEN_AI_REQUEST_MODEL), "model"),
    ((semconv.GEN_AI_TOOL_CALL_ID,), "call"),
    ((semconv.RETRIEVAL_DOCUMENTS_COUNT,), "docs"),
    ((semconv.AGENT_SESSION_ID,), "session"),
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


def shown(value: object) -> str:
    """``value`` on one line: cut to MAX_VALUE_SHOWN, non-printables escaped as repr does."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_VALUE_SHOWN:
        text = text[:MAX_VALUE_SHOWN] + "…"
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _duration_s(span: ReadableSpan) -> float:
    if span.start_time is None or span.end_time is None:
        return 0.0
    return (span.end_time - span.start_time) / 1e9


def _tokens(attrs: Mapping[str, object]) -> str | None:
    used = [
        f"{label}={shown(attrs[key])}"
        for key, label in (
            (semconv.GEN_AI_USAGE_INPUT_TOKENS, "in"),
            (semconv.GEN_AI_USAGE_OUTPUT_TOKENS, "out"),
        )
        if key in attrs
    ]
    return "tokens " + " ".join(used) if used else None


def _cost(attrs: Mapping[str, object]) -> str | None:
    """``cost $0.000127`` (a model call, a paid tool), ``total cost $0.0123`` (a run)."""
    parts = []
    own = attrs.get(semconv.GEN_AI_USAGE_COST_AMOUNT)
    if isinstance(own, (int, float)):
        currency = attrs.get(semconv.GEN_AI_USAGE_COST_CURRENCY)
        parts.append("cost " + format_money(own, str(currency or "USD")))
    total = attrs.get(semconv.AGENT_COST_TOTAL)
    if isinstance(total, (int, float)):
        parts.append("total cost " + format_money(total))
    return " ".join(parts) or None


def _links(span: ReadableSpan, names: Mapping[int, str]) -> str | None:
    """``linked to chat gpt-4o`` (the span that asked for this one), or a count elsewhere."""
    if not span.links:
        return None
    local = [names[link.context.span_id] for link in span.links if link.context.span_id in names]
    if len(local) == len(span.links):
        return "linked to " + ", ".join(shown(name) for name in local)
    count = len(span.links)
    return f"linked to {count} span{'s' if count != 1 else ''}" + (
        f" ({', '.join(shown(name) for name in local)} here)" if local else " in other traces"
    )


def _describe(span: ReadableSpan, names: Mapping[int, str] | None = None) -> str:
    attrs = span.attributes or {}
    parts = [shown(span.name), format_duration(_duration_s(span))]
    if span.status.status_code is StatusCode.ERROR:
        parts.append(f"ERROR {shown(attrs.get(semconv.ERROR_TYPE, ''))}".rstrip())
    extras = []
    for keys, label in _SHOWN:
        key = next((k for k in keys if k in attrs), None)
        if key is not None:
            extras.append(f"{label}={shown(attrs[key])}")
        if label == "model" and (tokens := _tokens(attrs)):
            extras.append(tokens)
    if cost := _cost(attrs):
        extras.append(cost)
    linked = _links(span, names or {})
    if linked:
        extras.append(linked)
    if extras:
        parts.append(" ".join(extras))
    events = []
    for event in list(span.events)[:_MAX_EVENTS_SHOWN]:
        eattrs = event.attributes or {}
        detail = " ".join(
            f"{k.split('.')[-1]}={shown(eattrs[k])}" for k in _EVENT_SHOWN if k in eattrs
        )
        events.append(f"{shown(event.name)}{' ' + detail if detail else ''}")
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
    count = len(spans)
    lines = [f"trace {trace_id}  {shown(service)}  ({count} span{'' if count == 1 else 's'})"]
    names = {span_id: span.name for span_id, span in by_id.items()}

    def walk(parent: int | None, prefix: str) -> None:
        group = children.get(parent, [])
        for index, span in enumerate(group):
            last = index == len(group) - 1
            lines.append(f"{prefix}{'└─ ' if last else '├─ '}{_describe(span, names)}")
            if span.context is not None:
                walk(span.context.span_id, prefix + ("   " if last else "│  "))

    walk(None, "")
    return "\n".join(lines)


class TreeSpanExporter(SpanExporter):
    """Buffers spans per trace and prints the tree when the trace's local root ends.

    Output to a real file or pipe (stderr by default) never blocks: when it is
    not read, lines are dropped and counted (``dropped_lines``), and the count
    is reported once, as the last line, at shutdown (when the output takes it).
    """

    def __init__(self, out: IO[str] | None = None) -> None:
        self._sink = Sink(out)
        self._traces: OrderedDict[int, list[ReadableSpan]] = OrderedDict()
        self._lock = threading.Lock()
        self._shutdown = False
        self._closed = False
        _LIVE.add(self)

    @property
    def dropped_lines(self) -> int:
        """Lines not written because the output was not read fast enough."""
        return self._sink.dropped_lines

    def write_text(self, text: str) -> None:
        """Write other text (the SLI table) the same non-blocking way."""
        self._sink.write(text)

    def _write(self, text: str) -> None:
        self._sink.write(text)

    def after_fork_in_child(self) -> None:
        """The parent's buffered traces are the parent's to print; its lock may be held."""
        self._lock = threading.Lock()
        self._traces = OrderedDict()

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

    def close(self, timeout: float) -> None:
        """Print what is buffered, wait up to ``timeout`` s for it, report dropped lines once."""
        if self._closed:
            return
        self._closed = True
        self.force_flush()
        # When the output is still stuck, the report could not get through either.
        if self._sink.flush(timeout) and self._sink.dropped_lines:
            self._sink.write(
                f"(instrumentors: the tree view dropped {self._sink.dropped_lines} lines: "
                "its output was not being read)"
            )
            self._sink.flush(min(timeout, 0.5))

    def shutdown(self) -> None:
        self.close(config.settings().shutdown_timeout)
        self._shutdown = True


_LIVE: weakref.WeakSet[TreeSpanExporter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for exporter in list(_LIVE):
        exporter.after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
