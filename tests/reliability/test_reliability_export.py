"""The backend is down or hangs: the agent completes, never waits for it; memory is bounded."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from instrumentors import telemetry

CALLS = 2_000


@pytest.fixture
def hanging_endpoint() -> Iterator[str]:
    """A TCP server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/v1/traces"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/traces"


def run_calls(endpoint: str) -> tuple[float, BatchSpanProcessor, TracerProvider]:
    provider = TracerProvider()
    processor = BatchSpanProcessor(
        OTLPSpanExporter(endpoint=endpoint, timeout=1),
        max_queue_size=512,
        schedule_delay_millis=50,
        export_timeout_millis=1000,
    )
    provider.add_span_processor(processor)
    tel = telemetry.Telemetry("reliability", tracer_provider=provider)
    worst = 0.0
    for i in range(CALLS):
        start = time.perf_counter()
        run = tel.tool("t", params={"i": i})
        run.stop(i)
        worst = max(worst, time.perf_counter() - start)
    return worst, processor, provider


@pytest.mark.parametrize("endpoint_kind", ["refused", "hanging"])
def test_agent_never_waits_for_the_exporter(endpoint_kind: str, hanging_endpoint: str) -> None:
    endpoint = closed_port() if endpoint_kind == "refused" else hanging_endpoint
    worst, processor, provider = run_calls(endpoint)
    # The exporter's timeout is 1 s; no call waited for it (a bound, not a speed target).
    assert worst < 0.5, f"a call blocked for {worst:.3f} s"
    queue = getattr(processor, "_batch_processor", processor)
    pending = getattr(queue, "_queue", None)
    if pending is not None:
        assert len(pending) <= 512  # bounded: excess spans are dropped, not buffered
    provider.shutdown()
