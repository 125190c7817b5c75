"""OTLP trace receivers on loopback (HTTP/protobuf and gRPC) that keep what they receive.

For tests of exporters configured by ``setup()``: the SDK's real OTLP exporters
send to these, and the tests read the decoded spans back.
"""

from __future__ import annotations

import gzip
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


def _flatten(request: trace_service_pb2.ExportTraceServiceRequest) -> list[dict[str, Any]]:
    spans = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    {
                        "name": span.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "attributes": {kv.key: _value(kv.value) for kv in span.attributes},
                        "events": [e.name for e in span.events],
                        "links": [link.span_id.hex() for link in span.links],
                        "resource": resource,
                        "scope": scope_spans.scope.name,
                    }
                )
    return spans


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


class HTTPReceiver:
    """``POST /v1/traces`` (and ``/v1/metrics``, counted only) on 127.0.0.1."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.metric_posts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path.endswith("/v1/traces"):
                    request = trace_service_pb2.ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    receiver.spans.extend(_flatten(request))
                else:
                    receiver.metric_posts += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HTTPReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class GRPCReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC TraceService on 127.0.0.1."""

    def __init__(self) -> None:
        import grpc

        self.spans: list[dict[str, Any]] = []
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def Export(self, request: Any, context: Any) -> Any:
        self.spans.extend(_flatten(request))
        return trace_service_pb2.ExportTraceServiceResponse()

    def __enter__(self) -> GRPCReceiver:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)
