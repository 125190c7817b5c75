"""Retrieval and embeddings with a real VectorStoreIndex on MockEmbedding."""

from __future__ import annotations

from typing import Any

import pytest
from li_support import one, parent_of
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentors import semconv


@pytest.fixture
def index(drained: Any) -> VectorStoreIndex:
    docs = [Document(text=f"document {i} about cats") for i in range(5)]
    return VectorStoreIndex.from_documents(docs, embed_model=MockEmbedding(embed_dim=8))


def test_index_build_embeds_in_one_span(drained: Any, exporter: InMemorySpanExporter) -> None:
    docs = [Document(text=f"document {i}") for i in range(3)]
    VectorStoreIndex.from_documents(docs, embed_model=MockEmbedding(embed_dim=8))

    (span,) = exporter.get_finished_spans()  # the batch call, its per-text calls folded
    assert span.name == "embeddings"
    assert span.attributes[semconv.GEN_AI_OPERATION_NAME] == semconv.OP_EMBEDDINGS
    assert span.attributes["gen_ai.embeddings.dimension.count"] == 8


def test_retrieve(index: VectorStoreIndex, exporter: InMemorySpanExporter) -> None:
    exporter.clear()
    nodes = index.as_retriever(similarity_top_k=2).retrieve("cats")

    assert len(nodes) == 2
    spans = exporter.get_finished_spans()
    retrieval = one(spans, "retrieval VectorIndexRetriever")
    attrs = retrieval.attributes
    assert attrs[semconv.GEN_AI_DATA_SOURCE_ID] == "VectorIndexRetriever"
    assert attrs[semconv.GEN_AI_REQUEST_TOP_K] == 2
    assert attrs[semconv.RETRIEVAL_DOCUMENTS_COUNT] == 2
    embedding = one(spans, "embeddings")
    assert parent_of(embedding, spans) is retrieval
    assert embedding.attributes[semconv.GEN_AI_PROVIDER_NAME] == "llama_index"


async def test_aretrieve(index: VectorStoreIndex, exporter: InMemorySpanExporter) -> None:
    exporter.clear()
    nodes = await index.as_retriever(similarity_top_k=3).aretrieve("cats")

    assert len(nodes) == 3
    retrieval = one(exporter.get_finished_spans(), "retrieval VectorIndexRetriever")
    assert retrieval.attributes[semconv.RETRIEVAL_DOCUMENTS_COUNT] == 3
    assert retrieval.attributes[semconv.GEN_AI_REQUEST_TOP_K] == 3


async def test_query_engine_is_a_step(
    index: VectorStoreIndex, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    engine = index.as_query_engine(llm=MockLLM(max_tokens=4), similarity_top_k=2)
    await engine.aquery("what about cats?")

    spans = exporter.get_finished_spans()
    query = one(spans, "RetrieverQueryEngine.aquery")
    assert query.attributes[semconv.GEN_AI_OPERATION_NAME] == semconv.OP_AGENT_STEP
    assert parent_of(one(spans, "retrieval VectorIndexRetriever"), spans) is query
    assert query.parent is None
