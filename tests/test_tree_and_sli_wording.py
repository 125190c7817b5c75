"""Numbers a person reads right: the tree view's and the SLI table's wording and units."""

from __future__ import annotations

import io
import itertools

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanContext

from instrumentors import config
from instrumentors._units import format_duration
from instrumentors.export import TreeSpanExporter
from instrumentors.sli import Objective, SLIProcessor


def tree_of(build) -> list[str]:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(TreeSpanExporter(out)))
    build(provider.get_tracer("t"))
    return out.getvalue().splitlines()


def test_one_span_is_singular() -> None:
    lines = tree_of(lambda tracer: tracer.start_span("alone").end())
    assert lines[0].endswith("(1 span)")


def test_tokens_links_and_the_embeddings_model_are_spelled_out() -> None:
    def build(tracer) -> None:  # type: ignore[no-untyped-def]
        with tracer.start_as_current_span("invoke_agent a"):
            with tracer.start_as_current_span("chat gpt-4o") as chat:
                chat.set_attribute("gen_ai.response.model", "gpt-4o")
                chat.set_attribute("gen_ai.usage.input_tokens", 12)
                chat.set_attribute("gen_ai.usage.output_tokens", 27)
            link = Link(chat.get_span_context())
            elsewhere = Link(SpanContext(0xAB, 0xCD, is_remote=True))
            tracer.start_span("execute_tool a", links=[link]).end()
            tracer.start_span("execute_tool b", links=[link, elsewhere]).end()
            with tracer.start_as_current_span("embeddings text-embedding-3-small") as embed:
                embed.set_attribute("gen_ai.request.model", "text-embedding-3-small")
                embed.set_attribute("gen_ai.usage.input_tokens", 5)

    lines = tree_of(build)
    assert "(5 spans)" in lines[0]
    chat, tool_a, tool_b, embed = lines[2:]
    assert "model=gpt-4o tokens in=12 out=27" in chat
    assert tool_a.endswith("linked to chat gpt-4o")
    assert tool_b.endswith("linked to 2 spans (chat gpt-4o here)")
    assert "model=text-embedding-3-small tokens in=5" in embed


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (2.7712, "2.77 s"),
        (0.043, "43.0 ms"),
        (0.000415, "415 µs"),
        (1.0, "1.00 s"),
        (0.001, "1.0 ms"),
    ],
)
def test_one_unit_style(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def _table(sli: SLIProcessor) -> dict[str, list[str]]:
    header, *rows = sli.render().splitlines()[1:]
    names = ("operation", "name", "calls", "errors", "error rate",
             "p50", "p95", "p99", "SLO", "budget left", "burn")  # fmt: skip
    starts = [header.index(name) for name in names]
    cells = {}
    for row in rows:
        bounds = [*starts, len(row) + 1]
        values = [row[a:b].strip() for a, b in itertools.pairwise(bounds)]
        cells[values[1]] = values
    return cells


def test_no_budget_or_burn_before_the_minimum_number_of_calls() -> None:
    sli = SLIProcessor(default=Objective(latency_p95=2.0, success_rate=0.95))
    sli.record("execute_tool", "book_table", 0.0005, error=True)
    for i in range(20):
        sli.record("execute_tool", "search", 0.043, error=i == 0)
    table = _table(sli)
    booking, search = table["book_table"], table["search"]
    assert booking[4] == "100%" and booking[5].endswith(" µs")  # the sketch: within 1%
    assert booking[9] == "n<20" and booking[10] == ""
    assert booking[8] == "p95<=2.00 s ok, 95% MISSED"
    assert search[4] == "5%" and search[9] == "0%" and search[10] == "1.00"


def test_the_minimum_is_configurable(monkeypatch) -> None:
    sli = SLIProcessor(default=Objective(success_rate=0.95), min_calls=1)
    sli.record("execute_tool", "book_table", 0.1, error=True)
    assert _table(sli)["book_table"][9:] == ["-1900%", "20.00"]
    monkeypatch.setenv(config.SLI_MIN_CALLS, "5")
    assert config.reload().sli_min_calls == 5
    from instrumentors._bootstrap import _make_sli

    assert _make_sli().min_calls == 5  # type: ignore[attr-defined]
    monkeypatch.setenv(config.SLI_MIN_CALLS, "zero")
    assert config.reload().sli_min_calls == 20
