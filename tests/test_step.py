"""``agent_step``: context manager and decorator forms, errors, async and generators."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import instrumentors
from instrumentors import semconv


def test_context_manager(exporter) -> None:
    with instrumentors.agent_step("plan"):
        inside = trace.get_current_span().name
    (span,) = exporter.get_finished_spans()
    assert inside == "plan"
    assert span.name == "plan"
    assert span.kind is SpanKind.INTERNAL
    assert span.attributes[semconv.AGENT_STEP_NAME] == "plan"
    assert span.attributes[semconv.GEN_AI_OPERATION_NAME] == semconv.OP_AGENT_STEP


def test_error_marks_step_and_propagates(exporter) -> None:
    error = KeyError("missing")
    with pytest.raises(KeyError) as caught, instrumentors.agent_step("act"):
        raise error
    assert caught.value is error
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "KeyError"


def test_decorator_sync_and_reentrant(exporter) -> None:
    step = instrumentors.agent_step("reflect")

    @step
    def think(depth: int) -> int:
        return depth if depth == 0 else think(depth - 1) + 1

    assert think(2) == 2
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["reflect"] * 3
    innermost, middle, outer = spans
    assert innermost.parent.span_id == middle.context.span_id
    assert middle.parent.span_id == outer.context.span_id


async def test_decorator_async_and_async_with(exporter) -> None:
    @instrumentors.agent_step("plan")
    async def plan() -> str:
        await asyncio.sleep(0)
        return trace.get_current_span().name

    assert await plan() == "plan"
    async with instrumentors.agent_step("act"):
        await asyncio.sleep(0)
    assert [s.name for s in exporter.get_finished_spans()] == ["plan", "act"]


def test_decorator_generator(exporter) -> None:
    @instrumentors.agent_step("stream-thoughts")
    def thoughts():  # type: ignore[no-untyped-def]
        yield trace.get_current_span().name
        yield "done"

    assert list(thoughts()) == ["stream-thoughts", "done"]
    (span,) = exporter.get_finished_spans()
    assert span.name == "stream-thoughts"


def test_step_inside_session(exporter) -> None:
    with instrumentors.session("s-7"), instrumentors.agent_step("plan"):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.AGENT_SESSION_ID] == "s-7"
    assert span.attributes[semconv.GEN_AI_CONVERSATION_ID] == "s-7"


def test_telemetry_failure_does_not_break_the_block(exporter, monkeypatch) -> None:
    from instrumentors import telemetry

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("telemetry bug")

    monkeypatch.setattr(telemetry.Telemetry, "step", broken)
    with instrumentors.agent_step("plan"):
        value = 42
    assert value == 42
    assert exporter.get_finished_spans() == ()
