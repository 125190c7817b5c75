"""Instrument / uninstrument, suppression, sampling, safety, nesting, threads, providers."""

from __future__ import annotations

import gc
import logging

import pytest
from oai_support import MESSAGES, MODEL, chat_spans, events
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import StatusCode

from instrumentors import semconv
from instrumentors.openai import OpenAIInstrumentor
from instrumentors.telemetry import Telemetry
from tests._instrumenting import instrumenting
from tests._layer_checks import (
    boom,
    holds,
    holds_none_of,
    imports_in_fresh_interpreter,
    own_provider,
    patched_originals,
    registered_instrumentor,
)
from tests._threads import run_in_threads
from tests.fakes.openai_server import Reply, ToolCall

pytest.importorskip("openai.types.chat")

from instrumentors.openai import _client, _extract, _request, _stream, _wrappers


def test_uninstrument_restores_the_original_functions(exporter, client) -> None:
    originals = patched_originals(_wrappers.PATCHES)
    assert len(originals) >= 19
    with instrumenting(OpenAIInstrumentor()):
        assert holds_none_of(originals)
    assert holds(originals)
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert exporter.get_finished_spans() == ()


def test_instrument_twice_gives_one_span_per_request(exporter, client) -> None:
    originals = patched_originals(_wrappers.PATCHES)
    with instrumenting(OpenAIInstrumentor()) as instrumentor:
        OpenAIInstrumentor().instrument()
        instrumentor._instrument()  # even past BaseInstrumentor's own guard
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert len(exporter.get_finished_spans()) == 1
    assert holds(originals)


def test_cycles(exporter, client) -> None:
    instrumentor = OpenAIInstrumentor()
    for _ in range(3):
        instrumentor.instrument()
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
        instrumentor.uninstrument()
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert len(exporter.get_finished_spans()) == 3


def test_registered_as_entry_point_and_lazy() -> None:
    assert registered_instrumentor("agent_openai") is OpenAIInstrumentor
    assert not imports_in_fresh_interpreter("instrumentors.openai", "openai")


def test_suppression(exporter, instrumented, client, server) -> None:
    with suppress_instrumentation():
        assert client.chat.completions.create(model=MODEL, messages=MESSAGES).id
        list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
        client.embeddings.create(model="e", input="a")
        client.responses.create(model=MODEL, input="hi")
    assert exporter.get_finished_spans() == ()


async def test_async_suppression(exporter, instrumented, aclient) -> None:
    with suppress_instrumentation():
        await aclient.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert exporter.get_finished_spans() == ()


def test_unsampled(exporter, unsampled, instrumented, client, server) -> None:
    server.script(Reply.rate_limited(retry_after=0.01), Reply.tools(ToolCall("f", id="c1")))
    completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert completion.choices[0].message.tool_calls[0].id == "c1"
    assert exporter.get_finished_spans() == ()


def test_spans_go_to_the_given_tracer_provider(exporter, instrument, client) -> None:
    provider, own = own_provider()
    instrument(tracer_provider=provider)
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    (span,) = own.get_finished_spans()
    assert span.instrumentation_scope.name == "instrumentors.openai"
    assert exporter.get_finished_spans() == ()


# ----------------------------------------------------------------------------- safety


@pytest.mark.parametrize(
    ("owner", "name", "spans"),
    [
        (_client, "client_info", 0),  # starting the span fails: no span, call unaffected
        (_request, "_idempotency_key", 1),  # reading the request fails
        (_extract, "chat_usage", 1),  # reading the response fails
        (_client, "on_retry", 1),  # the retry hook fails
        (_stream.ChatAccumulator, "add", 1),  # a stream chunk fails
        (_stream.ChatAccumulator, "apply", 1),  # ending a stream fails
    ],
)
def test_a_telemetry_bug_does_not_break_the_call(
    exporter, instrumented, client, server, monkeypatch, caplog, owner, name, spans
) -> None:
    monkeypatch.setattr(owner, name, boom)
    server.script(Reply.rate_limited(retry_after=0.01), Reply.tools(ToolCall("f", id="c1")))
    with caplog.at_level(logging.DEBUG, logger="instrumentors"):
        completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)
        chunks = list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    assert completion.choices[0].message.tool_calls[0].id == "c1"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len(exporter.get_finished_spans()) == 2 * spans
    assert "telemetry bug" in caplog.text


def test_a_telemetry_bug_on_the_error_path_keeps_the_users_exception(
    exporter, instrumented, client, server, monkeypatch
) -> None:
    import openai

    monkeypatch.setattr(_client, "on_error", boom)
    server.script(Reply.failure(400))
    with pytest.raises(openai.BadRequestError):
        client.with_options(max_retries=0).chat.completions.create(model=MODEL, messages=MESSAGES)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize(
    ("name", "broken"),
    [
        ("record_chunk", boom),
        ("finished", property(boom)),  # as when the core read a renamed private flag
        ("set_response", boom),
        ("register_tool_calls", boom),
    ],
)
def test_a_core_bug_stays_out_of_the_users_call_and_loop(
    exporter, instrumented, client, server, monkeypatch, name, broken
) -> None:
    from instrumentors.telemetry import LLMRun

    monkeypatch.setattr(LLMRun, name, broken, raising=False)
    server.script(Reply.tools(ToolCall("f", id="c1")), Reply.tools(ToolCall("f", id="c2")))
    completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    chunks = list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    assert completion.choices[0].message.tool_calls[0].id == "c1"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    monkeypatch.undo()
    gc.collect()
    assert len(chat_spans(exporter.get_finished_spans())) == 2  # and both spans ended


# ----------------------------------------------------------------------------- nesting, threads


@pytest.mark.parametrize("streamed", [False, True])
def test_one_chat_span_when_an_outer_layer_owns_it(
    exporter, instrumented, client, server, streamed
) -> None:
    server.script(Reply.rate_limited(retry_after=0.01), Reply.tools(ToolCall("f", id="c7")))
    outer = Telemetry("framework").llm("openai", MODEL)  # e.g. LangChain's chat run
    if streamed:
        chunks = list(
            client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
        )
        response_id = chunks[0].id
    else:
        response_id = client.chat.completions.create(model=MODEL, messages=MESSAGES).id
    outer.stop()
    (span,) = exporter.get_finished_spans()
    assert span.instrumentation_scope.name == "framework"
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == response_id
    assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_calls",)
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("c7",)
    assert len(events(span, semconv.EVENT_RETRY_ATTEMPTED)) == 1
    assert len(events(span, semconv.EVENT_RATE_LIMIT_INVOKED)) == 1


def test_an_error_under_an_outer_layer(exporter, instrumented, client, server) -> None:
    import openai

    server.script(Reply.failure(400))
    outer = Telemetry("framework").llm("openai", MODEL)
    with pytest.raises(openai.BadRequestError) as caught:
        client.with_options(max_retries=0).chat.completions.create(model=MODEL, messages=MESSAGES)
    outer.fail(caught.value)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "BadRequestError"
    assert len(events(span, "exception")) == 1  # recorded once, by the layer that owns the span


def test_a_stream_error_under_an_outer_layer(exporter, instrumented, client, server) -> None:
    import openai

    server.script(Reply(stream_error="upstream broke"))
    outer = Telemetry("framework").llm("openai", MODEL)
    with pytest.raises(openai.APIError) as caught:
        list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    outer.fail(caught.value)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert len(events(span, "exception")) == 1


def test_outer_layer_links_tool_calls_to_its_span(exporter, instrumented, client, server) -> None:
    import instrumentors

    @instrumentors.tool
    def f() -> str:
        return "ok"

    server.script(Reply.tools(ToolCall("f", id="c8")))
    outer = Telemetry("framework").llm("openai", MODEL)
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    outer.stop()
    with instrumentors.tool_call_id("c8"):
        f()
    chat, tool = exporter.get_finished_spans()
    assert tool.links[0].context.span_id == chat.context.span_id


def test_threads(exporter, instrumented, client) -> None:
    tracer = trace.get_tracer("test")

    def work(i: int) -> None:
        with tracer.start_as_current_span(f"agent {i}"):
            client.chat.completions.create(model=MODEL, messages=MESSAGES)

    assert run_in_threads(work, 4) == []
    spans = exporter.get_finished_spans()
    agents = {s.context.span_id: s for s in spans if s.name.startswith("agent")}
    chats = chat_spans(spans)
    assert len(chats) == 4
    assert {c.parent.span_id for c in chats} == set(agents)
