"""A tiny OTLP/HTTP receiver on loopback: the spans other processes export, as SDK spans.

The example agent runs one so the MCP tool server's spans (exported with the
standard OTLP exporter, as any service would) can be printed in the same tree
as the agent's own. In production a collector or tracing backend does this.
"""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


def _span(span: Any, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    trace_id = int.from_bytes(span.trace_id, "big")
    context = SpanContext(
        trace_id, int.from_bytes(span.span_id, "big"), False, TraceFlags(TraceFlags.SAMPLED)
    )
    parent = None
    if span.parent_span_id:
        parent = SpanContext(trace_id, int.from_bytes(span.parent_span_id, "big"), True)
    return ReadableSpan(
        name=span.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=_attributes(span.attributes),
        events=[Event(e.name, _attributes(e.attributes), e.time_unix_nano) for e in span.events],
        kind=SpanKind(max(span.kind - 1, 0)),  # OTLP counts UNSPECIFIED as 0
        status=Status(StatusCode(span.status.code), span.status.message or None),
        start_time=span.start_time_unix_nano,
        end_time=span.end_time_unix_nano,
        instrumentation_scope=scope,
    )


class OTLPInbox:
    """``POST /v1/traces`` on 127.0.0.1; ``spans`` holds what arrived."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path.endswith("/v1/traces"):
                    request = trace_service_pb2.ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    for resource_spans in request.resource_spans:
                        resource = Resource(_attributes(resource_spans.resource.attributes))
                        for scope_spans in resource_spans.scope_spans:
                            scope = InstrumentationScope(scope_spans.scope.name)
                            inbox.spans.extend(_span(s, resource, scope) for s in scope_spans.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OTLPInbox:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, trace_id: int, count: int, timeout: float = 10.0) -> list[ReadableSpan]:
        """The received spans of one trace, once at least ``count`` arrived (or on timeout)."""
        end = time.monotonic() + timeout
        while len(self._of(trace_id)) < count and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(0.3)  # stragglers of the same batch
        return self._of(trace_id)

    def _of(self, trace_id: int) -> list[ReadableSpan]:
        return [s for s in list(self.spans) if s.context and s.context.trace_id == trace_id]
