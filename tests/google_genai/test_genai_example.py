"""examples/gemini_agent.py runs as a user runs it (subprocess, no API key, no backend): the
trace tree it prints on stderr is the one its docstring promises."""

from __future__ import annotations

import re

import pytest

from tests._examples import run_example
from tests.test_examples_frameworks import (
    assert_one_trace_and_slis,
    children_of,
    spans_named,
    tree_lines,
)

pytest.importorskip("google.genai")

CHAT = "chat gemini-2.5-flash"
# How the tree view shows a span link (its wording changed: either form).
LINKED = re.compile(r"links=1|linked to chat gemini-2\.5-flash")


def test_gemini_agent() -> None:
    result = run_example("gemini_agent.py")
    assert "Paris: 21°C, sunny" in result.stdout
    assert "Paris day 2: mild" in result.stdout
    err = result.stderr
    spans = tree_lines(err)
    assert spans[0][1].startswith("gemini-agent run  ")
    chats = spans_named(spans, CHAT)
    assert len(chats) == 3, err
    assert all("provider=gcp.gemini" in c and "in=" in c and "out=" in c for c in chats)
    first, second, session = chats
    # The rate-limited first request: retried once by the SDK, one event of each kind.
    assert first.count("retry.attempted attempt=1") == 1 and "rate.limit.invoked" in first
    assert [c.split("  ")[0] for c in children_of(spans, first)] == ["POST", "POST"]
    assert "retry.attempted" not in second + session
    # The agent's own tool: the id the instrumentor gave the call, and the link.
    (weather,) = spans_named(spans, "execute_tool get_weather")
    assert re.search(r"call=local-\d+:0:0\b", weather) and LINKED.search(weather)
    # Automatic function calling: the SDK's call of get_forecast inside the session's span.
    (forecast,) = [c for c in children_of(spans, session) if c.startswith("execute_tool")]
    assert forecast.startswith("execute_tool get_forecast  ") and LINKED.search(forecast)
    assert all("session=gemini-session-1" in text for _, text in spans)
    assert "ERROR" not in "".join(t for _, t in spans if not t.startswith("POST"))
    assert_one_trace_and_slis(
        err,
        "chat +gemini-2.5-flash +3 +0",
        "execute_tool +get_forecast +1 +0",
        "execute_tool +get_weather +1 +0",
    )
