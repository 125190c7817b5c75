"""Tools: FunctionTool call/acall, QueryEngineTool, errors, the @tool merge, span current inside."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from li_support import add, boom, one, parent_of
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.tools import FunctionTool, QueryEngineTool
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import instrumentors
from instrumentors import semconv
from instrumentors.params import hash_params

tracer = trace.get_tracer("test")


def test_function_tool_call(exporter: InMemorySpanExporter, drained: Any) -> None:
    output = FunctionTool.from_defaults(fn=add).call(a=1, b=2)

    assert output.raw_output == 3
    (span,) = exporter.get_finished_spans()
    attrs = span.attributes
    assert span.name == "execute_tool add"
    assert attrs[semconv.GEN_AI_TOOL_NAME] == "add"
    assert attrs[semconv.TOOL_NAME] == "add"
    assert attrs[semconv.GEN_AI_TOOL_TYPE] == semconv.TOOL_TYPE_FUNCTION
    assert "Add two integers." in str(attrs[semconv.GEN_AI_TOOL_DESCRIPTION])
    assert attrs[semconv.REQUEST_PARAMETERS_HASH] == hash_params({"a": 1, "b": 2})
    assert semconv.REQUEST_PARAMETERS not in attrs  # no content by default
    assert span.status.status_code is StatusCode.UNSET


def test_positional_and_dunder_call_hash_alike(
    exporter: InMemorySpanExporter, drained: Any
) -> None:
    tool = FunctionTool.from_defaults(fn=add)
    tool(1, 2)  # __call__ -> call: one span
    tool.call(1, b=2)

    first, second = exporter.get_finished_spans()
    expected = hash_params({"a": 1, "b": 2})
    assert first.attributes[semconv.REQUEST_PARAMETERS_HASH] == expected
    assert second.attributes[semconv.REQUEST_PARAMETERS_HASH] == expected


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_acall_span_is_current_in_the_tool(
    exporter: InMemorySpanExporter, drained: Any, kind: str
) -> None:
    def lookup(city: str) -> str:
        """Look a city up."""
        with tracer.start_as_current_span("GET /weather"):
            return city.upper()

    async def alookup(city: str) -> str:
        """Look a city up."""
        await asyncio.sleep(0)
        return lookup(city)

    tool = FunctionTool.from_defaults(fn=lookup if kind == "sync" else alookup, name="lookup")
    output = await tool.acall(city="paris")

    assert output.raw_output == "PARIS"
    spans = exporter.get_finished_spans()
    # 0.12 runs sync tools in an executor without the context; the instrumentor fixes that.
    assert parent_of(one(spans, "GET /weather"), spans) is one(spans, "execute_tool lookup")


def test_tool_error_recorded_and_reraised(exporter: InMemorySpanExporter, drained: Any) -> None:
    with pytest.raises(ValueError, match="boom 7"):
        FunctionTool.from_defaults(fn=boom).call(x=7)

    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "ValueError"
    (event,) = span.events
    assert event.name == "exception"


def test_decorated_function_is_one_span(exporter: InMemorySpanExporter, drained: Any) -> None:
    @instrumentors.tool
    def multiply(a: int, b: int) -> int:
        """Multiply."""
        return a * b

    assert FunctionTool.from_defaults(fn=multiply).call(a=2, b=3).raw_output == 6

    (span,) = exporter.get_finished_spans()
    assert span.name == "execute_tool multiply"
    assert span.attributes[semconv.REQUEST_PARAMETERS_HASH] == hash_params({"a": 2, "b": 3})


async def test_decorated_async_function_is_one_span(
    exporter: InMemorySpanExporter, drained: Any
) -> None:
    @instrumentors.tool
    async def multiply(a: int, b: int) -> int:
        """Multiply."""
        return a * b

    output = await FunctionTool.from_defaults(async_fn=multiply).acall(a=2, b=3)

    assert output.raw_output == 6
    (span,) = exporter.get_finished_spans()
    assert span.name == "execute_tool multiply"


def test_capture_records_parameters_and_result(
    exporter: InMemorySpanExporter, capture: Any
) -> None:
    FunctionTool.from_defaults(fn=add).call(a=1, b=2)

    (span,) = exporter.get_finished_spans()
    assert json.loads(str(span.attributes[semconv.REQUEST_PARAMETERS])) == {"a": 1, "b": 2}
    assert span.attributes[semconv.GEN_AI_TOOL_CALL_RESULT] == "3"


def test_query_engine_tool(exporter: InMemorySpanExporter, drained: Any) -> None:
    docs = [Document(text=f"note {i} about cats") for i in range(4)]
    index = VectorStoreIndex.from_documents(docs, embed_model=MockEmbedding(embed_dim=8))
    exporter.clear()
    engine = index.as_query_engine(llm=MockLLM(max_tokens=4), similarity_top_k=2)
    tool = QueryEngineTool.from_defaults(engine, name="cats", description="Cat notes.")

    tool.call("what about cats?")

    spans = exporter.get_finished_spans()
    span = one(spans, "execute_tool cats")
    assert span.attributes[semconv.GEN_AI_TOOL_TYPE] == semconv.TOOL_TYPE_DATASTORE
    assert span.attributes[semconv.GEN_AI_TOOL_DESCRIPTION] == "Cat notes."
    assert span.attributes[semconv.REQUEST_PARAMETERS_HASH] == hash_params(
        {"input": "what about cats?"}
    )
    query = one(spans, "RetrieverQueryEngine.query")
    assert query.attributes[semconv.AGENT_STEP_NAME] == "RetrieverQueryEngine.query"
    assert parent_of(query, spans) is span
    retrieval = one(spans, "retrieval VectorIndexRetriever")
    assert parent_of(retrieval, spans) is query
    assert parent_of(one(spans, "embeddings"), spans) is retrieval
    assert parent_of(one(spans, "text_completion"), spans) is query
