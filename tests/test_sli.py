"""SLIProcessor: quantile accuracy, error budgets, objectives, bounds, threads."""

from __future__ import annotations

import ast
import gc
import math
import random
import threading
import tracemalloc
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

from instrumentors import semconv
from instrumentors import sli as sli_module
from instrumentors.sli import Objective, SLIProcessor


def exact_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def test_quantiles_within_relative_accuracy() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(-3, 1) for _ in range(20_000)]
    sli = SLIProcessor(relative_accuracy=0.01)
    for v in values:
        sli.record("execute_tool", "search", v, error=False)
    (row,) = sli.report()
    for q, got in ((0.5, row.p50), (0.95, row.p95), (0.99, row.p99)):
        exact = exact_quantile(values, q)
        assert abs(got - exact) <= 0.011 * exact + 1e-9, (q, got, exact)
    assert row.count == 20_000


def test_spans_feed_the_processor_with_their_durations() -> None:
    sli = SLIProcessor(objectives={"get_weather": Objective(latency_p95=0.5, success_rate=0.9)})
    provider = TracerProvider()
    provider.add_span_processor(sli)
    tracer = provider.get_tracer("t")
    start = 1_000_000_000
    for i in range(20):  # 100 ms .. 2 s; the two slowest fail
        span = tracer.start_span(
            "execute_tool get_weather",
            start_time=start,
            attributes={
                semconv.GEN_AI_OPERATION_NAME: "execute_tool",
                semconv.GEN_AI_TOOL_NAME: "get_weather",
            },
        )
        if i >= 18:
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=start + (i + 1) * 100_000_000)
    chat = tracer.start_span(
        "chat gpt-4o",
        start_time=start,
        attributes={semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: "gpt-4o"},
    )
    chat.end(end_time=start + 300_000_000)
    tracer.start_span("unrelated").end()
    chat_row, tool_row = sli.report()
    assert (chat_row.operation, chat_row.name, chat_row.count) == ("chat", "gpt-4o", 1)
    assert chat_row.objective is None and chat_row.latency_met is None
    assert (tool_row.operation, tool_row.name, tool_row.count, tool_row.errors) == (
        "execute_tool",
        "get_weather",
        20,
        2,
    )
    assert tool_row.error_rate == pytest.approx(0.1)
    assert tool_row.p95 == pytest.approx(1.9, rel=0.011)
    assert tool_row.latency_met is False  # p95 1.9 s > 0.5 s
    assert tool_row.success_met is True  # 90% >= 90%
    assert tool_row.error_budget_allowed == pytest.approx(2.0)  # 10% of 20 calls
    assert tool_row.error_budget_consumed == pytest.approx(1.0)
    assert tool_row.error_budget_remaining == pytest.approx(0.0)
    assert tool_row.burn_rate == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("errors", "consumed", "remaining", "burn", "met"),
    [(0, 0.0, 1.0, 0.0, True), (1, 0.5, 0.5, 0.5, True), (4, 2.0, -1.0, 2.0, False)],
)
def test_error_budget_arithmetic(
    errors: int, consumed: float, remaining: float, burn: float, met: bool
) -> None:
    sli = SLIProcessor(default=Objective(success_rate=0.98))
    for i in range(100):
        sli.record("execute_tool", "t", 0.01, error=i < errors)
    (row,) = sli.report()
    assert row.error_budget_allowed == pytest.approx(2.0)
    assert row.error_budget_consumed == pytest.approx(consumed)
    assert row.error_budget_remaining == pytest.approx(remaining)
    assert row.burn_rate == pytest.approx(burn)
    assert row.success_met is met


def test_perfect_objective_and_invalid_objectives() -> None:
    sli = SLIProcessor(default=Objective(success_rate=1.0))
    sli.record("execute_tool", "t", 0.01, error=True)
    (row,) = sli.report()
    assert row.error_budget_allowed == 0 and math.isinf(row.error_budget_consumed or 0)
    with pytest.raises(ValueError):
        Objective(success_rate=1.5)
    with pytest.raises(ValueError):
        Objective(latency_p95=0)


def test_names_past_the_key_cap_fold_into_other_per_operation() -> None:
    sli = SLIProcessor(max_keys=3)
    for i in range(10):
        sli.record("execute_tool", f"tool-{i}", 0.01, error=i == 9)
    sli.record("chat", "invented-model", 0.02, error=False)
    sli.record("made-up-operation", "x", 0.03, error=False)
    sli.record("execute_tool", "tool-0", 0.01, error=False)  # a key it already has still counts
    rows = {(r.operation, r.name): (r.count, r.errors) for r in sli.report()}
    assert rows == {
        ("execute_tool", "tool-0"): (2, 0),
        ("execute_tool", "tool-1"): (1, 0),
        ("execute_tool", "tool-2"): (1, 0),
        ("execute_tool", "other"): (7, 1),
        ("chat", "other"): (1, 0),
        ("other", "other"): (1, 0),
    }
    assert sli.overflow == 9
    assert "9 spans of further names counted under 'other'" in sli.render()


def test_the_default_cap_is_a_thousand_keys() -> None:
    sli = SLIProcessor()
    for i in range(1_500):
        sli.record("execute_tool", f"tool-{i}", 0.01, error=False)
    rows = sli.report()
    assert len(rows) == 1_001
    (other,) = [r for r in rows if r.name == "other"]
    assert other.count == 500


def test_long_names_are_cut() -> None:
    sli = SLIProcessor()
    sli.record("execute_tool", "x" * 100_000, 0.01, error=False)
    (row,) = sli.report()
    assert row.name == "x" * sli_module.MAX_NAME_LENGTH == "x" * 256


def test_memory_stays_flat_when_callers_invent_100k_names() -> None:
    sli = SLIProcessor()
    context = SpanContext(trace_id=1, span_id=2, is_remote=False, trace_flags=TraceFlags(1))
    spans = [  # built before tracing starts: only what the processor keeps is measured
        ReadableSpan(
            name=f"execute_tool t{i}",
            context=context,
            resource=Resource.get_empty(),
            attributes={
                semconv.GEN_AI_OPERATION_NAME: "execute_tool",
                semconv.GEN_AI_TOOL_NAME: f"tool-invented-by-a-caller-{i}-" + "x" * 64,
            },
            start_time=1_000,
            end_time=1_000 + (i % 97 + 1) * 1_000_000,
        )
        for i in range(100_000)
    ]
    tracemalloc.start()
    try:
        for span in spans[:2_000]:
            sli.on_end(span)
        gc.collect()
        after_2k = tracemalloc.get_traced_memory()[0]
        for span in spans[2_000:]:
            sli.on_end(span)
        gc.collect()
        after_100k = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    rows = sli.report()
    assert len(rows) == 1_001 and sum(r.count for r in rows) == 100_000
    assert after_100k - after_2k < 16 * 1024, (after_2k, after_100k)


def test_sli_and_its_table_do_not_import_each_other() -> None:
    package = Path(sli_module.__file__).parent

    def imports(module: str) -> set[str]:
        tree = ast.parse((package / f"{module}.py").read_text())
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        return found

    assert "instrumentors._sli_table" in imports("sli")
    assert not {"instrumentors.sli", "instrumentors.sli.SLIRow"} & imports("_sli_table")


def test_concurrent_updates_from_threads() -> None:
    sli = SLIProcessor()

    def work(n: int) -> None:
        for i in range(2_000):
            sli.record("execute_tool", f"t{n % 4}", 0.001 * (i % 10 + 1), error=i % 100 == 0)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = sli.report()
    assert sum(r.count for r in rows) == 32_000
    assert sum(r.errors for r in rows) == 320


def test_render_table() -> None:
    sli = SLIProcessor(objectives={"search": Objective(latency_p95=0.5, success_rate=0.99)})
    assert sli.render() == ""
    for i in range(10):
        sli.record("execute_tool", "search", 0.1, error=i == 0)
    table = sli.render().splitlines()
    assert table[0] == "SLIs"
    assert table[1].split()[:4] == ["operation", "name", "calls", "errors"]
    assert "search" in table[2] and "MISSED" in table[2] and "p95<=500.0 ms ok" in table[2]


def test_a_broken_span_never_raises() -> None:
    class Weird:
        attributes = None
        start_time = None
        end_time = None

    SLIProcessor().on_end(Weird())  # type: ignore[arg-type]


@pytest.mark.parametrize("samples", [[0.0129, 0.0137], [0.014, 0.0078, 0.0057], [0.2258, 0.0183]])
def test_small_samples_never_hide_the_slowest_call_from_p95(samples: list[float]) -> None:
    sli = SLIProcessor(default=Objective(latency_p95=0.1))
    for value in samples:
        sli.record("chat", "m", value, error=False)
    (row,) = sli.report()
    assert row.p95 == pytest.approx(max(samples), rel=0.011)
    assert row.p99 == pytest.approx(max(samples), rel=0.011)
    assert row.latency_met is (max(samples) <= 0.1)
