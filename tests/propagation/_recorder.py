"""An HTTP tool server on loopback that records the headers of every request it receives."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TRACE_HEADERS = (
    "traceparent",
    "tracestate",
    "baggage",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
    "x-b3-flags",
)


class HeaderRecorder:
    """``GET /anything`` -> 200; ``/status/<code>?retry_after=<s>`` -> that status;
    ``/redirect?to=<url>`` -> 302 to that URL."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One write per response: headers and body in separate segments would wait
            # on the client's delayed ACK (about 40 ms a request).
            wbufsize = 65536
            disable_nagle_algorithm = True

            def _reply(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                parts = urlsplit(self.path)
                recorder.requests.append(
                    {
                        "method": self.command,
                        "path": parts.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                    }
                )
                status = 200
                if parts.path.startswith("/status/"):
                    status = int(parts.path.rsplit("/", 1)[-1])
                target = parse_qs(parts.query).get("to")
                if parts.path == "/redirect" and target:
                    status = 302
                body = b'{"ok": true}'
                self.send_response(status)
                if status == 302 and target:
                    self.send_header("Location", target[0])
                retry_after = parse_qs(parts.query).get("retry_after")
                if retry_after:
                    self.send_header("Retry-After", retry_after[0])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _reply

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> HeaderRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def last_headers(self) -> dict[str, str]:
        """Headers of the most recent request."""
        headers: dict[str, str] = self.requests[-1]["headers"]
        return headers

    def trace_headers(self) -> dict[str, str]:
        """The trace-context headers (W3C and B3) of the most recent request."""
        return {k: v for k, v in self.last_headers().items() if k in TRACE_HEADERS}
