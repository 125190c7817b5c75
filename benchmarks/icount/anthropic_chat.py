"""icount driver: a non-streaming Anthropic ``messages.create`` answered with a ``tool_use`` block.

The real ``anthropic`` client over real HTTP to ``tests/fakes/anthropic_server.py``,
served from a thread of this process: the server's instructions are counted too,
the same in every mode, so they cancel in the differences. The server's accept loop
waits without a poll timeout, so an idle wait costs no instructions (a timed poll
would add counts that depend on how long the run takes).

Modes: ``plain`` (uninstrumented), ``bare`` (a bare SDK span with the attributes
our chat span ends up with, current around the call, under the "bench" scope),
``ours`` (``AnthropicInstrumentor().instrument()``)::

    python benchmarks/icount/anthropic_chat.py MODE CALLS

The SDK's own span: anthropic 1.x / 2.x trace their requests themselves when
uninstrumented (``anthropic._base_client.start_api_call_span``). Ours wraps that
function so that it returns ``None`` (the SDK's documented "no span") for the
requests we trace. ``plain`` and ``bare`` replace the same module attribute with a
function that returns ``None``, so every mode takes the same SDK path (the
client at its defaults evaluates the span's arguments and goes on without one):
the differences are our layer and the bare span alone, not the SDK's span.
"""

from __future__ import annotations

from typing import Any

import anthropic
from _icount import attributes_of_one, check_spans, measure, parse_args, serve_quietly, tracing
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from instrumentors.anthropic import AnthropicInstrumentor
from tests.fakes.anthropic_server import FakeAnthropicServer, Reply, ToolUse, _Handler

MODES = ("plain", "bare", "ours")
MODEL = "claude-sonnet-4-5"
SPAN = f"chat {MODEL}"
# Fixed ids: the same reply, byte for byte, on every call.
REPLY = Reply.tools(ToolUse("get_weather", {"city": "Paris"}, id="toolu_1"), id="msg_1")
MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOLS = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}]


def no_sdk_span(*args: Any, **kwargs: Any) -> None:
    """In place of the SDK's ``start_api_call_span``: no span, as ours has for its requests."""
    return None


def main() -> None:
    mode, calls = parse_args(MODES)
    _, exporter = tracing()
    server = serve_quietly(FakeAnthropicServer(), _Handler)
    # At the SDK's defaults (its own tracing on), as a user's client would be.
    client = anthropic.Anthropic(base_url=server.base_url, api_key="sk-ant-bench", max_retries=0)
    tracer = trace.get_tracer("bench")

    def chat() -> object:
        server.script(REPLY)
        return client.messages.create(
            model=MODEL,
            max_tokens=256,
            messages=MESSAGES,  # type: ignore[arg-type]
            tools=TOOLS,  # type: ignore[arg-type]
        )

    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    # The attributes our chat span ends up with (one instrumented call, outside the count).
    same = attributes_of_one(exporter, chat, SPAN)
    if mode != "ours":
        instrumentor.uninstrument()
        # The SDK's own span off the way ours leaves it out (see the module docstring).
        anthropic._base_client.start_api_call_span = no_sdk_span  # type: ignore[attr-defined]

    def bare() -> object:
        with tracer.start_as_current_span(SPAN, kind=SpanKind.CLIENT, attributes=same):
            return chat()

    fn = {"plain": chat, "bare": bare, "ours": chat}[mode]
    check_spans(mode, fn, exporter, 0 if mode == "plain" else 1)  # ours: one (checked above)
    measure(mode, fn, calls, warmup=30, exporter=exporter)


if __name__ == "__main__":
    main()
