"""Instrument / uninstrument, suppression, sampling, safety, nesting under another layer,
threads."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import pytest
from genai_support import MODEL, PROMPT, events, get_weather
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import StatusCode

import instrumentors
from instrumentors.google_genai import GoogleGenAIInstrumentor
from instrumentors.telemetry import Telemetry
from tests._instrumenting import instrumenting
from tests._layer_checks import (
    boom,
    holds,
    holds_none_of,
    own_provider,
    patched_originals,
    registered_instrumentor,
)
from tests._threads import run_in_threads
from tests.fakes.gemini_server import Call, Reply

genai = pytest.importorskip("google.genai")
from google.genai import errors  # noqa: E402

from instrumentors.google_genai import _call, _client, _extract, _wrappers  # noqa: E402


def _everything(client: Any) -> None:
    """A call of each kind, retried and with automatic function calling."""
    client.models.generate_content(model=MODEL, contents=PROMPT, config={"tools": [get_weather]})
    list(client.models.generate_content_stream(model=MODEL, contents=PROMPT))
    client.chats.create(model=MODEL).send_message(PROMPT)
    client.models.embed_content(model="text-embedding-004", contents="hi")
    asyncio.run(client.aio.models.generate_content(model=MODEL, contents=PROMPT))


def test_uninstrument_restores_the_original_functions(exporter, client, server) -> None:
    originals = patched_originals(_wrappers.PATCHES)
    assert len(originals) == len(_wrappers.PATCHES)  # every row applies to this SDK
    with instrumenting(GoogleGenAIInstrumentor()):
        assert holds_none_of(originals)
    assert holds(originals)
    server.script(Reply.with_calls(Call("get_weather", {"city": "Paris"})))
    _everything(client)
    assert exporter.get_finished_spans() == ()


def test_instrument_twice_gives_one_span_per_call(exporter, client) -> None:
    originals = patched_originals(_wrappers.PATCHES)
    with instrumenting(GoogleGenAIInstrumentor()) as instrumentor:
        GoogleGenAIInstrumentor().instrument()
        instrumentor._instrument()  # even past BaseInstrumentor's own guard
        client.models.generate_content(model=MODEL, contents=PROMPT)
        assert len(exporter.get_finished_spans()) == 1
    assert holds(originals)


def test_cycles(exporter, client) -> None:
    instrumentor = GoogleGenAIInstrumentor()
    for _ in range(3):
        instrumentor.instrument()
        client.models.generate_content(model=MODEL, contents=PROMPT)
        instrumentor.uninstrument()
        client.models.generate_content(model=MODEL, contents=PROMPT)
    assert len(exporter.get_finished_spans()) == 3


def test_registered_as_an_entry_point() -> None:
    assert registered_instrumentor("agent_google_genai") is GoogleGenAIInstrumentor
    assert GoogleGenAIInstrumentor().instrumentation_dependencies() == ("google-genai >= 1.0",)


def test_suppression(exporter, instrumented, client, server) -> None:
    server.script(Reply.with_calls(Call("get_weather", {"city": "Paris"})), Reply.failure(429))
    with suppress_instrumentation():
        _everything(client)
    assert exporter.get_finished_spans() == ()


def test_unsampled(exporter, unsampled, instrumented, client, server) -> None:
    server.script(Reply.failure(429), Reply.with_calls(Call("get_weather", {"city": "Paris"})))
    _everything(client)
    assert exporter.get_finished_spans() == ()


def test_spans_go_to_the_given_tracer_provider(exporter, instrument, client) -> None:
    provider, own = own_provider()
    instrument(tracer_provider=provider)
    client.models.generate_content(model=MODEL, contents=PROMPT)
    (span,) = own.get_finished_spans()
    assert span.instrumentation_scope.name == "instrumentors.google_genai"
    assert exporter.get_finished_spans() == ()


# ----------------------------------------------------------------------------- safety


@pytest.mark.parametrize(
    ("owner", "name", "spans"),
    [
        (_client, "client_info", 0),  # starting the span fails: no span, the call unaffected
        (_extract, "request", 1),  # reading the request fails
        (_extract, "finish_reasons", 1),  # reading the response fails
        (_extract, "function_calls", 1),  # reading the function calls fails
        (_client, "on_failed_attempt", 1),  # the attempt hook fails
        (_call.Call, "start_tool", 1),  # starting a tool span fails: the function still runs
        (_call.StreamState, "add", 1),  # a stream chunk fails
        (_call.StreamState, "apply", 1),  # ending a stream fails
    ],
)
def test_a_telemetry_bug_does_not_break_the_call(
    exporter, instrumented, client, server, monkeypatch, caplog, owner, name, spans
) -> None:
    monkeypatch.setattr(owner, name, boom)
    call = Call("get_weather", {"city": "Paris"}, id="fc-1")
    server.script(Reply.failure(429), Reply.with_calls(call), Reply(text="21 C"),
                  Reply.with_calls(call))  # fmt: skip
    with caplog.at_level(logging.DEBUG, logger="instrumentors"):
        answer = client.models.generate_content(
            model=MODEL, contents=PROMPT, config={"tools": [get_weather]}
        )
        chunks = list(client.models.generate_content_stream(model=MODEL, contents=PROMPT))
    assert answer.text == "21 C"
    assert chunks[-1].candidates[0].content.parts[0].function_call.id == "fc-1"
    chats = [s for s in exporter.get_finished_spans() if s.name.startswith("chat ")]
    assert len(chats) == 2 * spans
    assert "telemetry bug" in caplog.text


def test_a_telemetry_bug_on_the_error_path_keeps_the_users_exception(
    exporter, instrumented, plain_client, server, monkeypatch
) -> None:
    monkeypatch.setattr(_client, "on_failed_attempt", boom)
    server.script(Reply.failure(400))
    with pytest.raises(errors.ClientError):
        plain_client.models.generate_content(model=MODEL, contents=PROMPT)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize("name", ["record_chunk", "set_response", "register_tool_calls"])
def test_a_core_bug_stays_out_of_the_users_call_and_loop(
    exporter, instrumented, client, server, monkeypatch, name
) -> None:
    from instrumentors.telemetry import LLMRun

    monkeypatch.setattr(LLMRun, name, boom)
    server.script(Reply.with_calls(Call("f", id="c1")), Reply.with_calls(Call("f", id="c2")))
    response = client.models.generate_content(model=MODEL, contents=PROMPT)
    chunks = list(client.models.generate_content_stream(model=MODEL, contents=PROMPT))
    assert response.function_calls[0].id == "c1"
    assert chunks[-1].function_calls[0].id == "c2"
    monkeypatch.undo()
    gc.collect()
    assert len(exporter.get_finished_spans()) == 2  # and both spans ended


# ----------------------------------------------------------------------------- layers, threads


@pytest.mark.parametrize("streamed", [False, True])
def test_one_chat_span_when_an_outer_layer_owns_it(
    exporter, instrumented, client, server, streamed
) -> None:
    server.script(Reply.failure(429), Reply.with_calls(Call("f", id="c7")))
    outer = Telemetry("framework").llm("gcp.gemini", MODEL)  # e.g. LangChain's chat run
    if streamed:
        chunks = list(client.models.generate_content_stream(model=MODEL, contents=PROMPT))
        response_id = chunks[0].response_id
    else:
        response_id = client.models.generate_content(model=MODEL, contents=PROMPT).response_id
    outer.stop()
    (span,) = exporter.get_finished_spans()
    assert span.instrumentation_scope.name == "framework"
    assert span.attributes["gen_ai.response.id"] == response_id
    assert span.attributes["gen_ai.usage.input_tokens"] == 11
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert span.attributes["gen_ai.response.tool_call.ids"] == ("c7",)
    assert span.attributes["server.address"] == "127.0.0.1"
    assert len(events(span, "retry.attempted")) == 1
    assert len(events(span, "rate.limit.invoked")) == 1


def test_an_error_under_an_outer_layer(exporter, instrumented, plain_client, server) -> None:
    server.script(Reply.failure(400))
    outer = Telemetry("framework").llm("gcp.gemini", MODEL)
    with pytest.raises(errors.ClientError) as caught:
        plain_client.models.generate_content(model=MODEL, contents=PROMPT)
    outer.fail(caught.value)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert len(events(span, "exception")) == 1  # recorded once, by the layer that owns the span


def test_session_baggage_reaches_the_spans(exporter, instrumented, client, server) -> None:
    server.script(Reply.with_calls(Call("get_weather", {"city": "Paris"})), Reply())
    with instrumentors.session("sess-g1"):
        client.models.generate_content(
            model=MODEL, contents=PROMPT, config={"tools": [get_weather]}
        )
    spans = exporter.get_finished_spans()
    assert len(spans) == 2
    assert {s.attributes["agent.session_id"] for s in spans} == {"sess-g1"}


def test_threads(exporter, instrumented, client) -> None:
    tracer = trace.get_tracer("test")

    def work(i: int) -> None:
        with tracer.start_as_current_span(f"agent {i}"):
            client.models.generate_content(model=MODEL, contents=PROMPT)
            list(client.models.generate_content_stream(model=MODEL, contents=PROMPT))

    assert run_in_threads(work, 4) == []
    spans = exporter.get_finished_spans()
    agents = {s.context.span_id for s in spans if s.name.startswith("agent")}
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert len(chats) == 8
    assert {c.parent.span_id for c in chats} == agents


def test_concurrent_async_calls_keep_their_own_state(
    exporter, instrumented, client, server
) -> None:
    server.script(*[Reply.with_calls(Call("f", id=f"c{i}"), id=f"r{i}") for i in range(6)])

    async def run() -> list[str]:
        calls = [client.aio.models.generate_content(model=MODEL, contents=PROMPT) for _ in range(6)]
        return [r.response_id for r in await asyncio.gather(*calls)]

    ids = asyncio.run(run())
    spans = exporter.get_finished_spans()
    assert sorted(s.attributes["gen_ai.response.id"] for s in spans) == sorted(ids)
    for span in spans:  # each span has its own response's call
        rid = span.attributes["gen_ai.response.id"]
        assert span.attributes["gen_ai.response.tool_call.ids"] == (f"c{rid[1:]}",)
