"""An agent's MCP tools (``MCPServerStdio``, a real server process) through the MCP layer:
one ``execute_tool`` span per call (the bridge's, enriched by the MCP layer), and the
trace and session carried into the server process."""

from __future__ import annotations

import sys
from typing import Any

import pytest

import instrumentors
from tests.fakes.openai_server import Reply, ToolCall
from tests.propagation._shadow import mcp_installed

pytest.importorskip("agents")
if not mcp_installed():
    pytest.skip("mcp is not installed", allow_module_level=True)

from agents import Agent, Runner
from agents.mcp import MCPServerStdio
from oa_support import CHAT, attrs, named, one, tree

from instrumentors.mcp import MCPInstrumentor
from tests.mcp._procs import APP, hex_span, hex_trace, server_env, wait_spans

SESSION = "sess-agents-mcp"


@pytest.fixture
def receiver() -> Any:
    """Where the server process exports its spans (OTLP/HTTP on loopback)."""
    from tests.fakes.otlp_receiver import HTTPReceiver

    with HTTPReceiver() as running:
        yield running


@pytest.fixture
def mcp_layer() -> Any:
    instance = MCPInstrumentor()
    instance.instrument()
    yield instance
    instance.uninstrument()


async def test_an_mcp_tool_runs_in_the_trace_across_the_process(
    exporter, instrumented, mcp_layer, receiver, server, model
) -> None:
    params = {"command": sys.executable, "args": [APP, "stdio"], "env": server_env(receiver)}
    server.script(Reply.tools(ToolCall("add", '{"a": 2, "b": 3}', id="call_add")), Reply(text="5"))
    async with MCPServerStdio(params=params, name="calc", client_session_timeout_seconds=30) as mcp:
        agent = Agent(name="Calc", model=model, mcp_servers=[mcp])
        with instrumentors.session(SESSION):
            result = await Runner.run(agent, "What is 2 + 3?")
    assert result.final_output == "5"
    spans = exporter.get_finished_spans()
    ours = [s for s in spans if s.instrumentation_scope.name.startswith("instrumentors")]
    lines = tree(ours)
    assert lines[:2] == ["Agent workflow", "  invoke_agent Calc"]
    tool = one(spans, "execute_tool add")  # one span per call: the layers merged
    values = attrs(tool)
    assert values["gen_ai.tool.call.id"] == "call_add"
    assert values["gen_ai.tool.type"] == "extension"
    assert values["mcp.method.name"] == "tools/call"
    assert values["agent.session_id"] == SESSION
    (link,) = tool.links
    assert link.context == named(spans, CHAT)[0].context
    # In the server process: its tools/call span in the same trace, under ours (1.x) or
    # under the MCP SDK's own client span, which is under ours (2.x).
    (remote,) = wait_spans(
        receiver, lambda s: s["trace_id"] == hex_trace(tool) and s["name"] == "tools/call add"
    )
    client_ids = {hex_span(tool)} | {
        hex_span(s) for s in spans if s.parent and s.parent.span_id == tool.context.span_id
    }
    assert remote["parent_span_id"] in client_ids
    assert remote["attributes"]["agent.session_id"] == SESSION
