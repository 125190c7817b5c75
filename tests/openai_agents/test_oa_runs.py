"""Runs of the real Agents SDK over HTTP: the span tree, one chat span per model request,
tools with call ids, links and hashes, handoffs, parallel tools, agents as tools, every
run mode, and one OpenTelemetry trace under the caller's span."""

from __future__ import annotations

import asyncio
import threading

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from instrumentors.params import hash_params
from tests.fakes.openai_server import Reply, ToolCall

pytest.importorskip("agents")

import openai
from agents import Agent, OpenAIResponsesModel, Runner, custom_span, function_tool
from oa_support import (
    CHAT,
    MODEL,
    QUESTION,
    WORKFLOW,
    agents,
    attrs,
    handoff_script,
    named,
    one,
    parent,
    run_sync,
    tree,
)

HANDOFF_TREE = [
    WORKFLOW,
    "  invoke_agent Triage",
    f"    {CHAT}",
    "    handoff",
    "  invoke_agent Weather",
    f"    {CHAT}",
    "    execute_tool get_weather",
    f"    {CHAT}",
]


async def test_a_handoff_run_is_one_tree(exporter, instrumented, server, model) -> None:
    server.script(*handoff_script())
    triage, _ = agents(model)
    result = await Runner.run(triage, QUESTION)
    assert result.final_output == "Sunny in Paris."
    spans = exporter.get_finished_spans()
    assert tree(spans) == HANDOFF_TREE
    assert len({s.context.trace_id for s in spans}) == 1
    step = one(spans, WORKFLOW)
    assert attrs(step)["gen_ai.operation.name"] == "agent_step"
    assert attrs(step)["agent.step.name"] == WORKFLOW
    triage_span = one(spans, "invoke_agent Triage")
    assert triage_span.kind is SpanKind.INTERNAL
    assert attrs(triage_span)["gen_ai.agent.name"] == "Triage"
    handoff = one(spans, "handoff")
    assert attrs(handoff)["agent.handoff.from"] == "Triage"
    assert attrs(handoff)["agent.handoff.to"] == "Weather"
    assert attrs(handoff)["gen_ai.operation.name"] == "agent_step"
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


async def test_chat_spans_one_per_request(exporter, instrumented, server, model) -> None:
    server.script(*handoff_script())
    triage, _ = agents(model)
    await Runner.run(triage, QUESTION)
    spans = exporter.get_finished_spans()
    chats = named(spans, CHAT)
    assert len(chats) == len(server.requests) == 3
    ids = [attrs(c)["gen_ai.response.id"] for c in chats]
    assert len(set(ids)) == 3 and all(i.startswith("resp_") for i in ids)
    for chat in chats:
        values = attrs(chat)
        assert chat.kind is SpanKind.CLIENT
        assert values["gen_ai.operation.name"] == "chat"
        assert values["gen_ai.provider.name"] == "openai"
        assert values["gen_ai.request.model"] == values["gen_ai.response.model"] == MODEL
        assert values["gen_ai.usage.input_tokens"] == 11
        assert values["gen_ai.usage.output_tokens"] == 7
    first, second, third = chats
    assert attrs(first)["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert attrs(first)["gen_ai.response.tool_call.names"] == ("transfer_to_weather",)
    assert attrs(second)["gen_ai.response.tool_call.ids"] == ("call_weather",)
    assert attrs(third)["gen_ai.response.finish_reasons"] == ("stop",)


async def test_with_the_openai_layer_on_each_request_is_still_one_chat_span(
    exporter, instrumented, openai_layer, server, model
) -> None:
    server.script(*handoff_script())
    triage, _ = agents(model)
    await Runner.run(triage, QUESTION)
    spans = exporter.get_finished_spans()
    assert tree(spans) == HANDOFF_TREE  # no second chat span from the OpenAI layer
    chats = [s for s in spans if attrs(s).get("gen_ai.operation.name") == "chat"]
    assert len(chats) == len(server.requests) == 3
    for chat in chats:
        values = attrs(chat)
        # What only the OpenAI layer knows, published into the Agents SDK's span.
        assert values["server.address"] == "127.0.0.1"
        assert values["server.port"] == server.port
        assert values["gen_ai.usage.input_tokens"] == 11
        assert chat.instrumentation_scope.name == "instrumentors.openai_agents"


async def test_the_tool_span_has_the_call_id_the_link_and_the_hash(
    exporter, instrumented, server, model
) -> None:
    server.script(*handoff_script())
    triage, _ = agents(model)
    await Runner.run(triage, QUESTION)
    spans = exporter.get_finished_spans()
    tool = one(spans, "execute_tool get_weather")
    values = attrs(tool)
    assert values["gen_ai.tool.call.id"] == "call_weather"
    assert values["gen_ai.tool.name"] == values["tool.name"] == "get_weather"
    assert values["gen_ai.tool.type"] == "function"
    assert values["gen_ai.agent.name"] == "Weather"
    assert values["request.parameters.hash"] == hash_params({"city": "Paris"})
    requested_by = named(spans, CHAT)[1]
    (link,) = tool.links
    assert link.context == requested_by.context
    assert parent(tool, spans) is one(spans, "invoke_agent Weather")


async def test_parallel_tool_calls_each_get_their_own_id(
    exporter, instrumented, server, model
) -> None:
    calls = [
        ToolCall("get_weather", f'{{"city": "{city}"}}', id=f"call_{city}")
        for city in ("Paris", "Rome", "Oslo")
    ]
    server.script(*handoff_script(*calls))
    triage, _ = agents(model)
    await Runner.run(triage, QUESTION)
    tools = named(exporter.get_finished_spans(), "execute_tool get_weather")
    assert len(tools) == 3
    got = {attrs(t)["gen_ai.tool.call.id"]: attrs(t)["request.parameters.hash"] for t in tools}
    assert got == {f"call_{c}": hash_params({"city": c}) for c in ("Paris", "Rome", "Oslo")}


async def test_the_run_is_parented_under_the_current_span(
    exporter, instrumented, server, model
) -> None:
    server.script(Reply(text="hi"))
    with trace.get_tracer("user").start_as_current_span("handle request") as outer:
        await Runner.run(Agent(name="Solo", model=model), QUESTION)
    spans = exporter.get_finished_spans()
    step = one(spans, WORKFLOW)
    assert step.parent is not None and step.parent.span_id == outer.get_span_context().span_id
    assert {s.context.trace_id for s in spans} == {outer.get_span_context().trace_id}


async def test_without_a_current_span_the_workflow_is_the_one_root(
    exporter, instrumented, server, model
) -> None:
    server.script(*handoff_script())
    triage, _ = agents(model)
    await Runner.run(triage, QUESTION)
    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.parent is None]
    assert root.name == WORKFLOW
    assert len({s.context.trace_id for s in spans}) == 1


def test_run_sync_in_threads_makes_one_trace_each(exporter, instrumented, server) -> None:
    results: list[str] = []

    def run() -> None:
        # A client per event loop: its connections belong to the loop that opened them.
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
        model = OpenAIResponsesModel(model=MODEL, openai_client=client)
        results.append(str(run_sync(Agent(name="Solo", model=model), QUESTION).final_output))

    # One run first: the SDK's first-use work (0.4 parses source with ast, which CPython
    # 3.11 cannot do in several threads at once) stays out of the threads.
    run()
    exporter.clear()
    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 4
    spans = exporter.get_finished_spans()
    roots = named(spans, WORKFLOW)
    assert len(roots) == 3 and all(r.parent is None for r in roots)
    assert len({s.context.trace_id for s in spans}) == 3
    for chat in named(spans, CHAT):
        assert parent(chat, spans) in named(spans, "invoke_agent Solo")


async def test_run_streamed_read_to_the_end(exporter, instrumented, server, model) -> None:
    server.script(*handoff_script())
    triage, _ = agents(model)
    with trace.get_tracer("user").start_as_current_span("outer") as outer:
        result = Runner.run_streamed(triage, QUESTION)
        async for _ in result.stream_events():
            pass
    assert result.final_output == "Sunny in Paris."
    spans = exporter.get_finished_spans()
    assert tree(spans)[1:] == ["  " + line for line in HANDOFF_TREE]
    assert server.requests[0].json.get("stream") is True
    assert one(spans, WORKFLOW).parent.span_id == outer.get_span_context().span_id
    assert attrs(named(spans, CHAT)[1])["gen_ai.response.tool_call.ids"] == ("call_weather",)
    assert attrs(one(spans, "execute_tool get_weather"))["gen_ai.tool.call.id"] == "call_weather"


async def test_an_abandoned_stream_ends_every_span_without_error(
    exporter, instrumented, server, model
) -> None:
    server.script(Reply(text="a long answer " * 30, chunk_size=2, chunk_delay=0.002))
    result = Runner.run_streamed(Agent(name="Solo", model=model), QUESTION)
    async for event in result.stream_events():
        if getattr(getattr(event, "data", None), "type", "") == "response.output_text.delta":
            break
    for _ in range(50):  # the SDK tears the run down in its own task
        if named(exporter.get_finished_spans(), WORKFLOW):
            break
        await asyncio.sleep(0.02)
    spans = exporter.get_finished_spans()
    lines = tree(spans)
    # The SDK may or may not read the response to its end in its own task before it stops.
    assert lines[:2] == [WORKFLOW, "  invoke_agent Solo"] and len(lines) == 3
    assert lines[2].startswith("    chat")
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


async def test_the_chat_completions_model(exporter, instrumented, server, chat_model) -> None:
    server.script(*handoff_script())
    triage, _ = agents(chat_model)
    await Runner.run(triage, QUESTION)
    spans = exporter.get_finished_spans()
    assert tree(spans) == HANDOFF_TREE
    assert {r.endpoint for r in server.requests} == {"chat/completions"}
    first = named(spans, CHAT)[0]
    values = attrs(first)
    assert values["gen_ai.request.model"] == MODEL  # known when the span starts
    assert values["server.address"] == "127.0.0.1" and values["server.port"] == server.port
    assert values["gen_ai.usage.input_tokens"] == 11
    tool = one(spans, "execute_tool get_weather")
    assert attrs(tool)["gen_ai.tool.call.id"] == "call_weather"
    (link,) = tool.links
    assert link.context == named(spans, CHAT)[1].context


async def test_an_agent_used_as_a_tool_nests_under_the_tool(
    exporter, instrumented, server, model
) -> None:
    _, weather = agents(model)
    boss = Agent(
        name="Boss",
        model=model,
        tools=[weather.as_tool(tool_name="ask_weather", tool_description="Ask the weather.")],
    )
    server.script(
        Reply.tools(ToolCall("ask_weather", '{"input": "Paris?"}', id="call_ask")),
        Reply.tools(ToolCall("get_weather", '{"city": "Paris"}', id="call_inner")),
        Reply(text="inner answer"),
        Reply(text="outer answer"),
    )
    result = await Runner.run(boss, QUESTION)
    assert result.final_output == "outer answer"
    spans = exporter.get_finished_spans()
    assert tree(spans) == [
        WORKFLOW,
        "  invoke_agent Boss",
        f"    {CHAT}",
        "    execute_tool ask_weather",
        "      invoke_agent Weather",
        f"        {CHAT}",
        "        execute_tool get_weather",
        f"        {CHAT}",
        f"    {CHAT}",
    ]
    assert attrs(one(spans, "execute_tool ask_weather"))["gen_ai.tool.call.id"] == "call_ask"
    assert attrs(one(spans, "execute_tool get_weather"))["gen_ai.tool.call.id"] == "call_inner"
    assert len({s.context.trace_id for s in spans}) == 1


async def test_a_custom_span_is_a_step_named_after_it(
    exporter, instrumented, server, model
) -> None:
    @function_tool
    def lookup(key: str) -> str:
        """Looks a key up."""
        with custom_span("db lookup", {"table": "weather"}):
            return key.upper()

    server.script(Reply.tools(ToolCall("lookup", '{"key": "x"}', id="call_l")), Reply(text="X"))
    await Runner.run(Agent(name="Solo", model=model, tools=[lookup]), QUESTION)
    spans = exporter.get_finished_spans()
    step = one(spans, "db lookup")
    assert attrs(step)["agent.step.name"] == "db lookup"
    assert attrs(step)["gen_ai.operation.name"] == "agent_step"
    assert parent(step, spans) is one(spans, "execute_tool lookup")
