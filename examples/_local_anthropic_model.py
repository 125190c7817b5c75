"""A scripted model speaking the Anthropic Messages API on 127.0.0.1, so the example runs offline.

Example code, not part of the package: stdlib only (``http.server`` in a daemon
thread, on a free port). It answers ``POST /v1/messages`` in JSON, always with
token usage. Its policy is a script: turn ``n`` of a conversation (``n`` =
assistant messages so far) asks for the ``tool_use`` blocks in ``plan[n]``; once
the plan is used up, or when the request offers no tools, it answers in text,
quoting the ``tool_result`` blocks it got::

    with local_anthropic([[("get_weather", {"city": "Paris"})]]) as (base_url, api_key, model):
        client = anthropic.Anthropic(base_url=base_url, api_key=api_key)

With ``ANTHROPIC_API_KEY`` set, it starts nothing and yields the real API's
settings instead: ``ANTHROPIC_BASE_URL`` (None means the SDK's default), the key,
and the model from ``EXAMPLE_MODEL`` (default ``claude-sonnet-4-5``).
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Turn = Sequence[tuple[str, dict[str, Any]]]  # one model turn: (tool name, input) to ask for
DEFAULT_MODEL = "claude-sonnet-4-5"
_ids = itertools.count(1)


def _tokens(value: Any) -> int:
    """A rough token count (words), enough for usage numbers that move with the input."""
    return max(1, len(json.dumps(value).split()))


def _results(messages: list[dict[str, Any]]) -> list[str]:
    found = []
    for message in messages:
        content = message.get("content")
        for block in content if isinstance(content, list) else ():
            if isinstance(block, dict) and block.get("type") == "tool_result":
                found.append(str(block.get("content")))
    return found


def reply(request: dict[str, Any], plan: Sequence[Turn]) -> dict[str, Any]:
    """The ``message`` object this script gives for ``request``."""
    messages = request.get("messages") or []
    turn = sum(1 for m in messages if m.get("role") == "assistant")
    offered = {t.get("name") for t in request.get("tools") or []}
    uses = [(n, i) for n, i in plan[turn] if n in offered] if turn < len(plan) else []
    if uses:
        content = [
            {"type": "tool_use", "id": f"toolu_{next(_ids)}", "name": name, "input": arguments}
            for name, arguments in uses
        ]
        stop = "tool_use"
    else:
        results = _results(messages)
        text = "Here is what I found: " + " | ".join(results) if results else "Hello!"
        content, stop = [{"type": "text", "text": text}], "end_turn"
    return {
        "id": f"msg_local_{next(_ids)}",
        "type": "message",
        "role": "assistant",
        "model": request.get("model") or DEFAULT_MODEL,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": _tokens(messages), "output_tokens": _tokens(content)},
    }


class LocalAnthropic:
    """The server: ``base_url`` once started; ``stop()`` shuts it down."""

    def __init__(self, plan: Sequence[Turn]) -> None:
        model = self
        self.plan = list(plan)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self.path.rstrip("/").endswith("/v1/messages"):
                    self.send_error(404, "only /v1/messages is scripted")
                    return
                data = json.dumps(reply(json.loads(body or b"{}"), model.plan)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def local_anthropic(plan: Sequence[Turn]) -> Iterator[tuple[str | None, str, str]]:
    """(base_url, api_key, model): the real API with ANTHROPIC_API_KEY set, else a local model."""
    key = os.environ.get("ANTHROPIC_API_KEY")
    if key:
        model = os.environ.get("EXAMPLE_MODEL", DEFAULT_MODEL)
        yield os.environ.get("ANTHROPIC_BASE_URL"), key, model
        return
    server = LocalAnthropic(plan)
    try:
        yield server.base_url, "local", DEFAULT_MODEL
    finally:
        server.stop()
