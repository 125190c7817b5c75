"""Spans to the report's data: traces in tree order, times relative to each trace, the SLIs.

The page gets one compact JSON document. Times are microseconds from the
trace's first span (absolute nanoseconds do not fit a JavaScript number),
attribute keys are indexed once in a table (5,000 spans repeat the same few
dozen keys), and content attributes are left out unless content capture was on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from instrumentors import semconv

# Raw parameters and messages: ours, and those other instrumentations write (the
# older GenAI conventions, OpenInference). Shown only when content capture was on.
CONTENT_KEYS: Final = frozenset(
    {
        semconv.GEN_AI_INPUT_MESSAGES,
        semconv.GEN_AI_OUTPUT_MESSAGES,
        semconv.GEN_AI_SYSTEM_INSTRUCTIONS,
        semconv.GEN_AI_TOOL_CALL_ARGUMENTS,
        semconv.GEN_AI_TOOL_CALL_RESULT,
        semconv.REQUEST_PARAMETERS,
        "gen_ai.prompt",
        "gen_ai.completion",
        "input.value",
        "output.value",
    }
)
CONTENT_PREFIXES: Final = (
    "gen_ai.prompt.",
    "gen_ai.completion.",
    "llm.input_messages",
    "llm.output_messages",
    "llm.prompts",
)
_MAX_SAFE_INT: Final = 2**53 - 1
_KINDS: Final = {
    SpanKind.INTERNAL: "internal",
    SpanKind.SERVER: "server",
    SpanKind.CLIENT: "client",
    SpanKind.PRODUCER: "producer",
    SpanKind.CONSUMER: "consumer",
}


def is_content(key: str) -> bool:
    """True for an attribute that holds raw parameters or messages."""
    return key in CONTENT_KEYS or key.startswith(CONTENT_PREFIXES)


def _json_value(value: object) -> Any:
    """A value JSON.parse keeps exactly: no NaN, no integer past 2**53."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= _MAX_SAFE_INT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Sequence):
        return [_json_value(item) for item in value]
    return str(value)


class _Keys:
    """Attribute keys, each stored once; spans refer to them by index."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def pairs(
        self, attributes: Mapping[str, object] | None, content: bool
    ) -> tuple[list[Any], int]:
        out: list[Any] = []
        hidden = 0
        for key, value in (attributes or {}).items():
            if not content and is_content(key):
                hidden += 1
                continue
            number = self.index.setdefault(key, len(self.index))
            out += [number, _json_value(value)]
        return out, hidden


def _tree_order(spans: list[ReadableSpan]) -> list[tuple[ReadableSpan, int, bool]]:
    """(span, depth, parent missing) in depth-first order, siblings by start time."""
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in by_id else None, []).append(span)
    for group in children.values():
        group.sort(key=lambda s: s.start_time or 0)
    ordered: list[tuple[ReadableSpan, int, bool]] = []
    seen: set[int] = set()
    stack = [(span, 0) for span in reversed(children.get(None, []))]
    while stack:
        span, depth = stack.pop()
        span_id = span.context.span_id if span.context is not None else None
        if span_id is not None:
            if span_id in seen:  # a cycle in hostile input: each span once
                continue
            seen.add(span_id)
        ordered.append((span, depth, span.parent is not None and depth == 0))
        if span_id is not None:
            stack += [(child, depth + 1) for child in reversed(children.get(span_id, []))]
    return ordered


class Builder:
    """Accumulates traces into the page's JSON document."""

    def __init__(self, include_content: bool) -> None:
        self.include_content = include_content
        self.keys = _Keys()
        self.services: dict[str, int] = {}
        self.hidden = 0
        self.span_count = 0
        self.error_count = 0

    def _service(self, span: ReadableSpan) -> int:
        attrs = span.resource.attributes if span.resource is not None else {}
        name = str(attrs.get("service.name", "") or "")
        return self.services.setdefault(name, len(self.services))

    def _attributes(self, attributes: Mapping[str, object] | None) -> list[Any]:
        pairs, hidden = self.keys.pairs(attributes, self.include_content)
        self.hidden += hidden
        return pairs

    def _span(self, span: ReadableSpan, depth: int, orphan: bool, start: int) -> list[Any]:
        begin = span.start_time or start
        end = max(span.end_time or begin, begin)
        error = span.status.status_code is StatusCode.ERROR
        self.error_count += error
        parent = f"{span.parent.span_id:016x}" if span.parent is not None else ""
        return [
            f"{span.context.span_id:016x}" if span.context is not None else "",
            parent,
            span.name,
            _KINDS.get(span.kind, "internal"),
            round((begin - start) / 1e3, 3),
            round((end - begin) / 1e3, 3),
            depth,
            1 if error else 0,
            span.status.description or "",
            self._service(span),
            self._attributes(span.attributes),
            [
                [
                    event.name,
                    round((event.timestamp - start) / 1e3, 3),
                    self._attributes(event.attributes),
                ]
                for event in span.events
            ],
            [
                [f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}"]
                for link in span.links
            ],
            1 if orphan else 0,
            span.instrumentation_scope.name if span.instrumentation_scope is not None else "",
        ]

    def trace(self, trace_id: int, spans: list[ReadableSpan]) -> dict[str, Any]:
        start = min((s.start_time or 0) for s in spans)
        end = max((s.end_time or s.start_time or 0) for s in spans)
        ordered = _tree_order(spans)
        self.span_count += len(ordered)
        return {
            "id": f"{trace_id:032x}",
            "start": str(start),
            "duration": round((end - start) / 1e3, 3),
            "spans": [self._span(span, depth, orphan, start) for span, depth, orphan in ordered],
        }


# Field order of a span array (the page reads this list too).
SPAN_FIELDS: Final = (
    "id",
    "parent",
    "name",
    "kind",
    "start",
    "duration",
    "depth",
    "error",
    "status",
    "service",
    "attributes",
    "events",
    "links",
    "orphan",
    "scope",
)


def group_traces(spans: Iterable[ReadableSpan]) -> list[tuple[int, list[ReadableSpan]]]:
    """Spans by trace id, traces ordered by their first start time."""
    traces: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        if span.context is None:
            continue
        traces.setdefault(span.context.trace_id, []).append(span)
    return sorted(traces.items(), key=lambda item: min(s.start_time or 0 for s in item[1]))
