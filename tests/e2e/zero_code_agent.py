"""An agent that knows nothing about tracing: the zero-code e2e test runs it under
``opentelemetry-instrument``. A plain OpenAI SDK loop against the examples' local model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from _local_model import local_model

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def main() -> None:
    with local_model([[("get_weather", {"city": "Paris"})]]) as (base_url, api_key, model):
        client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
        messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Paris?"}]
        first = client.chat.completions.create(model=model, messages=messages, tools=TOOLS)
        call = first.choices[0].message.tool_calls[0]
        messages.append(first.choices[0].message.model_dump(exclude_none=True))
        result = {"city": json.loads(call.function.arguments)["city"], "weather": "sunny"}
        messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
        final = client.chat.completions.create(model=model, messages=messages, tools=TOOLS)
        print(final.choices[0].message.content)


if __name__ == "__main__":
    main()
