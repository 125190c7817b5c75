"""No secret from the corpus reaches an exporter: every capture mode, every layer that captures.

Each secret shape of ``corpus.SECRETS`` is put where a user or a model would put it:
a user message, the model's answer, a tool call's arguments, a tool's result, an MCP
tool's arguments. Then every exported span name, attribute, event attribute, status
and every content event (log record) is searched for the secret part.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import instrumentors
from tests.security.corpus import CONTROL, SECRETS

MODES = ["false", "SPAN_ONLY", "EVENT_ONLY", "SPAN_AND_EVENT", "sampled"]
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
TEXT = "\n".join(f"{s.name}: {s.value} ({CONTROL})" for s in SECRETS)
ARGS = {f"field_{i}": s.value for i, s in enumerate(SECRETS)} | {"note": CONTROL}


def _configure(settings_env: Any, mode: str) -> None:
    if mode == "sampled":  # capture off, every tool call sampled for capture
        settings_env(**{CAPTURE: "false", "AGENT_INSTRUMENTORS_CAPTURE_SAMPLE_RATE": "1"})
    else:
        settings_env(**{CAPTURE: mode})


def exported(spans: Any, logs: Any) -> str:
    """Everything an exporter would send, as one text."""
    parts: list[str] = []
    for span in spans:
        parts += [span.name, str(span.status.description), repr(dict(span.attributes or {}))]
        for event in span.events:
            parts += [event.name, repr(dict(event.attributes or {}))]
    for record in logs:
        log = record.log_record
        parts += [str(log.event_name), repr(log.body), repr(dict(log.attributes or {}))]
    return "\n".join(parts)


def assert_no_secret(text: str) -> None:
    leaked = [s.name for s in SECRETS if s.secret in text]
    assert not leaked, f"leaked: {leaked}"


@pytest.fixture
def everything(exporter: Any, log_exporter: Any) -> Iterator[Any]:
    def collect() -> str:
        return exported(exporter.get_finished_spans(), log_exporter.get_finished_logs())

    yield collect


@pytest.mark.parametrize("mode", MODES)
def test_plain_tools(everything: Any, settings_env: Any, mode: str) -> None:
    _configure(settings_env, mode)

    @instrumentors.tool
    def call_api(payload: dict[str, Any], text: str) -> dict[str, Any]:
        return {"echo": payload, "text": text}

    @instrumentors.tool
    def failing(token: str) -> None:
        raise PermissionError(f"denied for {token}")

    with instrumentors.session("s-1"), instrumentors.tool_call_id("call_1"):
        call_api(ARGS, TEXT)
        with pytest.raises(PermissionError):
            failing(SECRETS[0].value)
    text = everything()
    assert "execute_tool call_api" in text
    assert_no_secret(text)
    if mode != "false":  # content was captured: the harmless value next to each secret stayed
        assert CONTROL in text


@pytest.mark.parametrize("mode", MODES)
def test_openai_chat_and_stream(everything: Any, settings_env: Any, mode: str) -> None:
    openai = pytest.importorskip("openai")
    from instrumentors.openai import OpenAIInstrumentor
    from tests.fakes.openai_server import FakeOpenAIServer, Reply, ToolCall

    _configure(settings_env, mode)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    with FakeOpenAIServer() as server:
        server.script(
            Reply.tools(ToolCall("call_api", json.dumps(ARGS), id="call_9"), text=TEXT),
            Reply(text=TEXT),
        )
        client = openai.OpenAI(base_url=server.base_url, api_key=SECRETS[0].value, max_retries=0)
        messages = [{"role": "system", "content": TEXT}, {"role": "user", "content": TEXT}]
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)
        for _chunk in stream:
            pass
        client.close()
    instrumentor.uninstrument()
    text = everything()
    assert "chat gpt-4o-mini" in text
    assert_no_secret(text)


@pytest.mark.parametrize("mode", MODES)
def test_langchain_model_and_tool(everything: Any, settings_env: Any, mode: str) -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.tools import tool as lc_tool

    from instrumentors.langchain import LangChainInstrumentor
    from tests.langchain.lc_support import ScriptedChat, answer, calling, tool_call

    _configure(settings_env, mode)
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument()
    try:

        @lc_tool
        def call_api(payload: dict, text: str) -> str:  # type: ignore[type-arg]
            """Call an API."""
            return json.dumps({"echo": payload, "text": text})

        model = ScriptedChat(
            responses=[
                calling(tool_call("call_api", {"payload": ARGS, "text": TEXT}, "c1")),
                answer(TEXT),
            ]
        )
        reply = model.invoke(TEXT)
        call_api.invoke(reply.tool_calls[0]["args"])
        model.invoke([("system", TEXT), ("human", TEXT)])
    finally:
        instrumentor.uninstrument()
    text = everything()
    assert "execute_tool call_api" in text
    assert_no_secret(text)


@pytest.mark.parametrize("mode", MODES)
def test_llama_index_llm_and_tool(everything: Any, settings_env: Any, mode: str) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.llms import ChatMessage
    from llama_index.core.tools import FunctionTool

    from instrumentors.llama_index import LlamaIndexInstrumentor
    from tests.llama_index.li_support import ScriptedLLM

    _configure(settings_env, mode)
    instrumentor = LlamaIndexInstrumentor()
    instrumentor.instrument()
    try:

        def call_api(payload: dict, text: str) -> str:  # type: ignore[type-arg]
            """Call an API."""
            return json.dumps({"echo": payload, "text": text})

        llm = ScriptedLLM([ChatMessage(role="assistant", content=TEXT)])
        llm.chat([ChatMessage(role="system", content=TEXT), ChatMessage(role="user", content=TEXT)])
        FunctionTool.from_defaults(fn=call_api).call(payload=ARGS, text=TEXT)
    finally:
        instrumentor.uninstrument()
    text = everything()
    assert "execute_tool call_api" in text
    assert_no_secret(text)


@pytest.mark.parametrize("mode", MODES)
def test_mcp_tool_call(everything: Any, settings_env: Any, mode: str) -> None:
    pytest.importorskip("mcp")
    from instrumentors.mcp import MCPInstrumentor
    from tests.mcp._inproc import connect, make_app

    _configure(settings_env, mode)
    instrumentor = MCPInstrumentor()
    instrumentor.instrument()
    app = make_app()

    @app.tool()
    def call_api(payload: dict, text: str) -> str:  # type: ignore[type-arg]
        """Call an API."""
        return json.dumps({"echo": payload, "text": text})

    async def run() -> None:
        async with connect(app) as client:
            await client.call_tool("call_api", {"payload": ARGS, "text": TEXT})

    try:
        asyncio.run(run())
    finally:
        instrumentor.uninstrument()
    text = everything()
    assert "call_api" in text
    assert_no_secret(text)


_SECRET_VALUES = st.sampled_from([s.value for s in SECRETS])
_LEAVES = st.one_of(_SECRET_VALUES, st.text(max_size=20), st.integers(), st.none())
_NESTED = st.recursive(
    _LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=12), children, max_size=4),
        st.builds(
            json.dumps,
            st.dictionaries(st.sampled_from(["q", "auth"]), children, max_size=3),
        ),
    ),
    max_leaves=12,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=_NESTED)
def test_property_no_secret_reaches_an_exporter(
    everything: Any, exporter: Any, log_exporter: Any, settings_env: Any, value: Any
) -> None:
    """Any nesting of corpus secrets, as a tool's argument and result, in SPAN_AND_EVENT mode."""
    exporter.clear()
    log_exporter.clear()
    settings_env(**{CAPTURE: "SPAN_AND_EVENT"})

    @instrumentors.tool
    def echo(value: Any) -> Any:
        return value

    echo(value)
    assert_no_secret(everything())
