"""Agents and workflows: FunctionAgent, AgentWorkflow, ReActAgent, custom workflows."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import pytest
from li_support import ScriptedLLM, add, boom, by_name, one, parent_of, text, tool_call
from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent, ReActAgent
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool
from llama_index.core.workflow import Event, StartEvent, StopEvent, Workflow, step
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import instrumentors
from instrumentors import semconv

tracer = trace.get_tracer("test")


def calculator(*script: ChatMessage, name: str = "calc") -> FunctionAgent:
    return FunctionAgent(
        name=name,
        description="Adds numbers.",
        tools=[FunctionTool.from_defaults(fn=add), FunctionTool.from_defaults(fn=boom)],
        llm=ScriptedLLM(script),
    )


def steps_of(spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    return [s for s in spans if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) == "agent_step"]


async def test_function_agent(
    exporter: InMemorySpanExporter, drained: Any, caplog: pytest.LogCaptureFixture
) -> None:
    agent = calculator(tool_call("call_1", "add", a=1, b=2), text("It is 3."))
    result = await agent.run(user_msg="What is 1 + 2?")

    assert "It is 3." in str(result)
    spans = exporter.get_finished_spans()
    run = one(spans, "invoke_agent calc")
    assert run.parent is None
    assert run.attributes[semconv.GEN_AI_AGENT_NAME] == "calc"
    assert run.attributes["gen_ai.agent.description"] == "Adds numbers."
    assert {s.context.trace_id for s in spans} == {run.context.trace_id}
    steps = steps_of(spans)  # the model turns and the tool turn; bookkeeping steps have none
    assert sorted(s.name for s in steps) == ["call_tool", "run_agent_step", "run_agent_step"]
    assert all(parent_of(s, spans) is run for s in steps)
    assert len(spans) == 1 + 3 + 2 + 1  # run, steps, chats, tool
    first_chat, second_chat = by_name(spans, "chat scripted-model")
    assert parent_of(first_chat, spans).name == "run_agent_step"  # type: ignore[union-attr]
    assert first_chat.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS] == ("call_1",)
    tool = one(spans, "execute_tool add")
    assert parent_of(tool, spans).name == "call_tool"  # type: ignore[union-attr]
    assert tool.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_1"
    (link,) = tool.links
    assert link.context.span_id == first_chat.context.span_id
    assert not second_chat.links
    assert "Failed to detach context" not in caplog.text


async def test_session_reaches_every_span(exporter: InMemorySpanExporter, drained: Any) -> None:
    agent = calculator(tool_call("call_1", "add", a=1, b=2), text("3"))
    with instrumentors.session("sess-42"):
        await agent.run(user_msg="1 + 2")

    spans = exporter.get_finished_spans()
    assert len(spans) > 5
    assert {s.attributes.get(semconv.AGENT_SESSION_ID) for s in spans} == {"sess-42"}


async def test_tool_error_agent_continues(exporter: InMemorySpanExporter, drained: Any) -> None:
    agent = calculator(tool_call("call_b", "boom", x=1), text("The tool failed."))
    result = await agent.run(user_msg="boom")

    assert "The tool failed." in str(result)
    spans = exporter.get_finished_spans()
    tool = one(spans, "execute_tool boom")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes[semconv.ERROR_TYPE] == "ValueError"
    assert [e.name for e in tool.events] == ["exception"]
    assert one(spans, "invoke_agent calc").status.status_code is StatusCode.UNSET


async def test_agent_workflow_handoff(exporter: InMemorySpanExporter, drained: Any) -> None:
    router = FunctionAgent(
        name="router",
        description="Routes.",
        tools=[],
        llm=ScriptedLLM([tool_call("h1", "handoff", to_agent="calc", reason="math"), text("x")]),
        can_handoff_to=["calc"],
    )
    calc = FunctionAgent(
        name="calc",
        description="Math.",
        tools=[FunctionTool.from_defaults(fn=add)],
        llm=ScriptedLLM([tool_call("c1", "add", a=2, b=2), text("4")]),
    )
    workflow = AgentWorkflow(agents=[router, calc], root_agent="router")
    assert "4" in str(await workflow.run(user_msg="2 + 2"))

    spans = exporter.get_finished_spans()
    run = one(spans, "invoke_agent AgentWorkflow")
    agents = {s.attributes.get(semconv.GEN_AI_AGENT_NAME) for s in by_name(spans, "run_agent_step")}
    assert agents == {"router", "calc"}
    handoff = one(spans, "execute_tool handoff")
    assert handoff.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "h1"
    assert one(spans, "execute_tool add").attributes[semconv.GEN_AI_TOOL_CALL_ID] == "c1"
    assert {s.context.trace_id for s in spans} == {run.context.trace_id}


async def test_react_agent(exporter: InMemorySpanExporter, drained: Any) -> None:
    llm = ScriptedLLM(
        [
            text('Thought: use a tool\nAction: add\nAction Input: {"a": 5, "b": 6}'),
            text("Thought: done\nAnswer: 11"),
        ]
    )
    result = await ReActAgent(name="react", tools=[add], llm=llm).run(user_msg="5 + 6")

    assert "11" in str(result)
    spans = exporter.get_finished_spans()
    tool = one(spans, "execute_tool add")
    assert parent_of(tool, spans).name == "call_tool"  # type: ignore[union-attr]
    assert one(spans, "invoke_agent react").parent is None


class Middle(Event):
    value: int


class TwoSteps(Workflow):
    @step
    async def first(self, ev: StartEvent) -> Middle:
        return Middle(value=int(ev.get("n", 1)))

    @step
    def second(self, ev: Middle) -> StopEvent:  # a sync step: runs in an executor
        if ev.value < 0:
            raise ValueError("negative")
        return StopEvent(result=ev.value * 2)


async def test_workflow_steps_parent_to_the_run(
    exporter: InMemorySpanExporter, drained: Any
) -> None:
    assert await TwoSteps(timeout=10).run(n=3) == 6

    spans = exporter.get_finished_spans()
    run = one(spans, "invoke_agent TwoSteps")
    assert parent_of(one(spans, "first"), spans) is run
    assert parent_of(one(spans, "second"), spans) is run  # sync: 0.12 loses the context
    assert run.status.status_code is StatusCode.UNSET
    assert len(spans) == 3  # no span for 0.12's internal _done step


async def test_workflow_step_error(exporter: InMemorySpanExporter, drained: Any) -> None:
    with pytest.raises(Exception, match="negative"):
        await TwoSteps(timeout=10).run(n=-1)
    await asyncio.sleep(0.01)  # 0.12 ends the run in a Future callback

    spans = exporter.get_finished_spans()
    failed = one(spans, "second")
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes[semconv.ERROR_TYPE] == "ValueError"
    run = one(spans, "invoke_agent TwoSteps")
    assert run.status.status_code is StatusCode.ERROR


async def test_sequential_runs_are_separate_traces(
    exporter: InMemorySpanExporter, drained: Any
) -> None:
    await calculator(text("a")).run(user_msg="one")
    await calculator(text("b"), name="other").run(user_msg="two")  # 0.12 leaks its span id

    first, second = (
        one(exporter.get_finished_spans(), "invoke_agent calc"),
        one(exporter.get_finished_spans(), "invoke_agent other"),
    )
    assert first.parent is None
    assert second.parent is None
    assert first.context.trace_id != second.context.trace_id


async def test_concurrent_runs_keep_their_parentage(
    exporter: InMemorySpanExporter, drained: Any
) -> None:
    with tracer.start_as_current_span("app"):
        await asyncio.gather(
            calculator(tool_call("c1", "add", a=1, b=1), text("2"), name="one").run(user_msg="x"),
            calculator(tool_call("c2", "add", a=2, b=2), text("4"), name="two").run(user_msg="y"),
        )

    spans = exporter.get_finished_spans()
    app = one(spans, "app")
    for name, call_id in (("one", "c1"), ("two", "c2")):
        run = one(spans, f"invoke_agent {name}")
        assert parent_of(run, spans) is app
        (tool,) = [s for s in spans if s.attributes.get(semconv.GEN_AI_TOOL_CALL_ID) == call_id]
        call_step = parent_of(tool, spans)
        assert call_step is not None
        assert parent_of(call_step, spans) is run


async def test_tool_spawning_tasks_parents_its_calls(
    exporter: InMemorySpanExporter, drained: Any
) -> None:
    llm = ScriptedLLM([text("inner")])

    async def fan_out(n: int) -> str:
        """Ask the model n times in parallel."""
        messages = [ChatMessage(role="user", content="q")]
        answers = await asyncio.gather(*(llm.achat(messages) for _ in range(n)))
        return " ".join(str(a.message.content) for a in answers)

    await FunctionTool.from_defaults(async_fn=fan_out).acall(n=2)

    spans = exporter.get_finished_spans()
    tool = one(spans, "execute_tool fan_out")
    chats = by_name(spans, "chat scripted-model")
    assert len(chats) == 2
    assert all(parent_of(c, spans) is tool for c in chats)


async def test_maps_drain_after_many_runs(
    exporter: InMemorySpanExporter, drained: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="instrumentors")
    for i in range(10):
        await calculator(tool_call(f"ok{i}", "add", a=i, b=1), text("done")).run(user_msg="x")
        await calculator(tool_call(f"bad{i}", "boom", x=i), text("failed")).run(user_msg="y")
        with pytest.raises(Exception, match="negative"):
            await TwoSteps(timeout=10).run(n=-1)
        stream = ScriptedLLM([text("a b c")], chunks=3).stream_chat([])
        next(stream)
        del stream
    await asyncio.sleep(0.01)

    assert len(by_name(exporter.get_finished_spans(), "execute_tool boom")) == 10
    assert "instrumentors" not in caplog.text  # no telemetry bug on the way


async def test_streamed_events_and_no_error_on_success(
    exporter: InMemorySpanExporter, drained: Any
) -> None:
    handler = calculator(tool_call("call_1", "add", a=1, b=2), text("3")).run(user_msg="x")
    events = [type(event).__name__ async for event in handler.stream_events()]
    assert "3" in str(await handler)
    await asyncio.sleep(0.01)

    assert "ToolCallResult" in events
    spans = exporter.get_finished_spans()
    assert one(spans, "execute_tool add")
    # Workflow control flow (0.12's WorkflowDone) never shows as an error.
    assert {s.status.status_code for s in spans} == {StatusCode.UNSET}


class Slow(Workflow):
    @step
    async def wait(self, ev: StartEvent) -> StopEvent:
        await asyncio.sleep(5)
        return StopEvent(result="late")


async def test_timeout_ends_every_span(exporter: InMemorySpanExporter, drained: Any) -> None:
    with pytest.raises(Exception, match="timed out"):
        await Slow(timeout=0.05).run()
    await asyncio.sleep(0.6)  # 0.12 gives cancelled steps up to 0.5 s to clean up

    spans = exporter.get_finished_spans()
    run = one(spans, "invoke_agent Slow")
    assert one(spans, "wait").status.status_code is StatusCode.UNSET  # cancelled, not failed
    assert run.status.status_code is StatusCode.ERROR
    assert run.attributes[semconv.ERROR_TYPE] == "WorkflowTimeoutError"
    assert [e.name for e in run.events] == ["exception"]


_parse = FunctionAgent.parse_agent_output


@functools.wraps(_parse)
async def _broken_parse(self: Any, ctx: Any, ev: Any) -> Any:
    raise RuntimeError("parse failed")


class BrokenAgent(FunctionAgent):
    parse_agent_output = step(_broken_parse)


async def test_failing_bookkeeping_step_fails_the_run(
    exporter: InMemorySpanExporter, drained: Any
) -> None:
    with pytest.raises(Exception, match="parse failed"):
        await BrokenAgent(name="broken", tools=[add], llm=ScriptedLLM([text("x")])).run(
            user_msg="x"
        )
    await asyncio.sleep(0.01)

    spans = exporter.get_finished_spans()
    run = one(spans, "invoke_agent broken")
    assert run.status.status_code is StatusCode.ERROR
    assert run.attributes[semconv.ERROR_TYPE] == "RuntimeError"
    assert not by_name(spans, "parse_agent_output")


_setup = FunctionAgent.setup_agent
_memory_llm = ScriptedLLM([text("summary")])


@functools.wraps(_setup)
async def _setup_with_a_model_call(self: Any, ctx: Any, ev: Any) -> Any:
    await _memory_llm.achat([ChatMessage(role="user", content="summarize")])
    return await _setup(self, ctx, ev)


class SummarizingAgent(FunctionAgent):
    setup_agent = step(_setup_with_a_model_call)


async def test_calls_inside_bookkeeping_steps_nest_under_the_agent(
    exporter: InMemorySpanExporter, drained: Any
) -> None:
    agent = SummarizingAgent(name="sum", tools=[add], llm=ScriptedLLM([text("done")]))
    await agent.run(user_msg="x")
    await asyncio.sleep(0.01)

    spans = exporter.get_finished_spans()
    run = one(spans, "invoke_agent sum")
    chats = by_name(spans, "chat scripted-model")
    assert len(chats) == 2  # the summary call (no setup_agent span) and the agent's turn
    assert {parent_of(c, spans).name for c in chats} == {run.name, "run_agent_step"}  # type: ignore[union-attr]
