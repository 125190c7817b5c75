"""``examples/anthropic_agent.py`` run as a user runs it (subprocess, no API key, no backend):
its printed trace tree has one chat span per request (the SDK's own span left out), the tool
spans with their call ids and links, and the HTTP spans under the chat spans."""

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

pytest.importorskip("anthropic")

CHAT = "chat claude-sonnet-4-5"


def test_anthropic_agent() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_"))}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "anthropic_agent.py"), "s-ant"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "Paris: 21°C, sunny | Paris day 1: mild" in result.stdout
    assert_one_trace_and_slis(result.stderr, "chat", "execute_tool")
    spans = tree_lines(result.stderr)
    assert spans[0][1].startswith("anthropic-agent run")
    chats = spans_named(spans, CHAT)
    assert len(chats) == 2
    assert all("provider=anthropic" in chat for chat in chats)
    for name in ("get_weather", "get_forecast"):
        (tool,) = spans_named(spans, f"execute_tool {name}")
        assert re.search(r"\bcall=toolu_\d+\b", tool), tool
        assert "session=s-ant" in tool, tool
        assert "links=1" in tool or f"linked to {CHAT}" in tool, tool  # the tree view's wording
    assert not [text for _, text in spans if text.startswith("anthropic.messages")]
    for chat in chats:  # the SDK talks through httpx2 (1.x, 2.x) or httpx (0.x)
        assert [c.split()[0] for c in children_of(spans, chat)] in (["POST"], [])
