"""``generate_content`` (sync and async), chats and embeddings through the real SDK over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from genai_support import MODEL, PROMPT, attrs, events
from opentelemetry.trace import SpanKind, StatusCode

import instrumentors
from tests.fakes.gemini_server import Call, FakeGeminiServer, Reply, Usage

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402

pytestmark = pytest.mark.usefixtures("instrumented")


def test_a_chat_span_per_call(exporter, client, server: FakeGeminiServer) -> None:
    response = client.models.generate_content(model=MODEL, contents=PROMPT)
    (span,) = exporter.get_finished_spans()
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    recorded = attrs(span)
    # A known model is priced (tests/test_cost.py checks the amounts).
    assert recorded.pop("gen_ai.usage.cost.amount") > 0
    assert recorded.pop("gen_ai.usage.cost.currency") == "USD"
    assert recorded.pop("gen_ai.usage.cost.source") == "local"
    assert recorded == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": MODEL,
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.response.id": response.response_id,
        "gen_ai.response.model": f"{MODEL}-001",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 7,
    }
    assert response.text == "Hello from the fake Gemini."


@pytest.mark.parametrize("as_dict", [False, True])
def test_request_parameters(exporter, client, server, as_dict: bool) -> None:
    params: dict[str, Any] = {
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 40,
        "max_output_tokens": 256,
        "stop_sequences": ["END"],
        "candidate_count": 2,
        "seed": 7,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
    }
    config = params if as_dict else types.GenerateContentConfig(**params)
    server.script(Reply(finish_reason="MAX_TOKENS"))
    response = client.models.generate_content(model=MODEL, contents=PROMPT, config=config)
    assert len(response.candidates) == 2
    assert server.requests[-1].json["generationConfig"]["candidateCount"] == 2
    (span,) = exporter.get_finished_spans()
    got = attrs(span)
    assert got["gen_ai.request.temperature"] == 0.3
    assert got["gen_ai.request.top_p"] == 0.9
    assert got["gen_ai.request.top_k"] == 40
    assert got["gen_ai.request.max_tokens"] == 256
    assert got["gen_ai.request.stop_sequences"] == ("END",)
    assert got["gen_ai.request.choice.count"] == 2
    assert got["gen_ai.request.seed"] == 7
    assert got["gen_ai.request.presence_penalty"] == 0.5
    assert got["gen_ai.request.frequency_penalty"] == 0.25
    # Every candidate's finish reason.
    assert got["gen_ai.response.finish_reasons"] == ("max_tokens", "max_tokens")


def test_thinking_cached_and_tool_use_tokens(exporter, client, server) -> None:
    usage = Usage(input_tokens=20, output_tokens=9, cached_tokens=12, thoughts_tokens=5,
                  tool_use_tokens=3)  # fmt: skip
    server.script(Reply(thought="Let me think.", usage=usage))
    client.models.generate_content(model=MODEL, contents=PROMPT)
    (span,) = exporter.get_finished_spans()
    got = attrs(span)
    assert got["gen_ai.usage.input_tokens"] == 23  # the prompt and the tool-use prompt
    assert got["gen_ai.usage.output_tokens"] == 14  # every generated token, thinking included
    assert got["gen_ai.usage.reasoning.output_tokens"] == 5
    assert got["gen_ai.usage.cache_read.input_tokens"] == 12


def test_function_calls_by_api_id(exporter, client, server) -> None:
    server.script(
        Reply.with_calls(Call("get_weather", {"city": "Paris"}, id="fc-1"),
                         Call("get_forecast", {"city": "Paris"}, id="fc-2"))
    )  # fmt: skip
    client.models.generate_content(model=MODEL, contents=PROMPT)
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.response.tool_call.ids"] == ("fc-1", "fc-2")
    assert span.attributes["gen_ai.response.tool_call.names"] == ("get_weather", "get_forecast")


def test_function_calls_without_an_id_get_a_stable_one(exporter, client, server) -> None:
    server.script(
        Reply.with_calls(
            Call("get_weather", {"city": "Paris"}),
            Call("get_weather", {"city": "Rome"}),
            id="resp-abc",
        )
    )
    response = client.models.generate_content(model=MODEL, contents=PROMPT)
    assert [p.function_call.id for p in response.candidates[0].content.parts] == [None, None]
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.response.tool_call.ids"] == ("resp-abc:0:0", "resp-abc:0:1")


def test_the_agents_tool_span_links_to_the_chat_by_the_derived_id(exporter, client, server) -> None:
    @instrumentors.tool
    def get_weather(city: str) -> str:
        return f"{city}: 21 C"

    server.script(Reply.with_calls(Call("get_weather", {"city": "Paris"}), id="resp-7"))
    response = client.models.generate_content(model=MODEL, contents=PROMPT)
    for n, part in enumerate(p for p in response.candidates[0].content.parts if p.function_call):
        call = part.function_call
        with instrumentors.tool_call_id(call.id or f"{response.response_id}:0:{n}"):
            get_weather(**call.args)
    chat, tool = exporter.get_finished_spans()
    assert tool.attributes["gen_ai.tool.call.id"] == "resp-7:0:0"
    assert tool.links[0].context.span_id == chat.context.span_id


def test_async_generate_content(exporter, client, server) -> None:
    import asyncio

    server.script(Reply.with_calls(Call("get_weather", {"city": "Paris"}, id="fc-9")))
    response = asyncio.run(client.aio.models.generate_content(model=MODEL, contents=PROMPT))
    (span,) = exporter.get_finished_spans()
    assert span.name == f"chat {MODEL}"
    assert span.attributes["gen_ai.response.id"] == response.response_id
    assert span.attributes["gen_ai.response.tool_call.ids"] == ("fc-9",)


def test_vertex_ai_is_its_own_provider(exporter, server) -> None:
    vertex = genai.Client(vertexai=True, api_key="test-key", http_options=server.http_options())
    vertex.models.generate_content(model=f"publishers/google/models/{MODEL}", contents=PROMPT)
    assert "/publishers/google/models/" in server.requests[-1].path
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert span.attributes["gen_ai.request.model"] == MODEL
    assert span.name == f"chat {MODEL}"


def test_model_names_lose_the_models_prefix(exporter, client) -> None:
    client.models.generate_content(model=f"models/{MODEL}", contents=PROMPT)
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.request.model"] == MODEL


def test_a_per_request_base_url_is_the_server(exporter, server) -> None:
    elsewhere = genai.Client(api_key="k", http_options={"base_url": "https://gemini.invalid"})
    options = types.HttpOptions(base_url=server.base_url)
    elsewhere.models.generate_content(
        model=MODEL, contents=PROMPT, config=types.GenerateContentConfig(http_options=options)
    )
    (span,) = exporter.get_finished_spans()
    assert span.attributes["server.address"] == "127.0.0.1"
    assert span.attributes["server.port"] == server.port


def test_default_servers_of_both_apis() -> None:
    from instrumentors.google_genai import _client

    gemini = _client.client_info(genai.Client(api_key="k").models)
    assert (gemini.provider, gemini.address, gemini.port) == (
        "gcp.gemini", "generativelanguage.googleapis.com", 443,
    )  # fmt: skip
    vertex = genai.Client(vertexai=True, project="p", location="europe-west4")
    info = _client.client_info(vertex.aio.models)
    assert (info.provider, info.address, info.port) == (
        "gcp.vertex_ai", "europe-west4-aiplatform.googleapis.com", 443,
    )  # fmt: skip


def test_chats_send_every_message_through_one_span(exporter, client, server) -> None:
    chat = client.chats.create(model=MODEL, config={"temperature": 0.1})
    chat.send_message("Hello")
    chunks = list(chat.send_message_stream("And the weather?"))
    assert chunks
    first, second = exporter.get_finished_spans()
    assert first.name == second.name == f"chat {MODEL}"
    assert first.attributes["gen_ai.request.temperature"] == 0.1
    assert second.attributes["gen_ai.request.stream"] is True
    assert second.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    # The second request carried the history: the chat's, not a second span's.
    assert len(server.requests[-1].json["contents"]) == 3


def test_async_chats(exporter, client) -> None:
    import asyncio

    async def converse() -> None:
        chat = client.aio.chats.create(model=MODEL)
        await chat.send_message("Hello")
        async for _ in await chat.send_message_stream("Again"):
            pass

    asyncio.run(converse())
    first, second = exporter.get_finished_spans()
    assert first.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert second.attributes["gen_ai.response.time_to_first_chunk"] >= 0


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_embeddings(exporter, client, server, mode: str) -> None:
    import asyncio

    config = {"output_dimensionality": 3}
    contents = ["first text", "second text"]
    if mode == "sync":
        result = client.models.embed_content(model="text-embedding-004", contents=contents,
                                             config=config)  # fmt: skip
    else:
        embedding = client.aio.models.embed_content(
            model="text-embedding-004", contents=contents, config=config
        )
        result = asyncio.run(embedding)
    assert len(result.embeddings) == 2
    (span,) = exporter.get_finished_spans()
    assert span.name == "embeddings text-embedding-004"
    assert span.kind is SpanKind.CLIENT
    assert span.attributes["gen_ai.operation.name"] == "embeddings"
    assert span.attributes["gen_ai.provider.name"] == "gcp.gemini"
    assert span.attributes["gen_ai.embeddings.dimension.count"] == 3
    assert span.attributes["server.port"] == server.port


def test_vertex_embedding_statistics_are_input_tokens(exporter, server) -> None:
    # Vertex AI's ``predict`` route reports each embedding's token count.
    vertex = genai.Client(vertexai=True, api_key="k", http_options=server.http_options())
    server.script(Reply(embedding=(0.5, 0.5)))
    vertex.models.embed_content(model="text-embedding-005", contents="hello")
    (span,) = exporter.get_finished_spans()
    assert span.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert span.attributes["gen_ai.embeddings.dimension.count"] == 2
    assert span.attributes["gen_ai.usage.input_tokens"] == 11


# ----------------------------------------------------------------------------- errors, safety


@pytest.mark.parametrize(("status", "kind"), [(400, "ClientError"), (500, "ServerError")])
def test_an_api_error_ends_the_span_failed(exporter, plain_client, server, status, kind) -> None:
    server.script(Reply.failure(status, "the model is unhappy"))
    with pytest.raises(errors.APIError) as caught:
        plain_client.models.generate_content(model=MODEL, contents=PROMPT)
    assert type(caught.value).__name__ == kind
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == kind
    (event,) = events(span, "exception")
    assert event["exception.type"].endswith(kind)
    assert "the model is unhappy" in event["exception.message"]
    assert len(server.requests) == 1  # no retries by default


def test_a_blocked_prompt_is_a_finish_reason_not_an_error(exporter, client, server) -> None:
    server.script(Reply(blocked="PROHIBITED_CONTENT"))
    response = client.models.generate_content(model=MODEL, contents=PROMPT)
    assert response.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.response.finish_reasons"] == ("prohibited_content",)
    assert span.attributes["gen_ai.usage.input_tokens"] == 11
    assert events(span, "exception") == []


def test_a_safety_stop_is_a_finish_reason_not_an_error(exporter, client, server) -> None:
    server.script(Reply(text=None, finish_reason="SAFETY"))
    response = client.models.generate_content(model=MODEL, contents=PROMPT)
    assert response.candidates[0].finish_reason == types.FinishReason.SAFETY
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.response.finish_reasons"] == ("safety",)
