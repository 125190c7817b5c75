"""icount driver: a non-streaming OpenAI chat completion answered with a tool call.

The real ``openai`` client over real HTTP to ``tests/fakes/openai_server.py``, served
from a thread of this process: the server's instructions are counted too, the same
in every mode, so they cancel in the differences. The server's accept loop waits
without a poll timeout, so an idle wait costs no instructions (a timed poll would
add counts that depend on how long the run takes).

Modes: ``plain`` (uninstrumented), ``bare5`` (a bare SDK span with five attributes
around the call), ``bare`` (a bare span with the attributes our chat span ends up
with), ``ours`` (``OpenAIInstrumentor``)::

    python benchmarks/icount/openai_chat.py MODE CALLS
"""

from __future__ import annotations

import openai
from _icount import attributes_of, measure, parse_args, serve_quietly, tracing
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from instrumentors.openai import OpenAIInstrumentor
from tests.fakes.openai_server import FakeOpenAIServer, Reply, ToolCall, _Handler

MODES = ("plain", "bare5", "bare", "ours")
SPAN = "chat gpt-4o-mini"
REPLY = Reply.tools(ToolCall("get_weather", '{"city": "Paris"}', id="call_1"))
MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]


def main() -> None:
    mode, calls = parse_args(MODES)
    _, exporter = tracing()
    server = serve_quietly(FakeOpenAIServer(), _Handler)
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-bench", max_retries=0)
    tracer = trace.get_tracer("bench")

    def chat() -> object:
        server.script(REPLY)
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=TOOLS)  # type: ignore[arg-type]

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    # The attributes our chat span ends up with (one instrumented call, outside the count).
    same = attributes_of(exporter, chat)[SPAN]
    if mode != "ours":
        instrumentor.uninstrument()
    five = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "server.address": server.host,
        "server.port": server.port,
    }

    def in_span(attributes: dict[str, object]) -> object:
        with tracer.start_as_current_span(SPAN, kind=SpanKind.CLIENT, attributes=attributes):  # type: ignore[arg-type]
            return chat()

    fn = {
        "plain": chat,
        "ours": chat,
        "bare5": lambda: in_span(five),
        "bare": lambda: in_span(same),
    }[mode]
    measure(mode, fn, calls, warmup=30, exporter=exporter)


if __name__ == "__main__":
    main()
