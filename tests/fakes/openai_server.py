"""A local HTTP server that speaks the OpenAI wire format (JSON and SSE), for tests.

Framework-neutral: any OpenAI-based client (the ``openai`` SDK, LangChain's
``ChatOpenAI``, LlamaIndex's ``OpenAI``) can talk to it over real HTTP on
127.0.0.1, on a free port, served from a background thread::

    from tests.fakes.openai_server import FakeOpenAIServer, Reply, ToolCall

    with FakeOpenAIServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        server.script(Reply.rate_limited(retry_after=0.01),  # a 429 first, then:
                      Reply.tools(ToolCall("get_weather", '{"city": "Paris"}', id="call_1")))
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        assert server.requests[-1].json["model"] == "gpt-4o-mini"

Endpoints (under ``/v1``): ``POST /chat/completions``, ``/responses``,
``/embeddings``. A ``Reply`` says *what* the model answers; the server renders
it as the request asks: JSON, or SSE for ``"stream": true`` (a chat usage chunk
when ``stream_options.include_usage`` is set; Responses streams end with
``response.completed``). Scripted replies are used in order (one with
``endpoint=`` waits for that endpoint); unscripted requests get ``Reply()``.
``server.requests`` records every request (``RecordedRequest``).

The server itself (lifecycle, script, request log, JSON and SSE plumbing) is
``_fake_http``'s; this module holds the wire format.
"""

from __future__ import annotations

import base64
import itertools
import struct
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.fakes._fake_http import FakeHandler, FakeHTTPServer, ScriptedReply, pieces, sse_frame
from tests.fakes._fake_http import RecordedRequest as _RecordedRequest

DEFAULT_TEXT = "Hello from the fake model."
_ENDPOINTS = ("chat/completions", "responses", "embeddings")
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


@dataclass(frozen=True)
class ToolCall:
    """A tool call the model requests; ``arguments`` is JSON text, as the API sends it."""

    name: str
    arguments: str = "{}"
    id: str | None = None  # default: call_<n>


@dataclass(frozen=True)
class Usage:
    """Token counts reported for a reply."""

    input_tokens: int = 11
    output_tokens: int = 7
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int | None = None
    cost: float | None = None  # a gateway's price of the call (OpenRouter's usage.cost)


@dataclass(frozen=True)
class Reply(ScriptedReply):
    """One scripted answer: content (rendered per endpoint), or an HTTP error.

    ``failure(status, ...)`` and ``rate_limited(retry_after=...)`` make errors (the SDK's
    own backoff, without Retry-After headers, is ~0.5 s); ``status``, ``headers``,
    ``delay``, ``chunk_delay`` and ``stream_error`` are keyword-only (``ScriptedReply``).
    """

    text: str | None = DEFAULT_TEXT
    tool_calls: Sequence[ToolCall] = ()
    finish_reason: str | None = None  # default: "tool_calls" with tool calls, else "stop"
    usage: Usage | None = field(default_factory=Usage)
    model: str | None = None  # default: the request's model
    id: str | None = None  # default: chatcmpl-<n> / resp_<n>
    embedding: Sequence[float] = (0.1, 0.2, 0.3)
    chunk_size: int = 4  # characters per streamed text / arguments delta
    endpoint: str | None = None  # "chat/completions", "responses", "embeddings" or any
    # Top-level fields added to a chat completion (and each of its chunks) or a Responses
    # response, e.g. {"service_tier": "default", "system_fingerprint": "fp_1"}.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def tools(cls, *calls: ToolCall, text: str | None = None, **kwargs: Any) -> Reply:
        """A reply requesting these tool calls (no text unless given)."""
        return cls(text=text, tool_calls=tuple(calls), **kwargs)

    @property
    def effective_finish_reason(self) -> str:
        """The finish reason sent: the given one, else ``tool_calls`` or ``stop``."""
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")


@dataclass(frozen=True)
class RecordedRequest(_RecordedRequest):
    """A request the server received (headers lower-cased)."""

    @property
    def endpoint(self) -> str:
        """``chat/completions``, ``responses``, ``embeddings`` or the bare path."""
        bare = self.path.split("?", 1)[0].rstrip("/")
        return next((name for name in _ENDPOINTS if bare.endswith("/" + name)), bare)


class _Handler(FakeHandler[Reply, RecordedRequest]):
    request_type = RecordedRequest
    request_id_header = "x-request-id"
    fake: FakeOpenAIServer

    do_GET = FakeHandler.do_POST

    def _respond(self, request: RecordedRequest, reply: Reply, body: dict[str, Any]) -> None:
        fake, endpoint = self.fake, request.endpoint
        if reply.status >= 400:
            kind = _ERROR_TYPES.get(reply.status, "server_error")
            error = {"error": {"message": reply.error, "type": kind, "param": None, "code": None}}
            return self._json(reply.status, error, reply.headers)
        if endpoint == "embeddings":
            return self._json(200, fake.embeddings_json(reply, body), reply.headers)
        if endpoint not in ("chat/completions", "responses"):
            return self._json(404, {"error": {"message": f"no route {request.path}", "type": "x"}})
        chat = endpoint == "chat/completions"
        if not body.get("stream"):
            render = fake.chat_json if chat else fake.response_json
            return self._json(200, render(reply, body), reply.headers)
        if chat:  # unnamed events, ending with data: [DONE]
            return self._sse(map(sse_frame, fake.chat_events(reply, body)), reply)
        events = fake.response_events(reply, body)
        return self._sse((sse_frame(data, data["type"]) for data in events), reply)


class FakeOpenAIServer(FakeHTTPServer[Reply, RecordedRequest]):
    """The server; ``with FakeOpenAIServer() as s:`` starts and stops it.

    ``base_url`` is ``http://127.0.0.1:<port>/v1``, to pass as the client's ``base_url``.
    """

    handler = _Handler
    reply_type = Reply
    path_prefix = "/v1"

    def _serves(self, reply: Reply, request: RecordedRequest) -> bool:
        return reply.endpoint is None or reply.endpoint == request.endpoint

    def chat_json(self, reply: Reply, body: Mapping[str, Any]) -> dict[str, Any]:
        """A ``chat.completion`` object (one choice per requested ``n``)."""
        message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": c.id or self.new_id("call_"), "type": "function",
                 "function": {"name": c.name, "arguments": c.arguments}}
                for c in reply.tool_calls
            ]  # fmt: skip
        choice = {"message": message, "finish_reason": reply.effective_finish_reason}
        return {
            **self._chat_base(reply, body, "chat.completion"),
            "choices": [{"index": i, **choice} for i in range(int(body.get("n") or 1))],
            "usage": _usage(reply.usage, chat=True) if reply.usage else None,
        }

    def _chat_base(self, reply: Reply, body: Mapping[str, Any], kind: str) -> dict[str, Any]:
        model = reply.model or body.get("model", "fake-model")
        rid = reply.id or self.new_id("chatcmpl-")
        created = int(time.time())
        return {"id": rid, "object": kind, "created": created, "model": model, **reply.extra}

    def chat_events(self, reply: Reply, body: Mapping[str, Any]) -> Iterator[Any]:
        """The ``chat.completion.chunk`` SSE payloads, ending with ``[DONE]``."""
        base = self._chat_base(reply, body, "chat.completion.chunk")

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        yield chunk({"role": "assistant", "content": ""})
        for piece in pieces(reply.text, reply.chunk_size) if reply.text else ():
            yield chunk({"content": piece})
        for i, call in enumerate(reply.tool_calls):
            head = {"index": i, "id": call.id or self.new_id("call_"), "type": "function"}
            function = {"name": call.name, "arguments": ""}
            yield chunk({"tool_calls": [{**head, "function": function}]})
            for piece in pieces(call.arguments, reply.chunk_size):
                yield chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
        if reply.stream_error:
            yield {"error": {"message": reply.stream_error, "type": "server_error", "code": None}}
        yield chunk({}, reply.effective_finish_reason)
        if reply.usage and (body.get("stream_options") or {}).get("include_usage"):
            yield {**base, "choices": [], "usage": _usage(reply.usage, chat=True)}
        yield "[DONE]"

    def response_json(self, reply: Reply, body: Mapping[str, Any]) -> dict[str, Any]:
        """A ``response`` object (status ``incomplete`` for ``length`` / ``content_filter``)."""
        incomplete = _INCOMPLETE.get(reply.finish_reason or "")
        usage = _usage(reply.usage, chat=False) if reply.usage else None
        return {
            "id": reply.id or self.new_id("resp_"), "object": "response", "error": None,
            "created_at": int(time.time()), "model": reply.model or body.get("model", "fake-model"),
            "status": "incomplete" if incomplete else "completed",
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "output": _response_items(reply, final=True), "usage": usage,
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], **reply.extra,
        }  # fmt: skip

    def response_events(self, reply: Reply, body: Mapping[str, Any]) -> Iterator[Any]:
        """The Responses SSE events, ``response.created`` to ``response.completed``."""
        final = self.response_json(reply, body)
        start = {**final, "status": "in_progress", "output": [], "usage": None}
        seq = itertools.count()

        def event(kind: str, **data: Any) -> dict[str, Any]:
            return {"type": kind, "sequence_number": next(seq), **data}

        yield event("response.created", response=start)
        yield event("response.in_progress", response=start)
        added = _response_items(reply, final=False)
        for index, (item, full) in enumerate(zip(added, final["output"], strict=True)):
            yield event("response.output_item.added", output_index=index, item=item)
            ref = {"item_id": item["id"], "output_index": index}
            if item["type"] == "message":
                part = full["content"][0]
                empty = {**part, "text": ""}
                yield event("response.content_part.added", **ref, content_index=0, part=empty)
                for piece in pieces(part["text"], reply.chunk_size):
                    yield event("response.output_text.delta", **ref, content_index=0,
                                delta=piece, logprobs=[])  # fmt: skip
                yield event("response.output_text.done", **ref, content_index=0,
                            text=part["text"], logprobs=[])  # fmt: skip
                yield event("response.content_part.done", **ref, content_index=0, part=part)
            else:
                for piece in pieces(full["arguments"], reply.chunk_size):
                    yield event("response.function_call_arguments.delta", **ref, delta=piece)
                yield event("response.function_call_arguments.done", **ref,
                            arguments=full["arguments"], name=full["name"])  # fmt: skip
            yield event("response.output_item.done", output_index=index, item=full)
        if reply.stream_error:
            yield event("error", code="server_error", message=reply.stream_error, param=None)
            return
        kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        yield event(kind, response=final)

    def embeddings_json(self, reply: Reply, body: Mapping[str, Any]) -> dict[str, Any]:
        """A list of embeddings, one per input (base64 when the request asks for it)."""
        inputs = body.get("input")
        count = len(inputs) if isinstance(inputs, list) and not isinstance(inputs[0], int) else 1
        vector: Any = [float(v) for v in reply.embedding]
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
        data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(count)]
        tokens = reply.usage.input_tokens if reply.usage else 0
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        model = reply.model or body.get("model", "fake-embedding")
        return {"object": "list", "model": model, "data": data, "usage": usage}


def _usage(usage: Usage, chat: bool) -> dict[str, Any]:
    """Usage as Chat Completions (prompt/completion) or Responses (input/output) name it."""
    details: dict[str, Any] = {"cached_tokens": usage.cached_tokens}
    if usage.cache_write_tokens is not None:
        details["cache_write_tokens"] = usage.cache_write_tokens
    given, made = ("prompt", "completion") if chat else ("input", "output")
    fields = {
        f"{given}_tokens": usage.input_tokens,
        f"{made}_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        f"{given}_tokens_details": details,
        f"{made}_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
    return fields if usage.cost is None else {**fields, "cost": usage.cost}


def _response_items(reply: Reply, final: bool) -> list[dict[str, Any]]:
    """Output items: the message (when there is text), then the function calls."""
    status = "completed" if final else "in_progress"
    items: list[dict[str, Any]] = []
    if reply.text is not None:
        part = {"type": "output_text", "text": reply.text, "annotations": []}
        items.append({"type": "message", "id": "msg_1", "status": status, "role": "assistant",
                      "content": [part] if final else []})  # fmt: skip
    for i, call in enumerate(reply.tool_calls, 1):
        items.append({"type": "function_call", "id": f"fc_{i}", "call_id": call.id or f"call_r{i}",
                      "name": call.name, "arguments": call.arguments if final else "",
                      "status": status})  # fmt: skip
    return items
