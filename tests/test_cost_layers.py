"""Every layer that records usage gets a price through the core: the Anthropic SDK (cache
reads and writes priced apart), the OpenAI Responses API, LlamaIndex's OpenAI LLM."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from instrumentors import cost, semconv

genai_prices = pytest.importorskip("genai_prices")


@pytest.fixture(autouse=True)
def _library_prices() -> Iterator[None]:
    cost.configure(None)
    yield
    cost.configure(None)


def library(model: str, provider: str, **usage: int) -> float:
    found = genai_prices.calc_price(genai_prices.Usage(**usage), model, provider_id=provider)
    return float(found.total_price)


def _priced(span: Any) -> float:
    assert span.attributes[semconv.GEN_AI_USAGE_COST_SOURCE] == "local"
    assert span.attributes[semconv.GEN_AI_USAGE_COST_CURRENCY] == "USD"
    return float(span.attributes[semconv.GEN_AI_USAGE_COST_AMOUNT])


def test_anthropic_cache_reads_and_writes_are_priced_apart(exporter) -> None:
    anthropic = pytest.importorskip("anthropic")
    from instrumentors.anthropic import AnthropicInstrumentor
    from tests.fakes.anthropic_server import FakeAnthropicServer, Reply, Usage

    usage = Usage(
        input_tokens=1000,
        output_tokens=300,
        cache_read_input_tokens=4000,
        cache_creation_input_tokens=2000,
    )
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    try:
        with FakeAnthropicServer() as server:
            server.script(Reply(usage=usage))
            client = anthropic.Anthropic(base_url=server.base_url, api_key="k", max_retries=0)
            client.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=400,
                messages=[{"role": "user", "content": "hi"}],
            )
            client.close()
    finally:
        instrumentor.uninstrument()
    (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("chat")]
    # The API's input_tokens leaves the cache out; the span's counts it (the conventions').
    assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 7000
    expected = library(
        "claude-sonnet-4-5",
        "anthropic",
        input_tokens=7000,
        output_tokens=300,
        cache_read_tokens=4000,
        cache_write_tokens=2000,
    )
    uncached = library("claude-sonnet-4-5", "anthropic", input_tokens=7000, output_tokens=300)
    assert _priced(span) == pytest.approx(expected)
    assert expected != pytest.approx(uncached)  # the cache changes the price


def test_openai_responses_api_is_priced(exporter) -> None:
    openai = pytest.importorskip("openai")
    from instrumentors.openai import OpenAIInstrumentor
    from tests.fakes.openai_server import FakeOpenAIServer, Reply, Usage

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        with FakeOpenAIServer() as server:
            server.script(Reply(usage=Usage(input_tokens=3000, output_tokens=200)))
            client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
            client.responses.create(model="gpt-4.1-mini", input="hi")
            client.close()
    finally:
        instrumentor.uninstrument()
    (span,) = exporter.get_finished_spans()
    expected = library("gpt-4.1-mini", "openai", input_tokens=3000, output_tokens=200)
    assert _priced(span) == pytest.approx(expected)


def test_llama_index_openai_llm_is_priced(exporter) -> None:
    pytest.importorskip("llama_index.llms.openai")
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai import OpenAI

    from instrumentors.llama_index import LlamaIndexInstrumentor
    from tests.fakes.openai_server import FakeOpenAIServer, Reply, Usage

    instrumentor = LlamaIndexInstrumentor()
    instrumentor.instrument()
    try:
        with FakeOpenAIServer() as server:
            server.script(Reply(usage=Usage(input_tokens=1500, output_tokens=100)))
            llm = OpenAI(model="gpt-4o-mini", api_base=server.base_url, api_key="k")
            llm.chat([ChatMessage(role="user", content="hi")])
    finally:
        instrumentor.uninstrument()
    (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("chat")]
    expected = library("gpt-4o-mini", "openai", input_tokens=1500, output_tokens=100)
    assert _priced(span) == pytest.approx(expected)
