"""A LangGraph ReAct agent with three tools, traced end to end (offline by default).

``get_weather`` calls an HTTP weather API (a tiny JSON server on 127.0.0.1, called
with httpx: its ``GET`` span nests under the tool's span); ``get_forecast`` times
out once and ``tenacity`` retries it (a ``retry.attempted`` event); ``book_table``
always fails (an ERROR span; the agent reads the error and carries on). The
LangGraph ``thread_id`` is the session. Run it and read the trace tree and the SLI
table printed on stderr:

    python examples/langgraph_agent.py [thread-id]

Without ``OPENAI_API_KEY`` a scripted local model (``_local_model.py``) answers;
with it, the real API does (``OPENAI_BASE_URL``, ``EXAMPLE_MODEL`` are honoured).
Uses ``langchain.agents.create_agent`` (langchain 1.x) when available, else
``langgraph.prebuilt.create_react_agent``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _requires import require

require(
    "examples-langgraph",
    "httpx",
    "tenacity",
    "langchain_core",
    "langgraph",
    "langchain_openai",
    "opentelemetry.instrumentation.httpx",
)

import httpx
import tenacity
from langchain_core.messages import ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

import instrumentors

sys.path.insert(0, str(Path(__file__).parent))
from _local_model import Turn, local_model

handle = instrumentors.setup(service_name="langgraph-agent")

PLAN: list[Turn] = [
    [("get_weather", {"city": "Paris"}), ("get_forecast", {"city": "Paris", "days": 2})],
    [("book_table", {"restaurant": "Chez Nous", "people": 2})],
]
WEATHER_API = {"url": ""}  # set once the loopback API runs
_forecast_calls = {"count": 0}


@contextmanager
def weather_api() -> Iterator[str]:
    """A JSON weather API on 127.0.0.1 (a free port, a daemon thread); yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            city = self.path.rsplit("/", 1)[-1]
            body = json.dumps({"city": city, "temperature_c": 21, "sky": "sunny"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/weather"
    finally:
        server.shutdown()
        server.server_close()


@tool
def get_weather(city: str) -> str:
    """Current weather for a city, from the weather API."""
    data = httpx.get(f"{WEATHER_API['url']}/{city}", timeout=5).raise_for_status().json()
    return f"{data['city']}: {data['temperature_c']}°C, {data['sky']}"


@tool
@tenacity.retry(
    retry=tenacity.retry_if_exception_type(TimeoutError),
    stop=tenacity.stop_after_attempt(3),
    wait=tenacity.wait_fixed(0.02),
    reraise=True,
)
def get_forecast(city: str, days: int = 3) -> str:
    """A forecast of a few days for a city (the upstream times out once)."""
    _forecast_calls["count"] += 1
    time.sleep(0.005)
    if _forecast_calls["count"] == 1:
        raise TimeoutError("forecast upstream timed out")
    return " | ".join(f"{city} day {d + 1}: mild" for d in range(days))


@tool
def book_table(restaurant: str, people: int) -> str:
    """Book a table at a restaurant."""
    raise RuntimeError(f"{restaurant} is closed today")


TOOLS = [get_weather, get_forecast, book_table]


def build_agent(model: ChatOpenAI) -> Any:
    """A ReAct agent whose failing tools turn into error messages the model reads."""
    try:
        from langchain.agents import create_agent
        from langchain.agents.middleware import wrap_tool_call
    except ImportError:  # langchain < 1: the langgraph prebuilt agent
        from langgraph.prebuilt import ToolNode, create_react_agent

        return create_react_agent(model, ToolNode(TOOLS, handle_tool_errors=True))

    @wrap_tool_call  # type: ignore[arg-type]
    def tool_errors_to_messages(request: Any, handler: Any) -> Any:
        try:
            return handler(request)
        except Exception as exc:
            call = request.tool_call
            return ToolMessage(f"error: {exc}", tool_call_id=call["id"], status="error")

    return create_agent(model, TOOLS, middleware=[tool_errors_to_messages])


if __name__ == "__main__":
    thread_id = sys.argv[1] if len(sys.argv) > 1 else "langgraph-thread-1"
    with local_model(PLAN) as (base_url, api_key, model_name), weather_api() as url:
        WEATHER_API["url"] = url
        agent = build_agent(ChatOpenAI(model=model_name, base_url=base_url, api_key=api_key))
        state = agent.invoke(
            {"messages": [("user", "Weather and forecast in Paris? Then book Chez Nous for 2.")]},
            config={"configurable": {"thread_id": thread_id}},
        )
        print(state["messages"][-1].content)
    handle.shutdown()
