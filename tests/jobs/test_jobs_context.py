"""``job_context()`` and ``job()``: trace context through any job payload, PRODUCER/CONSUMER."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry import baggage, propagate, trace
from opentelemetry.context import attach, detach
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import instrumentors
from tests._spans import one, parent_of


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def enqueue(text: str, **options: Any) -> dict[str, Any]:
    """An agent tool that puts a job payload on a queue (here: returns it, JSON round-tripped)."""

    @instrumentors.tool(name="enqueue")
    def tool(text: str) -> str:
        return json.dumps({"text": text, **instrumentors.job_context(**options)})

    with instrumentors.session("sess-7"):
        return json.loads(tool(text))  # type: ignore[no-any-return]


def test_job_context_is_the_current_context(exporter: InMemorySpanExporter) -> None:
    with instrumentors.session("sess-1"), instrumentors.agent_step("plan"):
        context = instrumentors.job_context()
        current = trace.get_current_span().get_span_context()
    assert set(context) == {"traceparent", "baggage"}
    assert all(isinstance(v, str) for v in context.values())
    _, trace_id, span_id, flags = context["traceparent"].split("-")
    assert (trace_id, span_id) == (f"{current.trace_id:032x}", f"{current.span_id:016x}")
    assert int(flags, 16) & 1  # sampled
    assert "agent.session_id=sess-1" in context["baggage"]
    (step,) = exporter.get_finished_spans()  # no span of its own
    assert step.name == "plan"


def test_named_job_context_records_a_producer_span(exporter: InMemorySpanExporter) -> None:
    payload = enqueue("hi", name="summarise", message_id="m-1", system="redis")
    spans = exporter.get_finished_spans()
    send = one(spans, "send summarise")
    assert send.kind is SpanKind.PRODUCER
    assert parent_of(send, spans) is one(spans, "execute_tool enqueue")
    assert attrs(send) == {
        "messaging.system": "redis",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": "summarise",
        "messaging.message.id": "m-1",
        "agent.session_id": "sess-7",
        "gen_ai.conversation.id": "sess-7",
    }
    assert payload["traceparent"].split("-")[2] == f"{send.context.span_id:016x}"


def test_worker_span_is_a_child_of_the_send_span_and_links_to_it(
    exporter: InMemorySpanExporter,
) -> None:
    payload = enqueue("hello", name="summarise")
    exporter.clear()  # everything on the producer side has ended long before the job runs

    @instrumentors.job(name="summarise", message_id="id")
    def summarise(job: dict[str, Any], suffix: str = "!") -> str:
        with instrumentors.agent_step("inside"):
            return str(job["text"]) + suffix

    assert summarise({**payload, "id": 42}, suffix="?") == "hello?"
    spans = exporter.get_finished_spans()
    process = one(spans, "process summarise")
    sent = payload["traceparent"].split("-")
    assert process.kind is SpanKind.CONSUMER
    assert f"{process.context.trace_id:032x}" == sent[1]
    assert process.parent is not None and f"{process.parent.span_id:016x}" == sent[2]
    (link,) = process.links
    assert link.context.span_id == process.parent.span_id
    assert attrs(process) == {
        "messaging.system": "custom",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "summarise",
        "messaging.message.id": "42",
        "agent.session_id": "sess-7",
        "gen_ai.conversation.id": "sess-7",
    }
    inside = one(spans, "inside")  # the job's own work nests under it, with the session
    assert parent_of(inside, spans) is process
    assert attrs(inside)["agent.session_id"] == "sess-7"


async def test_async_worker_and_async_block(exporter: InMemorySpanExporter) -> None:
    payload = enqueue("x")
    tool_span = one(exporter.get_finished_spans(), "execute_tool enqueue")

    @instrumentors.job(name="embed")
    async def embed(job: dict[str, Any]) -> int:
        return len(job["text"])

    assert await embed(payload) == 1
    async with instrumentors.job("embed-block", payload):
        pass
    spans = exporter.get_finished_spans()
    for name in ("process embed", "process embed-block"):
        span = one(spans, name)
        assert span.parent is not None and span.parent.span_id == tool_span.context.span_id
        assert span.context.trace_id == tool_span.context.trace_id


def test_block_with_context_under_a_key_or_from_a_function(
    exporter: InMemorySpanExporter,
) -> None:
    context = enqueue("x")
    del context["text"]
    tool_span = one(exporter.get_finished_spans(), "execute_tool enqueue")
    with instrumentors.job("nested", {"body": "b", "meta": context}, context="meta"):
        pass
    with instrumentors.job("picked", ("b", context), context=lambda job: job[1]):
        pass
    for name in ("process nested", "process picked"):
        span = one(exporter.get_finished_spans(), name)
        assert span.context.trace_id == tool_span.context.trace_id


def test_worker_exception_is_recorded_and_reraised(exporter: InMemorySpanExporter) -> None:
    payload = enqueue("x")

    @instrumentors.job(name="fails")
    def fails(job: dict[str, Any]) -> None:
        raise Boom("no")

    with pytest.raises(Boom):
        fails(payload)
    with pytest.raises(Boom), instrumentors.job("fails-block", payload):
        raise Boom("no")
    for name in ("process fails", "process fails-block"):
        span = one(exporter.get_finished_spans(), name)
        assert span.status.status_code is StatusCode.ERROR
        assert attrs(span)["error.type"] == "Boom"
        assert [e.name for e in span.events] == ["exception"]


class Boom(Exception):
    pass


class _Hostile(dict):  # type: ignore[type-arg]
    def get(self, key: object, default: object = None) -> object:
        raise RuntimeError("a payload that breaks on read")


@pytest.mark.parametrize(
    "payload",
    [
        {"text": "no context"},
        {"traceparent": "00-zzzz-not-a-context-01", "baggage": "%%%"},
        {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01" + " " * 9000},
        {"traceparent": 42, "tracestate": ["x"], "baggage": None},
        "a plain string",
        None,
        ["traceparent"],
        _Hostile(traceparent="x"),
    ],
    ids=["missing", "malformed", "oversized", "not-strings", "str", "none", "list", "hostile"],
)
def test_unusable_context_starts_a_new_trace(payload: Any, exporter: InMemorySpanExporter) -> None:
    @instrumentors.job(name="work")
    def work(job: Any) -> str:
        return "done"

    assert work(payload) == "done"
    with instrumentors.job("work-block", payload):
        pass
    for name in ("process work", "process work-block"):
        span = one(exporter.get_finished_spans(), name)
        assert span.parent is None and not span.links


def test_incoming_baggage_is_untrusted(exporter: InMemorySpanExporter) -> None:
    payload = {
        "traceparent": f"00-{'1' * 32}-{'2' * 16}-01",
        "baggage": "agent.session_id=" + "s%0A" * 200 + ",user.email=bob%40example.com",
    }
    seen: dict[str, object] = {}

    @instrumentors.job(name="work")
    def work(job: Any) -> None:
        seen.update(baggage.get_all())

    work(payload)
    assert set(seen) == {"agent.session_id"}  # the untrusted key stops here
    session = str(seen["agent.session_id"])
    assert "\n" not in session and len(session) <= 256
    assert attrs(one(exporter.get_finished_spans(), "process work"))["agent.session_id"] == session


def test_destination_outside_the_allowlist_gets_no_context(
    exporter: InMemorySpanExporter, settings_env: Callable[..., Any]
) -> None:
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="*.internal")
    with instrumentors.agent_step("plan"):
        outside = instrumentors.job_context(destination="redis://user:pw@queue.example.com:6379/0")
        inside = instrumentors.job_context("jobs", destination="redis://user:pw@q.internal:6379")
    assert outside == {}
    assert set(inside) == {"traceparent"}
    send = one(exporter.get_finished_spans(), "send jobs")
    assert attrs(send)["server.address"] == "q.internal"  # never the URL: it has a password
    assert "pw" not in json.dumps(attrs(send))


@pytest.mark.parametrize("names", ["b3", "b3multi"])
def test_b3_propagators(
    names: str, exporter: InMemorySpanExporter, use_propagators: Callable[[str], Any]
) -> None:
    use_propagators(names)
    with instrumentors.agent_step("plan"):
        payload = {"text": "x", **instrumentors.job_context()}
        step = trace.get_current_span().get_span_context()
    assert "traceparent" not in payload
    assert ("b3" in payload) if names == "b3" else ("x-b3-traceid" in payload)
    with instrumentors.job("work", json.loads(json.dumps(payload))):
        pass
    span = one(exporter.get_finished_spans(), "process work")
    assert span.parent is not None and span.parent.span_id == step.span_id


def test_methods_take_the_payload_after_self(exporter: InMemorySpanExporter) -> None:
    payload = enqueue("x")

    class Worker:
        @instrumentors.job(name="method")
        def handle(self, job: dict[str, Any]) -> str:
            return str(job["text"])

    assert Worker().handle(job=payload) == "x"
    span = one(exporter.get_finished_spans(), "process method")
    assert span.parent is not None


def test_generator_worker_span_covers_the_iteration(exporter: InMemorySpanExporter) -> None:
    payload = enqueue("abc")

    @instrumentors.job
    def chunks(job: dict[str, Any]) -> Iterator[str]:
        yield from job["text"]

    assert list(chunks(payload)) == ["a", "b", "c"]
    span = one(exporter.get_finished_spans(), "process chunks")  # bare @job: the function's name
    assert span.parent is not None


def test_suppressed_and_unsampled(exporter: InMemorySpanExporter, unsampled: None) -> None:
    with instrumentors.agent_step("plan"):
        payload = {**instrumentors.job_context("summarise")}
    assert not int(payload["traceparent"][-2:], 16) & 1  # the context still travels, unsampled
    with instrumentors.job("work", payload):
        assert not trace.get_current_span().is_recording()
    with instrumentors.session("s"), suppress_instrumentation():
        assert instrumentors.job_context("summarise") == {"baggage": "agent.session_id=s"}
        with instrumentors.job("work", payload):
            assert not trace.get_current_span().get_span_context().is_valid
    assert exporter.get_finished_spans() == ()


def test_a_telemetry_bug_never_breaks_the_job(
    exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("propagator bug")

    monkeypatch.setattr(propagate, "inject", broken)
    monkeypatch.setattr("instrumentors.jobs._tracer", broken)
    assert instrumentors.job_context() == {}
    assert instrumentors.job_context("x", destination="q.internal") == {}

    @instrumentors.job(name="work")
    def work(job: Any) -> int:
        return 7

    assert work({"traceparent": "x"}) == 7
    with instrumentors.job("work", {}):
        pass
    assert exporter.get_finished_spans() == ()


def test_context_outside_any_span_carries_baggage_only() -> None:
    token = attach(baggage.set_baggage("agent.session_id", "s"))
    try:
        assert instrumentors.job_context() == {"baggage": "agent.session_id=s"}
    finally:
        detach(token)
