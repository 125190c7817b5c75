"""Instrument/uninstrument, bounded memory, suppression, unsampled runs, telemetry bugs and
one chat span when a provider layer sees the same model request."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import wrapt
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.tools import tool
from lc_support import (
    AGENT_FACTORIES,
    ScriptedChat,
    answer,
    by_operation,
    calling,
    current_span_name,
    named,
    one,
    tool_call,
    tree,
)
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import StatusCode

from instrumentors.langchain import (
    LangChainInstrumentor,
    TracingCallbackHandler,
    _extract,
    _providers,
)
from instrumentors.telemetry import Telemetry


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def boom(x: int) -> int:
    """Always fails."""
    raise ValueError("tool exploded")


def _agent_run(failing_tool: bool = False) -> Any:
    name = "boom" if failing_tool else "add"
    model = ScriptedChat(
        responses=[calling(tool_call(name, {"a": 1, "b": 2, "x": 1}, "c1")), answer()]
    )
    _, factory = AGENT_FACTORIES[0]
    from langgraph.prebuilt import ToolNode

    agent = factory(model, ToolNode([boom if failing_tool else add], handle_tool_errors=True))
    return agent.invoke({"messages": [HumanMessage("1+2")]})


def _wrapped() -> list[str]:
    """Which of the patched LangChain / LangGraph functions are wrapped right now."""
    from langchain_core.callbacks.manager import AsyncCallbackManager
    from langchain_core.language_models import chat_models, llms
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import base
    from langchain_core.tools import BaseTool
    from langgraph.pregel import Pregel

    # Where a child run's context is made: public on newer core, private on 0.3.0.
    child = "set_config_context" if "set_config_context" in base.__dict__ else "_set_config_context"
    targets = {
        "child context": base.__dict__[child],
        "generate": chat_models.BaseChatModel.__dict__["generate"],
        "agenerate": chat_models.BaseChatModel.__dict__["agenerate"],
        "stream": chat_models.BaseChatModel.__dict__["stream"],
        "astream": chat_models.BaseChatModel.__dict__["astream"],
        "get_llm_cache": chat_models.__dict__["get_llm_cache"],
        "BaseLLM.generate": llms.BaseLLM.__dict__["generate"],
        "on_chat_model_start": AsyncCallbackManager.__dict__["on_chat_model_start"],
        "BaseRetriever.invoke": BaseRetriever.__dict__["invoke"],
        "BaseTool.run": BaseTool.__dict__["run"],
        "Pregel.stream": Pregel.__dict__["stream"],
        "Pregel.astream": Pregel.__dict__["astream"],
    }
    # (isinstance: a @contextmanager function has a __wrapped__ of its own)
    return [name for name, value in targets.items() if isinstance(value, wrapt.FunctionWrapper)]


def _hooked_in() -> bool:
    """Whether a callback manager LangChain configures now holds our handler."""
    from langchain_core.callbacks import CallbackManager

    manager = CallbackManager.configure()
    return any(isinstance(h, TracingCallbackHandler) for h in manager.handlers)


# --------------------------------------------------------------------------- lifecycle


def test_instrument_uninstrument_cycles(exporter: Any) -> None:
    instrumentor = LangChainInstrumentor()
    for _ in range(3):
        instrumentor.instrument()
        instrumentor.instrument()  # twice: harmless
        assert len(_wrapped()) == 12
        assert _hooked_in()
        _agent_run()
        spans = exporter.get_finished_spans()
        assert len(named(spans, "invoke_agent LangGraph")) == 1, tree(spans)
        assert len(by_operation(spans, "chat")) == 2
        exporter.clear()

        async def consume() -> None:
            async for _ in Layered(responses=[answer()]).astream("q"):
                pass

        asyncio.run(consume())
        assert len(by_operation(exporter.get_finished_spans(), "chat")) == 1
        exporter.clear()

        instrumentor.uninstrument()
        assert _wrapped() == []
        assert not _hooked_in()
        _agent_run()
        assert exporter.get_finished_spans() == ()


def test_maps_return_to_zero(exporter: Any, instrumented: LangChainInstrumentor) -> None:
    handler = instrumented._state.handler

    class Broken(ScriptedChat):
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("model down")

    _, factory = AGENT_FACTORIES[0]
    for i in range(30):
        _agent_run(failing_tool=bool(i % 2))
        with pytest.raises(RuntimeError):
            factory(Broken(responses=[answer()]), [add]).invoke({"messages": [HumanMessage("x")]})
        with pytest.raises(ValueError):
            boom.invoke({"x": 1})
        asyncio.run(ScriptedChat(responses=[answer()]).ainvoke("q"))
    assert len(handler._runs) == 0
    assert len(exporter.get_finished_spans()) > 200


def test_map_is_capped(exporter: Any) -> None:
    from opentelemetry import trace

    handler = TracingCallbackHandler(max_runs=5)
    handler._attach = False  # a run that never ends would otherwise stay current
    run_ids = [uuid.uuid4() for _ in range(20)]
    for run_id in run_ids:  # started, not ended yet (or never: a framework bug)
        handler.on_chain_start({"name": "x"}, {}, run_id=run_id)
    assert len(handler._runs) == 5
    assert len(exporter.get_finished_spans()) == 15  # evicted runs are ended, not leaked
    for run_id in reversed(run_ids):
        handler.on_chain_end({}, run_id=run_id)
    assert len(handler._runs) == 0
    assert len(exporter.get_finished_spans()) == 20
    assert not trace.get_current_span().get_span_context().is_valid


# --------------------------------------------------------------------------- suppression, sampling


def test_suppressed(exporter: Any, instrumented: LangChainInstrumentor) -> None:
    with suppress_instrumentation():
        result = _agent_run()
    assert result["messages"][-1].content == "3"
    assert exporter.get_finished_spans() == ()
    assert len(instrumented._state.handler._runs) == 0


@pytest.mark.usefixtures("unsampled")
def test_unsampled(exporter: Any, instrumented: LangChainInstrumentor) -> None:
    result = _agent_run()
    assert result["messages"][-1].content == "3"
    assert exporter.get_finished_spans() == ()
    assert len(instrumented._state.handler._runs) == 0


# --------------------------------------------------------------------------- telemetry bugs


@pytest.mark.parametrize(
    ("module", "function"),
    [
        (_extract, "llm_result"),
        (_providers, "model_identity"),
        (_extract, "run_name"),
        (_extract, "tool_params"),
    ],
)
def test_telemetry_bug_does_not_break_the_run(
    exporter: Any,
    instrumented: LangChainInstrumentor,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    module: Any,
    function: str,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("telemetry bug")

    monkeypatch.setattr(module, function, broken)
    caplog.set_level(logging.DEBUG, logger="instrumentors")
    result = _agent_run()
    assert result["messages"][-1].content == "3"
    assert any("telemetry bug" in str(r.exc_info) for r in caplog.records if r.exc_info)
    assert len(instrumented._state.handler._runs) == 0
    # Whatever was started was ended.
    assert all(s.end_time for s in exporter.get_finished_spans())


def test_handler_survives_config_copies() -> None:
    import copy

    handler = TracingCallbackHandler()
    assert copy.copy(handler) is handler
    config = copy.deepcopy({"callbacks": [handler], "metadata": {"a": 1}})
    assert config["callbacks"][0] is handler


def test_handler_never_raises_into_langchain(exporter: Any) -> None:
    handler = TracingCallbackHandler()
    assert handler.raise_error is False
    # Events for runs it never saw, and odd arguments: ignored.
    handler.on_llm_end(None, run_id=uuid.uuid4())
    handler.on_tool_end(object(), run_id=uuid.uuid4())
    handler.on_chain_error(ValueError("x"), run_id=uuid.uuid4())
    run_id = uuid.uuid4()
    handler.on_chat_model_start(None, None, run_id=run_id)
    handler.on_llm_new_token("x", run_id=run_id)
    handler.on_llm_end(object(), run_id=run_id)
    assert len(handler._runs) == 0
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.provider.name"] == "langchain"


# --------------------------------------------------------------------------- one chat span


INNER = Telemetry("inner.layer")


class Layered(ScriptedChat):
    """A model whose request is also seen by a provider layer (as the OpenAI SDK layer would)."""

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        inner = INNER.llm("openai", "gpt-inner", server_address="inner.example", server_port=443)
        inner.set_response(response_id="inner-id")
        inner.stop()
        return super()._generate(messages, stop, run_manager, **kw)

    def _stream(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Iterator[Any]:
        inner = INNER.llm(
            "openai", "gpt-inner", server_address="inner.example", server_port=443, attach=False
        )
        for piece in ("a", "b"):
            inner.record_chunk()
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        inner.stop()

    async def _astream(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> AsyncIterator[Any]:
        for chunk in self._stream(messages, stop, run_manager, **kw):
            yield chunk


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream", "agent", "agent-async"])
def test_one_chat_span_with_inner_layer(
    exporter: Any, instrumented: LangChainInstrumentor, mode: str
) -> None:
    model = Layered(responses=[answer("hi")])
    if mode == "invoke":
        model.invoke("q")
    elif mode == "ainvoke":
        asyncio.run(model.ainvoke("q"))
    elif mode == "stream":
        assert "".join(str(c.content) for c in model.stream("q")) == "ab"
    elif mode == "astream":

        async def consume() -> str:
            return "".join([str(c.content) async for c in model.astream("q")])

        assert asyncio.run(consume()) == "ab"
    else:
        _, factory = AGENT_FACTORIES[0]
        agent = factory(model, [add])
        question = {"messages": [HumanMessage("x")]}
        if mode == "agent":
            agent.invoke(question)
        else:
            asyncio.run(agent.ainvoke(question))

    spans = exporter.get_finished_spans()
    (chat,) = by_operation(spans, "chat")
    assert chat.instrumentation_scope.name == "instrumentors.langchain"
    # The inner layer enriched the one span instead of opening its own.
    assert chat.attributes["server.address"] == "inner.example"
    assert chat.status.status_code is StatusCode.UNSET


def test_stream_abandoned_ends_chat_span(
    exporter: Any, instrumented: LangChainInstrumentor
) -> None:
    model = Layered(responses=[answer("hi")])
    stream = model.stream("q")
    next(stream)
    stream.close()
    (chat,) = by_operation(exporter.get_finished_spans(), "chat")
    assert chat.status.status_code is StatusCode.UNSET
    assert len(instrumented._state.handler._runs) == 0


class Streaming(ScriptedChat):
    """Streams two chunks, recording the span current while it produces each."""

    def _stream(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Iterator[Any]:
        for piece in ("a", "b"):
            self.seen.append(current_span_name())
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))

    async def _astream(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> AsyncIterator[Any]:
        for chunk in self._stream(messages, stop, run_manager, **kw):
            yield chunk


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_chat_span_current_in_model_stream(
    exporter: Any, instrumented: LangChainInstrumentor, mode: str
) -> None:
    model = Streaming(responses=[answer()], seen=[])
    if mode == "stream":
        text = "".join(str(c.content) for c in model.stream("q"))
    else:

        async def consume() -> str:
            return "".join([str(c.content) async for c in model.astream("q")])

        text = asyncio.run(consume())
    assert text == "ab"
    (chat,) = by_operation(exporter.get_finished_spans(), "chat")
    assert model.seen == [chat.name, chat.name]


def test_chat_span_current_while_generator_steps(exporter: Any, instrumented: Any) -> None:
    """Between chunks the caller's context is its own (no chat span leaks into it)."""
    from opentelemetry import trace

    model = Layered(responses=[answer("hi")])
    current = [trace.get_current_span().get_span_context().is_valid for _ in model.stream("q")]
    assert current and not any(current)
    assert one(exporter.get_finished_spans(), "chat").name == "chat"
