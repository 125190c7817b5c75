"""icount driver: a non-streaming google-genai ``generate_content`` answered with a function call.

The real ``google-genai`` client over real HTTP to ``tests/fakes/gemini_server.py``,
served from a thread of this process: the server's instructions are counted too,
the same in every mode, so they cancel in the differences. The server's accept loop
waits without a poll timeout, so an idle wait costs no instructions (a timed poll
would add counts that depend on how long the run takes). The function is only
declared (no automatic function calling): one model turn, one span.

Modes: ``plain`` (uninstrumented), ``bare5`` (a bare SDK span with five attributes
around the call), ``bare`` (a bare span with the attributes our chat span ends up
with), ``ours`` (``GoogleGenAIInstrumentor().instrument()``); the bare spans are
current around the call, as ours is, under the "bench" scope::

    python benchmarks/icount/gemini_chat.py MODE CALLS
"""

from __future__ import annotations

from collections.abc import Callable

from _icount import attributes_of_one, check_spans, measure, parse_args, serve_quietly, tracing
from google import genai
from google.genai import types
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from instrumentors.google_genai import GoogleGenAIInstrumentor
from tests.fakes.gemini_server import Call, FakeGeminiServer, Reply, _Handler

MODES = ("plain", "bare5", "bare", "ours")
MODEL = "gemini-2.5-flash"
SPAN = f"chat {MODEL}"
# A fixed response id: the same reply, byte for byte, on every call.
REPLY = Reply.with_calls(Call("get_weather", {"city": "Paris"}), id="resp-1")
PROMPT = "What is the weather in Paris?"
CONFIG = types.GenerateContentConfig(
    tools=[types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Current weather for a city.",
        parameters=types.Schema(type=types.Type.OBJECT,
                                properties={"city": types.Schema(type=types.Type.STRING)}),
    )])],
    temperature=0.2,
)  # fmt: skip


def main() -> None:
    mode, calls = parse_args(MODES)
    _, exporter = tracing()
    server = serve_quietly(FakeGeminiServer(), _Handler)
    client = genai.Client(api_key="bench-key", http_options=server.http_options())  # type: ignore[arg-type]
    tracer = trace.get_tracer("bench")

    def chat() -> object:
        server.script(REPLY)
        return client.models.generate_content(model=MODEL, contents=PROMPT, config=CONFIG)

    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument()
    # The attributes our chat span ends up with (one instrumented call, outside the count).
    same = attributes_of_one(exporter, chat, SPAN)
    if mode != "ours":
        instrumentor.uninstrument()
    five = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": MODEL,
        "server.address": server.host,
        "server.port": server.port,
    }

    def in_span(attributes: dict[str, object]) -> object:
        with tracer.start_as_current_span(SPAN, kind=SpanKind.CLIENT, attributes=attributes):  # type: ignore[arg-type]
            return chat()

    fn: Callable[[], object] = {
        "plain": chat,
        "ours": chat,
        "bare5": lambda: in_span(five),
        "bare": lambda: in_span(same),
    }[mode]
    check_spans(mode, fn, exporter, 0 if mode == "plain" else 1)  # ours: one (checked above)
    measure(mode, fn, calls, warmup=30, exporter=exporter)


if __name__ == "__main__":
    main()
