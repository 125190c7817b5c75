"""Lazy start: importing or instrumenting imports no LangChain; instrumenting first, then
importing LangChain, traces; uninstrumenting before the import cancels (subprocesses)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

_SETUP = """
    import sys
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    from instrumentors.langchain import LangChainInstrumentor
"""
_AGENT = """
    import warnings
    warnings.simplefilter("ignore")
    from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool

    class Chat(FakeMessagesListChatModel):
        def bind_tools(self, tools, **kwargs):
            return self

    @tool
    def add(a: int, b: int) -> int:
        '''Add two integers.'''
        return a + b

    from langgraph.prebuilt import create_react_agent
    call = {"id": "call_l", "name": "add", "args": {"a": 1, "b": 2}, "type": "tool_call"}
    model = Chat(responses=[AIMessage("", tool_calls=[call]), AIMessage("3")])
    create_react_agent(model, [add]).invoke({"messages": [("user", "1+2?")]})
    print(sorted({s.name for s in exporter.get_finished_spans()}))
"""
_FRAMEWORK = ("langchain_core", "langgraph", "langchain")


def _run(*parts: str) -> list[str]:
    code = "".join(textwrap.dedent(part) for part in parts)
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_import_and_instrument_import_no_langchain() -> None:
    out = _run(
        _SETUP,
        f"""
        print([m for m in {_FRAMEWORK!r} if m in sys.modules])
        inst = LangChainInstrumentor()
        inst.instrument(tracer_provider=provider)
        print([m for m in {_FRAMEWORK!r} if m in sys.modules], inst.started)
        """,
    )
    assert out == ["[]", "[] False"]


def test_instrument_then_import_traces() -> None:
    out = _run(
        _SETUP,
        """
        inst = LangChainInstrumentor()
        inst.instrument(tracer_provider=provider)
        """,
        _AGENT,
        """
        print(inst.started)
        """,
    )
    assert out[-1] == "True"
    names = out[-2]
    for name in ("invoke_agent LangGraph", "execute_tool add", "chat"):
        assert f"'{name}" in names, names


def test_uninstrument_before_import_cancels() -> None:
    out = _run(
        _SETUP,
        """
        inst = LangChainInstrumentor()
        inst.instrument(tracer_provider=provider)
        inst.uninstrument()
        """,
        _AGENT,
        """
        from langchain_core.language_models.chat_models import BaseChatModel
        print(inst.started, type(BaseChatModel.__dict__["generate"]).__name__)
        """,
    )
    assert out == ["[]", "False function"]
