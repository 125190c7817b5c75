"""An agent whose tool hands work to a worker process through a job queue: one trace (offline).

The agent's tool ``summarise_later`` looks the page up in a SQLite cache, misses,
and enqueues a job for a worker process; the worker summarises the page with a
model call and sends the summary back. Two lines carry the trace across the queue:

    jobs.put({"url": url, **instrumentors.job_context("summarise")})   # agent: + ``send`` span
    @instrumentors.job(name="summarise")                                # worker: ``process`` span
    def summarise(job): ...

Any queue works the same way (here a ``multiprocessing`` queue; Redis, SQS, a
database table...): the context is a few JSON-safe keys in the payload. Both
processes call ``instrumentors.setup()``; the worker exports to a tiny OTLP receiver
in the agent, which prints both processes' spans as one tree on stderr:

    python examples/job_queue_agent.py

Without ``OPENAI_API_KEY`` a scripted local model (``_local_model.py``) answers;
with it, the real API does. With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, both processes
export there instead (a collector or backend shows the same single trace).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _requires import require

require("examples-jobs", "openai", "opentelemetry.proto", "opentelemetry.instrumentation.dbapi")

import openai
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import instrumentors
from instrumentors.export import render_trace

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "mcp"))
from _local_model import Turn, local_model
from _otlp_inbox import OTLPInbox

BACKEND = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
PAGE = "https://example.com/otel-for-agents"
PLAN: list[Turn] = [[("summarise_later", {"url": PAGE})]]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "summarise_later",
            "description": "Summarise a web page (in the background, cached).",
            "parameters": {
                "type": "object",
                "properties": {"url": {"type": "string"}},
                "required": ["url"],
            },
        },
    }
]


# ------------------------------------------------------------------------------ the worker


def worker_main(jobs: Any, results: Any, endpoint: str, model: tuple[str | None, str, str]) -> None:
    """The worker process: take jobs until ``None``, export its spans to ``endpoint``."""
    handle = instrumentors.setup(service_name="summariser-worker", endpoint=endpoint)
    base_url, api_key, model_name = model
    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)

    @instrumentors.job(name="summarise", system="multiprocessing")
    def summarise(job: dict[str, Any]) -> str:
        response = client.chat.completions.create(
            model=model_name,
            messages=[{"role": "user", "content": f"Summarise the page {job['url']} in a line."}],
        )
        return response.choices[0].message.content or ""

    _ = client.chat.completions  # the SDK loads its modules on first use: not in the first job
    results.put("ready")
    while (job := jobs.get()) is not None:
        results.put(summarise(job))
    handle.shutdown()


# ------------------------------------------------------------------------------ the agent


class _Keep(SpanExporter):
    """The agent's own spans, kept to be printed with the worker's."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


class Agent:
    """A tool-calling loop whose one tool goes through a cache and a job queue."""

    def __init__(self, client: openai.OpenAI, model: str, jobs: Any, results: Any) -> None:
        self.client, self.model, self.jobs, self.results = client, model, jobs, results
        self.cache = sqlite3.connect(":memory:", check_same_thread=False)
        self.cache.execute("CREATE TABLE summaries (url TEXT PRIMARY KEY, summary TEXT)")
        self.summarise_later = instrumentors.tool(self._summarise_later, name="summarise_later")

    def _summarise_later(self, url: str) -> str:
        """Summarise a web page (in the background, cached)."""
        row = self.cache.execute("SELECT summary FROM summaries WHERE url = ?", (url,)).fetchone()
        if row is not None:
            return str(row[0])
        context = instrumentors.job_context("summarise", system="multiprocessing")
        self.jobs.put({"url": url, **context})
        summary = str(self.results.get(timeout=60))
        self.cache.execute("INSERT INTO summaries VALUES (?, ?)", (url, summary))
        return summary

    def run(self, question: str) -> str:
        messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
        for _ in range(4):
            response = self.client.chat.completions.create(
                model=self.model,
                messages=messages,
                tools=TOOLS,  # type: ignore[arg-type]
            )
            message = response.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                arguments = json.loads(call.function.arguments or "{}")  # type: ignore[union-attr]
                with instrumentors.tool_call_id(call.id):
                    result = self.summarise_later(**arguments)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        return "no answer after 4 turns"


def main() -> None:
    kept = _Keep()
    handle = instrumentors.setup(service_name="research-agent", exporter=None if BACKEND else kept)
    spawn = multiprocessing.get_context("spawn")  # a fresh worker interpreter, as in production
    jobs, results = spawn.Queue(), spawn.Queue()
    with OTLPInbox() as inbox, local_model(PLAN) as (base_url, api_key, model):
        settings = (base_url, api_key, model)
        endpoint = BACKEND or inbox.endpoint
        worker = spawn.Process(target=worker_main, args=(jobs, results, endpoint, settings))
        worker.start()
        assert results.get(timeout=120) == "ready"
        client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
        agent = Agent(client, model, jobs, results)
        with instrumentors.session("research-7"), instrumentors.agent_step("research-agent run"):
            trace_id = trace.get_current_span().get_span_context().trace_id
            print(agent.run(f"What does {PAGE} say?"))
        jobs.put(None)
        worker.join(60)
        handle.force_flush()
        if BACKEND:
            print(f"trace {trace_id:032x} sent to {BACKEND}", file=sys.stderr)
            return
        theirs = inbox.wait_for(trace_id, 2)  # process summarise + the worker's chat span
    mine = [s for s in kept.spans if s.context and s.context.trace_id == trace_id]
    print(render_trace(mine + theirs), file=sys.stderr)
    print(
        f"one trace {trace_id:032x}: {len(mine)} spans from research-agent, "
        f"{len(theirs)} from summariser-worker",
        file=sys.stderr,
    )
    # This process's SLIs (setup() prints them only with the tree view it owns).
    if handle.sli is not None and (table := handle.sli.render()):
        print(table, file=sys.stderr)


if __name__ == "__main__":
    main()
