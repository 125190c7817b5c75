"""A local HTTP server that speaks the Anthropic Messages API wire format (JSON and SSE), for tests.

Framework-neutral: the ``anthropic`` SDK (``Anthropic``, ``AnthropicBedrock``,
``AnthropicVertex``), LangChain's ``ChatAnthropic`` and LlamaIndex's ``Anthropic``
talk to it over real HTTP on 127.0.0.1, on a free port, served from a background
thread::

    from tests.fakes.anthropic_server import FakeAnthropicServer, Reply, ToolUse

    with FakeAnthropicServer() as server:
        client = anthropic.Anthropic(base_url=server.base_url, api_key="test")
        server.script(Reply.overloaded(retry_after=0.01),  # a 529 first, then:
                      Reply.tools(ToolUse("get_weather", {"city": "Paris"}, id="toolu_1")))
        client.messages.create(model="claude-x", max_tokens=64, messages=[...])
        assert server.requests[-1].json["model"] == "claude-x"

Routes: ``POST /v1/messages`` (JSON, or SSE for ``"stream": true``: ``message_start``,
``content_block_start`` / ``_delta`` / ``_stop``, ``message_delta``, ``message_stop``),
``POST /v1/messages/count_tokens``, Bedrock's ``/model/{model}/invoke`` (JSON) and
Vertex's ``...:rawPredict`` / ``...:streamRawPredict``. Scripted replies are used in
order; unscripted requests get ``Reply()``. ``server.requests`` records every request.

The server itself (lifecycle, script, request log, JSON and SSE plumbing) is
``_fake_http``'s; this module holds the wire format.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.fakes._fake_http import (
    FakeHandler,
    FakeHTTPServer,
    RecordedRequest,
    ScriptedReply,
    pieces,
    sse_frame,
)

DEFAULT_TEXT = "Hello from the fake Claude."
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class ToolUse:
    """A ``tool_use`` block (``server=True``: a ``server_tool_use`` block, e.g. web search)."""

    name: str
    input: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None  # default: toolu_<n> / srvtoolu_<n>
    server: bool = False


@dataclass(frozen=True)
class Usage:
    """Token counts reported for a reply (input excludes the cache, as the API counts)."""

    input_tokens: int = 11
    output_tokens: int = 7
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None


@dataclass(frozen=True)
class Reply(ScriptedReply):
    """One scripted answer: content blocks (rendered as JSON or SSE), or an HTTP error.

    ``status``, ``headers``, ``delay``, ``chunk_delay`` and ``stream_error`` (an
    ``error`` event, overloaded, after the content) are keyword-only (``ScriptedReply``).
    """

    text: str | None = DEFAULT_TEXT
    tool_uses: Sequence[ToolUse] = ()
    thinking: str | None = None  # a thinking block before the text
    server_results: bool = True  # a *_tool_result block after each server tool use
    stop_reason: str | None = None  # default: "tool_use" with client tool uses, else "end_turn"
    usage: Usage = field(default_factory=Usage)
    model: str | None = None  # default: the request's model
    id: str | None = None  # default: msg_<n>
    chunk_size: int = 4  # characters per streamed text / JSON delta
    truncate: bool = False  # the stream stops before message_delta / message_stop
    malformed: bool = False  # a data line that is not JSON after message_start
    input_tokens: int = 42  # what count_tokens answers

    @classmethod
    def tools(cls, *uses: ToolUse, text: str | None = None, **kwargs: Any) -> Reply:
        """A reply with these tool uses (no text unless given)."""
        return cls(text=text, tool_uses=tuple(uses), **kwargs)

    @classmethod
    def overloaded(cls, **kwargs: Any) -> Reply:
        """A 529 ``overloaded_error``."""
        return cls.failure(529, "Overloaded", **kwargs)

    @property
    def effective_stop_reason(self) -> str:
        client_tools = any(not use.server for use in self.tool_uses)
        return self.stop_reason or ("tool_use" if client_tools else "end_turn")


class _Handler(FakeHandler[Reply, RecordedRequest]):
    request_id_header = "request-id"
    fake: FakeAnthropicServer

    def _respond(self, request: RecordedRequest, reply: Reply, body: dict[str, Any]) -> None:
        endpoint, model, streamed = _route(request.path)
        if reply.status >= 400:
            kind = _ERROR_TYPES.get(reply.status, "api_error")
            error = {"type": "error", "error": {"type": kind, "message": reply.error}}
            return self._json(reply.status, error, reply.headers)
        if endpoint == "count_tokens":
            return self._json(200, {"input_tokens": reply.input_tokens}, reply.headers)
        if endpoint != "messages":
            missing = {"type": "not_found_error", "message": request.path}
            return self._json(404, {"type": "error", "error": missing})
        if not (body.get("stream") or streamed):
            return self._json(200, self.fake.message(reply, body, model), reply.headers)
        events = self.fake.events(reply, body, model)
        return self._sse((sse_frame(data, _event_name(data)) for data in events), reply)


def _event_name(data: Any) -> str:
    """The SSE event name: the payload's type (a malformed line claims to be a delta)."""
    return "content_block_delta" if isinstance(data, str) else str(data["type"])


class FakeAnthropicServer(FakeHTTPServer[Reply, RecordedRequest]):
    """The server; ``with FakeAnthropicServer() as s:`` starts and stops it.

    ``base_url`` is ``http://127.0.0.1:<port>`` (the SDK adds ``/v1/messages``).
    """

    handler = _Handler
    reply_type = Reply

    def blocks(self, reply: Reply) -> list[dict[str, Any]]:
        """The content blocks of the reply, in order: thinking, text, tool uses (+ results)."""
        out: list[dict[str, Any]] = []
        if reply.thinking is not None:
            out.append({"type": "thinking", "thinking": reply.thinking, "signature": "sig-1"})
        if reply.text is not None:
            out.append({"type": "text", "text": reply.text})
        for use in reply.tool_uses:
            kind = "server_tool_use" if use.server else "tool_use"
            use_id = use.id or self.new_id("srvtoolu_" if use.server else "toolu_")
            out.append({"type": kind, "id": use_id, "name": use.name, "input": dict(use.input)})
            if use.server and reply.server_results:
                out.append(_server_result(use.name, use_id))
        return out

    def message(self, reply: Reply, body: Mapping[str, Any], model: str | None) -> dict[str, Any]:
        """A complete ``message`` object."""
        return {
            "id": reply.id or self.new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": reply.model or model or body.get("model") or "claude-fake",
            "content": self.blocks(reply),
            "stop_reason": reply.effective_stop_reason,
            "stop_sequence": None,
            "usage": _usage(reply.usage, reply.usage.output_tokens),
        }

    def events(self, reply: Reply, body: Mapping[str, Any], model: str | None) -> Iterator[Any]:
        """The SSE events of a streamed message, ``message_start`` to ``message_stop``."""
        final = self.message(reply, body, model)
        start = {**final, "content": [], "stop_reason": None, "usage": _usage(reply.usage, 1)}
        yield {"type": "message_start", "message": start}
        if reply.malformed:
            yield "{not json"
        yield {"type": "ping"}
        for index, block in enumerate(final["content"]):
            yield from _block_events(index, block, reply.chunk_size)
        if reply.stream_error:
            error = {"type": "overloaded_error", "message": reply.stream_error}
            yield {"type": "error", "error": error}
            return
        if reply.truncate:
            return
        delta = {"stop_reason": final["stop_reason"], "stop_sequence": None}
        yield {"type": "message_delta", "delta": delta,
               "usage": {"output_tokens": reply.usage.output_tokens}}  # fmt: skip
        yield {"type": "message_stop"}


def _usage(usage: Usage, output_tokens: int) -> dict[str, Any]:
    out: dict[str, Any] = {"input_tokens": usage.input_tokens, "output_tokens": output_tokens}
    if usage.cache_read_input_tokens is not None:
        out["cache_read_input_tokens"] = usage.cache_read_input_tokens
    if usage.cache_creation_input_tokens is not None:
        out["cache_creation_input_tokens"] = usage.cache_creation_input_tokens
    return out


def _server_result(name: str, use_id: str) -> dict[str, Any]:
    if name == "web_search":
        result = {"type": "web_search_result", "url": "https://example.test/weather",
                  "title": "Weather", "encrypted_content": "enc-1", "page_age": None}  # fmt: skip
        return {"type": "web_search_tool_result", "tool_use_id": use_id, "content": [result]}
    return {"type": f"{name}_tool_result", "tool_use_id": use_id, "content": {"type": "x"}}


def _block_events(index: int, block: dict[str, Any], size: int) -> Iterator[dict[str, Any]]:
    kind = block["type"]
    if kind == "text":
        yield _start(index, {"type": "text", "text": ""})
        for piece in pieces(block["text"], size):
            yield _delta(index, {"type": "text_delta", "text": piece})
    elif kind == "thinking":
        yield _start(index, {"type": "thinking", "thinking": "", "signature": ""})
        for piece in pieces(block["thinking"], size):
            yield _delta(index, {"type": "thinking_delta", "thinking": piece})
        yield _delta(index, {"type": "signature_delta", "signature": block["signature"]})
    elif kind in ("tool_use", "server_tool_use"):
        yield _start(index, {**block, "input": {}})
        for piece in pieces(json.dumps(block["input"]), size):
            yield _delta(index, {"type": "input_json_delta", "partial_json": piece})
    else:  # server tool results arrive whole
        yield _start(index, block)
    yield {"type": "content_block_stop", "index": index}


def _start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def _delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def _route(path: str) -> tuple[str, str | None, bool]:
    """(endpoint, model from the URL, streamed by the URL) of a request path."""
    bare = path.split("?", 1)[0].rstrip("/")
    if bare.endswith("count_tokens") or "count-tokens" in bare:
        return "count_tokens", None, False
    if bare.startswith("/model/"):  # Bedrock: /model/{model}/invoke[-with-response-stream]
        _, _, model, action = bare.split("/", 3)
        return "messages", model, action.endswith("stream")
    if ":" in bare and "/models/" in bare:  # Vertex: .../models/{model}:(stream)rawPredict
        model, action = bare.rsplit("/", 1)[1].split(":", 1)
        return "messages", model, action.startswith("stream")
    return ("messages" if bare.endswith("/messages") else bare), None, False
