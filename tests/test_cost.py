"""Cost attribution: prices per model call, user prices, roll-ups without double counting."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import instrumentors
from instrumentors import cost, semconv
from instrumentors.telemetry import Telemetry
from tests._instrumenting import instrumenting

genai_prices = pytest.importorskip("genai_prices")


@pytest.fixture(autouse=True)
def _fresh_prices() -> Iterator[None]:
    cost.configure(None)
    yield
    cost.configure(None)


def library(model: str, provider: str, **usage: int) -> float:
    found = genai_prices.calc_price(genai_prices.Usage(**usage), model, provider_id=provider)
    return float(found.total_price)


@pytest.mark.parametrize(
    ("provider", "model", "usage"),
    [
        ("openai", "gpt-4o-mini", {"input_tokens": 1200, "output_tokens": 300}),
        (
            "openai",
            "gpt-4o-mini-2024-07-18",
            {"input_tokens": 5000, "output_tokens": 10, "cache_read": 4096},
        ),
        (
            "anthropic",
            "claude-sonnet-4-5",
            {"input_tokens": 9000, "output_tokens": 700, "cache_read": 3000, "cache_write": 2000},
        ),
        # past the tier
        ("anthropic", "claude-sonnet-4-5", {"input_tokens": 250_000, "output_tokens": 700}),
        ("gcp.gemini", "gemini-2.5-flash", {"input_tokens": 800, "output_tokens": 50}),
        ("openai", "text-embedding-3-small", {"input_tokens": 4000, "output_tokens": 0}),
    ],
)  # fmt: skip
def test_prices_match_genai_prices(provider: str, model: str, usage: dict[str, int]) -> None:
    expected_usage = {
        "input_tokens": usage["input_tokens"],
        "output_tokens": usage["output_tokens"],
        "cache_read_tokens": usage.get("cache_read", 0),
        "cache_write_tokens": usage.get("cache_write", 0),
    }
    expected = library(model, cost._PROVIDERS[provider], **expected_usage)
    got = cost.Pricer().price(
        provider,
        model,
        usage["input_tokens"],
        usage["output_tokens"],
        usage.get("cache_read"),
        usage.get("cache_write"),
    )
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_cached_tokens_cost_less_than_uncached() -> None:
    pricer = cost.Pricer()
    full = pricer.price("openai", "gpt-4o-mini", 10_000, 0)
    cached = pricer.price("openai", "gpt-4o-mini", 10_000, 0, cache_read=8_000)
    assert full is not None and cached is not None and cached < full


def _chat(tel: Telemetry, model: str, provider: str = "openai", **usage: int) -> None:
    run = tel.llm(provider, model)
    run.set_response(model=model)
    run.set_usage(**usage)
    run.stop()


def test_model_span_gets_its_cost(exporter) -> None:
    _chat(Telemetry("t"), "gpt-4o-mini", input_tokens=1000, output_tokens=200)
    (span,) = exporter.get_finished_spans()
    expected = library("gpt-4o-mini", "openai", input_tokens=1000, output_tokens=200)
    assert span.attributes[semconv.GEN_AI_USAGE_COST_AMOUNT] == pytest.approx(expected)
    assert span.attributes[semconv.GEN_AI_USAGE_COST_CURRENCY] == "USD"
    assert span.attributes[semconv.GEN_AI_USAGE_COST_SOURCE] == "local"


def test_an_unknown_model_gets_no_cost_and_one_debug_log(exporter, caplog) -> None:
    tel = Telemetry("t")
    with caplog.at_level(logging.DEBUG, logger="instrumentors.cost"):
        for _ in range(3):
            _chat(tel, "acme-model-9000", provider="acme", input_tokens=10, output_tokens=5)
    for span in exporter.get_finished_spans():
        assert semconv.GEN_AI_USAGE_COST_AMOUNT not in span.attributes
    assert len([r for r in caplog.records if "no price known" in r.getMessage()]) == 1


def test_a_cost_the_response_carried_wins(exporter) -> None:
    run = Telemetry("t").llm("openai", "gpt-4o-mini")
    run.set_usage(input_tokens=1000, output_tokens=200)
    run.set_cost(0.123)
    run.stop()
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_USAGE_COST_AMOUNT] == 0.123
    assert span.attributes[semconv.GEN_AI_USAGE_COST_SOURCE] == "provider"


def test_user_prices_override_and_add_models(exporter, tmp_path: Path, monkeypatch) -> None:
    prices = {"my-fine-tune": {"input_mtok": 2, "output_mtok": 8, "cache_read_mtok": 0.5}}
    file = tmp_path / "prices.json"
    file.write_text(json.dumps(prices))
    monkeypatch.setenv("AGENT_INSTRUMENTORS_PRICES", str(file))
    from instrumentors import config

    config.reload()
    cost.configure({"gpt-4o-mini": {"input_mtok": 1, "output_mtok": 1}})  # negotiated price
    tel = Telemetry("t")
    _chat(
        tel, "my-fine-tune", provider="self-hosted", input_tokens=1_000_000, output_tokens=500_000
    )
    _chat(tel, "gpt-4o-mini", input_tokens=1_000_000, output_tokens=1_000_000)
    tuned, negotiated = exporter.get_finished_spans()
    assert tuned.attributes[semconv.GEN_AI_USAGE_COST_AMOUNT] == pytest.approx(2 + 4)
    assert negotiated.attributes[semconv.GEN_AI_USAGE_COST_AMOUNT] == pytest.approx(2.0)


def test_toml_price_file(tmp_path: Path) -> None:
    file = tmp_path / "prices.toml"
    file.write_text("[my-model]\ninput_mtok = 1.5\noutput_mtok = 6\n")
    assert cost.load_prices(file) == {"my-model": {"input_mtok": 1.5, "output_mtok": 6}}


def test_a_bad_price_file_warns_once_and_prices_from_the_library(
    tmp_path, monkeypatch, caplog
) -> None:
    file = tmp_path / "prices.json"
    file.write_text("{not json")
    monkeypatch.setenv("AGENT_INSTRUMENTORS_PRICES", str(file))
    from instrumentors import config

    config.reload()
    with caplog.at_level(logging.WARNING):
        pricer = cost.configure(None)
    assert [r for r in caplog.records if "price file" in r.getMessage()]
    assert pricer.price("openai", "gpt-4o-mini", 100, 10) is not None


def by_name(spans: Any, name: str) -> Any:
    (span,) = [s for s in spans if s.name == name]
    return span


def test_roll_ups_without_double_counting_across_two_providers(exporter) -> None:
    tel = Telemetry("t")

    @instrumentors.tool(cost=0.01)
    def search(q: str) -> str:
        _chat(tel, "claude-sonnet-4-5", provider="anthropic", input_tokens=2000, output_tokens=100)
        instrumentors.record_cost(0.002)  # the search API's own fee
        return q

    agent = tel.agent("researcher")
    step = tel.step("plan")
    _chat(tel, "gpt-4o-mini", input_tokens=1000, output_tokens=200)
    step.stop()
    search("x")
    agent.stop()
    spans = exporter.get_finished_spans()
    gpt = by_name(spans, "chat gpt-4o-mini").attributes[semconv.GEN_AI_USAGE_COST_AMOUNT]
    claude = by_name(spans, "chat claude-sonnet-4-5").attributes[semconv.GEN_AI_USAGE_COST_AMOUNT]
    tool = by_name(spans, "execute_tool search").attributes
    assert tool[semconv.GEN_AI_USAGE_COST_AMOUNT] == pytest.approx(0.012)  # its own cost only
    assert tool[semconv.AGENT_COST_TOTAL] == pytest.approx(0.012 + claude)
    assert tool[semconv.AGENT_COST_MODEL_CALLS] == pytest.approx(claude)
    plan = by_name(spans, "plan").attributes
    assert plan[semconv.AGENT_COST_TOTAL] == pytest.approx(gpt)
    assert semconv.GEN_AI_USAGE_COST_AMOUNT not in plan  # never a repeat of the children's
    run = by_name(spans, "invoke_agent researcher").attributes
    assert run[semconv.AGENT_COST_TOTAL] == pytest.approx(gpt + claude + 0.012)
    assert run[semconv.AGENT_COST_MODEL_CALLS] == pytest.approx(gpt + claude)
    assert semconv.GEN_AI_USAGE_COST_AMOUNT not in run


def test_roll_up_through_a_span_of_another_library(exporter) -> None:
    from opentelemetry import trace

    tel = Telemetry("t")
    agent = tel.agent("a")
    with trace.get_tracer("user").start_as_current_span("my own step"):
        _chat(tel, "gpt-4o-mini", input_tokens=1000, output_tokens=200)
    agent.stop()
    spans = exporter.get_finished_spans()
    expected = by_name(spans, "chat gpt-4o-mini").attributes[semconv.GEN_AI_USAGE_COST_AMOUNT]
    assert by_name(spans, "invoke_agent a").attributes[semconv.AGENT_COST_TOTAL] == pytest.approx(
        expected
    )


def test_cost_counter_metric(exporter, metric_reader) -> None:
    _chat(Telemetry("cost-metric"), "gpt-4o-mini", input_tokens=1000, output_tokens=200)
    points = [
        point
        for rm in metric_reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        if sm.scope.name == "cost-metric"
        for metric in sm.metrics
        if metric.name == "gen_ai.client.operation.cost"
        for point in metric.data.data_points
    ]
    (point,) = points
    assert point.value == pytest.approx(
        library("gpt-4o-mini", "openai", input_tokens=1000, output_tokens=200)
    )
    assert point.attributes["gen_ai.request.model"] == "gpt-4o-mini"


def test_record_cost_never_raises_and_ignores_nonsense(exporter) -> None:
    assert instrumentors.record_cost(0.5) is False  # no span
    with instrumentors.agent_step("s"):
        assert instrumentors.record_cost(float("nan")) is False
        assert instrumentors.record_cost("abc") is False  # type: ignore[arg-type]
        assert instrumentors.record_cost(0.25, currency="EUR")
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_USAGE_COST_CURRENCY] == "EUR"
    assert semconv.AGENT_COST_TOTAL not in span.attributes  # only USD is summed


def test_streamed_openai_call_priced_from_the_last_chunk(exporter) -> None:
    openai = pytest.importorskip("openai")
    from instrumentors.openai import OpenAIInstrumentor
    from tests.fakes.openai_server import FakeOpenAIServer, Reply, Usage

    usage = Usage(input_tokens=1500, output_tokens=40, cached_tokens=1024)
    with instrumenting(OpenAIInstrumentor()), FakeOpenAIServer() as server:
        server.script(Reply(text="hi", usage=usage))
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        for _ in stream:
            pass
        client.close()
    (span,) = exporter.get_finished_spans()
    expected = library(
        "gpt-4o-mini", "openai", input_tokens=1500, output_tokens=40, cache_read_tokens=1024
    )
    assert span.attributes[semconv.GEN_AI_USAGE_COST_AMOUNT] == pytest.approx(expected)
