"""What every fake API server shares: the HTTP plumbing, the lifecycle and the script.

A fake server (``FakeHTTPServer`` subclass) is a ``ThreadingHTTPServer`` on a
free loopback port, served from a daemon thread; ``with Fake() as s:`` starts
and stops it. ``s.script(*replies)`` queues replies, each request takes the
first one that serves it (unscripted requests get ``Reply()``), and
``s.requests`` records every request. Its handler (``FakeHandler`` subclass)
reads and records the request, sleeps the reply's ``delay``, then renders the
reply in its API's wire format with ``_json`` and ``_sse`` (a streamed body
that closes the connection, optionally chunked, optionally torn at the end).

What stays in each server module is its API's wire format alone: the reply and
usage dataclasses, the routes, the JSON objects and the SSE events.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Generic, TypeVar

_Reply = TypeVar("_Reply", bound="ScriptedReply")
_Request = TypeVar("_Request", bound="RecordedRequest")
_Server = TypeVar("_Server", bound="FakeHTTPServer[Any, Any]")


def pieces(text: str, size: int) -> list[str]:
    """``text`` cut into deltas of ``size`` characters (one empty piece for ``""``)."""
    return [text[i : i + size] for i in range(0, len(text), max(1, size))] or [""]


def sse_frame(data: Any, event: str | None = None, eol: str = "\n") -> str:
    """One SSE event: an optional ``event:`` line, then ``data:`` (JSON unless a string)."""
    text = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}{eol}" if event else "") + f"data: {text}{eol}{eol}"


@dataclass(frozen=True, kw_only=True)
class ScriptedReply:
    """The reply fields the plumbing reads: an HTTP error and the timing of the response.

    Keyword-only, so that each API's own fields (``text``...) come first positionally.
    """

    status: int = 200
    error: str = "scripted error"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the response starts (timeouts)
    chunk_delay: float = 0.0  # seconds between SSE events
    stream_error: str | None = None  # an error event after the streamed content

    @classmethod
    def failure(cls: type[_Reply], status: int, message: str = "scripted error",
                **kwargs: Any) -> _Reply:  # fmt: skip
        """An HTTP error; ``retry_after=`` (s) / ``retry_after_ms=`` set the retry headers."""
        headers = dict(kwargs.pop("headers", {}))
        for key, header in (("retry_after", "retry-after"), ("retry_after_ms", "retry-after-ms")):
            value = kwargs.pop(key, None)
            if value is not None:
                headers[header] = f"{value:g}"
        return cls(status=status, error=message, headers=headers, **kwargs)

    @classmethod
    def rate_limited(cls: type[_Reply], **kwargs: Any) -> _Reply:
        """A 429 (``retry_after=`` seconds / ``retry_after_ms=`` for Retry-After headers)."""
        return cls.failure(429, "Rate limit reached", **kwargs)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received (headers lower-cased)."""

    method: str
    path: str
    headers: Mapping[str, str]
    json: Any

    @classmethod
    def received(cls: type[_Request], method: str, target: str, headers: Mapping[str, str],
                 body: Any) -> _Request:  # fmt: skip
        """The record of a request line's ``method`` and ``target`` (path and query)."""
        return cls(method, target, headers, body)

    @property
    def retry_count(self) -> int:
        """The SDK's attempt counter (``x-stainless-retry-count``), 0 when absent."""
        return int(self.headers.get("x-stainless-retry-count", "0") or 0)


class FakeHandler(BaseHTTPRequestHandler, Generic[_Reply, _Request]):
    """Reads, records and answers one request; subclasses render their API's replies."""

    protocol_version = "HTTP/1.1"
    request_type: ClassVar[type[RecordedRequest]] = RecordedRequest
    request_id_header: ClassVar[str | None] = None  # sent with a fresh req_<n> on every reply
    fake: FakeHTTPServer[_Reply, _Request]  # bound per server by FakeHTTPServer.start()

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:  # not JSON (e.g. a file upload): recorded as None
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        request: Any = self.request_type.received(self.command, self.path, headers, body)
        try:
            payload = self._unscripted(request)
            if payload is not None:
                return self._json(200, payload)
            reply = self.fake._next_reply(request)
            if reply.delay and self.fake._stopping.wait(reply.delay):
                return
            self._respond(request, reply, body if isinstance(body, dict) else {})
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
            self.close_connection = True

    def _unscripted(self, request: _Request) -> Any:
        """A JSON payload to answer without taking a scripted reply, or ``None``."""
        return None

    def _respond(self, request: _Request, reply: _Reply, body: dict[str, Any]) -> None:
        raise NotImplementedError

    def _head(self, status: int, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        if self.request_id_header:
            self.send_header(self.request_id_header, self.fake.new_id("req_"))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        length = {"content-type": "application/json", "content-length": str(len(data))}
        self._head(status, {**length, **(headers or {})})
        self.wfile.write(data)

    def _sse(self, frames: Iterable[str], reply: _Reply, chunked: bool = False,
             torn: bytes | None = None) -> None:  # fmt: skip
        """Stream ``frames`` (``reply.chunk_delay`` apart), then close the connection.

        ``chunked``: chunked transfer encoding, so that a ``torn`` ending (bytes sent
        instead of the last chunk) is visible to the client as a broken body.
        """
        encoding = {"transfer-encoding": "chunked"} if chunked else {}
        sse = {"content-type": "text/event-stream", **encoding, "connection": "close"}
        self._head(200, {**sse, **reply.headers})
        self.close_connection = True
        for i, frame in enumerate(frames):
            if i and reply.chunk_delay and self.fake._stopping.wait(reply.chunk_delay):
                return
            data = frame.encode()
            self._write(f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data)
        if chunked:
            self._write(b"0\r\n\r\n" if torn is None else torn)

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()


class FakeHTTPServer(Generic[_Reply, _Request]):
    """The lifecycle, the script queue and the request log of a fake API server."""

    handler: ClassVar[type[FakeHandler[Any, Any]]]
    reply_type: ClassVar[type[ScriptedReply]]  # what unscripted requests get: reply_type()
    path_prefix: ClassVar[str] = ""  # appended to base_url

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[_Request] = []  # every request received, in order
        self._queue: list[_Reply] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    def start(self: _Server) -> _Server:
        """Bind a free port on ``host`` and serve from a daemon thread."""
        handler = type("_BoundHandler", (self.handler,), {"fake": self})
        self._httpd = httpd = ThreadingHTTPServer((self.host, 0), handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving (slow replies still sleeping are woken up)."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self: _Server) -> _Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (once started)."""
        return int(self._httpd.server_address[1]) if self._httpd else 0

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` and the ``path_prefix``, for the client's ``base_url``."""
        return f"http://{self.host}:{self.port}{self.path_prefix}"

    def script(self, *replies: _Reply) -> None:
        """Queue replies for the next requests, in order."""
        with self._lock:
            self._queue.extend(replies)

    def new_id(self, prefix: str) -> str:
        """``<prefix><n>``, n counting up from 1 per server."""
        return f"{prefix}{next(self._ids)}"

    def _serves(self, reply: _Reply, request: _Request) -> bool:
        """Whether ``reply`` may answer ``request`` (otherwise it waits for a later one)."""
        return True

    def _next_reply(self, request: _Request) -> _Reply:
        with self._lock:
            self.requests.append(request)
            for i, reply in enumerate(self._queue):
                if self._serves(reply, request):
                    return self._queue.pop(i)
        return self.reply_type()  # type: ignore[return-value]
