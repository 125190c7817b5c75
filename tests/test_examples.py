"""The examples run as a user runs them (subprocess, no API key, no backend)."""

from __future__ import annotations

from tests._examples import run_example


def test_basic_agent_prints_its_trace() -> None:
    result = run_example("basic_agent.py")
    err = result.stderr
    assert "weather-agent" in err
    assert "execute_tool get_weather" in err
    assert err.count("execute_tool get_forecast") == 2  # the timeout, then the retry
    assert "ERROR TimeoutError" in err and "ERROR RuntimeError" in err
    assert "retry.attempted attempt=1" in err
    assert "call=call_2" in err and "session=demo-session-1" in err
    assert "Paris: 21°C" in result.stdout
