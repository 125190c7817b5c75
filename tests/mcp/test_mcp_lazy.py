"""Lazy start: importing or instrumenting does not import mcp; spans come once mcp is imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A provider with an in-memory exporter, then the instrumentor, in a fresh interpreter.
_PRELUDE = """
import sys
import anyio
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from instrumentors.mcp import MCPInstrumentor

def mcp_loaded():
    return any(name == "mcp" or name.startswith("mcp.") for name in sys.modules)

async def one_call():
    from tests.mcp._inproc import connect, make_app  # imports mcp
    async with connect(make_app()) as session:
        result = await session.call_tool("add", {"a": 2, "b": 3})
    return result.content[0].text
"""


def _run(body: str) -> list[str]:
    code = textwrap.dedent(_PRELUDE) + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_importing_the_instrumentor_does_not_import_mcp() -> None:
    out = _run(
        """
        print(mcp_loaded())
        """
    )
    assert out == ["False"]


def test_instrumenting_before_mcp_is_imported_traces_once_it_is() -> None:
    out = _run(
        """
        inst = MCPInstrumentor()
        inst.instrument()
        print(mcp_loaded(), inst.started)
        print(anyio.run(one_call), inst.started)
        names = sorted(s.name for s in exporter.get_finished_spans())
        print("execute_tool add" in names, "tools/call add" in names)
        """
    )
    assert out == ["False False", "5 True", "True True"]


def test_uninstrumenting_before_mcp_is_imported_cancels_it() -> None:
    out = _run(
        """
        inst = MCPInstrumentor()
        inst.instrument()
        inst.uninstrument()
        print(anyio.run(one_call), inst.started)
        from mcp.client.session import ClientSession
        print(hasattr(ClientSession.call_tool, "__wrapped__"))
        names = [s.name for s in exporter.get_finished_spans() if s.name.startswith("execute_tool")]
        print(names)
        """
    )
    assert out == ["5 False", "False", "[]"]
