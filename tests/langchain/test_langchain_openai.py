"""``ChatOpenAI`` against the local OpenAI-wire server: real HTTP, real SDK, real agents; and
one ``chat`` span per request when the OpenAI instrumentor is active too."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from lc_support import AGENT_FACTORIES, by_operation, one, parent_of, tree

langchain_openai = pytest.importorskip("langchain_openai")

from tests.fakes.openai_server import FakeOpenAIServer, Reply, ToolCall  # noqa: E402

pytestmark = pytest.mark.usefixtures("instrumented")


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def openai_layer() -> Iterator[None]:
    """The OpenAI SDK instrumentor, active at the same time (skipped if unavailable)."""
    try:
        from instrumentors.openai import OpenAIInstrumentor
    except ImportError:
        pytest.skip("instrumentors.openai is not available")
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


def _llm(server: FakeOpenAIServer, **kwargs: Any) -> Any:
    return langchain_openai.ChatOpenAI(
        model="gpt-4o-mini", base_url=server.base_url, api_key="test", max_retries=0, **kwargs
    )


def _agent_run(server: FakeOpenAIServer, mode: str) -> None:
    server.script(Reply.tools(ToolCall("add", '{"a": 1, "b": 2}', id="call_7")), Reply(text="3"))
    _, factory = AGENT_FACTORIES[-1]
    agent = factory(_llm(server), [add])
    question = {"messages": [HumanMessage("1+2?")]}
    if mode == "invoke":
        agent.invoke(question, {"configurable": {"thread_id": "T-oai"}})
    else:
        asyncio.run(agent.ainvoke(question, {"configurable": {"thread_id": "T-oai"}}))


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_agent_with_chat_openai(exporter: Any, server: FakeOpenAIServer, mode: str) -> None:
    _agent_run(server, mode)
    spans = exporter.get_finished_spans()
    first, second = by_operation(spans, "chat")
    assert first.name == "chat gpt-4o-mini"
    assert first.attributes["gen_ai.provider.name"] == "openai"
    assert first.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    # langchain-openai 0.2 does not report the response id (the OpenAI layer would).
    assert first.attributes.get("gen_ai.response.id", "chatcmpl-").startswith("chatcmpl-")
    assert first.attributes["gen_ai.usage.input_tokens"] == 11
    assert first.attributes["gen_ai.usage.output_tokens"] == 7
    assert first.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert second.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    tool_span = one(spans, "execute_tool add")
    assert tool_span.attributes["gen_ai.tool.call.id"] == "call_7"
    assert tool_span.links[0].context.span_id == first.context.span_id
    assert {s.attributes.get("agent.session_id") for s in spans} == {"T-oai"}
    assert len(server.requests) == 2


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_chat_openai_streaming(exporter: Any, server: FakeOpenAIServer, mode: str) -> None:
    llm = _llm(server, stream_usage=True)
    if mode == "stream":
        text = "".join(str(c.content) for c in llm.stream("hi"))
    else:

        async def consume() -> str:
            return "".join([str(c.content) async for c in llm.astream("hi")])

        text = asyncio.run(consume())
    assert text == "Hello from the fake model."
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert span.attributes["gen_ai.usage.output_tokens"] == 7
    assert span.attributes["gen_ai.response.time_to_first_chunk"] >= 0


@pytest.mark.usefixtures("openai_layer")
@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_one_chat_span_per_request_with_openai_instrumentor(
    exporter: Any, server: FakeOpenAIServer, mode: str
) -> None:
    _agent_run(server, mode)
    spans = exporter.get_finished_spans()
    chats = by_operation(spans, "chat")
    assert len(chats) == len(server.requests) == 2, tree(spans)
    for chat in chats:
        assert chat.instrumentation_scope.name == "instrumentors.langchain"
        assert parent_of(spans, chat).attributes["gen_ai.operation.name"] == "agent_step"
        # Enriched by the OpenAI layer.
        assert chat.attributes["server.address"] == "127.0.0.1"


@pytest.mark.usefixtures("openai_layer")
@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_one_chat_span_per_stream_with_openai_instrumentor(
    exporter: Any, server: FakeOpenAIServer, mode: str
) -> None:
    llm = _llm(server)
    if mode == "stream":
        chunks = list(llm.stream("hi"))
    else:

        async def consume() -> list[Any]:
            return [c async for c in llm.astream("hi")]

        chunks = asyncio.run(consume())
    assert chunks
    (chat,) = exporter.get_finished_spans()
    assert chat.instrumentation_scope.name == "instrumentors.langchain"
    assert chat.attributes["server.address"] == "127.0.0.1"
    # LangChain's streamed message has no response id; the OpenAI layer supplies it.
    assert chat.attributes["gen_ai.response.id"].startswith("chatcmpl-")
