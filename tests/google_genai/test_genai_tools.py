"""Automatic function calling: the SDK runs Python functions between model turns; each run is
one ``execute_tool`` span inside the chat span of the call, with its call id and link."""

# No ``from __future__ import annotations``: google-genai 1.x reads the annotations of the
# functions defined here at run time (``isinstance``) and fails on strings.

import asyncio
import json
from typing import Any

import pytest
from genai_support import MODEL, PROMPT, events, get_forecast, get_weather
from opentelemetry.trace import StatusCode

import instrumentors
from instrumentors import semconv
from tests._spans import by_name, one, parent_of
from tests.fakes.gemini_server import Call, Reply, Usage

genai = pytest.importorskip("google.genai")

pytestmark = pytest.mark.usefixtures("instrumented")

WEATHER = Call("get_weather", {"city": "Paris"})


def _afc(tools: list[Any], **config: Any) -> dict[str, Any]:
    return {"tools": tools, **config}


def test_each_invocation_is_a_tool_span_inside_the_chat_span(exporter, client, server) -> None:
    server.script(
        Reply.with_calls(WEATHER, id="resp-1", usage=Usage(input_tokens=10, output_tokens=4)),
        Reply(text="It is 21 C.", id="resp-2", usage=Usage(input_tokens=30, output_tokens=6)),
    )
    response = client.models.generate_content(
        model=MODEL, contents=PROMPT, config=_afc([get_weather])
    )
    assert response.text == "It is 21 C."
    spans = exporter.get_finished_spans()
    chat, tool = one(spans, f"chat {MODEL}"), one(spans, "execute_tool get_weather")
    assert parent_of(tool, spans) is chat
    assert tool.attributes["gen_ai.tool.call.id"] == "resp-1:0:0"
    assert tool.attributes["request.parameters.hash"].startswith("sha256:")
    assert tool.attributes["gen_ai.tool.description"] == "Current weather for a city."
    assert tool.links[0].context.span_id == chat.context.span_id
    # The call's span holds every turn: the last response, the sum of the usage.
    assert chat.attributes["gen_ai.response.id"] == "resp-2"
    assert chat.attributes["gen_ai.usage.input_tokens"] == 40
    assert chat.attributes["gen_ai.usage.output_tokens"] == 10
    assert chat.attributes["gen_ai.response.tool_call.ids"] == ("resp-1:0:0",)
    assert chat.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    # The SDK sent the function's result back.
    sent = server.requests[-1].json["contents"][-1]["parts"][0]["functionResponse"]
    assert sent["response"] == {"result": "Paris: 21 C"}


def test_api_ids_and_repeated_calls(exporter, client, server) -> None:
    server.script(
        Reply.with_calls(Call("get_weather", {"city": "Paris"}, id="fc-1"),
                         Call("get_weather", {"city": "Rome"}, id="fc-2")),
        Reply(),
    )  # fmt: skip
    client.models.generate_content(model=MODEL, contents=PROMPT, config=_afc([get_weather]))
    spans = exporter.get_finished_spans()
    first, second = by_name(spans, "execute_tool get_weather")
    assert (first.attributes["gen_ai.tool.call.id"], second.attributes["gen_ai.tool.call.id"]) == (
        "fc-1", "fc-2",
    )  # fmt: skip
    assert (
        first.attributes["request.parameters.hash"] != second.attributes["request.parameters.hash"]
    )


async def _drain(stream: Any) -> None:
    async for _ in await stream:
        pass


@pytest.mark.parametrize("mode", ["send", "send_stream", "async_send", "async_send_stream"])
def test_chat_sessions_with_automatic_function_calling(exporter, client, server, mode) -> None:
    server.script(
        Reply.with_calls(Call("get_forecast", {"city": "Paris", "days": 2}), id="resp-f",
                         usage=Usage(input_tokens=10, output_tokens=4)),
        Reply(text="Mild.", usage=Usage(input_tokens=30, output_tokens=6)),
    )  # fmt: skip
    config = _afc([get_weather, get_forecast], temperature=0.2)
    if mode.startswith("async"):
        chat = client.aio.chats.create(model=MODEL, config=config)
        if mode == "async_send":
            asyncio.run(chat.send_message(PROMPT))
        else:
            asyncio.run(_drain(chat.send_message_stream(PROMPT)))
    else:
        chat = client.chats.create(model=MODEL, config=config)
        if mode == "send":
            assert chat.send_message(PROMPT).text == "Mild."
        else:
            assert "".join(c.text or "" for c in chat.send_message_stream(PROMPT)) == "Mild."
    assert len(server.requests) == 2
    spans = exporter.get_finished_spans()
    # One span for the session's call: its two model requests are turns of it.
    chat_span, tool = one(spans, f"chat {MODEL}"), one(spans, "execute_tool get_forecast")
    assert parent_of(tool, spans) is chat_span
    assert tool.attributes["gen_ai.tool.call.id"] == "resp-f:0:0"
    assert tool.links[0].context.span_id == chat_span.context.span_id
    assert chat_span.attributes["gen_ai.request.temperature"] == 0.2
    assert chat_span.attributes["gen_ai.usage.input_tokens"] == 40
    assert chat_span.attributes["gen_ai.usage.output_tokens"] == 10
    assert chat_span.attributes["gen_ai.response.finish_reasons"] == ("stop",)


def test_a_model_call_inside_a_function_is_a_call_of_its_own(exporter, client, server) -> None:
    def get_weather(city: str) -> str:
        """Asks another model."""
        inner = client.models.generate_content(model="gemini-inner", contents=city)
        return inner.text or ""

    server.script(Reply.with_calls(WEATHER, id="resp-o"), Reply(text="inner"), Reply(text="Done"))
    client.models.generate_content(model=MODEL, contents=PROMPT, config=_afc([get_weather]))
    spans = exporter.get_finished_spans()
    outer, inner = one(spans, f"chat {MODEL}"), one(spans, "chat gemini-inner")
    tool = one(spans, "execute_tool get_weather")
    assert parent_of(inner, spans) is tool and parent_of(tool, spans) is outer
    assert inner.attributes["gen_ai.response.id"] != outer.attributes["gen_ai.response.id"]


def test_streamed_automatic_function_calling(exporter, client, server) -> None:
    server.script(
        Reply.with_calls(WEATHER, id="resp-s", usage=Usage(input_tokens=10, output_tokens=4)),
        Reply(text="21 C.", usage=Usage(input_tokens=30, output_tokens=6)),
    )
    stream = client.models.generate_content_stream(
        model=MODEL, contents=PROMPT, config=_afc([get_weather])
    )
    assert "".join(c.text or "" for c in stream) == "21 C."
    spans = exporter.get_finished_spans()
    chat, tool = one(spans, f"chat {MODEL}"), one(spans, "execute_tool get_weather")
    assert parent_of(tool, spans) is chat
    assert tool.attributes["gen_ai.tool.call.id"] == "resp-s:0:0"
    assert tool.links[0].context.span_id == chat.context.span_id
    assert chat.attributes["gen_ai.usage.input_tokens"] == 40
    assert chat.attributes["gen_ai.usage.output_tokens"] == 10


async def _weather_async(city: str) -> str:
    """Current weather for a city (a coroutine function)."""
    await asyncio.sleep(0)
    return f"{city}: 22 C"


_weather_async.__name__ = "get_weather"


@pytest.mark.parametrize("function", [get_weather, _weather_async], ids=["sync", "coroutine"])
@pytest.mark.parametrize("streamed", [False, True])
def test_async_automatic_function_calling(exporter, client, server, function, streamed) -> None:
    server.script(Reply.with_calls(WEATHER, id="resp-a"), Reply(text="Done."))

    async def run() -> None:
        config = _afc([function])
        if streamed:
            stream = await client.aio.models.generate_content_stream(
                model=MODEL, contents=PROMPT, config=config
            )
            async for _ in stream:
                pass
        else:
            await client.aio.models.generate_content(model=MODEL, contents=PROMPT, config=config)

    asyncio.run(run())
    spans = exporter.get_finished_spans()
    chat, tool = one(spans, f"chat {MODEL}"), one(spans, "execute_tool get_weather")
    assert parent_of(tool, spans) is chat
    assert tool.attributes["gen_ai.tool.call.id"] == "resp-a:0:0"
    assert tool.links[0].context.span_id == chat.context.span_id
    assert tool.status.status_code is StatusCode.UNSET


def test_a_failing_function(exporter, client, server) -> None:
    def get_weather(city: str) -> str:
        raise ValueError("no station near " + city)

    server.script(Reply.with_calls(WEATHER), Reply(text="Sorry."))
    response = client.models.generate_content(
        model=MODEL, contents=PROMPT, config=_afc([get_weather])
    )
    assert response.text == "Sorry."  # the SDK sends the error to the model and goes on
    spans = exporter.get_finished_spans()
    chat, tool = one(spans, f"chat {MODEL}"), one(spans, "execute_tool get_weather")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes["error.type"] == "ValueError"  # the function's, not the SDK's wrapper
    (event,) = events(tool, "exception")
    assert event["exception.message"] == "no station near Paris"
    assert chat.status.status_code is StatusCode.UNSET


def test_a_function_that_is_also_a_traced_tool_is_one_span(exporter, client, server) -> None:
    @instrumentors.tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return f"{city}: 21 C"

    server.script(Reply.with_calls(WEATHER, id="resp-m"), Reply())
    client.models.generate_content(model=MODEL, contents=PROMPT, config=_afc([get_weather]))
    (tool,) = by_name(exporter.get_finished_spans(), "execute_tool get_weather")
    assert tool.attributes["gen_ai.tool.call.id"] == "resp-m:0:0"


def test_no_invocation_when_the_remote_call_budget_is_spent(exporter, client, server) -> None:
    server.script(Reply.with_calls(WEATHER, id="resp-b"))
    budget = {"maximum_remote_calls": 1}
    response = client.models.generate_content(
        model=MODEL, contents=PROMPT, config=_afc([get_weather], automatic_function_calling=budget)
    )
    assert response.function_calls[0].name == "get_weather"  # its result never sent
    assert len(server.requests) == 1
    spans = exporter.get_finished_spans()
    chat = one(spans, f"chat {MODEL}")
    assert chat.attributes["gen_ai.response.tool_call.ids"] == ("resp-b:0:0",)
    # google-genai 1.x still runs the function once; later lines leave it to the caller.
    for tool in by_name(spans, "execute_tool get_weather"):
        assert tool.attributes["gen_ai.tool.call.id"] == "resp-b:0:0"


def test_captured_arguments_and_result(exporter, capture, client, server) -> None:
    server.script(Reply.with_calls(WEATHER, id="resp-c"), Reply())
    client.models.generate_content(model=MODEL, contents=PROMPT, config=_afc([get_weather]))
    tool = one(exporter.get_finished_spans(), "execute_tool get_weather")
    assert json.loads(tool.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    assert "Paris: 21 C" in tool.attributes[semconv.GEN_AI_TOOL_CALL_RESULT]


def test_arguments_stay_out_without_capture(exporter, client, server) -> None:
    server.script(Reply.with_calls(Call("get_weather", {"city": "Secretville"})), Reply())
    client.models.generate_content(model=MODEL, contents=PROMPT, config=_afc([get_weather]))
    for span in exporter.get_finished_spans():
        assert "Secretville" not in str(dict(span.attributes or {}))
