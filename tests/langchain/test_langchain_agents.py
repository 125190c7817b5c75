"""Real LangGraph agents with a scripted chat model, instrumented: span tree, context, links,
sessions, parallel tools, failures, interrupts and AgentExecutor."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from lc_support import (
    AGENT_FACTORIES,
    InMemorySaver,
    ScriptedChat,
    ancestors,
    answer,
    by_operation,
    calling,
    current_span_name,
    interrupt_api,
    named,
    one,
    parent_of,
    tool_call,
    tree,
)
from opentelemetry import trace
from opentelemetry.trace import StatusCode

pytestmark = pytest.mark.usefixtures("instrumented")

SEEN: list[tuple[str, str]] = []


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    SEEN.append(("add", current_span_name()))
    return a + b


@tool
async def aadd(a: int, b: int) -> int:
    """Add two integers, asynchronously."""
    SEEN.append(("aadd", current_span_name()))
    return a + b


@tool
def boom(x: int) -> int:
    """Always fails."""
    raise ValueError("tool exploded")


def _two_parallel_calls(tool_name: str) -> ScriptedChat:
    """A model that asks for ``tool_name`` twice in one message (Paris, Oslo), then answers."""
    return ScriptedChat(
        responses=[
            calling(
                tool_call(tool_name, {"city": "Paris"}, "c1"),
                tool_call(tool_name, {"city": "Oslo"}, "c2"),
            ),
            answer("done"),
        ]
    )


def _question() -> dict[str, Any]:
    return {"messages": [HumanMessage("what is 1+2?")]}


def _run(agent: Any, mode: str, config: dict[str, Any]) -> None:
    if mode == "invoke":
        agent.invoke(_question(), config)
    elif mode == "ainvoke":
        asyncio.run(agent.ainvoke(_question(), config))
    elif mode == "stream":
        for _ in agent.stream(_question(), config):
            pass
    else:

        async def consume() -> None:
            async for _ in agent.astream(_question(), config):
                pass

        asyncio.run(consume())


@pytest.fixture(autouse=True)
def _clear_seen() -> None:
    SEEN.clear()


@pytest.mark.parametrize(
    "factory", [f for _, f in AGENT_FACTORIES], ids=[n for n, _ in AGENT_FACTORIES]
)
@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
def test_agent_tree(exporter: Any, mode: str, factory: Callable[..., Any]) -> None:
    adder = aadd if mode.startswith("a") else add
    model = ScriptedChat(
        responses=[calling(tool_call(adder.name, {"a": 1, "b": 2}, "call_1")), answer()]
    )
    agent = factory(model, [adder])
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("outer") as outer:
        _run(agent, mode, {"configurable": {"thread_id": "T-42"}})
        # Nothing leaks into the caller's context.
        assert trace.get_current_span() is outer

    spans = exporter.get_finished_spans()
    shape = tree(spans)
    root = one(spans, "invoke_agent LangGraph")
    assert parent_of(spans, root).name == "outer", shape
    assert root.attributes["gen_ai.agent.name"] == "LangGraph"
    chats = by_operation(spans, "chat")
    assert len(chats) == 2, shape
    tool_span = one(spans, f"execute_tool {adder.name}")
    # Every span carries the session from configurable.thread_id.
    for span in [root, *chats, tool_span]:
        assert span.attributes["agent.session_id"] == "T-42"
        assert span.attributes["gen_ai.conversation.id"] == "T-42"
    # Nodes are steps under the agent; chat and tool spans sit in their nodes.
    steps = by_operation(spans, "agent_step")
    assert {s.attributes["agent.step.name"] for s in steps} <= {"agent", "tools", "model"}
    assert all(parent_of(spans, s) is root for s in steps), shape
    for chat in chats:
        assert ancestors(spans, chat)[-2:] == ["invoke_agent LangGraph", "outer"], shape
        assert parent_of(spans, chat).attributes["gen_ai.operation.name"] == "agent_step"
    assert parent_of(spans, tool_span).name == "tools", shape
    # Requested tool call -> id, link and usage.
    assert tool_span.attributes["gen_ai.tool.call.id"] == "call_1"
    assert tool_span.attributes["request.parameters.hash"].startswith("sha256:")
    (link,) = tool_span.links
    assert link.context.span_id == chats[0].context.span_id
    assert chats[0].attributes["gen_ai.response.id"] == "resp-1"
    assert chats[0].attributes["gen_ai.usage.input_tokens"] == 10
    assert chats[0].attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    # While each ran, its span was the current span (so HTTP and nested spans nest under it).
    assert model.seen == ["chat", "chat"]
    assert [(tool_span.attributes["gen_ai.tool.name"], tool_span.name)] == SEEN
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


def test_parallel_tool_calls_in_threads(exporter: Any) -> None:
    threads: list[str] = []

    @tool
    def where(city: str) -> str:
        """Where am I."""
        threads.append(threading.current_thread().name)
        SEEN.append((city, current_span_name()))
        return city

    model = _two_parallel_calls("where")
    _, factory = AGENT_FACTORIES[0]
    factory(model, [where]).invoke(_question())

    spans = exporter.get_finished_spans()
    tools = named(spans, "execute_tool where")
    assert sorted(s.attributes["gen_ai.tool.call.id"] for s in tools) == ["c1", "c2"]
    (chat, _) = by_operation(spans, "chat")
    for span in tools:
        assert parent_of(spans, span).name == "tools"
        assert span.links[0].context.span_id == chat.context.span_id
        # Hashes differ with the arguments.
    assert len({s.attributes["request.parameters.hash"] for s in tools}) == 2
    assert sorted(SEEN) == [("Oslo", "execute_tool where"), ("Paris", "execute_tool where")]


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_failing_tool(exporter: Any, mode: str) -> None:
    model = ScriptedChat(
        responses=[calling(tool_call("boom", {"x": 1}, "call_b")), answer("sorry")]
    )
    from langgraph.prebuilt import ToolNode

    _, factory = AGENT_FACTORIES[0]
    _run(factory(model, ToolNode([boom], handle_tool_errors=True)), mode, {})

    spans = exporter.get_finished_spans()
    failed = one(spans, "execute_tool boom")
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "ValueError"
    assert [e.name for e in failed.events] == ["exception"]
    assert failed.attributes["gen_ai.tool.call.id"] == "call_b"
    assert len(failed.links) == 1
    # ToolNode turned the error into a message: the agent itself did not fail.
    assert one(spans, "invoke_agent LangGraph").status.status_code is StatusCode.UNSET


def test_model_error_fails_chat_and_agent(exporter: Any) -> None:
    class Broken(ScriptedChat):
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("model down")

    _, factory = AGENT_FACTORIES[0]
    with pytest.raises(RuntimeError, match="model down"):
        factory(Broken(responses=[answer()]), [add]).invoke(_question())
    spans = exporter.get_finished_spans()
    (chat,) = by_operation(spans, "chat")
    assert chat.status.status_code is StatusCode.ERROR
    assert chat.attributes["error.type"] == "RuntimeError"
    assert one(spans, "invoke_agent LangGraph").status.status_code is StatusCode.ERROR


def test_named_agent_and_subagent(exporter: Any) -> None:
    """A named agent used as a tool's body becomes its own invoke_agent span."""
    inner_model = ScriptedChat(responses=[answer("inner")])
    _, factory = AGENT_FACTORIES[0]

    def named_agent(model: Any, tools: list[Any], name: str) -> Any:
        try:
            return factory(model, tools, name=name)
        except TypeError:  # langgraph 0.2: no name=, a run name does the same
            return factory(model, tools).with_config(run_name=name)

    inner = named_agent(inner_model, [add], "researcher")

    @tool
    def research(topic: str) -> str:
        """Ask the researcher."""
        return str(inner.invoke({"messages": [HumanMessage(topic)]})["messages"][-1].content)

    outer_model = ScriptedChat(
        responses=[calling(tool_call("research", {"topic": "x"}, "r1")), answer()]
    )
    named_agent(outer_model, [research], "boss").invoke(_question())
    spans = exporter.get_finished_spans()
    researcher = one(spans, "invoke_agent researcher")
    assert ancestors(spans, researcher)[:3] == [
        "execute_tool research",
        "tools",
        "invoke_agent boss",
    ]


def test_interrupt_and_resume_in_tool(exporter: Any) -> None:
    types = interrupt_api()

    @tool
    def approve(action: str) -> str:
        """Ask a human."""
        return str(types.interrupt(f"approve {action}?"))

    model = ScriptedChat(
        responses=[
            calling(tool_call("approve", {"action": "deploy"}, "call_a")),
            answer("deployed"),
        ]
    )
    _, factory = AGENT_FACTORIES[0]
    agent = factory(model, [approve], checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "T-int"}}
    first = agent.invoke(_question(), config)
    assert "__interrupt__" in first
    spans = exporter.get_finished_spans()
    assert all(s.status.status_code is not StatusCode.ERROR for s in spans), tree(spans)
    paused = one(spans, "execute_tool approve")
    assert paused.attributes["gen_ai.tool.call.id"] == "call_a"
    exporter.clear()

    agent.invoke(types.Command(resume="yes"), config)
    spans = exporter.get_finished_spans()
    resumed = one(spans, "invoke_agent LangGraph")
    assert resumed.attributes["agent.session_id"] == "T-int"
    assert one(spans, "execute_tool approve").status.status_code is StatusCode.UNSET
    assert len(by_operation(spans, "chat")) == 1
    assert all(s.status.status_code is not StatusCode.ERROR for s in spans), tree(spans)


def test_agent_executor(exporter: Any) -> None:
    agents = pytest.importorskip("langchain.agents")
    if not hasattr(agents, "AgentExecutor"):
        pytest.skip("langchain 1.x has no AgentExecutor")
    from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

    model = ScriptedChat(
        responses=[calling(tool_call("add", {"a": 1, "b": 2}, "call_9")), answer()]
    )
    prompt = ChatPromptTemplate.from_messages(
        [("human", "{input}"), MessagesPlaceholder("agent_scratchpad")]
    )
    executor = agents.AgentExecutor(
        agent=agents.create_tool_calling_agent(model, [add], prompt), tools=[add]
    )
    executor.invoke({"input": "1+2"}, {"metadata": {"session_id": "S-exec"}})

    spans = exporter.get_finished_spans()
    root = one(spans, "invoke_agent AgentExecutor")
    tool_span = one(spans, "execute_tool add")
    assert parent_of(spans, tool_span) is root
    assert tool_span.attributes["gen_ai.tool.call.id"] == "call_9"
    assert tool_span.attributes["agent.session_id"] == "S-exec"
    assert len(by_operation(spans, "chat")) == 2
    assert SEEN == [("add", "execute_tool add")]


def test_abandoned_graph_stream_ends_every_span(exporter: Any, instrumented: Any) -> None:
    model = ScriptedChat(
        responses=[calling(tool_call("add", {"a": 1, "b": 2}, "call_1")), answer()]
    )
    _, factory = AGENT_FACTORIES[0]
    stream = factory(model, [add]).stream(_question())
    next(stream)  # the first node's update, then the caller walks away
    stream.close()
    spans = exporter.get_finished_spans()
    root = one(spans, "invoke_agent LangGraph")
    assert root.status.status_code is StatusCode.UNSET
    assert len(instrumented._state.handler._runs) == 0
    assert not trace.get_current_span().get_span_context().is_valid


def test_parallel_async_tools(exporter: Any) -> None:
    @tool
    async def fetch(city: str) -> str:
        """Fetch, asynchronously."""
        await asyncio.sleep(0.01)
        SEEN.append((city, current_span_name()))
        return city

    model = _two_parallel_calls("fetch")
    _, factory = AGENT_FACTORIES[0]
    asyncio.run(factory(model, [fetch]).ainvoke(_question()))
    spans = exporter.get_finished_spans()
    tools = named(spans, "execute_tool fetch")
    assert sorted(s.attributes["gen_ai.tool.call.id"] for s in tools) == ["c1", "c2"]
    assert all(parent_of(spans, s).name == "tools" for s in tools)
    assert sorted(SEEN) == [("Oslo", "execute_tool fetch"), ("Paris", "execute_tool fetch")]


def test_graph_token_stream_records_first_chunk(exporter: Any) -> None:
    import importlib.util

    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk

    if not any(
        importlib.util.find_spec(name)
        for name in ("langgraph.pregel.messages", "langgraph.pregel._messages")
    ):
        pytest.skip("langgraph without message streaming")

    class Streaming(ScriptedChat):
        def _stream(
            self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any
        ) -> Any:
            for piece in ("th", "ree"):
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk

    _, factory = AGENT_FACTORIES[0]
    agent = factory(Streaming(responses=[answer()]), [add])
    tokens = [c for c, _ in agent.stream(_question(), stream_mode="messages")]
    assert "".join(str(t.content) for t in tokens) == "three"
    (chat,) = by_operation(exporter.get_finished_spans(), "chat")
    assert chat.attributes["gen_ai.response.time_to_first_chunk"] >= 0
