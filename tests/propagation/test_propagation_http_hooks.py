"""The HTTP roll-up through the official httpx and requests instrumentations' response hooks."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import instrumentors
from instrumentors._http_hooks import header, hook_kwargs, retry_after_seconds, roll_up
from tests.propagation._recorder import HeaderRecorder


@pytest.fixture
def api() -> Iterator[HeaderRecorder]:
    with HeaderRecorder() as recorder:
        yield recorder


def only_tool(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("execute_tool")]
    return span


def assert_rolled_up(tool: ReadableSpan, url: str, status: int) -> None:
    attributes = dict(tool.attributes or {})
    assert attributes["http.request.method"] == attributes["http.method"] == "GET"
    assert attributes["url.full"] == attributes["http.url"] == url
    assert attributes["http.response.status_code"] == attributes["http.status_code"] == status


def _official(library: str, instrumentor_class: str) -> Iterator[Any]:
    """The official instrumentation of ``library`` with our roll-up hooks, undone after."""
    pytest.importorskip(library)
    module = pytest.importorskip(f"opentelemetry.instrumentation.{library}")
    instrumentor = getattr(module, instrumentor_class)()
    instrumentor.instrument(**hook_kwargs(library))
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
def httpx_instrumented() -> Iterator[Any]:
    yield from _official("httpx", "HTTPXClientInstrumentor")


@pytest.fixture
def requests_instrumented() -> Iterator[Any]:
    yield from _official("requests", "RequestsInstrumentor")


def test_httpx_sync_roll_up_and_rate_limit(
    exporter: InMemorySpanExporter, httpx_instrumented: Any, api: HeaderRecorder
) -> None:
    import httpx

    @instrumentors.tool
    def weather(city: str) -> int:
        with httpx.Client() as client:
            url = f"{api.url}/status/429?retry_after=2&api_key=secret"
            return client.get(url, auth=("user", "pw")).status_code

    assert weather("Paris") == 429
    tool = only_tool(exporter)
    assert_rolled_up(tool, f"{api.url}/status/429?retry_after=REDACTED&api_key=REDACTED", 429)
    (event,) = [e for e in tool.events if e.name == "rate.limit.invoked"]
    assert (event.attributes or {})["retry.after_s"] == 2.0
    (http_span,) = [s for s in exporter.get_finished_spans() if s.name == "GET"]
    assert api.trace_headers()["traceparent"].split("-")[2] == format(
        http_span.context.span_id, "016x"
    )


async def test_httpx_async_roll_up(
    exporter: InMemorySpanExporter, httpx_instrumented: Any, api: HeaderRecorder
) -> None:
    import httpx

    @instrumentors.tool
    async def weather(city: str) -> int:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{api.url}/forecast?city={city}")).status_code

    assert await weather("Oslo") == 200
    assert_rolled_up(only_tool(exporter), f"{api.url}/forecast?city=REDACTED", 200)


def test_requests_roll_up(
    exporter: InMemorySpanExporter, requests_instrumented: Any, api: HeaderRecorder
) -> None:
    import requests

    @instrumentors.tool
    def lookup() -> int:
        return requests.get(f"{api.url}/status/503", timeout=5).status_code

    assert lookup() == 503
    assert_rolled_up(only_tool(exporter), f"{api.url}/status/503", 503)
    assert "traceparent" in api.trace_headers()


def test_no_roll_up_outside_a_tool(
    exporter: InMemorySpanExporter, httpx_instrumented: Any, api: HeaderRecorder
) -> None:
    import httpx

    with httpx.Client() as client:
        assert client.get(api.url).status_code == 200
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET"


def test_hook_kwargs() -> None:
    assert set(hook_kwargs("httpx")) == {"response_hook", "async_response_hook"}
    assert set(hook_kwargs("requests")) == {"response_hook"}
    assert hook_kwargs("agent_openai") == {}


def test_retry_after_seconds() -> None:
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds(b" 1.5 ") == 1.5
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("nan") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    value = retry_after_seconds(later)
    assert value is not None and 25 <= value <= 31


def test_header_from_mapping_or_raw_list() -> None:
    assert header({"retry-after": "1"}, "retry-after") == "1"
    assert header([(b"Retry-After", b"4")], "retry-after") == b"4"
    assert header([], "retry-after") is None
    assert header(None, "retry-after") is None


def test_roll_up_only_touches_the_enclosing_tool(exporter: InMemorySpanExporter) -> None:
    from instrumentors.telemetry import Telemetry

    run = Telemetry("hooks-test").tool("lookup")
    own_id = run.span.get_span_context().span_id
    roll_up(None, "GET", "http://x/none", 200)  # no parent span: nothing to roll up onto
    roll_up(own_id + 1, b"GET", "http://x/other", 200)  # another span's child: not ours
    assert "http.request.method" not in (run.span.attributes or {})  # type: ignore[attr-defined]
    roll_up(own_id, b"post", "http://api.test/v1?key=s3cret", 429, retry_after="2")
    run.stop()
    tool = only_tool(exporter)
    assert tool.attributes["http.request.method"] == "POST"
    assert tool.attributes["url.full"] == "http://api.test/v1?key=REDACTED"
    assert tool.attributes["http.response.status_code"] == 429
    (event,) = [e for e in tool.events if e.name == "rate.limit.invoked"]
    assert event.attributes["retry.after_s"] == 2.0
