"""The plain-Python paths: an asyncio queue and a ``ProcessPoolExecutor`` job in another process."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import instrumentors
from tests._spans import one, parent_of
from tests.jobs import _pool_worker


async def test_asyncio_queue(exporter: InMemorySpanExporter) -> None:
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    results: list[str] = []

    @instrumentors.job(name="summarise", system="asyncio")
    async def summarise(job: dict[str, Any]) -> None:
        with instrumentors.agent_step("summarise-text"):
            await asyncio.sleep(0)
            results.append(job["text"].upper())

    async def worker() -> None:  # started outside any span: no context of its own
        while (job := await queue.get()) is not None:
            await summarise(job)

    consumer = asyncio.create_task(worker())

    @instrumentors.tool
    async def request_summary(text: str) -> str:
        await queue.put({"text": text, **instrumentors.job_context("summarise", system="asyncio")})
        return "queued"

    with instrumentors.session("sess-q"):
        assert await request_summary("first") == "queued"
        assert await request_summary("second") == "queued"
    await queue.put(None)
    await consumer
    assert results == ["FIRST", "SECOND"]

    spans = exporter.get_finished_spans()
    tools = [s for s in spans if s.name == "execute_tool request_summary"]
    processes = [s for s in spans if s.name == "process summarise"]
    assert len(tools) == len(processes) == 2
    for tool, process in zip(tools, processes, strict=True):
        send = parent_of(process, spans)
        assert send is not None and send.name == "send summarise"
        assert send.kind is SpanKind.PRODUCER and parent_of(send, spans) is tool
        assert process.context.trace_id == tool.context.trace_id
        assert (process.attributes or {})["agent.session_id"] == "sess-q"
        assert (process.attributes or {})["messaging.system"] == "asyncio"
    steps = [s for s in spans if s.name == "summarise-text"]
    assert [parent_of(s, spans) for s in steps] == processes


def test_process_pool_job(exporter: InMemorySpanExporter) -> None:
    @instrumentors.tool
    def summarise_later(pool: ProcessPoolExecutor, text: str) -> Any:
        return pool.submit(_pool_worker.summarise, {"text": text, **instrumentors.job_context()})

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        with instrumentors.session("sess-pool"):
            future = summarise_later(pool, "hello")
        assert future.result(timeout=60) == "HELLO"
        theirs = pool.submit(_pool_worker.collect).result(timeout=60)

    tool = one(exporter.get_finished_spans(), "execute_tool summarise_later")
    process = next(s for s in theirs if s["name"] == "process summarise")
    step = next(s for s in theirs if s["name"] == "summarise-text")
    assert process["kind"] == "CONSUMER"
    assert process["trace_id"] == tool.context.trace_id
    assert process["parent_id"] == tool.context.span_id
    assert process["links"] == [tool.context.span_id]
    assert process["attributes"]["agent.session_id"] == "sess-pool"
    assert process["attributes"]["messaging.system"] == "process_pool"
    assert step["parent_id"] == process["span_id"]
    assert step["attributes"]["agent.session_id"] == "sess-pool"  # the baggage came along
