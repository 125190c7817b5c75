"""A scripted model speaking the Gemini API on 127.0.0.1, so ``gemini_agent.py`` runs offline.

Example code, not part of the package: stdlib only (``http.server`` in a daemon
thread, on a free port). It answers ``POST .../models/{model}:generateContent``
in JSON, always with token usage. Its policy is a script: turn ``n`` of a
conversation (``n`` = model turns so far) asks for the function calls in
``plan[n]`` that the request offers; once the plan is used up, it answers in
text, quoting the function results it got. Like the Gemini API often does, it
gives function calls no id. The very first request is answered
``429 RESOURCE_EXHAUSTED`` once, so the SDK's retry shows in the trace::

    with local_gemini([[("get_weather", {"city": "Paris"})]]) as (base_url, api_key, model):
        client = genai.Client(api_key=api_key, http_options={"base_url": base_url})

With ``GOOGLE_API_KEY`` or ``GEMINI_API_KEY`` set, ``local_gemini()`` starts nothing
and yields the real API's settings instead (``EXAMPLE_MODEL``, default
``gemini-2.5-flash``).
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

Turn = Sequence[tuple[str, dict[str, Any]]]
DEFAULT_MODEL = "gemini-2.5-flash"
_ids = itertools.count(1)


def _tokens(value: Any) -> int:
    """A rough token count (words), enough for usage numbers that move with the input."""
    return max(1, len(json.dumps(value).split()))


def reply(request: dict[str, Any], plan: Sequence[Turn], model: str) -> dict[str, Any]:
    """The ``GenerateContentResponse`` this script gives for ``request``."""
    contents = request.get("contents") or []
    turn = sum(1 for c in contents if c.get("role") == "model")
    offered = {
        declaration.get("name")
        for tool in request.get("tools") or []
        for declaration in tool.get("functionDeclarations") or []
    }
    calls = [(n, a) for n, a in plan[turn] if n in offered] if turn < len(plan) else []
    if calls:
        parts = [{"functionCall": {"name": name, "args": args}} for name, args in calls]
    else:
        results = [
            json.dumps(part["functionResponse"].get("response"), ensure_ascii=False)
            for content in contents
            for part in content.get("parts") or []
            if "functionResponse" in part
        ]
        text = "Here is what I found: " + " | ".join(results) if results else "Hello!"
        parts = [{"text": text}]
    answer = {"role": "model", "parts": parts}
    prompt, produced = _tokens(contents), _tokens(answer)
    return {
        "candidates": [{"content": answer, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": produced,
            "totalTokenCount": prompt + produced,
        },
        "modelVersion": f"{model}-local",
        "responseId": f"local-{next(_ids)}",
    }


class LocalGemini:
    """The server: ``base_url`` once started; ``stop()`` shuts it down."""

    def __init__(self, plan: Sequence[Turn]) -> None:
        self.plan = list(plan)
        self.rate_limited = False
        model = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?", 1)[0]
                if not path.endswith(":generateContent"):
                    self.send_error(404, "only :generateContent is scripted")
                    return
                if not model.rate_limited:  # once: the SDK retries (HttpRetryOptions)
                    model.rate_limited = True
                    error = {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Slow down"}
                    self._send(429, {"error": error})
                    return
                name = path.rsplit("/models/", 1)[-1].split(":", 1)[0]
                self._send(200, reply(json.loads(body or b"{}"), model.plan, name))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def local_gemini(plan: Sequence[Turn]) -> Iterator[tuple[str | None, str, str]]:
    """(base_url, api_key, model): the real API when a Gemini key is set, else a local model."""
    key = os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY")
    if key:
        yield None, key, os.environ.get("EXAMPLE_MODEL", DEFAULT_MODEL)
        return
    server = LocalGemini(plan)
    try:
        yield server.base_url, "local", DEFAULT_MODEL
    finally:
        server.stop()
