"""LangChain's ``ChatAnthropic`` and LlamaIndex's ``Anthropic`` with this layer on too: one
``chat`` span per request, the framework's, enriched by this layer; tool links through both."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from ant_support import SDK_SCOPE, chat_spans

from instrumentors import semconv
from tests.fakes.anthropic_server import FakeAnthropicServer, Reply, ToolUse

pytest.importorskip("anthropic")

MODEL = "claude-sonnet-4-5-20250929"  # a name both frameworks know


def _ours(spans: Any) -> list[Any]:
    return [s for s in spans if s.instrumentation_scope.name != SDK_SCOPE]


# ----------------------------------------------------------------------------- LangChain


@pytest.fixture
def langchain_layer(instrumented: Any) -> Iterator[None]:
    pytest.importorskip("langchain_anthropic")
    from instrumentors.langchain import LangChainInstrumentor

    instrumentor = LangChainInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


def _chat_anthropic(server: FakeAnthropicServer, **kwargs: Any) -> Any:
    from langchain_anthropic import ChatAnthropic

    return ChatAnthropic(
        model=MODEL, anthropic_api_url=server.base_url, api_key="sk-ant-test", max_retries=0,
        **kwargs,
    )  # fmt: skip


@pytest.mark.usefixtures("langchain_layer")
@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream"])
def test_chat_anthropic_gives_one_chat_span(exporter: Any, server: Any, mode: str) -> None:
    server.script(Reply(text="Sunny in Paris.", id="msg_lc1"))
    llm = _chat_anthropic(server)
    if mode == "invoke":
        text = llm.invoke("Weather in Paris?").content
    elif mode == "ainvoke":
        text = asyncio.run(llm.ainvoke("Weather in Paris?")).content
    else:
        text = "".join(str(chunk.content) for chunk in llm.stream("Weather in Paris?"))
    assert text == "Sunny in Paris."
    spans = _ours(exporter.get_finished_spans())
    (chat,) = chat_spans(spans)
    assert chat.instrumentation_scope.name == "instrumentors.langchain"
    assert chat.attributes[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert chat.attributes[semconv.GEN_AI_RESPONSE_ID] == "msg_lc1"
    assert tuple(chat.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("end_turn",)
    assert chat.attributes[semconv.SERVER_PORT] == server.port  # enriched by this layer
    assert len(server.requests) == 1
    assert [
        s for s in exporter.get_finished_spans() if s.instrumentation_scope.name == SDK_SCOPE
    ] == []


@pytest.mark.usefixtures("langchain_layer")
def test_langchain_agent_tool_links_to_the_chat_span(exporter: Any, server: Any) -> None:
    from langchain_core.messages import HumanMessage
    from langchain_core.tools import tool

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    try:
        from langchain.agents import create_agent as factory
    except ImportError:  # langgraph 0.x
        from langgraph.prebuilt import create_react_agent as factory

    server.script(Reply.tools(ToolUse("add", {"a": 1, "b": 2}, id="toolu_lc7")), Reply(text="3"))
    agent = factory(_chat_anthropic(server), [add])
    agent.invoke({"messages": [HumanMessage("1+2?")]}, {"configurable": {"thread_id": "T-ant"}})
    spans = _ours(exporter.get_finished_spans())
    first, _ = sorted(chat_spans(spans), key=lambda s: s.start_time)
    (tool_span,) = [s for s in spans if s.name == "execute_tool add"]
    assert tool_span.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "toolu_lc7"
    assert tool_span.links[0].context.span_id == first.context.span_id
    assert tuple(first.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_use",)
    assert len(chat_spans(spans)) == len(server.requests) == 2
    assert {s.attributes.get("agent.session_id") for s in spans} == {"T-ant"}


# ----------------------------------------------------------------------------- LlamaIndex


def _llama_index_fits_this_sdk() -> bool:
    """llama-index-llms-anthropic (0.12 at least) calls ``MessageParam(...)`` (a Union in 2.x)
    and passes ``temperature`` to ``messages.create`` (gone in 1.x): it runs on 0.x only,
    which the ``anthropic-0`` compat line tests."""
    import inspect

    from anthropic.resources.messages.messages import Messages
    from anthropic.types import MessageParam

    try:
        MessageParam(role="user", content="x")
    except TypeError:
        return False
    return "temperature" in inspect.signature(Messages.create).parameters


@pytest.fixture
def llama_index_layer(instrumented: Any) -> Iterator[None]:
    pytest.importorskip("llama_index.llms.anthropic")
    if not _llama_index_fits_this_sdk():
        pytest.skip("llama-index-llms-anthropic runs on anthropic 0.x only")
    from instrumentors.llama_index import LlamaIndexInstrumentor

    instrumentor = LlamaIndexInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


def _llama_anthropic(server: FakeAnthropicServer) -> Any:
    from llama_index.llms.anthropic import Anthropic

    return Anthropic(model=MODEL, base_url=server.base_url, api_key="sk-ant-test", max_retries=0)


@pytest.mark.usefixtures("llama_index_layer")
@pytest.mark.parametrize("mode", ["chat", "stream_chat", "achat"])
def test_llama_index_anthropic_gives_one_chat_span(exporter: Any, server: Any, mode: str) -> None:
    from llama_index.core.llms import ChatMessage

    server.script(Reply(text="Sunny.", id="msg_li1"))
    llm = _llama_anthropic(server)
    messages = [ChatMessage(role="user", content="Weather?")]
    if mode == "chat":
        text = llm.chat(messages).message.content
    elif mode == "achat":
        text = asyncio.run(llm.achat(messages)).message.content
    else:
        text = "".join(r.delta or "" for r in llm.stream_chat(messages))
    assert text == "Sunny."
    (chat,) = chat_spans(_ours(exporter.get_finished_spans()))
    assert chat.instrumentation_scope.name == "instrumentors.llama_index"
    assert chat.attributes[semconv.GEN_AI_RESPONSE_ID] == "msg_li1"
    assert chat.attributes[semconv.SERVER_PORT] == server.port  # enriched by this layer
    assert len(server.requests) == 1
