"""Instrument / uninstrument, the SDK's own spans, suppression, sampling, safety, threads."""

from __future__ import annotations

import gc
import logging

import pytest
from ant_support import MESSAGES, MODEL, SDK_SCOPE, chat_spans, create, events
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import StatusCode

from instrumentors import semconv
from instrumentors.anthropic import AnthropicInstrumentor
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
from tests.fakes.anthropic_server import Reply, ToolUse

anthropic = pytest.importorskip("anthropic")

from instrumentors.anthropic import _client, _compat, _extract, _stream, _wrappers  # noqa: E402


def test_uninstrument_restores_the_original_functions(exporter, client) -> None:
    originals = patched_originals(_wrappers.PATCHES)
    assert len(originals) >= 12 + 1  # create, count_tokens, stream x 4; the retry hook
    with instrumenting(AnthropicInstrumentor()):
        assert holds_none_of(originals)
    assert holds(originals)
    create(client)
    assert [
        s for s in exporter.get_finished_spans() if s.instrumentation_scope.name != SDK_SCOPE
    ] == []


def test_instrument_twice_gives_one_span_per_request(exporter, client) -> None:
    originals = patched_originals(_wrappers.PATCHES)
    with instrumenting(AnthropicInstrumentor()) as instrumentor:
        AnthropicInstrumentor().instrument()
        instrumentor._instrument()  # even past BaseInstrumentor's own guard
        create(client)
        assert len(exporter.get_finished_spans()) == 1
    assert holds(originals)


def test_cycles(exporter, client) -> None:
    instrumentor = AnthropicInstrumentor()
    for _ in range(3):
        instrumentor.instrument()
        create(client)
        instrumentor.uninstrument()
    ours = [s for s in exporter.get_finished_spans() if s.name == f"chat {MODEL}"]
    assert len(ours) == 3


def test_registered_as_entry_point_and_lazy() -> None:
    assert registered_instrumentor("agent_anthropic") is AnthropicInstrumentor
    assert not imports_in_fresh_interpreter("instrumentors.anthropic", "anthropic")


# ----------------------------------------------------------------------------- the SDK's own spans

needs_sdk_tracing = pytest.mark.skipif(
    not _compat.sdk_traces_itself(), reason="this anthropic release makes no spans of its own"
)


def test_one_chat_span_per_request_with_the_sdk_tracing_at_its_default(
    exporter, instrumented, client, server
) -> None:
    server.script(Reply.overloaded(retry_after=0.01), Reply())
    create(client)
    with client.messages.stream(model=MODEL, max_tokens=8, messages=MESSAGES) as stream:
        stream.until_done()
    list(create(client, stream=True))
    client.messages.count_tokens(model=MODEL, messages=MESSAGES)
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == [f"chat {MODEL}"] * 3 + [f"count_tokens {MODEL}"]
    assert {s.instrumentation_scope.name for s in spans} == {"instrumentors.anthropic"}


@needs_sdk_tracing
def test_uninstrument_gives_the_sdk_its_spans_back(exporter, instrument, client) -> None:
    instrument()
    create(client)
    (ours,) = exporter.get_finished_spans()
    assert ours.name == f"chat {MODEL}"
    exporter.clear()
    instrument().uninstrument()
    create(client)
    (sdk,) = exporter.get_finished_spans()
    assert sdk.instrumentation_scope.name == SDK_SCOPE
    assert sdk.name == "anthropic.messages.create"


@needs_sdk_tracing
def test_requests_we_do_not_trace_keep_the_sdks_spans(exporter, instrumented, client) -> None:
    with pytest.raises(anthropic.APIStatusError):
        client.models.retrieve("claude-x")  # the fake answers 404: the SDK's span says so
    (span,) = exporter.get_finished_spans()
    assert span.instrumentation_scope.name == SDK_SCOPE


def test_http_spans_nest_under_the_chat_span(exporter, instrumented, client, server) -> None:
    import httpx

    if isinstance(
        client._client, httpx.Client
    ):  # 0.x: httpx, which our httpx2 layer does not cover
        pytest.skip("this release talks HTTP through httpx")
    from instrumentors.httpx2 import HTTPX2Instrumentor

    http = HTTPX2Instrumentor()
    http.instrument()
    try:
        create(client)
    finally:
        http.uninstrument()
    spans = exporter.get_finished_spans()
    (chat,) = chat_spans(spans)
    (post,) = [s for s in spans if s.name == "POST"]
    assert post.parent.span_id == chat.context.span_id
    sent = server.requests[-1].headers["traceparent"]  # one trace context: the HTTP span's
    assert sent.split("-")[2] == format(post.context.span_id, "016x")


# ------------------------------------------------------------------------- suppression, sampling


def test_suppression(exporter, instrumented, client, server) -> None:
    with suppress_instrumentation():
        assert create(client).id
        list(create(client, stream=True))
        with client.messages.stream(model=MODEL, max_tokens=8, messages=MESSAGES) as s:
            s.until_done()
        client.messages.count_tokens(model=MODEL, messages=MESSAGES)
    assert exporter.get_finished_spans() == ()  # neither ours nor the SDK's


async def test_async_suppression(exporter, instrumented, aclient) -> None:
    with suppress_instrumentation():
        await aclient.messages.create(model=MODEL, max_tokens=8, messages=MESSAGES)
    assert exporter.get_finished_spans() == ()


def test_unsampled(exporter, unsampled, instrumented, client, server) -> None:
    server.script(Reply.rate_limited(retry_after=0.01), Reply.tools(ToolUse("f", id="c1")))
    message = create(client)
    assert message.content[0].id == "c1"
    list(create(client, stream=True))
    assert exporter.get_finished_spans() == ()


def test_spans_go_to_the_given_tracer_provider(exporter, instrument, client) -> None:
    provider, own = own_provider()
    instrument(tracer_provider=provider)
    create(client)
    (span,) = own.get_finished_spans()
    assert span.instrumentation_scope.name == "instrumentors.anthropic"
    assert exporter.get_finished_spans() == ()  # and no SDK span on the global provider


# ----------------------------------------------------------------------------- safety


@pytest.mark.parametrize(
    ("owner", "name", "spans"),
    [
        (_client, "client_info", 0),  # starting the span fails: no span, call unaffected
        (_extract, "_param", 1),  # reading the request fails
        (_extract, "usage", 1),  # reading the response fails
        (_client, "on_retry", 1),  # the retry hook fails
        (_stream.Accumulator, "add", 1),  # a stream event fails
        (_stream.Accumulator, "apply", 1),  # ending a stream fails
    ],
)
def test_a_telemetry_bug_does_not_break_the_call(
    exporter, instrumented, client, server, monkeypatch, caplog, owner, name, spans
) -> None:
    monkeypatch.setattr(owner, name, boom)
    server.script(Reply.rate_limited(retry_after=0.01), Reply.tools(ToolUse("f", id="c1")))
    with caplog.at_level(logging.DEBUG, logger="instrumentors"):
        message = create(client)
        kinds = [e.type for e in create(client, stream=True)]
        with client.messages.stream(model=MODEL, max_tokens=8, messages=MESSAGES) as stream:
            text = stream.get_final_text()
    assert message.content[0].id == "c1"
    assert kinds[-1] == "message_stop"
    assert text == "Hello from the fake Claude."
    ours = [s for s in exporter.get_finished_spans() if s.instrumentation_scope.name != SDK_SCOPE]
    assert len(ours) == 3 * spans
    assert "telemetry bug" in caplog.text


def test_a_telemetry_bug_on_the_error_path_keeps_the_users_exception(
    exporter, instrumented, client, server, monkeypatch
) -> None:
    monkeypatch.setattr(_client, "on_error", boom)
    server.script(Reply.failure(400))
    with pytest.raises(anthropic.BadRequestError):
        create(client.with_options(max_retries=0))
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize(
    ("name", "broken"),
    [
        ("record_chunk", boom),
        ("finished", property(boom)),
        ("set_response", boom),
        ("register_tool_calls", boom),
    ],
)
def test_a_core_bug_stays_out_of_the_users_call_and_loop(
    exporter, instrumented, client, server, monkeypatch, name, broken
) -> None:
    from instrumentors.telemetry import LLMRun

    monkeypatch.setattr(LLMRun, name, broken, raising=False)
    server.script(Reply.tools(ToolUse("f", id="c1")), Reply.tools(ToolUse("f", id="c2")))
    message = create(client)
    kinds = [e.type for e in create(client, stream=True)]
    assert message.content[0].id == "c1"
    assert kinds[-1] == "message_stop"
    monkeypatch.undo()
    gc.collect()
    assert len(chat_spans(exporter.get_finished_spans())) == 2  # and both spans ended


# ----------------------------------------------------------------------------- nesting, threads


@pytest.mark.parametrize("streamed", [False, True])
def test_one_chat_span_when_an_outer_layer_owns_it(
    exporter, instrumented, client, server, streamed
) -> None:
    server.script(Reply.rate_limited(retry_after=0.01), Reply.tools(ToolUse("f", id="c7")))
    outer = Telemetry("framework").llm("anthropic", MODEL)  # e.g. LangChain's chat run
    if streamed:
        first, *_ = list(create(client, stream=True))  # read to the end
        response_id = first.message.id
    else:
        response_id = create(client).id
    outer.stop()
    (span,) = exporter.get_finished_spans()
    assert span.instrumentation_scope.name == "framework"
    assert span.attributes[semconv.SERVER_PORT] == server.port  # the owner did not know it
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == response_id
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS]) == ("c7",)
    assert tuple(span.attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("tool_use",)
    assert len(events(span, semconv.EVENT_RETRY_ATTEMPTED)) == 1
    assert len(events(span, semconv.EVENT_RATE_LIMIT_INVOKED)) == 1


def test_an_error_under_an_outer_layer(exporter, instrumented, client, server) -> None:
    server.script(Reply.failure(400))
    outer = Telemetry("framework").llm("anthropic", MODEL)
    with pytest.raises(anthropic.BadRequestError) as caught:
        create(client.with_options(max_retries=0))
    outer.fail(caught.value)
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.ERROR_TYPE] == "BadRequestError"
    assert len(events(span, "exception")) == 1  # recorded once, by the layer that owns the span


def test_a_token_count_inside_an_outer_chat_run_is_left_alone(
    exporter, instrumented, client
) -> None:
    outer = Telemetry("framework").llm("anthropic", MODEL)
    client.messages.count_tokens(model=MODEL, messages=MESSAGES)
    outer.stop()
    (span,) = [
        s for s in exporter.get_finished_spans() if s.instrumentation_scope.name != SDK_SCOPE
    ]
    assert span.name == f"chat {MODEL}"  # the outer chat run, not enriched by a token count
    assert "anthropic.message.count_tokens.input_tokens" not in span.attributes


def test_threads(exporter, instrumented, client) -> None:
    tracer = trace.get_tracer("test")

    def work(i: int) -> None:
        with tracer.start_as_current_span(f"agent {i}"):
            create(client)

    assert run_in_threads(work, 4) == []
    spans = exporter.get_finished_spans()
    agents = {s.context.span_id for s in spans if s.name.startswith("agent")}
    chats = chat_spans(spans)
    assert len(chats) == 4
    assert {c.parent.span_id for c in chats} == agents
