"""llama-index-llms-openai against the local OpenAI-wire server: chat, streams, agents, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("llama_index.llms.openai")

from li_support import add, by_name, one, parent_of
from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent
from llama_index.core.llms import ChatMessage
from llama_index.llms.openai import OpenAI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from instrumentors import semconv
from instrumentors.llama_index import LlamaIndexInstrumentor
from tests.fakes.openai_server import FakeOpenAIServer, Reply, ToolCall

MESSAGES = [ChatMessage(role="user", content="hi")]
CHAT = "chat gpt-4o-mini"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def model(server: FakeOpenAIServer, **kwargs: Any) -> OpenAI:
    return OpenAI(
        model="gpt-4o-mini", api_base=server.base_url, api_key="sk-test", max_retries=0, **kwargs
    )


def test_chat(server: FakeOpenAIServer, exporter: InMemorySpanExporter, drained: Any) -> None:
    server.script(Reply(text="Hello there."))
    assert model(server).chat(MESSAGES).message.content == "Hello there."

    (span,) = exporter.get_finished_spans()
    attrs = span.attributes
    assert span.name == CHAT
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert attrs[semconv.SERVER_PORT] == server.port
    assert str(attrs[semconv.GEN_AI_RESPONSE_ID]).startswith("chatcmpl-")
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini"
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 11
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 7


def test_stream_with_usage(
    server: FakeOpenAIServer, exporter: InMemorySpanExporter, drained: Any
) -> None:
    server.script(Reply(text="Hello streamed world."))
    llm = model(server, additional_kwargs={"stream_options": {"include_usage": True}})
    text = "".join(r.delta or "" for r in llm.stream_chat(MESSAGES))

    assert text == "Hello streamed world."
    (span,) = exporter.get_finished_spans()
    attrs = span.attributes
    assert attrs["gen_ai.request.stream"] is True
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 11
    assert attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0


async def test_astream(
    server: FakeOpenAIServer, exporter: InMemorySpanExporter, drained: Any
) -> None:
    server.script(Reply(text="Hello async."))
    stream = await model(server).astream_chat(MESSAGES)
    assert "".join([r.delta or "" async for r in stream]) == "Hello async."

    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_error(server: FakeOpenAIServer, exporter: InMemorySpanExporter, drained: Any) -> None:
    import openai

    server.script(Reply.failure(400, "bad request"))
    with pytest.raises(openai.BadRequestError):
        model(server).chat(MESSAGES)

    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "BadRequestError"


@pytest.mark.parametrize("streaming", [True, False])
async def test_function_agent(
    server: FakeOpenAIServer, exporter: InMemorySpanExporter, drained: Any, streaming: bool
) -> None:
    server.script(Reply.tools(ToolCall("add", '{"a": 1, "b": 2}', id="call_9")), Reply(text="3"))
    options = {} if streaming else {"streaming": False}
    if not streaming and "streaming" not in FunctionAgent.model_fields:
        pytest.skip("FunctionAgent(streaming=False) is 0.14+")
    agent = FunctionAgent(name="calc", tools=[add], llm=model(server), **options)

    assert "3" in str(await agent.run(user_msg="1 + 2?"))

    spans = exporter.get_finished_spans()
    first, second = by_name(spans, CHAT)
    assert first.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert first.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS] == ("call_9",)
    assert second.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    if not streaming:
        assert first.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 11
    tool = one(spans, "execute_tool add")
    assert tool.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_9"
    assert [link.context.span_id for link in tool.links] == [first.context.span_id]
    run = one(spans, "invoke_agent calc")
    assert parent_of(parent_of(first, spans), spans) is run  # type: ignore[arg-type]
    assert len(server.requests) == 2


async def test_agent_workflow(
    server: FakeOpenAIServer, exporter: InMemorySpanExporter, drained: Any
) -> None:
    server.script(Reply.tools(ToolCall("add", '{"a": 2, "b": 2}', id="call_w")), Reply(text="4"))
    calc = FunctionAgent(name="calc", description="Math.", tools=[add], llm=model(server))
    workflow = AgentWorkflow(agents=[calc], root_agent="calc")

    assert "4" in str(await workflow.run(user_msg="2 + 2?"))

    spans = exporter.get_finished_spans()
    run = one(spans, "invoke_agent AgentWorkflow")
    first, _ = by_name(spans, CHAT)
    tool = one(spans, "execute_tool add")
    assert [link.context.span_id for link in tool.links] == [first.context.span_id]
    assert {s.context.trace_id for s in spans} == {run.context.trace_id}


async def test_one_chat_span_with_the_openai_instrumentor(
    server: FakeOpenAIServer,
    exporter: InMemorySpanExporter,
    instrument: Callable[..., LlamaIndexInstrumentor],
) -> None:
    try:
        from instrumentors.openai import OpenAIInstrumentor
    except ImportError:
        pytest.skip("the OpenAI instrumentor is not available")
    openai_layer = OpenAIInstrumentor()
    openai_layer.instrument()
    try:
        llm = model(server)
        llm.chat(MESSAGES)  # the provider layer alone makes its own span
        (alone,) = exporter.get_finished_spans()
        assert alone.instrumentation_scope is not None
        assert alone.instrumentation_scope.name != "instrumentors.llama_index"
        exporter.clear()
        server.requests.clear()
        instrument()
        server.script(
            Reply(text="plain"),
            Reply(text="streamed"),
            Reply.tools(ToolCall("add", '{"a": 1, "b": 2}', id="call_7")),
            Reply(text="3"),
        )
        llm.chat(MESSAGES)
        list(llm.stream_chat(MESSAGES))
        await FunctionAgent(name="calc", tools=[add], llm=llm).run(user_msg="1 + 2?")
    finally:
        openai_layer.uninstrument()

    spans = exporter.get_finished_spans()
    chats = [s for s in spans if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) == "chat"]
    assert len(chats) == 4 == len(server.requests)
    assert {s.instrumentation_scope.name for s in chats if s.instrumentation_scope} == {
        "instrumentors.llama_index"
    }
    tool = one(spans, "execute_tool add")
    assert [link.context.span_id for link in tool.links] == [chats[2].context.span_id]
