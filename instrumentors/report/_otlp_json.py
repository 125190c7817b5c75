"""OTLP JSON: spans to and from ``ExportTraceServiceRequest`` objects, one per line.

The encoding is the OTLP/JSON mapping the collector's file exporter writes:
lowerCamelCase field names, trace and span ids as hex strings, 64-bit integers
as decimal strings, enums as numbers. The reader also takes snake_case names,
enum names (``SPAN_KIND_CLIENT``) and base64 ids, so a file from any
OpenTelemetry pipeline can be read. Written with the standard library only:
no protobuf needed to write or read a report.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import AttributeValue

# OTLP's SpanKind numbers are the SDK's plus one (0 is SPAN_KIND_UNSPECIFIED).
_KIND_NAMES: Final = {
    "SPAN_KIND_INTERNAL": SpanKind.INTERNAL,
    "SPAN_KIND_SERVER": SpanKind.SERVER,
    "SPAN_KIND_CLIENT": SpanKind.CLIENT,
    "SPAN_KIND_PRODUCER": SpanKind.PRODUCER,
    "SPAN_KIND_CONSUMER": SpanKind.CONSUMER,
}
_STATUS_NAMES: Final = {
    "STATUS_CODE_UNSET": StatusCode.UNSET,
    "STATUS_CODE_OK": StatusCode.OK,
    "STATUS_CODE_ERROR": StatusCode.ERROR,
}
# SpanFlags bits: the parent's is_remote is known (0x100) and true (0x200).
_HAS_IS_REMOTE: Final = 0x100
_IS_REMOTE: Final = 0x200
_NON_FINITE: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# --- writing ----------------------------------------------------------------------


def _any_value(value: object) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        if math.isfinite(value):
            return {"doubleValue": value}
        return {
            "doubleValue": "NaN"
            if math.isnan(value)
            else ("Infinity" if value > 0 else "-Infinity")
        }
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return {"arrayValue": {"values": [_any_value(item) for item in value]}}
    return {"stringValue": str(value)}


def _key_values(attributes: Mapping[str, object] | None) -> list[dict[str, Any]]:
    return [{"key": str(k), "value": _any_value(v)} for k, v in (attributes or {}).items()]


def encode_span(span: ReadableSpan) -> dict[str, Any]:
    """One span as an OTLP JSON ``Span`` object."""
    context = span.context
    out: dict[str, Any] = {
        "traceId": f"{context.trace_id:032x}" if context else "",
        "spanId": f"{context.span_id:016x}" if context else "",
        "name": span.name,
        "kind": span.kind.value + 1,
        "startTimeUnixNano": str(span.start_time or 0),
        "endTimeUnixNano": str(span.end_time or span.start_time or 0),
        "attributes": _key_values(span.attributes),
        "status": {"code": span.status.status_code.value},
    }
    if context is not None and context.trace_state:
        out["traceState"] = context.trace_state.to_header()
    flags = int(context.trace_flags) if context else 0
    if span.parent is not None:
        out["parentSpanId"] = f"{span.parent.span_id:016x}"
        flags |= _HAS_IS_REMOTE | (_IS_REMOTE if span.parent.is_remote else 0)
    out["flags"] = flags
    if span.status.description:
        out["status"]["message"] = span.status.description
    if span.events:
        out["events"] = [
            {
                "timeUnixNano": str(event.timestamp),
                "name": event.name,
                "attributes": _key_values(event.attributes),
            }
            for event in span.events
        ]
    if span.links:
        out["links"] = [
            {
                "traceId": f"{link.context.trace_id:032x}",
                "spanId": f"{link.context.span_id:016x}",
                "attributes": _key_values(link.attributes),
            }
            for link in span.links
        ]
    return out


def encode_request(spans: Iterable[ReadableSpan]) -> dict[str, Any]:
    """An ``ExportTraceServiceRequest``: spans grouped by resource, then by scope."""
    groups: dict[int, tuple[Resource | None, dict[tuple[str, str], list[dict[str, Any]]]]] = {}
    for span in spans:
        resource = span.resource
        _, scopes = groups.setdefault(id(resource), (resource, {}))
        scope = span.instrumentation_scope
        key = (scope.name, scope.version or "") if scope is not None else ("", "")
        scopes.setdefault(key, []).append(encode_span(span))
    resource_spans = []
    for owner, scopes in groups.values():
        resource_spans.append(
            {
                "resource": {"attributes": _key_values(owner.attributes if owner else None)},
                "scopeSpans": [
                    {"scope": {"name": name, "version": version}, "spans": encoded}
                    for (name, version), encoded in scopes.items()
                ],
            }
        )
    return {"resourceSpans": resource_spans}


def dumps_line(spans: Iterable[ReadableSpan]) -> str:
    """One JSON line (no newline) holding ``spans``."""
    return json.dumps(encode_request(spans), ensure_ascii=False, separators=(",", ":"))


# --- reading ----------------------------------------------------------------------


class FormatError(ValueError):
    """A line that is not an OTLP JSON ``ExportTraceServiceRequest``."""


def _get(obj: Mapping[str, Any], camel: str, snake: str | None = None, default: Any = None) -> Any:
    if camel in obj:
        return obj[camel]
    return obj.get(snake, default) if snake else default


def _value(raw: Any) -> Any:
    """An ``AnyValue`` as a Python value (kvlists become JSON text: attributes are flat)."""
    if not isinstance(raw, Mapping):
        return None if raw is None else str(raw)
    if "stringValue" in raw or "string_value" in raw:
        return str(_get(raw, "stringValue", "string_value"))
    if "boolValue" in raw or "bool_value" in raw:
        return bool(_get(raw, "boolValue", "bool_value"))
    if "intValue" in raw or "int_value" in raw:
        return int(_get(raw, "intValue", "int_value"))
    if "doubleValue" in raw or "double_value" in raw:
        double = _get(raw, "doubleValue", "double_value")
        return (
            _NON_FINITE[double]
            if isinstance(double, str) and double in _NON_FINITE
            else float(double)
        )
    if "arrayValue" in raw or "array_value" in raw:
        values = [
            _value(v) for v in _get(_get(raw, "arrayValue", "array_value"), "values", default=[])
        ]
        # A span attribute holds one primitive type: mixed arrays become strings.
        kinds = {type(v) for v in values}
        return tuple(values) if len(kinds) <= 1 and None not in values else tuple(map(str, values))
    if "kvlistValue" in raw or "kvlist_value" in raw:
        pairs = _get(_get(raw, "kvlistValue", "kvlist_value"), "values", default=[])
        return json.dumps({p.get("key"): _value(p.get("value")) for p in pairs}, default=str)
    if "bytesValue" in raw or "bytes_value" in raw:
        return base64.b64decode(_get(raw, "bytesValue", "bytes_value")).hex()
    return None


def _attributes(raw: Any) -> dict[str, AttributeValue]:
    out: dict[str, AttributeValue] = {}
    for pair in raw or ():
        value = _value(pair.get("value"))
        if value is not None and pair.get("key") is not None:
            out[str(pair["key"])] = value
    return out


def _id(raw: Any, size: int) -> int:
    """A trace (16 bytes) or span (8 bytes) id from hex or base64."""
    text = str(raw or "")
    try:
        if len(text) == size * 2:
            return int(text, 16)
        decoded = base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise FormatError(f"bad id {text!r}") from exc
    if len(decoded) != size:
        raise FormatError(f"bad id {text!r}")
    return int.from_bytes(decoded, "big")


def _enum(raw: Any, names: Mapping[str, Any], by_number: Sequence[Any], default: Any) -> Any:
    if isinstance(raw, str) and raw in names:
        return names[raw]
    try:
        return by_number[int(raw)]
    except (TypeError, ValueError, IndexError):
        return default


_KINDS: Final = (SpanKind.INTERNAL, *SpanKind)  # 0 (unspecified) reads as INTERNAL
_STATUSES: Final = tuple(StatusCode)


def _span(raw: Mapping[str, Any], resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    trace_id = _id(_get(raw, "traceId", "trace_id"), 16)
    flags = int(raw.get("flags") or 0)
    trace_state = _get(raw, "traceState", "trace_state")
    context = SpanContext(
        trace_id,
        _id(_get(raw, "spanId", "span_id"), 8),
        is_remote=False,
        trace_flags=TraceFlags(flags & 0xFF or TraceFlags.SAMPLED),
        trace_state=TraceState.from_header([trace_state]) if trace_state else None,
    )
    parent_raw = _get(raw, "parentSpanId", "parent_span_id")
    parent = (
        SpanContext(trace_id, _id(parent_raw, 8), is_remote=bool(flags & _IS_REMOTE))
        if parent_raw
        else None
    )
    status = raw.get("status") or {}
    code = _enum(status.get("code"), _STATUS_NAMES, _STATUSES, StatusCode.UNSET)
    return ReadableSpan(
        name=str(raw.get("name", "")),
        context=context,
        parent=parent,
        resource=resource,
        attributes=_attributes(raw.get("attributes")),
        events=[
            Event(
                str(e.get("name", "")),
                _attributes(e.get("attributes")),
                int(_get(e, "timeUnixNano", "time_unix_nano", 0)),
            )
            for e in raw.get("events") or ()
        ],
        links=[
            Link(
                SpanContext(
                    _id(_get(link, "traceId", "trace_id"), 16),
                    _id(_get(link, "spanId", "span_id"), 8),
                    is_remote=True,
                ),
                _attributes(link.get("attributes")),
            )
            for link in raw.get("links") or ()
        ],
        kind=_enum(raw.get("kind"), _KIND_NAMES, _KINDS, SpanKind.INTERNAL),
        # The SDK keeps a description for errors only (and warns about any other).
        status=Status(code, (status.get("message") or None) if code is StatusCode.ERROR else None),
        start_time=int(_get(raw, "startTimeUnixNano", "start_time_unix_nano", 0)),
        end_time=int(_get(raw, "endTimeUnixNano", "end_time_unix_nano", 0)),
        instrumentation_scope=scope,
    )


def decode_request(request: Mapping[str, Any]) -> Iterator[ReadableSpan]:
    """The spans of one ``ExportTraceServiceRequest`` object."""
    if not isinstance(request, Mapping):
        raise FormatError("not a JSON object")
    groups = _get(request, "resourceSpans", "resource_spans")
    if not isinstance(groups, list):
        raise FormatError("no resourceSpans")
    for group in groups:
        resource = Resource(_attributes((group.get("resource") or {}).get("attributes")))
        for scoped in _get(group, "scopeSpans", "scope_spans", []) or []:
            raw_scope = scoped.get("scope") or {}
            scope = InstrumentationScope(
                str(raw_scope.get("name", "")), raw_scope.get("version") or None
            )
            for raw in scoped.get("spans") or ():
                try:
                    yield _span(raw, resource, scope)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    raise FormatError(f"bad span: {exc}") from exc


def loads_line(line: str) -> list[ReadableSpan]:
    """The spans of one JSON line; ``FormatError`` when it is not OTLP JSON."""
    try:
        request = json.loads(line)
    except ValueError as exc:
        raise FormatError(f"not JSON: {exc}") from exc
    return list(decode_request(request))
