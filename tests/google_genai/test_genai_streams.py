"""Streams (``alt=sse``): the span ends on every path, once, with what the stream said."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from genai_support import MODEL, PROMPT, attrs, events
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from tests.fakes.gemini_server import Call, Reply, Usage

genai = pytest.importorskip("google.genai")
from google.genai import errors  # noqa: E402

pytestmark = pytest.mark.usefixtures("instrumented")


def _stream(client: Any) -> Any:
    return client.models.generate_content_stream(model=MODEL, contents=PROMPT)


def test_a_stream_read_to_the_end(exporter, client, server) -> None:
    usage = Usage(input_tokens=5, output_tokens=6, thoughts_tokens=2)
    server.script(Reply(thought="Hmm.", usage=usage, id="resp-s1"))
    stream = _stream(client)
    assert exporter.get_finished_spans() == ()  # open while the user reads
    text = "".join(chunk.text or "" for chunk in stream)
    assert text == "Hello from the fake Gemini."
    (span,) = exporter.get_finished_spans()
    got = attrs(span)
    assert got["gen_ai.request.stream"] is True
    assert got["gen_ai.response.id"] == "resp-s1"
    assert got["gen_ai.response.model"] == f"{MODEL}-001"
    assert got["gen_ai.response.finish_reasons"] == ("stop",)
    assert got["gen_ai.usage.input_tokens"] == 5  # the last chunk's counts, not a sum of chunks
    assert got["gen_ai.usage.output_tokens"] == 8
    assert got["gen_ai.usage.reasoning.output_tokens"] == 2
    assert 0 <= got["gen_ai.response.time_to_first_chunk"] < span.end_time - span.start_time


def test_function_calls_in_a_stream_get_the_same_ids(exporter, client, server) -> None:
    calls = (Call("get_weather", {"city": "Paris"}), Call("get_weather", {"city": "Rome"}))
    server.script(Reply.with_calls(*calls, id="resp-x"), Reply.with_calls(*calls, id="resp-x"))
    list(_stream(client))
    client.models.generate_content(model=MODEL, contents=PROMPT)
    streamed, plain = exporter.get_finished_spans()
    ids = ("resp-x:0:0", "resp-x:0:1")
    assert streamed.attributes["gen_ai.response.tool_call.ids"] == ids
    assert plain.attributes["gen_ai.response.tool_call.ids"] == ids


def test_the_caller_context_is_restored_between_chunks(exporter, client) -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("agent") as agent:
        stream = _stream(client)
        assert trace.get_current_span() is agent
        for _ in stream:
            assert trace.get_current_span() is agent
    chat, agent_span = exporter.get_finished_spans()
    assert chat.parent.span_id == agent_span.context.span_id


def test_closed_early(exporter, client, server) -> None:
    server.script(Reply(chunk_size=2))
    stream = _stream(client)
    next(stream)
    stream.close()
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert "gen_ai.response.finish_reasons" not in span.attributes
    stream.close()  # twice: still one span
    assert len(exporter.get_finished_spans()) == 1


def test_abandoned_streams_end_when_collected(exporter, client, server) -> None:
    server.script(Reply(chunk_size=2))
    stream = _stream(client)
    next(stream)
    del stream
    gc.collect()
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.response.time_to_first_chunk"] >= 0


def test_a_stream_cut_short_ends_without_a_finish_reason(exporter, client, server) -> None:
    server.script(Reply(cut="eof"))
    chunks = list(_stream(client))
    assert chunks and chunks[-1].candidates[0].finish_reason is None
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert "gen_ai.response.finish_reasons" not in span.attributes
    assert span.attributes["gen_ai.usage.input_tokens"] == 11


def test_a_torn_stream_fails_the_span(exporter, client, server) -> None:
    server.script(Reply(cut="broken"))
    with pytest.raises(Exception) as caught:
        list(_stream(client))
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(caught.value).__qualname__
    assert span.attributes["gen_ai.response.id"]  # what came before the tear


def test_an_error_in_the_stream_fails_the_span(exporter, client, server) -> None:
    server.script(Reply(stream_error="upstream broke"))
    with pytest.raises(errors.ServerError):
        list(_stream(client))
    (span,) = exporter.get_finished_spans()
    assert span.attributes["error.type"] == "ServerError"
    assert len(events(span, "exception")) == 1


def test_an_http_error_before_the_stream(exporter, plain_client, server) -> None:
    server.script(Reply.failure(403))
    stream = _stream(plain_client)
    with pytest.raises(errors.ClientError):
        next(stream)
    (span,) = exporter.get_finished_spans()
    assert span.attributes["error.type"] == "ClientError"


def test_a_blocked_prompt_in_a_stream(exporter, client, server) -> None:
    server.script(Reply(blocked="SAFETY"))
    list(_stream(client))
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.response.finish_reasons"] == ("safety",)


def test_async_stream_read_fully_closed_and_failed(exporter, client, server) -> None:
    server.script(Reply(id="resp-a1"), Reply(chunk_size=2), Reply(stream_error="bad"))

    async def run() -> list[str]:
        models = client.aio.models
        texts = [
            c.text async for c in await models.generate_content_stream(model=MODEL, contents=PROMPT)
        ]
        stream = await models.generate_content_stream(model=MODEL, contents=PROMPT)
        await stream.__anext__()
        await stream.aclose()
        with pytest.raises(errors.ServerError):
            async for _ in await models.generate_content_stream(model=MODEL, contents=PROMPT):
                pass
        return texts  # fmt: skip

    assert "".join(asyncio.run(run())) == "Hello from the fake Gemini."
    full, closed, failed = exporter.get_finished_spans()
    assert full.attributes["gen_ai.response.id"] == "resp-a1"
    assert full.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert closed.status.status_code is StatusCode.UNSET
    assert "gen_ai.response.finish_reasons" not in closed.attributes
    assert failed.attributes["error.type"] == "ServerError"
