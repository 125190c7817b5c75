"""A scripted, OpenAI-compatible model on 127.0.0.1, so the examples run offline.

Example code, not part of the package: stdlib only (``http.server`` in a daemon
thread, on a free port). It answers ``POST /v1/chat/completions`` in JSON, or in
SSE when the request says ``"stream": true``, always with token usage. Its policy
is a script: turn ``n`` of a conversation (``n`` = assistant messages so far)
asks for the tool calls in ``plan[n]``; once the plan is used up, or when the
request offers no tools, it answers in text, quoting the tool results it got::

    with local_model([[("get_weather", {"city": "Paris"})]]) as (base_url, api_key, model):
        client = openai.OpenAI(base_url=base_url, api_key=api_key)

With ``OPENAI_API_KEY`` set, ``local_model()`` starts nothing and yields the real
API's settings instead: ``OPENAI_BASE_URL`` (None means the SDK's default), the
key, and the model from ``EXAMPLE_MODEL`` (default ``gpt-4o-mini``).
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# One model turn: the tool calls to ask for, as (tool name, arguments).
Turn = Sequence[tuple[str, dict[str, Any]]]
DEFAULT_MODEL = "gpt-4o-mini"
_ids = itertools.count(1)  # tool call ids
_completion_ids = itertools.count(1)


def _tokens(value: Any) -> int:
    """A rough token count (words), enough for usage numbers that move with the input."""
    return max(1, len(json.dumps(value).split()))


def reply(request: dict[str, Any], plan: Sequence[Turn]) -> dict[str, Any]:
    """The assistant message this script gives for ``request``, plus usage and finish reason."""
    messages = request.get("messages") or []
    turn = sum(1 for m in messages if m.get("role") == "assistant")
    offered = {t.get("function", {}).get("name") for t in request.get("tools") or []}
    calls = [(n, a) for n, a in plan[turn] if n in offered] if turn < len(plan) else []
    if calls:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": f"call_{next(_ids)}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(arguments)},
                }
                for name, arguments in calls
            ],
        }
        finish = "tool_calls"
    else:
        results = [str(m.get("content")) for m in messages if m.get("role") == "tool"]
        text = "Here is what I found: " + " | ".join(results) if results else "Hello!"
        message = {"role": "assistant", "content": text}
        finish = "stop"
    usage = {
        "prompt_tokens": _tokens(messages),
        "completion_tokens": _tokens(message),
    }
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {"message": message, "finish_reason": finish, "usage": usage}


def _completion(request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-local-{next(_completion_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model") or DEFAULT_MODEL,
        "choices": [
            {"index": 0, "message": answer["message"], "finish_reason": answer["finish_reason"]}
        ],
        "usage": answer["usage"],
    }


def _chunks(request: dict[str, Any], answer: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The same answer as stream chunks: role, content or tool calls, finish, usage."""
    base = {
        "id": f"chatcmpl-local-{next(_completion_ids)}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request.get("model") or DEFAULT_MODEL,
    }
    message = answer["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}

    yield chunk({"role": "assistant", "content": ""})
    for index, call in enumerate(message.get("tool_calls") or []):
        yield chunk({"tool_calls": [{"index": index, **call}]})
    text = message.get("content") or ""
    for start in range(0, len(text), 16):
        yield chunk({"content": text[start : start + 16]})
    if (request.get("stream_options") or {}).get("include_usage"):
        yield chunk({}, answer["finish_reason"])
        yield {**base, "choices": [], "usage": answer["usage"]}
    else:  # as many OpenAI-compatible servers do: usage on the last chunk
        yield chunk({}, answer["finish_reason"], usage=answer["usage"])


class LocalModel:
    """The server: ``base_url`` once started; ``stop()`` shuts it down."""

    def __init__(self, plan: Sequence[Turn]) -> None:
        self.plan = list(plan)
        model = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self.send_error(404, "only /v1/chat/completions is scripted")
                    return
                request = json.loads(body or b"{}")
                answer = reply(request, model.plan)
                if request.get("stream"):
                    self._send(
                        "text/event-stream",
                        "".join(f"data: {json.dumps(c)}\n\n" for c in _chunks(request, answer))
                        + "data: [DONE]\n\n",
                    )
                else:
                    self._send("application/json", json.dumps(_completion(request, answer)))

            def _send(self, content_type: str, text: str) -> None:
                data = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def local_model(plan: Sequence[Turn]) -> Iterator[tuple[str | None, str, str]]:
    """(base_url, api_key, model): the real API when OPENAI_API_KEY is set, else a local model."""
    key = os.environ.get("OPENAI_API_KEY")
    if key:
        yield os.environ.get("OPENAI_BASE_URL"), key, os.environ.get("EXAMPLE_MODEL", DEFAULT_MODEL)
        return
    server = LocalModel(plan)
    try:
        yield server.base_url, "local", DEFAULT_MODEL
    finally:
        server.stop()
