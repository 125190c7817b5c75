"""Every LlamaIndex name ``instrumentors/llama_index/_compat.py`` relies on, checked installed.

A failure here means LlamaIndex renamed or dropped a name: the detail it serves
is skipped at run time (one DEBUG log), and this test tells the compat matrix
first. Also: the public surface the package stands on instead of private names,
and what happens when a private name is gone.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from llama_index.core import Document, DocumentSummaryIndex, QueryBundle, SummaryIndex
from llama_index.core import VectorStoreIndex as VectorIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.indices.document_summary.retrievers import (
    DocumentSummaryIndexEmbeddingRetriever,
)
from llama_index.core.indices.vector_store.retrievers import VectorIndexAutoRetriever
from llama_index.core.instrumentation.dispatcher import Dispatcher
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, VectorIndexRetriever
from llama_index.core.schema import NodeWithScore
from llama_index.core.vector_stores.types import VectorStoreInfo
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentors import semconv
from instrumentors.llama_index import _compat, _extract

EMBED = MockEmbedding(embed_dim=8)
DOCS = [Document(text=f"note {i} about cats") for i in range(3)]


def summary_embedding(top_k: int) -> BaseRetriever:
    index = SummaryIndex.from_documents(DOCS)
    return index.as_retriever(retriever_mode="embedding", similarity_top_k=top_k, embed_model=EMBED)


def document_summary_embedding(top_k: int) -> BaseRetriever:
    index = DocumentSummaryIndex.from_documents(DOCS, llm=MockLLM(max_tokens=4), embed_model=EMBED)
    return DocumentSummaryIndexEmbeddingRetriever(index, similarity_top_k=top_k, embed_model=EMBED)


def vector_auto(top_k: int) -> BaseRetriever:
    index = VectorIndex.from_documents(DOCS, embed_model=EMBED)
    info = VectorStoreInfo(content_info="notes", metadata_info=[])
    return VectorIndexAutoRetriever(
        index, vector_store_info=info, llm=MockLLM(), similarity_top_k=top_k
    )


# ----------------------------------------------------------------------------- private names


@pytest.mark.parametrize("make", [summary_embedding, document_summary_embedding, vector_auto])
def test_retrievers_without_a_public_top_k_keep_it_as_similarity_top_k(make: Any) -> None:
    retriever = make(3)

    assert not hasattr(retriever, "similarity_top_k")  # else the public name would be read
    assert getattr(retriever, _compat.SIMILARITY_TOP_K) == 3
    assert _compat.private_top_k(retriever) == 3
    assert _extract.retriever_info(retriever) == (type(retriever).__name__, 3)


# ----------------------------------------------------------------------------- public surface


def test_the_public_names_used_instead() -> None:
    # The root dispatcher's handler lists are public pydantic fields (it has no removal API).
    assert {"span_handlers", "event_handlers"} <= set(Dispatcher.model_fields)
    # The common retriever has a public top k: no private read for it.
    assert isinstance(VectorIndexRetriever.similarity_top_k, property)
    from llama_index.core.instrumentation import span

    assert "active_span_id" in span.__all__


# ----------------------------------------------------------------------------- name gone


class Keywords(BaseRetriever):
    """A retriever with no top k under any name: what a dropped private name looks like."""

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return []


def test_missing_private_name_skips_top_k_and_logs_once(
    exporter: InMemorySpanExporter,
    drained: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG, logger=_compat.__name__)
    monkeypatch.setattr(_compat, "_reported", set())
    retriever = Keywords()

    assert retriever.retrieve("cats") == []
    assert retriever.retrieve("dogs") == []

    first, second = exporter.get_finished_spans()
    for span in (first, second):
        assert span.name == "retrieval Keywords"
        assert semconv.GEN_AI_REQUEST_TOP_K not in (span.attributes or {})
        assert span.attributes[semconv.RETRIEVAL_DOCUMENTS_COUNT] == 0  # type: ignore[index]
    (logged,) = [r for r in caplog.records if _compat.SIMILARITY_TOP_K in r.getMessage()]
    assert logged.levelno == logging.DEBUG


def test_top_k_from_the_private_name_reaches_the_span(
    exporter: InMemorySpanExporter, drained: Any
) -> None:
    retriever = summary_embedding(2)
    exporter.clear()

    assert len(retriever.retrieve("cats")) == 2

    spans = [s for s in exporter.get_finished_spans() if s.name.startswith("retrieval")]
    (span,) = spans
    assert span.attributes[semconv.GEN_AI_REQUEST_TOP_K] == 2  # type: ignore[index]
