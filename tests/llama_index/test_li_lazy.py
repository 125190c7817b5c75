"""Lazy start: instrumenting imports no LlamaIndex; importing it later starts the handlers.

Each case runs in a fresh interpreter, where LlamaIndex is not imported yet.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository: ``tests`` imports from there

PROVIDER = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

def add(a: int, b: int) -> int:
    "Add two integers."
    return a + b
"""


def run(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", PROVIDER + textwrap.dedent(code)],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_importing_the_instrumentor_imports_no_llama_index() -> None:
    out = run(
        """
        import sys
        import instrumentors.llama_index
        from instrumentors.llama_index import LlamaIndexInstrumentor
        LlamaIndexInstrumentor().instrument()
        print(sorted(m for m in sys.modules if m.startswith("llama_index")))
        """
    )
    assert out == ["[]"]


def test_instrument_first_then_import_makes_spans() -> None:
    out = run(
        """
        import asyncio, sys
        from instrumentors.llama_index import LlamaIndexInstrumentor
        inst = LlamaIndexInstrumentor()
        inst.instrument(tracer_provider=provider)
        print(inst.started)
        from llama_index.core.tools import FunctionTool
        print(inst.started, "llama_index.core.agent.workflow" in sys.modules)
        FunctionTool.from_defaults(fn=add).call(a=1, b=2)
        print([s.name for s in exporter.get_finished_spans()])
        exporter.clear()

        from llama_index.core.agent.workflow import FunctionAgent
        from tests.llama_index.li_support import ScriptedLLM, text

        async def main() -> None:
            await FunctionAgent(name="calc", tools=[add], llm=ScriptedLLM([text("3")])).run("x")

        asyncio.run(main())
        print(sorted(s.name for s in exporter.get_finished_spans()))
        """
    )
    assert out == [
        "False",
        # Starting imported nothing the program did not (LlamaIndex's agents stay unloaded) ...
        "True False",
        "['execute_tool add']",
        # ... and agents imported later are still known: no span for their bookkeeping steps.
        "['chat scripted-model', 'invoke_agent calc', 'run_agent_step']",
    ]


def test_uninstrument_before_the_import_cancels_the_start() -> None:
    out = run(
        """
        from instrumentors.llama_index import LlamaIndexInstrumentor
        inst = LlamaIndexInstrumentor()
        inst.instrument()
        inst.uninstrument()
        from llama_index.core.instrumentation import get_dispatcher
        from llama_index.core.tools import FunctionTool, function_tool
        FunctionTool.from_defaults(fn=add).call(a=1, b=2)
        handlers = [*get_dispatcher().span_handlers, *get_dispatcher().event_handlers]
        print(inst.started, exporter.get_finished_spans() == ())
        print([type(h).__name__ for h in handlers if "Instrumentors" in h.class_name()])
        print(hasattr(function_tool.sync_to_async, "__wrapped__"))
        """
    )
    assert out == ["False True", "[]", "False"]
