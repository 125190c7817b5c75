"""No secret in any HTTP span that ``instrument_all()`` or ``setup()`` enables.

Every URL-shaped secret of the corpus (a password in the userinfo, a key in the
query) is requested from a real HTTP server on 127.0.0.1 and from a loopback port
that refuses the connection, through httpx (sync and async) and requests (the
official instrumentations) and httpx2 (ours). Every attribute, every event
attribute, the status and the name of every exported span is searched for each
secret: ``url.full`` / ``http.url`` must be scrubbed, and so must
``exception.message`` and ``exception.stacktrace`` where an error quotes the URL.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import instrumentors
from instrumentors import _http_gate, discovery
from instrumentors._http_hooks import hook_kwargs
from tests.propagation._clients import refused_port, sender
from tests.propagation._recorder import HeaderRecorder
from tests.security.corpus import SECRETS

ROOT = Path(__file__).resolve().parents[2]
URL_SECRETS = [s for s in SECRETS if "://" in s.value and s.secret]
CLIENTS = ("httpx", "httpx-async", "requests", "httpx2", "httpx2-async")


def local_urls(port: int) -> list[str]:
    """Each URL secret of the corpus, pointed at ``127.0.0.1:port`` (userinfo, path, query kept)."""
    urls = []
    for secret in URL_SECRETS:
        parts = urlsplit(secret.value)
        userinfo = parts.netloc.rpartition("@")[0]
        auth = f"{userinfo}@" if userinfo else ""
        query = f"?{parts.query}" if parts.query else ""
        urls.append(f"http://{auth}127.0.0.1:{port}{parts.path or '/'}{query}")
    return urls


def send_with(client: str) -> Callable[[str], Any]:
    if not client.startswith("httpx2"):
        return sender(client)
    import httpx2

    if client == "httpx2":
        return httpx2.get

    async def fetch(url: str) -> Any:
        async with httpx2.AsyncClient() as c:
            return await c.get(url)

    return lambda url: asyncio.run(fetch(url))


def exported_text(spans: Sequence[ReadableSpan]) -> str:
    """Everything a span exports that could carry text, as one JSON document."""
    return json.dumps(
        [
            {
                "name": span.name,
                "attributes": dict(span.attributes or {}),
                "status": span.status.description,
                "events": [(e.name, dict(e.attributes or {})) for e in span.events],
                "links": [dict(link.attributes or {}) for link in span.links],
            }
            for span in spans
        ],
        default=str,
    )


def leaked(text: str) -> list[str]:
    return [s.name for s in URL_SECRETS if s.secret in text]


@pytest.fixture
def enabled_by_instrument_all(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """``instrument_all()`` with only the HTTP layers on (ours for httpx2, the official ones)."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    from instrumentors.httpx2 import HTTPX2Instrumentor

    others = [name for name in discovery.available() if name != "agent_httpx2"]
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", ",".join(others))
    done = instrumentors.instrument_all()
    yield done
    for instrumentor in (HTTPX2Instrumentor(), HTTPXClientInstrumentor(), RequestsInstrumentor()):
        instrumentor.uninstrument()
    _http_gate.uninstall()


@pytest.fixture(scope="module")
def api() -> Iterator[HeaderRecorder]:
    with HeaderRecorder() as recorder:
        yield recorder


@pytest.mark.parametrize("client", CLIENTS)
def test_no_secret_in_any_http_span(
    client: str,
    exporter: InMemorySpanExporter,
    enabled_by_instrument_all: list[str],
    api: HeaderRecorder,
) -> None:
    assert enabled_by_instrument_all == ["agent_httpx2"]
    send = send_with(client)
    for url in local_urls(api.port):
        send(url)
    raised = []
    for url in local_urls(refused_port()):
        with pytest.raises(Exception) as info:
            send(url)
        raised.append(info.value)
    spans = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert len(spans) == 2 * len(URL_SECRETS)
    text = exported_text(exporter.get_finished_spans())
    assert leaked(text) == []
    urls = [
        (s.attributes or {}).get("url.full") or (s.attributes or {}).get("http.url") for s in spans
    ]
    assert all(isinstance(u, str) and "127.0.0.1" in u for u in urls)
    assert sum("REDACTED" in str(u) for u in urls) == 2 * sum("?" in u for u in local_urls(1))
    events = [e for s in spans for e in s.events if e.name == "exception"]
    assert len(events) == len(URL_SECRETS)  # the refused half, each with its stack trace
    assert all((e.attributes or {}).get("exception.stacktrace") for e in events)
    if client == "requests":
        # requests quotes the path and query in its message: the user still sees it raw...
        assert any(s.secret in str(exc) for s in URL_SECRETS for exc in raised)
        # ...and the span has it scrubbed, not dropped.
        messages = [str((e.attributes or {})["exception.message"]) for e in events]
        assert any("REDACTED" in m and "Max retries" in m for m in messages)


def test_httpx2_error_quoting_the_url(
    exporter: InMemorySpanExporter, enabled_by_instrument_all: list[str]
) -> None:
    """A transport (a proxy, a custom one) whose error message quotes the whole URL."""
    import httpx2

    def refuse(request: Any) -> Any:
        raise httpx2.ConnectError(f"cannot reach {request.url}", request=request)

    with httpx2.Client(transport=httpx2.MockTransport(refuse)) as client:
        for url in local_urls(9):
            with pytest.raises(httpx2.ConnectError) as info:
                client.get(url)
            assert str(info.value) == f"cannot reach {url}"  # the user's error, unchanged
    spans = exporter.get_finished_spans()
    assert len(spans) == len(URL_SECRETS)
    assert leaked(exported_text(spans)) == []
    messages = {str((e.attributes or {})["exception.message"]) for s in spans for e in s.events}
    assert "cannot reach http://127.0.0.1:9/v1?q=REDACTED&api_key=REDACTED" in messages


def test_the_search_sees_a_leak_without_our_tracer_provider(
    exporter: InMemorySpanExporter, api: HeaderRecorder
) -> None:
    """Control: the official instrumentation as shipped (our hooks only) exports secrets."""
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    instrumentor = RequestsInstrumentor()
    instrumentor.instrument(**hook_kwargs("requests"))
    try:
        for url in local_urls(api.port):
            sender("requests")(url)
        with pytest.raises(Exception):
            sender("requests")(local_urls(refused_port())[-1])
    finally:
        instrumentor.uninstrument()
    assert leaked(exported_text(exporter.get_finished_spans()))


AGENT = textwrap.dedent(
    """
    import asyncio, json, sys
    import httpx, httpx2, requests
    import instrumentors
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    handle = instrumentors.setup(service_name="leaky-agent", sli=False)
    memory = InMemorySpanExporter()
    handle.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))

    async def both_async(url):
        async with httpx.AsyncClient() as a, httpx2.AsyncClient() as b:
            for client in (a, b):
                try:
                    await client.get(url)
                except Exception:
                    pass

    @instrumentors.tool
    def fetch_all(urls):
        for url in urls:
            for get in (httpx.get, httpx2.get, lambda u: requests.get(u, timeout=10)):
                try:
                    get(url)
                except Exception:
                    pass
            asyncio.run(both_async(url))

    fetch_all(sys.argv[1:])
    handle.shutdown()
    spans = [
        {
            "name": s.name,
            "kind": s.kind.name,
            "attributes": {k: str(v) for k, v in (s.attributes or {}).items()},
            "status": s.status.description,
            "events": [
                (e.name, {k: str(v) for k, v in (e.attributes or {}).items()}) for e in s.events
            ],
        }
        for s in memory.get_finished_spans()
    ]
    print(json.dumps(spans))
    """
)


def test_setup_end_to_end_exports_no_secret(api: HeaderRecorder) -> None:
    """A fresh agent process: ``setup()`` alone, the tree view on stderr and every span."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "agent_mcp,agent_openai,agent_langchain,"
        "agent_llama_index",
    }
    urls = local_urls(api.port) + local_urls(refused_port())
    done = subprocess.run(
        [sys.executable, "-c", AGENT, *urls],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    spans = json.loads(done.stdout.strip().splitlines()[-1])
    http = [s for s in spans if s["kind"] == "CLIENT"]
    assert len(http) == 5 * len(urls)  # httpx, httpx2, requests, async httpx and httpx2
    assert len([e for s in http for e in s["events"] if e[0] == "exception"]) == 5 * len(
        URL_SECRETS
    )
    assert leaked(done.stdout) == []
    assert leaked(done.stderr) == []  # the tree view
    assert "execute_tool fetch_all" in done.stderr


class HostileError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("str() refused")


def test_the_scrubbing_tracer_on_its_own(exporter: InMemorySpanExporter) -> None:
    """What the official instrumentations call, driven directly: every path of the wrapper."""
    from opentelemetry.trace import StatusCode

    from instrumentors._http_spans import ScrubbingTracerProvider

    tracer = ScrubbingTracerProvider().get_tracer("wrapper-test")
    secret = "Qk-3e4r5t6y"
    start = {"http.url": f"http://u:{secret}@h.test/x?api_key={secret}", "http.method": "GET"}
    with (
        pytest.raises(HostileError),
        tracer.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes=start) as span,
    ):
        span.set_attribute("url.full", f"http://h.test/y?token={secret}")
        span.set_attributes({"http.url": f"http://h.test/z?sig={secret}"})
        assert span.parent is None  # an SDK name (the roll-up reads it), through the wrapper
        raise HostileError
    with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT) as ok:
        ok.set_status(StatusCode.ERROR, f"failed: http://h.test/?k={secret}")
    hostile, described = exporter.get_finished_spans()
    assert leaked(exported_text([hostile, described])) == []
    assert secret not in exported_text([hostile, described])
    attributes = dict(hostile.attributes or {})
    assert attributes["http.url"] == "http://h.test/z?sig=REDACTED"
    assert attributes["url.full"] == "http://h.test/y?token=REDACTED"
    assert hostile.status.status_code is StatusCode.ERROR
    (event,) = hostile.events
    assert (event.attributes or {})["exception.type"].endswith("HostileError")
    assert "str() failed" in str((event.attributes or {})["exception.message"])
    assert described.status.description == "failed: http://h.test/?k=REDACTED"
