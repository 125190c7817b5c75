"""``examples/openai_agents_agent.py`` run as a user runs it (subprocess, no API key, no
backend): one trace under the workflow's step, an ``invoke_agent`` span per agent, one chat
span per model request (the OpenAI layer enriching it, its HTTP request under it), the
handoff step, the tool with its call id and link, the session from the SDK's group id."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests._examples import ROOT
from tests.test_examples_frameworks import (
    assert_one_trace_and_slis,
    children_of,
    spans_named,
    tree_lines,
)

pytest.importorskip("agents")

CHAT = "chat gpt-4o-mini"
SESSION = "s-agents"


def test_openai_agents_agent() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "openai_agents_agent.py"), SESSION],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "Paris: 21°C, sunny" in result.stdout
    err = result.stderr
    assert "OPENAI_API_KEY is not set" not in err  # the SDK's export was left out offline
    assert_one_trace_and_slis(err, "chat", "execute_tool", "invoke_agent")
    spans = tree_lines(err)
    depth, root = spans[0]
    assert depth == 0 and root.startswith("weather desk  ")
    assert [text.split("  ")[0] for d, text in spans if d == 1] == [
        "invoke_agent Triage agent",
        "invoke_agent Weather agent",
    ]
    (triage,) = spans_named(spans, "invoke_agent Triage agent")
    assert [c.split("  ")[0] for c in children_of(spans, triage)] == [CHAT, "handoff"]
    (weather,) = spans_named(spans, "invoke_agent Weather agent")
    assert [c.split("  ")[0] for c in children_of(spans, weather)] == [
        CHAT,
        "execute_tool get_weather",
        CHAT,
    ]
    chats = spans_named(spans, CHAT)
    assert len(chats) == 3
    for chat in chats:
        assert "provider=openai" in chat and "tokens in=" in chat and "cost $" in chat, chat
        assert [c.split()[0] for c in children_of(spans, chat)] == ["POST"]
    (tool,) = spans_named(spans, "execute_tool get_weather")
    assert re.search(r"\bcall=call_\d+\b", tool) and f"linked to {CHAT}" in tool, tool
    assert all(f"session={SESSION}" in text for _, text in spans), err
