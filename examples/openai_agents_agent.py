"""Two OpenAI Agents SDK agents, a handoff and a tool, traced end to end (offline by default).

A triage agent hands the question to a weather agent, which calls ``get_weather``
and answers. ``instrumentors.setup()`` turns the SDK's own tracing into our spans
(``agent_openai_agents``) and our OpenAI layer enriches each model call: one trace,
under the workflow's step, with an ``invoke_agent`` span per agent, one ``chat`` span
per model request, a ``handoff`` step and the tool's ``execute_tool`` span (its call
id, the link to the chat span that asked for it, the hash of its arguments). The
SDK's ``group_id`` is the session. Run it and read the trace tree and the SLI table
printed on stderr:

    python examples/openai_agents_agent.py [session-id]

Without ``OPENAI_API_KEY`` a scripted local model (``_local_model.py``) answers and the
SDK's own export to OpenAI's dashboard is left out (it would have no key): the example
clears the SDK's processors before instrumenting, which is what
``OpenAIAgentsInstrumentor().instrument(replace_processors=True)`` does for a program
that wants nothing sent to OpenAI's dashboard. With the key, the real API answers
(``OPENAI_BASE_URL``, ``EXAMPLE_MODEL`` are honoured) and the SDK's export stays, as by
default. Set ``OTEL_EXPORTER_OTLP_ENDPOINT`` to send the trace to a collector or backend.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _requires import require

require("examples-openai-agents", "agents", "openai")

import agents
import openai
from agents import Agent, OpenAIChatCompletionsModel, RunConfig, Runner, function_tool

import instrumentors

sys.path.insert(0, str(Path(__file__).parent))
from _local_model import Turn, local_model

if not os.environ.get("OPENAI_API_KEY"):
    agents.set_trace_processors([])  # offline: nothing for the SDK's export to OpenAI
handle = instrumentors.setup(service_name="openai-agents-agent")

# Turn 0: the triage agent hands off; turn 1: the weather agent calls its tool.
PLAN: list[Turn] = [[("transfer_to_weather_agent", {})], [("get_weather", {"city": "Paris"})]]


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"{city}: 21°C, sunny"


def build(model: OpenAIChatCompletionsModel) -> Agent[None]:
    """The triage agent, which hands weather questions to the weather agent."""
    weather = Agent(
        name="Weather agent",
        instructions="Answer weather questions. Use get_weather.",
        model=model,
        tools=[get_weather],
    )
    return Agent(
        name="Triage agent",
        instructions="Hand weather questions to the weather agent.",
        model=model,
        handoffs=[weather],
    )


async def main(session_id: str) -> None:
    with local_model(PLAN) as (base_url, api_key, model_name):
        client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0)
        model = OpenAIChatCompletionsModel(model=model_name, openai_client=client)
        config = RunConfig(workflow_name="weather desk", group_id=session_id)
        result = await Runner.run(build(model), "What is the weather in Paris?", run_config=config)
        print(result.final_output)
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "agents-session-1"))
    handle.shutdown()
