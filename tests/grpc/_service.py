"""A small gRPC service (generic handlers over raw bytes: no generated code) and its fixtures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from opentelemetry import baggage, trace

from instrumentors import _companions

SERVICE = "weather.Weather"
OFFICIAL = ("grpc_client", "grpc_server")


@dataclass
class Seen:
    """What the handlers saw: baggage, trace headers in the metadata, whether a span was current."""

    baggage: list[dict[str, object]] = field(default_factory=list)
    metadata: list[dict[str, str]] = field(default_factory=list)
    in_span: list[bool] = field(default_factory=list)
    flaky_calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, context: grpc.ServicerContext) -> None:
        with self.lock:
            self.baggage.append(dict(baggage.get_all()))
            self.metadata.append({m.key: m.value for m in context.invocation_metadata()})
            self.in_span.append(trace.get_current_span().get_span_context().is_valid)


class Weather:
    """The service: unary, the three streaming shapes, errors and a slow method."""

    def __init__(self) -> None:
        self.seen = Seen()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handlers = {
            "Get": grpc.unary_unary_rpc_method_handler(self.get),
            "Forecast": grpc.unary_stream_rpc_method_handler(self.forecast),
            "Upload": grpc.stream_unary_rpc_method_handler(self.upload),
            "Chat": grpc.stream_stream_rpc_method_handler(self.chat),
            "Flaky": grpc.unary_unary_rpc_method_handler(self.flaky),
        }
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, handlers),)
        )
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{self.port}"

    def get(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.seen.record(context)
        if request == b"limit":
            context.set_trailing_metadata((("grpc-retry-pushback-ms", "1500"),))
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "quota")
        if request == b"slow":  # until the client's deadline cancels the call (5 s at most)
            for _ in range(500):
                if not context.is_active():
                    break
                threading.Event().wait(0.01)
        return b"sunny in " + request

    def forecast(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        self.seen.record(context)
        for day in range(3):
            yield request + b" day %d" % day

    def upload(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        self.seen.record(context)
        return b"%d" % sum(len(r) for r in requests)

    def chat(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        self.seen.record(context)
        for request in requests:
            yield b"re: " + request

    def flaky(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.seen.record(context)
        with self.seen.lock:
            self.seen.flaky_calls += 1
            calls = self.seen.flaky_calls
        if calls < 3:
            context.abort(grpc.StatusCode.UNAVAILABLE, "warming up")
        return b"ok"

    def __enter__(self) -> Weather:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)

    def channel(self, target: str | None = None, **options: Any) -> grpc.Channel:
        return grpc.insecure_channel(target or self.target, **options)

    def method(self, channel: grpc.Channel, name: str) -> Any:
        kinds = {
            "Get": channel.unary_unary,
            "Forecast": channel.unary_stream,
            "Upload": channel.stream_unary,
            "Chat": channel.stream_stream,
            "Flaky": channel.unary_unary,
        }
        return kinds[name](f"/{SERVICE}/{name}")


def _official_off() -> None:
    from opentelemetry.instrumentation.grpc import GrpcInstrumentorClient, GrpcInstrumentorServer

    _companions.disable()
    for official in (GrpcInstrumentorClient(), GrpcInstrumentorServer()):
        if official.is_instrumented_by_opentelemetry:
            official.uninstrument()


@pytest.fixture
def grpc_enabled() -> Iterator[list[str]]:
    """The official gRPC client and server instrumentations with our gates, then undone."""
    _official_off()
    others = set(_companions.COMPANIONS) - set(OFFICIAL)
    names = _companions.enable(None, None, others)
    yield names
    _official_off()


@pytest.fixture
def weather(grpc_enabled: list[str]) -> Iterator[Weather]:
    """The service on 127.0.0.1 (made after instrumenting: ``grpc.server`` is wrapped)."""
    with Weather() as service:
        yield service
