"""``instrumentors.agent``: an ``invoke_agent`` span as context manager and decorator."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import instrumentors
from instrumentors import semconv


def test_context_manager_makes_an_invoke_agent_span(exporter) -> None:
    with instrumentors.agent("weather-agent", id="agent-7"):
        inside = trace.get_current_span().name
        with instrumentors.agent_step("plan"):
            pass
    step, run = exporter.get_finished_spans()
    assert inside == "invoke_agent weather-agent"
    assert run.name == "invoke_agent weather-agent" and run.kind is SpanKind.INTERNAL
    assert run.attributes[semconv.GEN_AI_OPERATION_NAME] == semconv.OP_INVOKE_AGENT
    assert run.attributes[semconv.GEN_AI_AGENT_NAME] == "weather-agent"
    assert run.attributes[semconv.GEN_AI_AGENT_ID] == "agent-7"
    assert step.parent.span_id == run.context.span_id


def test_without_id_and_inside_a_session(exporter) -> None:
    with instrumentors.session("s-1"), instrumentors.agent("planner"):
        pass
    (run,) = exporter.get_finished_spans()
    assert semconv.GEN_AI_AGENT_ID not in run.attributes
    assert run.attributes[semconv.AGENT_SESSION_ID] == "s-1"


def test_error_is_recorded_and_reraised_unchanged(exporter) -> None:
    error = ValueError("no plan")
    with pytest.raises(ValueError) as caught, instrumentors.agent("planner"):
        raise error
    assert caught.value is error
    (run,) = exporter.get_finished_spans()
    assert run.status.status_code is StatusCode.ERROR
    assert run.attributes[semconv.ERROR_TYPE] == "ValueError"


def test_decorator_sync_is_reentrant(exporter) -> None:
    @instrumentors.agent("recursive")
    def run(depth: int) -> int:
        return depth if depth == 0 else run(depth - 1) + 1

    assert run(1) == 1
    inner, outer = exporter.get_finished_spans()
    assert inner.name == outer.name == "invoke_agent recursive"
    assert inner.parent.span_id == outer.context.span_id


async def test_decorator_async_and_async_with(exporter) -> None:
    @instrumentors.agent("async-agent", id="a1")
    async def run() -> str:
        await asyncio.sleep(0)
        return trace.get_current_span().name

    assert await run() == "invoke_agent async-agent"
    async with instrumentors.agent("other"):
        await asyncio.sleep(0)
    assert [s.name for s in exporter.get_finished_spans()] == [
        "invoke_agent async-agent",
        "invoke_agent other",
    ]


def test_decorator_generator_current_only_while_producing(exporter) -> None:
    @instrumentors.agent("streamer")
    def stream():  # type: ignore[no-untyped-def]
        yield trace.get_current_span().name
        yield "done"

    items = []
    for item in stream():
        items.append(item)
        # The caller's code between items does not run under the agent's span.
        items.append(trace.get_current_span().get_span_context().is_valid)
    (run,) = exporter.get_finished_spans()
    assert items == ["invoke_agent streamer", False, "done", False]
    assert run.name == "invoke_agent streamer"


async def test_decorator_async_generator(exporter) -> None:
    @instrumentors.agent("astreamer")
    async def stream():  # type: ignore[no-untyped-def]
        yield trace.get_current_span().name

    assert [item async for item in stream()] == ["invoke_agent astreamer"]
    (run,) = exporter.get_finished_spans()
    assert run.name == "invoke_agent astreamer"


def test_a_telemetry_bug_does_not_break_the_run(exporter, monkeypatch) -> None:
    from instrumentors import agents

    def broken() -> object:
        raise RuntimeError("telemetry bug")

    monkeypatch.setattr(agents, "default_telemetry", broken)
    with instrumentors.agent("fine") as scope:
        value = 42
    assert value == 42 and isinstance(scope, instrumentors.agent)
    assert exporter.get_finished_spans() == ()


def test_exported_in_the_public_api() -> None:
    assert "agent" in instrumentors.__all__
