"""Load: 1,000 concurrent asyncio tool calls and 32 threads keep parents and sessions straight."""

from __future__ import annotations

import asyncio

import instrumentors
from instrumentors import semconv
from tests._threads import run_in_threads


@instrumentors.tool
async def lookup(i: int) -> int:
    await asyncio.sleep(0.001 * (i % 5))
    return i


@instrumentors.tool
def compute(i: int) -> int:
    return i * 2


async def test_thousand_concurrent_asyncio_tool_calls(exporter) -> None:
    async def agent(i: int) -> int:
        with instrumentors.session(f"s-{i}"), instrumentors.agent_step(f"step-{i}"):
            return await lookup(i)

    results = await asyncio.gather(*(agent(i) for i in range(1000)))
    assert results == list(range(1000))
    spans = exporter.get_finished_spans()
    steps = {s.context.span_id: s for s in spans if s.name.startswith("step-")}
    tools = [s for s in spans if s.name == "execute_tool lookup"]
    assert len(steps) == 1000 and len(tools) == 1000
    for tool_span in tools:
        step = steps[tool_span.parent.span_id]
        index = step.name.removeprefix("step-")
        assert tool_span.attributes[semconv.AGENT_SESSION_ID] == f"s-{index}"
        assert tool_span.context.trace_id == step.context.trace_id
    assert len({s.context.trace_id for s in steps.values()}) == 1000  # no leaks between tasks


def test_thirty_two_threads(exporter) -> None:
    def worker(n: int) -> None:
        with instrumentors.session(f"t-{n}"), instrumentors.agent_step(f"thread-{n}"):
            for i in range(50):
                assert compute(i) == i * 2

    assert run_in_threads(worker, 32) == []
    spans = exporter.get_finished_spans()
    steps = {s.context.span_id: s for s in spans if s.name.startswith("thread-")}
    tools = [s for s in spans if s.name == "execute_tool compute"]
    assert len(tools) == 32 * 50
    for tool_span in tools:
        step = steps[tool_span.parent.span_id]
        assert tool_span.attributes[semconv.AGENT_SESSION_ID] == "t-" + step.name.split("-")[1]


def test_threads_with_copied_context_share_the_parent(exporter) -> None:
    with instrumentors.agent_step("fan-out"):
        assert run_in_threads(compute, 32, copy_context=True) == []
    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.name == "fan-out"]
    assert all(
        s.parent.span_id == root.context.span_id for s in spans if s.name.startswith("execute")
    )
