"""One chat span per request when a framework layer sees the same Gemini request: LangChain's
``ChatGoogleGenerativeAI`` and LlamaIndex's ``GoogleGenAI`` over real HTTP, with their
instrumentors and ours on. The framework's span owns the request; ours enriches it.

Each part skips itself where its integration does not install next to the installed
google-genai (llama-index-llms-google-genai holds google-genai below 3: the nox compat
line for google-genai 2.x runs it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from genai_support import MODEL, events

from tests._spans import by_name, one
from tests.fakes.gemini_server import Call, FakeGeminiServer, Reply

pytest.importorskip("google.genai")
pytestmark = pytest.mark.usefixtures("instrumented")

CHAT = f"chat {MODEL}"


def _model_spans(spans: Any) -> list[Any]:
    """The model-call spans (``chat``, and LlamaIndex's ``text_completion`` for ``complete``)."""
    operations = ("chat", "text_completion")
    return [s for s in spans if (s.attributes or {}).get("gen_ai.operation.name") in operations]


def _enriched(span: Any, server: FakeGeminiServer) -> None:
    """What only our layer knows, on the framework's span."""
    assert span.attributes["server.address"] == "127.0.0.1"
    assert span.attributes["server.port"] == server.port
    assert span.attributes["gen_ai.response.id"].startswith("resp-")


# ----------------------------------------------------------------------------- LangChain


@pytest.fixture
def langchain_layer() -> Iterator[Any]:
    pytest.importorskip("langchain_core")
    genai_lc = pytest.importorskip("langchain_google_genai")
    from instrumentors.langchain import LangChainInstrumentor

    instrumentor = LangChainInstrumentor()
    instrumentor.instrument()
    yield genai_lc
    instrumentor.uninstrument()


def _lc_model(genai_lc: Any, server: FakeGeminiServer) -> Any:
    return genai_lc.ChatGoogleGenerativeAI(
        model=MODEL, google_api_key="test-key", base_url=server.base_url, max_retries=2
    )


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_langchain_one_span_per_request(exporter, server, langchain_layer, mode) -> None:
    server.script(Reply.failure(429), Reply())
    llm = _lc_model(langchain_layer, server)
    message = llm.invoke("hi") if mode == "invoke" else asyncio.run(llm.ainvoke("hi"))
    assert message.content == "Hello from the fake Gemini."
    (span,) = exporter.get_finished_spans()
    assert span.name == CHAT
    assert span.instrumentation_scope.name == "instrumentors.langchain"
    _enriched(span, server)
    assert span.attributes["gen_ai.usage.input_tokens"] == 11
    # The SDK's retry, seen by our layer, lands on the framework's span, once.
    assert len(events(span, "retry.attempted")) == 1
    assert len(events(span, "rate.limit.invoked")) == 1


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_langchain_one_span_per_stream(exporter, server, langchain_layer, mode) -> None:
    llm = _lc_model(langchain_layer, server)
    if mode == "stream":
        text = "".join(str(c.content) for c in llm.stream("hi"))
    else:

        async def consume() -> str:
            return "".join([str(c.content) async for c in llm.astream("hi")])

        text = asyncio.run(consume())
    assert text == "Hello from the fake Gemini."
    (span,) = exporter.get_finished_spans()
    assert span.instrumentation_scope.name == "instrumentors.langchain"
    _enriched(span, server)
    assert span.attributes["gen_ai.response.time_to_first_chunk"] >= 0


def test_langchain_agent_with_a_tool(exporter, server, langchain_layer) -> None:
    agents = pytest.importorskip("langchain.agents")
    from langchain_core.tools import tool

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    server.script(Reply.with_calls(Call("add", {"a": 1, "b": 2})), Reply(text="3"))
    agent = agents.create_agent(_lc_model(langchain_layer, server), [add])
    result = agent.invoke({"messages": [("user", "1+2?")]})
    assert result["messages"][-1].content == "3"
    spans = exporter.get_finished_spans()
    chats = by_name(spans, CHAT)
    assert len(chats) == len(server.requests) == 2
    assert all(c.instrumentation_scope.name == "instrumentors.langchain" for c in chats)
    tool_span = one(spans, "execute_tool add")
    assert tool_span.links[0].context.span_id == chats[0].context.span_id


# ----------------------------------------------------------------------------- LlamaIndex


@pytest.fixture
def llama_index_layer() -> Iterator[Any]:
    pytest.importorskip("llama_index.core")
    li_genai = pytest.importorskip("llama_index.llms.google_genai")
    from instrumentors.llama_index import LlamaIndexInstrumentor

    instrumentor = LlamaIndexInstrumentor()
    instrumentor.instrument()
    yield li_genai
    instrumentor.uninstrument()


def _li_model(li_genai: Any, server: FakeGeminiServer) -> Any:
    from google.genai import types

    retry = types.HttpRetryOptions(attempts=2, initial_delay=0.01)
    options = types.HttpOptions(base_url=server.base_url, retry_options=retry)
    return li_genai.GoogleGenAI(model=MODEL, api_key="test-key", http_options=options)


@pytest.mark.parametrize("mode", ["chat", "achat", "stream_chat", "complete"])
def test_llama_index_one_span_per_request(exporter, server, llama_index_layer, mode) -> None:
    from llama_index.core.llms import ChatMessage

    server.script(Reply.failure(429), Reply())
    llm = _li_model(llama_index_layer, server)
    messages = [ChatMessage(role="user", content="hi")]
    if mode == "chat":
        text = str(llm.chat(messages).message.content)
    elif mode == "achat":
        text = str(asyncio.run(llm.achat(messages)).message.content)
    elif mode == "stream_chat":
        text = "".join(c.delta or "" for c in llm.stream_chat(messages))
    else:
        text = llm.complete("hi").text
    assert text == "Hello from the fake Gemini."
    (span,) = _model_spans(exporter.get_finished_spans())
    assert span.instrumentation_scope.name == "instrumentors.llama_index"
    _enriched(span, server)
    assert len(events(span, "retry.attempted")) == 1
    assert len(events(span, "rate.limit.invoked")) == 1
