"""Celery: a real worker process and a real Redis broker; the task under the agent's tool call."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import baggage
from opentelemetry.context import attach, detach
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import instrumentors
from instrumentors import _companions
from tests._spans import one
from tests.fakes.otlp_receiver import HTTPReceiver
from tests.jobs._servers import PORT_VAR, redis_port

pytest.importorskip("celery")
pytest.importorskip("redis")
pytest.importorskip("opentelemetry.instrumentation.celery")

ROOT = Path(__file__).resolve().parents[2]
DB = "11"


@pytest.fixture(scope="module")
def receiver() -> Iterator[HTTPReceiver]:
    with HTTPReceiver() as inbox:
        yield inbox


@pytest.fixture(scope="module")
def worker(receiver: HTTPReceiver) -> Iterator[subprocess.Popen[str]]:
    """``celery worker`` in its own process (solo pool), exporting to ``receiver``."""
    port = redis_port()
    import redis

    redis.Redis(host="127.0.0.1", port=port, db=int(DB)).flushdb()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        {
            PORT_VAR: str(port),
            "JOBS_TEST_REDIS_DB": DB,
            "JOBS_TEST_WORKER": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            "OTEL_METRICS_EXPORTER": "none",
            "PYTHONPATH": str(ROOT),
        }
    )
    command = [
        sys.executable, "-m", "celery", "-A", "tests.jobs._celery_app", "worker",
        "--pool=solo", "--loglevel=WARNING", "--without-gossip", "--without-mingle",
        "--without-heartbeat", "-n", f"jobs-test-{os.getpid()}@127.0.0.1",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def app(worker: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The test app, with Celery instrumented in this process as ``instrument_all()`` does."""
    monkeypatch.setenv(PORT_VAR, str(redis_port()))
    monkeypatch.setenv("JOBS_TEST_REDIS_DB", DB)
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    from tests.jobs import _celery_app

    _companions.disable()
    if CeleryInstrumentor().is_instrumented_by_opentelemetry:
        CeleryInstrumentor().uninstrument()
    names = _companions.enable(None, None, set(_companions.COMPANIONS) - {"celery"})
    assert names == ["celery"]
    yield _celery_app
    _companions.disable()


def worker_spans(receiver: HTTPReceiver, trace_id: int, *names: str) -> list[dict[str, Any]]:
    """The worker's spans of this trace, once spans with these names arrived (its Redis
    client's spans, the result backend's, come too)."""
    wanted = f"{trace_id:032x}"
    deadline = time.monotonic() + 30
    spans: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        spans = [s for s in list(receiver.spans) if s["trace_id"] == wanted]
        if set(names) <= {s["name"] for s in spans}:
            return spans
        time.sleep(0.05)
    raise AssertionError(f"the worker sent these spans of trace {wanted}: {spans}")


def named(spans: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (span,) = [s for s in spans if s["name"] == name]
    return span


def test_task_runs_under_the_tool_call(
    app: Any, receiver: HTTPReceiver, exporter: InMemorySpanExporter
) -> None:
    @instrumentors.tool
    def request_summary(text: str) -> Any:
        return app.summarise.delay(text)

    token = attach(baggage.set_baggage("user.email", "bob@example.com"))  # ours, not the worker's
    try:
        with instrumentors.session("sess-c"):
            result = request_summary("hello")
    finally:
        detach(token)
    value = result.get(timeout=60)
    assert value == {"summary": "HELLO", "baggage": {"agent.session_id": "sess-c"}}

    spans = exporter.get_finished_spans()
    tool = one(spans, "execute_tool request_summary")
    publish = one(spans, "apply_async/tests.summarise")
    assert publish.kind is SpanKind.PRODUCER
    assert publish.parent is not None and publish.parent.span_id == tool.context.span_id
    theirs = worker_spans(receiver, tool.context.trace_id, "run/tests.summarise", "summarise-text")
    run = named(theirs, "run/tests.summarise")
    step = named(theirs, "summarise-text")
    assert run["parent_span_id"] == f"{publish.context.span_id:016x}"
    assert run["resource"]["service.name"] == "celery-worker"
    assert run["attributes"]["agent.session_id"] == "sess-c"
    assert step["parent_span_id"] == run["span_id"]
    assert step["attributes"]["agent.session_id"] == "sess-c"


def test_failed_task_is_an_error_in_the_same_trace(
    app: Any, receiver: HTTPReceiver, exporter: InMemorySpanExporter
) -> None:
    @instrumentors.tool
    def run_failing() -> Any:
        return app.fails.delay()

    result = run_failing()
    with pytest.raises(ValueError, match="the task failed"):
        result.get(timeout=60)
    tool = one(exporter.get_finished_spans(), "execute_tool run_failing")
    run = named(worker_spans(receiver, tool.context.trace_id, "run/tests.fails"), "run/tests.fails")
    assert "exception" in run["events"]


def test_hostile_headers_are_cleaned(app: Any, exporter: InMemorySpanExporter) -> None:
    hostile = "agent.session_id=" + "a%0A" * 300 + ",role=admin,user.email=eve%40example.com"
    result = app.summarise.apply_async(("x",), headers={"baggage": hostile})
    seen = result.get(timeout=60)["baggage"]
    assert set(seen) == {"agent.session_id"}
    assert "\n" not in seen["agent.session_id"] and len(seen["agent.session_id"]) <= 256


def test_broker_outside_the_allowlist_gets_no_context(
    app: Any, receiver: HTTPReceiver, exporter: InMemorySpanExporter, settings_env: Any
) -> None:
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="*.internal")

    @instrumentors.tool
    def request_summary(text: str) -> Any:
        return app.summarise.delay(text)

    with instrumentors.session("private"):
        value = request_summary("quiet").get(timeout=60)
    assert value["baggage"] == {}
    tool = one(exporter.get_finished_spans(), "execute_tool request_summary")
    time.sleep(0.5)  # the worker's spans had time to arrive: none is in the agent's trace
    assert not [s for s in receiver.spans if s["trace_id"] == f"{tool.context.trace_id:032x}"]
