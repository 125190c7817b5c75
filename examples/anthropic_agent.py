"""A plain Anthropic-SDK tool loop, traced end to end (offline by default).

Claude asks for ``get_weather`` and ``get_forecast`` (two ``tool_use`` blocks in
one answer); each tool is an ``@instrumentors.tool`` function run under
``instrumentors.tool_call_id(block.id)``, so its ``execute_tool`` span carries the
call id and links to the ``chat`` span that requested it. The tool results go
back as ``tool_result`` blocks and Claude answers. Run it and read the trace
tree and the SLI table printed on stderr:

    python examples/anthropic_agent.py [session-id]

Without ``ANTHROPIC_API_KEY`` a scripted local model (``_local_anthropic_model.py``)
answers; with it, the real API does (``ANTHROPIC_BASE_URL``, ``EXAMPLE_MODEL`` are
honoured). Set ``OTEL_EXPORTER_OTLP_ENDPOINT`` to send the trace to a collector or
backend.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _requires import require

require("examples-anthropic", "anthropic")

import anthropic

import instrumentors

sys.path.insert(0, str(Path(__file__).parent))
from _local_anthropic_model import Turn, local_anthropic

handle = instrumentors.setup(service_name="anthropic-agent")

PLAN: list[Turn] = [
    [("get_weather", {"city": "Paris"}), ("get_forecast", {"city": "Paris", "days": 2})]
]
TOOLS: list[dict[str, Any]] = [
    {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
    {
        "name": "get_forecast",
        "description": "A forecast of a few days for a city.",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
]


@instrumentors.tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    time.sleep(0.01)
    return f"{city}: 21°C, sunny"


@instrumentors.tool
def get_forecast(city: str, days: int = 3) -> str:
    """A forecast of a few days for a city."""
    time.sleep(0.005)
    return " | ".join(f"{city} day {d + 1}: mild" for d in range(days))


FUNCTIONS: dict[str, Any] = {"get_weather": get_weather, "get_forecast": get_forecast}


def run_agent(client: anthropic.Anthropic, model: str, question: str) -> str:
    """Ask, run the tools Claude asks for, send their results back, until it answers."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
    for _ in range(5):
        response = client.messages.create(
            model=model,
            max_tokens=512,
            messages=messages,
            tools=TOOLS,  # type: ignore[arg-type]
        )
        uses = [block for block in response.content if block.type == "tool_use"]
        if not uses:
            return "".join(block.text for block in response.content if block.type == "text")
        messages.append(
            {"role": "assistant", "content": [b.model_dump() for b in response.content]}
        )
        results = []
        for use in uses:
            with instrumentors.tool_call_id(use.id):
                try:
                    output = str(FUNCTIONS[use.name](**use.input))
                except Exception as exc:  # Claude reads the error and carries on
                    output = f"error: {exc}"
            results.append({"type": "tool_result", "tool_use_id": use.id, "content": output})
        messages.append({"role": "user", "content": results})
    return "no answer after 5 turns"


if __name__ == "__main__":
    session_id = sys.argv[1] if len(sys.argv) > 1 else "anthropic-session-1"
    with local_anthropic(PLAN) as (base_url, api_key, model):
        client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0)
        with instrumentors.session(session_id), instrumentors.agent_step("anthropic-agent run"):
            print(run_agent(client, model, "What is the weather in Paris, and the forecast?"))
    handle.shutdown()
