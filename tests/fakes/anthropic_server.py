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
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
class Reply:
    """One scripted answer: content blocks (rendered as JSON or SSE), or an HTTP error."""

    text: str | None = DEFAULT_TEXT
    tool_uses: Sequence[ToolUse] = ()
    thinking: str | None = None  # a thinking block before the text
    server_results: bool = True  # a *_tool_result block after each server tool use
    stop_reason: str | None = None  # default: "tool_use" with client tool uses, else "end_turn"
    usage: Usage = field(default_factory=Usage)
    model: str | None = None  # default: the request's model
    id: str | None = None  # default: msg_<n>
    status: int = 200
    error: str = "scripted error"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the response starts (timeouts)
    chunk_delay: float = 0.0  # seconds between SSE events
    chunk_size: int = 4  # characters per streamed text / JSON delta
    stream_error: str | None = None  # an ``error`` event (overloaded) after the content
    truncate: bool = False  # the stream stops before message_delta / message_stop
    malformed: bool = False  # a data line that is not JSON after message_start
    input_tokens: int = 42  # what count_tokens answers

    @classmethod
    def tools(cls, *uses: ToolUse, text: str | None = None, **kwargs: Any) -> Reply:
        """A reply with these tool uses (no text unless given)."""
        return cls(text=text, tool_uses=tuple(uses), **kwargs)

    @classmethod
    def failure(cls, status: int, message: str = "scripted error", **kwargs: Any) -> Reply:
        """An HTTP error; ``retry_after=`` (s) / ``retry_after_ms=`` set the retry headers."""
        headers = dict(kwargs.pop("headers", {}))
        for key, header in (("retry_after", "retry-after"), ("retry_after_ms", "retry-after-ms")):
            value = kwargs.pop(key, None)
            if value is not None:
                headers[header] = f"{value:g}"
        return cls(status=status, error=message, headers=headers, **kwargs)

    @classmethod
    def rate_limited(cls, **kwargs: Any) -> Reply:
        """A 429 ``rate_limit_error``."""
        return cls.failure(429, "Rate limit reached", **kwargs)

    @classmethod
    def overloaded(cls, **kwargs: Any) -> Reply:
        """A 529 ``overloaded_error``."""
        return cls.failure(529, "Overloaded", **kwargs)

    @property
    def effective_stop_reason(self) -> str:
        client_tools = any(not use.server for use in self.tool_uses)
        return self.stop_reason or ("tool_use" if client_tools else "end_turn")


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received (headers lower-cased)."""

    method: str
    path: str
    headers: Mapping[str, str]
    json: Any

    @property
    def retry_count(self) -> int:
        """The SDK's attempt counter (``x-stainless-retry-count``), 0 when absent."""
        return int(self.headers.get("x-stainless-retry-count", "0") or 0)


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), max(1, size))] or [""]


class FakeAnthropicServer:
    """The server; ``with FakeAnthropicServer() as s:`` starts and stops it."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[RecordedRequest] = []
        self._queue: list[Reply] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> FakeAnthropicServer:
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        self._httpd = httpd = ThreadingHTTPServer((self.host, 0), handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeAnthropicServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1]) if self._httpd else 0

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (the SDK adds ``/v1/messages``)."""
        return f"http://{self.host}:{self.port}"

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order."""
        with self._lock:
            self._queue.extend(replies)

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self._queue.pop(0) if self._queue else Reply()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

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
        for piece in _pieces(block["text"], size):
            yield _delta(index, {"type": "text_delta", "text": piece})
    elif kind == "thinking":
        yield _start(index, {"type": "thinking", "thinking": "", "signature": ""})
        for piece in _pieces(block["thinking"], size):
            yield _delta(index, {"type": "thinking_delta", "thinking": piece})
        yield _delta(index, {"type": "signature_delta", "signature": block["signature"]})
    elif kind in ("tool_use", "server_tool_use"):
        yield _start(index, {**block, "input": {}})
        for piece in _pieces(json.dumps(block["input"]), size):
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeAnthropicServer

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = RecordedRequest(self.command, self.path, headers, body)
        reply = self.fake._next_reply(request)
        if reply.delay and self.fake._stopping.wait(reply.delay):
            return
        try:
            self._respond(request, reply, body if isinstance(body, dict) else {})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

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
        return self._sse(self.fake.events(reply, body, model), reply)

    def _head(self, status: int, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        self.send_header("request-id", f"req_{next(self.fake._ids)}")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        length = {"content-type": "application/json", "content-length": str(len(data))}
        self._head(status, {**length, **(headers or {})})
        self.wfile.write(data)

    def _sse(self, events: Iterator[Any], reply: Reply) -> None:
        self._head(200, {"content-type": "text/event-stream", "connection": "close",
                         **reply.headers})  # fmt: skip
        self.close_connection = True
        for i, data in enumerate(events):
            if i and reply.chunk_delay and self.fake._stopping.wait(reply.chunk_delay):
                return
            if isinstance(data, str):
                line = f"event: content_block_delta\ndata: {data}\n\n"
            else:
                line = f"event: {data['type']}\ndata: {json.dumps(data)}\n\n"
            self.wfile.write(line.encode())
            self.wfile.flush()
