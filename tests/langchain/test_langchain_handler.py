"""The handler on its own and the pieces around runs: retrievers, sessions, content capture,
completion LLMs, the span current in chains, threads, and the one-span merge with
``@instrumentors.tool`` (the LLM cache: test_langchain_cache.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.messages import HumanMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import tool
from lc_support import (
    AGENT_FACTORIES,
    ScriptedChat,
    answer,
    by_operation,
    calling,
    current_span_name,
    named,
    one,
    parent_of,
    tool_call,
    tree,
)
from opentelemetry import trace

import instrumentors
from instrumentors.langchain import TracingCallbackHandler

SEEN: list[str] = []


@pytest.fixture(autouse=True)
def _clear_seen() -> None:
    SEEN.clear()


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    SEEN.append(current_span_name())
    return a + b


class Docs(BaseRetriever):
    """Two documents, whatever the query."""

    def _get_relevant_documents(self, query: str, *, run_manager: Any = None) -> list[Document]:
        SEEN.append(current_span_name())
        return [Document(page_content="a"), Document(page_content="b")]


def _agent(**kwargs: Any) -> tuple[Any, ScriptedChat]:
    model = ScriptedChat(
        responses=[calling(tool_call("add", {"a": 1, "b": 2}, "call_1")), answer()]
    )
    _, factory = AGENT_FACTORIES[0]
    return factory(model, [add], **kwargs), model


# --------------------------------------------------------------------------- explicit handler


def test_explicit_handler_sync(exporter: Any) -> None:
    agent, model = _agent()
    handler = TracingCallbackHandler()
    agent.invoke({"messages": [HumanMessage("1+2")]}, {"callbacks": [handler]})

    spans = exporter.get_finished_spans()
    root = one(spans, "invoke_agent LangGraph")
    tool_span = one(spans, "execute_tool add")
    assert parent_of(spans, parent_of(spans, tool_span)) is root, tree(spans)
    assert len(by_operation(spans, "chat")) == 2
    assert tool_span.links
    # Sync runs: the handler itself makes each run's span current.
    assert model.seen == ["chat", "chat"]
    assert SEEN == ["execute_tool add"]
    assert len(handler._runs) == 0


def test_explicit_handler_async(exporter: Any) -> None:
    agent, _ = _agent()
    handler = TracingCallbackHandler()
    tracer = trace.get_tracer("test")

    async def main() -> None:
        with tracer.start_as_current_span("outer") as outer:
            await agent.ainvoke({"messages": [HumanMessage("1+2")]}, {"callbacks": [handler]})
            assert trace.get_current_span() is outer

    asyncio.run(main())
    spans = exporter.get_finished_spans()
    root = one(spans, "invoke_agent LangGraph")
    assert parent_of(spans, root).name == "outer"
    assert parent_of(spans, parent_of(spans, one(spans, "execute_tool add"))) is root
    assert len(by_operation(spans, "chat")) == 2
    assert len(handler._runs) == 0


def test_explicit_handler_and_instrumentor_give_one_span_each(
    exporter: Any, instrumented: Any
) -> None:
    agent, model = _agent()
    agent.invoke({"messages": [HumanMessage("1+2")]}, {"callbacks": [TracingCallbackHandler()]})
    spans = exporter.get_finished_spans()
    assert len(named(spans, "execute_tool add")) == 1, tree(spans)
    assert len(by_operation(spans, "chat")) == 2, tree(spans)
    assert model.seen == ["chat", "chat"]


def test_handler_with_own_provider() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    own = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(own))
    add.invoke({"a": 1, "b": 2}, {"callbacks": [TracingCallbackHandler(tracer_provider=provider)]})
    (span,) = own.get_finished_spans()
    assert span.name == "execute_tool add"
    assert span.instrumentation_scope.name == "instrumentors.langchain"


# --------------------------------------------------------------------------- retrievers


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_retriever_span(exporter: Any, instrumented: Any, mode: str) -> None:
    retriever = Docs()
    if mode == "invoke":
        docs = retriever.invoke("what?")
    else:
        docs = asyncio.run(retriever.ainvoke("what?"))
    assert len(docs) == 2
    (span,) = exporter.get_finished_spans()
    assert span.name == "retrieval Docs"
    assert span.attributes["gen_ai.operation.name"] == "retrieval"
    assert span.attributes["gen_ai.data_source.id"] == "Docs"
    assert span.attributes["retrieval.documents.count"] == 2
    assert SEEN == ["retrieval Docs"]


# --------------------------------------------------------------------------- sessions


@pytest.mark.parametrize("key", ["session_id", "conversation_id", "thread_id"])
def test_session_from_metadata(exporter: Any, instrumented: Any, key: str) -> None:
    ScriptedChat(responses=[answer()]).invoke("q", {"metadata": {key: "S-7"}})
    (span,) = exporter.get_finished_spans()
    assert span.attributes["agent.session_id"] == "S-7"
    assert span.attributes["gen_ai.conversation.id"] == "S-7"


def test_explicit_session_wins(exporter: Any, instrumented: Any) -> None:
    agent, _ = _agent()
    with instrumentors.session("explicit"):
        agent.invoke({"messages": [HumanMessage("1+2")]}, {"configurable": {"thread_id": "T-1"}})
    spans = exporter.get_finished_spans()
    assert {s.attributes["agent.session_id"] for s in spans} == {"explicit"}


def test_no_session(exporter: Any, instrumented: Any) -> None:
    ScriptedChat(responses=[answer()]).invoke("q")
    (span,) = exporter.get_finished_spans()
    assert "agent.session_id" not in span.attributes


# --------------------------------------------------------------------------- spans and content


def test_chat_attributes_without_content(exporter: Any, instrumented: Any) -> None:
    model = ScriptedChat(responses=[answer("hello")])
    model.invoke("hi", stop=["END"])
    (span,) = exporter.get_finished_spans()
    attrs = span.attributes
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "scripted"
    assert attrs["gen_ai.response.model"] == "scripted-1"
    assert attrs["gen_ai.response.id"] == "resp-2"
    assert attrs["gen_ai.usage.input_tokens"] == 10
    assert attrs["gen_ai.usage.output_tokens"] == 3
    assert attrs["gen_ai.request.stop_sequences"] == ("END",)
    assert "gen_ai.input.messages" not in attrs
    assert "gen_ai.output.messages" not in attrs


def test_content_capture(exporter: Any, settings_env: Any) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    handler = TracingCallbackHandler()
    agent, _ = _agent()
    agent.invoke({"messages": [HumanMessage("what is 1+2")]}, {"callbacks": [handler]})
    spans = exporter.get_finished_spans()
    first, second = by_operation(spans, "chat")
    inputs = json.loads(first.attributes["gen_ai.input.messages"])
    assert inputs[-1]["role"] == "user"
    assert inputs[-1]["parts"][0]["content"] == "what is 1+2"
    outputs = json.loads(first.attributes["gen_ai.output.messages"])
    assert outputs[0]["parts"][0]["name"] == "add"
    history = json.loads(second.attributes["gen_ai.input.messages"])
    assert [m["role"] for m in history] == ["user", "assistant", "tool"]
    tool_span = one(spans, "execute_tool add")
    assert json.loads(tool_span.attributes["gen_ai.tool.call.arguments"]) == {"a": 1, "b": 2}
    assert "3" in tool_span.attributes["gen_ai.tool.call.result"]


class SeenLLM(FakeListLLM):
    """A completion LLM that records the span current while it generates."""

    def _call(self, prompt: str, stop: Any = None, run_manager: Any = None, **kw: Any) -> str:
        SEEN.append(current_span_name())
        return super()._call(prompt, stop, run_manager, **kw)

    async def _acall(
        self, prompt: str, stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> str:
        SEEN.append(current_span_name())
        return await super()._acall(prompt, stop, run_manager, **kw)


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_completion_llm(exporter: Any, instrumented: Any, mode: str) -> None:
    llm = SeenLLM(responses=["done"])
    result = llm.invoke("prompt") if mode == "invoke" else asyncio.run(llm.ainvoke("prompt"))
    assert result == "done"
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.operation.name"] == "text_completion"
    assert span.name.startswith("text_completion")
    # Its span is current while it generates (async: its start callback ran in another task).
    assert [span.name] == SEEN


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_chain_span_current_in_its_steps(exporter: Any, instrumented: Any, mode: str) -> None:
    """A root chain's step span is current in the code its children run (their context copy)."""
    from langchain_core.runnables import RunnableLambda

    def record(value: int) -> int:
        SEEN.append(current_span_name())
        return value + 1

    async def arecord(value: int) -> int:
        return record(value)

    chain = RunnableLambda(record, afunc=arecord) | RunnableLambda(record, afunc=arecord)
    result = chain.invoke(1) if mode == "invoke" else asyncio.run(chain.ainvoke(1))
    assert result == 3
    (step,) = exporter.get_finished_spans()
    assert step.name == "RunnableSequence"
    assert SEEN == ["RunnableSequence", "RunnableSequence"]


def test_threads_started_after_instrument(exporter: Any, instrumented: Any) -> None:
    """Every callback manager gets the handler, also in a thread that did not exist at
    ``instrument()`` (a context variable set then would not be seen there)."""
    import threading

    model = ScriptedChat(responses=[answer()])
    thread = threading.Thread(target=lambda: model.invoke("q"))
    thread.start()
    thread.join()
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.operation.name"] == "chat"
    assert model.seen == ["chat"]


def test_root_chain_is_a_step(exporter: Any, instrumented: Any) -> None:
    from langchain_core.prompts import ChatPromptTemplate

    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | ScriptedChat(
        responses=[answer()]
    )
    chain.invoke({"q": "x"})
    spans = exporter.get_finished_spans()
    step = one(spans, "RunnableSequence")
    assert step.attributes["agent.step.name"] == "RunnableSequence"
    (chat,) = by_operation(spans, "chat")
    assert parent_of(spans, chat) is step
    assert len(spans) == 2, tree(spans)  # the prompt template adds no span


def test_tool_merges_with_instrumentors_tool(exporter: Any, instrumented: Any) -> None:
    @tool
    @instrumentors.tool
    def lookup(city: str) -> str:
        """Look a city up."""
        return city.upper()

    model = ScriptedChat(
        responses=[calling(tool_call("lookup", {"city": "paris"}, "call_m")), answer()]
    )
    _, factory = AGENT_FACTORIES[0]
    factory(model, [lookup]).invoke({"messages": [HumanMessage("x")]})
    spans = exporter.get_finished_spans()
    (span,) = named(spans, "execute_tool lookup")
    assert span.attributes["gen_ai.tool.call.id"] == "call_m"
    assert span.instrumentation_scope.name == "instrumentors.langchain"


def test_tool_call_id_on_direct_tool_call(exporter: Any, instrumented: Any) -> None:
    add.invoke({"type": "tool_call", "id": "call_x", "name": "add", "args": {"a": 1, "b": 2}})
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.tool.call.id"] == "call_x"
    assert span.attributes["tool.name"] == "add"
    assert span.attributes["gen_ai.tool.description"] == "Add two integers."
