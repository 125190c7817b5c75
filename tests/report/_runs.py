"""A small agent run through the real public API and core: the spans the report tests read."""

from __future__ import annotations

import contextlib
import time

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import instrumentors
from instrumentors.telemetry import Message, ToolCallRequest, default


@instrumentors.tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    time.sleep(0.002)
    return f"{city}: sunny"


@instrumentors.tool
def book_table(restaurant: str) -> str:
    """Always fails."""
    raise RuntimeError(f"{restaurant} is closed")


def agent_run(exporter: InMemorySpanExporter, secret: str = "hunter2-secret") -> list[ReadableSpan]:
    """invoke_agent > [chat (asks for 2 tools), step > tool, step > failing tool (retry event)].

    ``secret`` is a raw message and tool argument: it reaches the spans only
    when content capture is on.
    """
    core = default()
    with instrumentors.session("report-session"), instrumentors.agent("weather-agent", id="w-1"):
        chat = core.llm("openai", "gpt-4o-mini")
        chat.set_response(model="gpt-4o-mini", response_id="resp-1", finish_reasons=["tool_calls"])
        chat.set_usage(input_tokens=12, output_tokens=27)
        chat.set_messages(
            inputs=[Message("user", text=f"weather? {secret}")],
            outputs=[Message("assistant", tool_calls=(ToolCallRequest("get_weather", "call_1"),))],
        )
        chat.register_tool_calls(
            [ToolCallRequest("get_weather", "call_1"), ToolCallRequest("book_table", "call_2")]
        )
        chat.stop()
        with instrumentors.agent_step("act"), instrumentors.tool_call_id("call_1"):
            get_weather(secret)
        with instrumentors.agent_step("act"), instrumentors.tool_call_id("call_2"):
            instrumentors.record_retry(attempt=1, delay_s=0.01, error_type="TimeoutError")
            with contextlib.suppress(RuntimeError):
                book_table("Chez Nous")
        embed = core.embedding("openai", "text-embedding-3-small")
        embed.set_usage(input_tokens=5)
        embed.stop()
    return list(exporter.get_finished_spans())
