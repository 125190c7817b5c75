"""A plain-Python tool-calling agent traced with the core only (no framework, no API key).

A scripted "model" plans tool calls; each tool is an ``@instrumentors.tool``
function; one tool times out once and is retried. Run it and read the trace
tree (and the SLI table) printed on stderr:

    python examples/basic_agent.py [session-id]

Set OTEL_EXPORTER_OTLP_ENDPOINT to send the same trace to a collector or backend.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _requires import require

require("")

import instrumentors

handle = instrumentors.setup(service_name="weather-agent")

_flaky_calls = {"count": 0}


@instrumentors.tool
def get_weather(city: str, units: str = "C") -> str:
    """Current weather for a city."""
    time.sleep(0.01)
    return f"{city}: 21°{units}, sunny"


@instrumentors.tool(name="get_forecast", description="Three-day forecast (a flaky upstream).")
def get_forecast(city: str, days: int = 3) -> list[str]:
    _flaky_calls["count"] += 1
    time.sleep(0.005)
    if _flaky_calls["count"] == 1:
        raise TimeoutError("forecast upstream timed out")
    return [f"{city} day {d + 1}: {random.choice(['sun', 'rain', 'wind'])}" for d in range(days)]


@instrumentors.tool
def book_table(restaurant: str, people: int) -> str:
    """Book a table (always fails: the restaurant is closed)."""
    raise RuntimeError(f"{restaurant} is closed today")


def call_with_retry(func, *args, attempts: int = 3, **kwargs):  # type: ignore[no-untyped-def]
    """Call a tool, retrying on timeouts, and record each retry on the current span."""
    for attempt in range(1, attempts + 1):
        try:
            return func(*args, **kwargs)
        except TimeoutError as exc:
            if attempt == attempts:
                raise
            delay = 0.02 * attempt
            instrumentors.record_retry(
                attempt=attempt, delay_s=delay, error_type=type(exc).__qualname__
            )
            time.sleep(delay)
    raise AssertionError("unreachable")


# What a model would answer: which tools to call, with which arguments, under which ids.
PLAN = [
    ("call_1", get_weather, {"city": "Paris"}),
    ("call_2", get_forecast, {"city": "Paris", "days": 2}),
    ("call_3", book_table, {"restaurant": "Chez Nous", "people": 2}),
]


def run_agent(question: str) -> str:
    answers = []
    with instrumentors.agent_step("plan"):
        plan = list(PLAN)
    for call_id, func, arguments in plan:
        with instrumentors.agent_step("act"), instrumentors.tool_call_id(call_id):
            try:
                answers.append(str(call_with_retry(func, **arguments)))
            except RuntimeError as exc:
                answers.append(f"failed: {exc}")
    with instrumentors.agent_step("answer"):
        return f"{question} -> " + " | ".join(answers)


if __name__ == "__main__":
    session_id = sys.argv[1] if len(sys.argv) > 1 else "demo-session-1"
    # The whole run is one `invoke_agent weather-agent` span; steps and tools nest under it.
    with instrumentors.session(session_id), instrumentors.agent("weather-agent"):
        print(run_agent("What is the weather in Paris?"))
    handle.shutdown()
