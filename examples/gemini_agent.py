"""A Gemini agent on the Google Gen AI SDK (``google-genai``), traced end to end (offline
by default).

It runs tools both ways the SDK offers:

1. its own loop: the model asks for ``get_weather`` (a function declaration); the
   agent runs it as an ``@instrumentors.tool`` under ``instrumentors.tool_call_id(...)``,
   so its ``execute_tool`` span carries the call id and links to the ``chat`` span
   that asked. When the API gives a call no id, the instrumentor names it
   ``<responseId>:<candidate>:<n>`` (the n-th function call of the answer): the agent uses
   the same id;
2. automatic function calling: a chat session is given ``get_forecast`` as a Python
   function and the SDK runs it between model turns: one ``chat`` span for the
   message, the ``execute_tool`` span inside it.

The first request is rate limited (429 ``RESOURCE_EXHAUSTED``): the SDK retries it
(``HttpRetryOptions``) and the chat span has one ``retry.attempted`` and one
``rate.limit.invoked`` event. Run it and read the trace tree and the SLI table on stderr:

    python examples/gemini_agent.py [session-id]

Without ``GOOGLE_API_KEY`` / ``GEMINI_API_KEY`` a scripted local model
(``_local_gemini_model.py``) answers; with one, the real Gemini API does
(``EXAMPLE_MODEL`` is honoured). Set ``OTEL_EXPORTER_OTLP_ENDPOINT`` to send the trace
to a collector or backend.
"""

# No `from __future__ import annotations`: google-genai 1.x reads the annotations of
# the functions it calls itself (get_forecast) as types, not strings.
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _requires import require

require("examples-gemini", "google.genai")

from google import genai
from google.genai import types

import instrumentors

sys.path.insert(0, str(Path(__file__).parent))
from _local_gemini_model import local_gemini

handle = instrumentors.setup(service_name="gemini-agent")

# The local model's script: the agent's first turn asks for the weather, and the chat
# session's first turn for the forecast (each request offers only its own tool).
PLAN = [[("get_weather", {"city": "Paris"}), ("get_forecast", {"city": "Paris", "days": 2})]]
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Current weather for a city.",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={"city": types.Schema(type=types.Type.STRING)},
        required=["city"],
    ),
)


@instrumentors.tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    time.sleep(0.01)
    return f"{city}: 21°C, sunny"


def get_forecast(city: str, days: int = 3) -> str:
    """A forecast of a few days for a city."""
    time.sleep(0.005)
    return " | ".join(f"{city} day {d + 1}: mild" for d in range(int(days)))


FUNCTIONS: dict[str, Any] = {"get_weather": get_weather}


def run_agent(client: genai.Client, model: str, question: str) -> str:
    """Ask, run the functions the model asks for, send their results back, until it answers."""
    contents: list[types.Content] = [types.Content(role="user", parts=[types.Part(text=question)])]
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER])],
        system_instruction="You are a concise travel assistant.",
    )
    for _ in range(5):
        response = client.models.generate_content(model=model, contents=contents, config=config)
        calls = response.function_calls or []
        if not calls:
            return response.text or ""
        contents.append(response.candidates[0].content)  # type: ignore[index,arg-type]
        results = []
        for n, call in enumerate(calls):
            # The API's id, or the one the instrumentor gave the call.
            call_id = call.id or f"{response.response_id}:0:{n}"
            with instrumentors.tool_call_id(call_id):
                try:
                    result = str(FUNCTIONS[call.name or ""](**(call.args or {})))
                except Exception as exc:  # the model reads the error and carries on
                    result = f"error: {exc}"
            results.append(
                types.Part.from_function_response(name=call.name or "", response={"result": result})
            )
        contents.append(types.Content(role="user", parts=results))
    return "no answer after 5 turns"


if __name__ == "__main__":
    session_id = sys.argv[1] if len(sys.argv) > 1 else "gemini-session-1"
    with local_gemini(PLAN) as (base_url, api_key, model):
        retry = types.HttpRetryOptions(attempts=3, initial_delay=0.05, max_delay=0.2)
        options = types.HttpOptions(base_url=base_url, retry_options=retry)
        client = genai.Client(api_key=api_key, http_options=options)
        with instrumentors.session(session_id), instrumentors.agent_step("gemini-agent run"):
            print(run_agent(client, model, "What is the weather in Paris?"))
            chat = client.chats.create(
                model=model, config=types.GenerateContentConfig(tools=[get_forecast])
            )
            print(chat.send_message("And the forecast for the next two days?").text)
    handle.shutdown()
