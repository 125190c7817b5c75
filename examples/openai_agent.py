"""A plain OpenAI-SDK tool-calling loop, traced end to end (offline by default).

The model asks for ``get_weather`` and ``get_forecast``; each tool is an
``@instrumentors.tool`` function run under ``instrumentors.tool_call_id(call.id)``,
so its ``execute_tool`` span carries the call id and links to the ``chat`` span
that requested it. The forecast upstream times out once and ``tenacity`` retries
it (a ``retry.attempted`` event). Run it and read the trace tree and the SLI
table printed on stderr:

    python examples/openai_agent.py [session-id]

Without ``OPENAI_API_KEY`` a scripted local model (``_local_model.py``) answers;
with it, the real API does (``OPENAI_BASE_URL``, ``EXAMPLE_MODEL`` are honoured).
Set ``OTEL_EXPORTER_OTLP_ENDPOINT`` to send the trace to a collector or backend.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _requires import require

require("examples-openai", "openai", "tenacity")

import openai
import tenacity

import instrumentors

sys.path.insert(0, str(Path(__file__).parent))
from _local_model import Turn, local_model

handle = instrumentors.setup(service_name="openai-agent")

PLAN: list[Turn] = [
    [("get_weather", {"city": "Paris"}), ("get_forecast", {"city": "Paris", "days": 2})]
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_forecast",
            "description": "A forecast of a few days for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        },
    },
]
_forecast_calls = {"count": 0}


@instrumentors.tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    time.sleep(0.01)
    return f"{city}: 21°C, sunny"


@tenacity.retry(
    retry=tenacity.retry_if_exception_type(TimeoutError),
    stop=tenacity.stop_after_attempt(3),
    wait=tenacity.wait_fixed(0.02),
    reraise=True,
)
@instrumentors.tool
def get_forecast(city: str, days: int = 3) -> str:
    """A forecast of a few days for a city (the upstream times out once)."""
    _forecast_calls["count"] += 1
    time.sleep(0.005)
    if _forecast_calls["count"] == 1:
        raise TimeoutError("forecast upstream timed out")
    return " | ".join(f"{city} day {d + 1}: mild" for d in range(days))


FUNCTIONS: dict[str, Any] = {"get_weather": get_weather, "get_forecast": get_forecast}


def run_agent(client: openai.OpenAI, model: str, question: str) -> str:
    """Ask, run the tools the model asks for, send their results back, until it answers."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    for _ in range(5):
        response = client.chat.completions.create(model=model, messages=messages, tools=TOOLS)  # type: ignore[arg-type]
        message = response.choices[0].message
        if not message.tool_calls:
            return message.content or ""
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            if call.type != "function":  # this agent offers function tools only
                continue
            arguments = json.loads(call.function.arguments or "{}")
            with instrumentors.tool_call_id(call.id):
                try:
                    result = str(FUNCTIONS[call.function.name](**arguments))
                except Exception as exc:  # the model reads the error and carries on
                    result = f"error: {exc}"
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    return "no answer after 5 turns"


if __name__ == "__main__":
    session_id = sys.argv[1] if len(sys.argv) > 1 else "openai-session-1"
    with local_model(PLAN) as (base_url, api_key, model):
        client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
        with instrumentors.session(session_id), instrumentors.agent_step("openai-agent run"):
            print(run_agent(client, model, "What is the weather in Paris, and the forecast?"))
    handle.shutdown()
