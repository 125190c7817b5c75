"""Zero code: ``opentelemetry-instrument python agent.py`` traces a LangGraph agent through
the ``agent_langchain`` entry point and prints the tree (``OTEL_TRACES_EXPORTER=agent_tree``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

AGENT = textwrap.dedent(
    '''
    import warnings
    warnings.simplefilter("ignore")
    from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.tools import tool
    from langgraph.prebuilt import create_react_agent

    class ScriptedChat(FakeMessagesListChatModel):
        def bind_tools(self, tools, **kwargs):
            return self

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    model = ScriptedChat(responses=[
        AIMessage("", tool_calls=[{"id": "call_z", "name": "add", "args": {"a": 1, "b": 2}}]),
        AIMessage("3"),
    ])
    agent = create_react_agent(model, [add])
    config = {"configurable": {"thread_id": "zc"}}
    result = agent.invoke({"messages": [HumanMessage("1+2?")]}, config)
    print("ANSWER", result["messages"][-1].content)
    '''
)


def test_opentelemetry_instrument(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.distro")
    pytest.importorskip("langgraph.prebuilt")
    launcher = Path(sys.executable).parent / "opentelemetry-instrument"
    if not launcher.exists():
        pytest.skip("opentelemetry-instrument is not installed")
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "agent_tree",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "zero-code-agent",
    }
    done = subprocess.run(
        [str(launcher), sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ANSWER 3" in done.stdout
    tree = done.stderr
    for name in ("invoke_agent LangGraph", "execute_tool add", "chat"):
        assert name in tree, tree
    assert "call_z" in tree
    assert "Failed to detach context" not in tree
