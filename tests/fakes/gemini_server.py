"""A local HTTP server that speaks the Gemini API wire format (JSON and ``alt=sse``), for tests.

Framework-neutral: the ``google-genai`` SDK, LangChain's ``ChatGoogleGenerativeAI``
and LlamaIndex's ``GoogleGenAI`` talk to it over real HTTP on 127.0.0.1, on a
free port, served from a background thread::

    from tests.fakes.gemini_server import Call, FakeGeminiServer, Reply

    with FakeGeminiServer() as server:
        client = genai.Client(api_key="k", http_options=server.http_options())
        server.script(Reply.failure(429),                      # RESOURCE_EXHAUSTED first, then:
                      Reply.with_calls(Call("get_weather", {"city": "Paris"})))
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")
        assert server.requests[-1].method_name == "generateContent"

Routes: ``POST .../models/{model}:generateContent``, ``:streamGenerateContent``
(``alt=sse``), ``:embedContent`` and ``:batchEmbedContents``, under any prefix
(the Gemini API's ``/v1beta/models/...`` and Vertex AI's ``.../publishers/google/models/...``
alike). A ``Reply`` says *what* the model answers; the server renders it as
the route asks. Scripted replies are used in order; unscripted requests get
``Reply()``. ``server.requests`` records every request (``RecordedRequest``).

The server itself (lifecycle, script, request log, JSON and SSE plumbing) is
``_fake_http``'s; this module holds the wire format.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from tests.fakes._fake_http import FakeHandler, FakeHTTPServer, ScriptedReply, pieces, sse_frame
from tests.fakes._fake_http import RecordedRequest as _RecordedRequest

DEFAULT_TEXT = "Hello from the fake Gemini."
_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}  # fmt: skip


@dataclass(frozen=True)
class Call:
    """A function call the model requests (``id`` only where the API sends one)."""

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Usage:
    """Token counts reported for a reply (``usageMetadata``)."""

    input_tokens: int = 11
    output_tokens: int = 7
    cached_tokens: int | None = None
    thoughts_tokens: int | None = None
    tool_use_tokens: int | None = None


@dataclass(frozen=True)
class Reply(ScriptedReply):
    """One scripted answer: content (rendered per route), or an HTTP error.

    ``failure(status, ...)`` is an error in Google's shape (429 is ``RESOURCE_EXHAUSTED``);
    ``status``, ``headers``, ``delay``, ``chunk_delay`` and ``stream_error`` (an error
    object after the streamed content) are keyword-only (``ScriptedReply``).
    """

    text: str | None = DEFAULT_TEXT
    calls: Sequence[Call] = ()
    thought: str | None = None  # a thought summary part before the answer
    finish_reason: str | None = "STOP"
    usage: Usage | None = field(default_factory=Usage)
    model_version: str | None = None  # default: "<model>-001"
    id: str | None = None  # default: resp-<n>; "" sends none
    blocked: str | None = None  # a blocked prompt: promptFeedback.blockReason, no candidates
    embedding: Sequence[float] = (0.1, 0.2, 0.3)
    retry_delay: str | None = None  # RetryInfo.retryDelay in an error's details ("0.01s")
    chunk_size: int = 8  # characters per streamed text chunk
    cut: str | None = None  # streams: "eof" (clean early end) or "broken" (torn chunked body)

    @classmethod
    def with_calls(cls, *calls: Call, text: str | None = None, **kwargs: Any) -> Reply:
        """A reply requesting these function calls (no text unless given)."""
        return cls(text=text, calls=tuple(calls), **kwargs)


@dataclass(frozen=True)
class RecordedRequest(_RecordedRequest):
    """A request the server received (headers lower-cased, path unquoted, query parsed)."""

    query: Mapping[str, list[str]] = field(default_factory=dict)

    @classmethod
    def received(cls, method: str, target: str, headers: Mapping[str, str],
                 body: Any) -> RecordedRequest:  # fmt: skip
        path, _, query = target.partition("?")
        return cls(method, unquote(path), headers, body, parse_qs(query))

    @property
    def model(self) -> str:
        """The model named in the path (``.../models/<model>:<method>``)."""
        return self.path.rsplit("/models/", 1)[-1].split(":", 1)[0]

    @property
    def method_name(self) -> str:
        """``generateContent``, ``streamGenerateContent``, ``batchEmbedContents``..."""
        return self.path.rsplit(":", 1)[-1] if ":" in self.path else ""


class _Handler(FakeHandler[Reply, RecordedRequest]):
    request_type = RecordedRequest
    fake: FakeGeminiServer

    do_GET = FakeHandler.do_POST

    def _unscripted(self, request: RecordedRequest) -> Any:
        if self.command == "GET" and not request.method_name:  # models.get: not a turn
            return _model_info(request.model)
        return None

    def _respond(self, request: RecordedRequest, reply: Reply, body: dict[str, Any]) -> None:
        fake, method = self.fake, request.method_name
        if reply.status >= 400:
            return self._json(reply.status, _error(reply), reply.headers)
        if method in ("embedContent", "batchEmbedContents", "predict"):
            return self._json(200, fake.embed_json(reply, method, body), reply.headers)
        if method == "generateContent":
            return self._json(200, fake.content_json(reply, request.model, body), reply.headers)
        if method == "streamGenerateContent":
            return self._stream(fake.content_events(reply, request.model), reply)
        return self._json(404, {"error": {"code": 404, "message": f"no route {request.path}"}})

    def _stream(self, events: Iterator[dict[str, Any]], reply: Reply) -> None:
        # Chunked, as Google's servers send it: a torn body is then visible to the client.
        # The connection closes after the stream, and says so: a client must not reuse it.
        tail: list[dict[str, Any]] = []
        if reply.stream_error:
            error = {"code": 500, "message": reply.stream_error, "status": "INTERNAL"}
            tail.append({"error": error})
        frames = (sse_frame(data, eol="\r\n") for data in itertools.chain(events, tail))
        torn = b'40\r\ndata: {"cand' if reply.cut == "broken" else None  # then the socket closes
        self._sse(frames, reply, chunked=True, torn=torn)


class FakeGeminiServer(FakeHTTPServer[Reply, RecordedRequest]):
    """The server; ``with FakeGeminiServer() as s:`` starts and stops it.

    ``base_url`` is ``http://127.0.0.1:<port>``, the SDK's ``HttpOptions.base_url``.
    """

    handler = _Handler
    reply_type = Reply

    def http_options(self, **extra: Any) -> dict[str, Any]:
        """``http_options=`` for ``genai.Client`` pointing at this server."""
        return {"base_url": self.base_url, **extra}

    # ------------------------------------------------------------------ rendering

    def _identity(self, reply: Reply, model: str) -> dict[str, Any]:
        out: dict[str, Any] = {"modelVersion": reply.model_version or f"{model}-001"}
        rid = reply.id if reply.id is not None else self.new_id("resp-")
        if rid:
            out["responseId"] = rid
        return out

    def content_json(self, reply: Reply, model: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A ``GenerateContentResponse`` (one candidate per requested ``candidateCount``)."""
        out = self._identity(reply, model)
        if reply.usage is not None:
            out["usageMetadata"] = _usage(reply.usage)
        if reply.blocked:
            out["promptFeedback"] = {"blockReason": reply.blocked}
            return out
        count = int((body.get("generationConfig") or {}).get("candidateCount") or 1)
        out["candidates"] = [_candidate(reply, _parts(reply), i, True) for i in range(count)]
        return out

    def content_events(self, reply: Reply, model: str) -> Iterator[dict[str, Any]]:
        """The streamed chunks: thought, text pieces, function calls, then the finish chunk."""
        head = self._identity(reply, model)
        prompt = {"promptTokenCount": reply.usage.input_tokens} if reply.usage else {}
        if reply.blocked:
            usage = {"usageMetadata": _usage(reply.usage)} if reply.usage else {}
            yield {**head, "promptFeedback": {"blockReason": reply.blocked}, **usage}
            return
        parts: list[dict[str, Any]] = []
        if reply.thought:
            parts.append({"text": reply.thought, "thought": True})
        if reply.text is not None:
            parts += [{"text": piece} for piece in pieces(reply.text, reply.chunk_size)]
        parts += [_call_part(call) for call in reply.calls]
        for part in parts[:-1] if parts else ():
            yield {**head, "candidates": [_candidate(reply, [part], 0, False)],
                   "usageMetadata": prompt}  # fmt: skip
        last = [parts[-1]] if parts else []
        if reply.cut:
            return
        final = {**head, "candidates": [_candidate(reply, last, 0, True)]}
        if reply.usage is not None:
            final["usageMetadata"] = _usage(reply.usage)
        yield final

    def embed_json(self, reply: Reply, method: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Embeddings as each route returns them: Gemini API batches, Vertex AI ``predict``
        (per-embedding token statistics) and ``embedContent`` (usage metadata)."""
        values = [float(v) for v in reply.embedding]
        tokens = reply.usage.input_tokens if reply.usage else 0
        if method == "predict":
            stats = {"token_count": tokens, "truncated": False}
            embedding = {"values": values, "statistics": stats}
            return {"predictions": [{"embeddings": embedding} for _ in body.get("instances", [])]}
        if method == "embedContent":
            return {"embedding": {"values": values}, "usageMetadata": {"promptTokenCount": tokens}}
        return {"embeddings": [{"values": values} for _ in body.get("requests") or [body]]}


def _usage(usage: Usage) -> dict[str, Any]:
    out = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": usage.output_tokens,
        "totalTokenCount": usage.input_tokens + usage.output_tokens
        + (usage.thoughts_tokens or 0) + (usage.tool_use_tokens or 0),
    }  # fmt: skip
    for key, value in (
        ("cachedContentTokenCount", usage.cached_tokens),
        ("thoughtsTokenCount", usage.thoughts_tokens),
        ("toolUsePromptTokenCount", usage.tool_use_tokens),
    ):
        if value is not None:
            out[key] = value
    return out


def _call_part(call: Call) -> dict[str, Any]:
    function: dict[str, Any] = {"name": call.name, "args": dict(call.args)}
    if call.id is not None:
        function["id"] = call.id
    return {"functionCall": function}


def _parts(reply: Reply) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if reply.thought:
        parts.append({"text": reply.thought, "thought": True})
    if reply.text is not None:
        parts.append({"text": reply.text})
    return parts + [_call_part(call) for call in reply.calls]


def _candidate(reply: Reply, parts: list[dict[str, Any]], index: int, last: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": index}
    if last and reply.finish_reason:
        candidate["finishReason"] = reply.finish_reason
        if reply.finish_reason == "SAFETY":
            rating = {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}
            candidate["safetyRatings"] = [{**rating, "blocked": True}]
    return candidate


def _model_info(model: str) -> dict[str, Any]:
    """What ``models.get`` returns (LlamaIndex reads the limits when it starts)."""
    return {"name": f"models/{model}", "displayName": model, "inputTokenLimit": 1048576,
            "outputTokenLimit": 65536,
            "supportedGenerationMethods": ["generateContent", "countTokens"]}  # fmt: skip


def _error(reply: Reply) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": reply.status,
        "message": reply.error,
        "status": _STATUS.get(reply.status, "UNKNOWN"),
    }
    if reply.retry_delay:
        info = {"@type": "type.googleapis.com/google.rpc.RetryInfo"}
        error["details"] = [{**info, "retryDelay": reply.retry_delay}]
    return {"error": error}
