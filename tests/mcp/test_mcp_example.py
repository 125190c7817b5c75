"""examples/mcp runs as a user runs it and shows one trace across the agent and the server."""

from __future__ import annotations

import re

from tests._examples import run_example


def test_agent_and_tool_server_print_one_trace() -> None:
    done = run_example("mcp", "agent.py", timeout=120)
    err = done.stderr
    assert "Paris: 21°C, sunny" in done.stdout
    assert "tool error:" in done.stdout
    summary = re.search(
        r"one trace ([0-9a-f]{32}): (\d+) spans from weather-agent, (\d+) from", err
    )
    assert summary is not None, err
    assert int(summary.group(2)) >= 5 and int(summary.group(3)) >= 5
    assert len(re.findall(rf"^trace {summary.group(1)} ", err, re.MULTILINE)) == 1  # one tree
    assert "tools/call get_weather" in err and "execute_tool read_station" in err
    assert "[cache.hit name=stations]" in err
    assert "ERROR tool_error" in err
    assert "session=trip-42" in err.split("execute_tool read_station", 1)[1].splitlines()[0]
