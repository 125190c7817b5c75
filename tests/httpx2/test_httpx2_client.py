"""httpx2 client spans (HTTP semantic conventions), trace headers and the tool roll-up."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.utils import (
    suppress_http_instrumentation,
    suppress_instrumentation,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import instrumentors
from instrumentors.httpx2 import HTTPX2Instrumentor, _wrappers
from tests.propagation._recorder import HeaderRecorder


def http_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]


def span_id_in(traceparent: str) -> str:
    return traceparent.split("-")[2]


def test_sync_request_span(
    exporter: InMemorySpanExporter, instrumentor: Any, api: HeaderRecorder
) -> None:
    url = f"http://user:secret@127.0.0.1:{api.port}/v1/items?token=abc&q=1"
    with instrumentors.session("sess-h"), httpx2.Client() as client:
        response = client.get(url)
    assert response.status_code == 200
    (span,) = http_spans(exporter)
    attributes = dict(span.attributes or {})
    assert span.name == "GET"
    assert attributes["http.request.method"] == "GET"
    assert attributes["url.full"] == f"{api.url}/v1/items?token=REDACTED&q=REDACTED"
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == api.port
    assert attributes["http.response.status_code"] == 200
    assert attributes["network.protocol.version"] == "1.1"
    assert "error.type" not in attributes
    assert span.status.status_code is StatusCode.UNSET
    headers = api.trace_headers()
    assert span_id_in(headers["traceparent"]) == format(span.context.span_id, "016x")
    assert headers["baggage"] == "agent.session_id=sess-h"


async def test_async_request_span(
    exporter: InMemorySpanExporter, instrumentor: Any, api: HeaderRecorder
) -> None:
    async with httpx2.AsyncClient() as client:
        response = await client.post(f"{api.url}/submit", json={"a": 1})
    assert response.status_code == 200
    (span,) = http_spans(exporter)
    assert span.name == "POST"
    assert (span.attributes or {})["http.request.method"] == "POST"
    assert span_id_in(api.trace_headers()["traceparent"]) == format(span.context.span_id, "016x")


@pytest.mark.parametrize("status", [404, 500, 503])
def test_error_status(
    status: int, exporter: InMemorySpanExporter, instrumentor: Any, api: HeaderRecorder
) -> None:
    with httpx2.Client() as client:
        assert client.get(f"{api.url}/status/{status}").status_code == status
    (span,) = http_spans(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == str(status)


def test_transport_error_is_recorded_and_reraised(
    exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    with httpx2.Client() as client, pytest.raises(httpx2.ConnectError):
        client.get("http://127.0.0.1:1/unreachable")
    (span,) = http_spans(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "ConnectError"
    assert [e.name for e in span.events] == ["exception"]


def test_unknown_method(exporter: InMemorySpanExporter, instrumentor: Any) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(204)

    with httpx2.Client(transport=httpx2.MockTransport(handler)) as client:
        client.request("PURGE", "https://cache.example/x")
    (span,) = http_spans(exporter)
    attributes = dict(span.attributes or {})
    assert span.name == "HTTP"
    assert attributes["http.request.method"] == "_OTHER"
    assert attributes["http.request.method_original"] == "PURGE"
    assert attributes["server.port"] == 443
    assert "traceparent" in seen[0].headers  # MockTransport is covered too


def test_roll_up_onto_the_enclosing_tool(
    exporter: InMemorySpanExporter, instrumentor: Any, api: HeaderRecorder
) -> None:
    @instrumentors.tool
    def quote(symbol: str) -> int:
        with httpx2.Client() as client:
            client.get(f"{api.url}/status/200")
            url = f"http://k:v@127.0.0.1:{api.port}/status/429?retry_after=3&key=s"
            return client.get(url).status_code

    assert quote("ACME") == 429
    (tool,) = [s for s in exporter.get_finished_spans() if s.name == "execute_tool quote"]
    attributes = dict(tool.attributes or {})
    assert attributes["http.request.method"] == attributes["http.method"] == "GET"
    expected = f"{api.url}/status/429?retry_after=REDACTED&key=REDACTED"
    assert attributes["url.full"] == attributes["http.url"] == expected
    assert attributes["http.response.status_code"] == attributes["http.status_code"] == 429
    (event,) = [e for e in tool.events if e.name == "rate.limit.invoked"]
    assert (event.attributes or {})["retry.after_s"] == 3.0
    for span in http_spans(exporter):
        assert span.parent is not None and span.parent.span_id == tool.context.span_id


async def test_concurrent_requests_in_a_tool(
    exporter: InMemorySpanExporter, instrumentor: Any, api: HeaderRecorder
) -> None:
    @instrumentors.tool
    async def fan_out() -> None:
        async with httpx2.AsyncClient() as client, anyio.create_task_group() as tg:
            for n in range(4):
                tg.start_soon(client.get, f"{api.url}/item/{n}")

    before = len(api.requests)
    await fan_out()
    (tool,) = [s for s in exporter.get_finished_spans() if s.name == "execute_tool fan_out"]
    spans = http_spans(exporter)
    assert len(spans) == 4
    assert {s.parent.span_id for s in spans if s.parent} == {tool.context.span_id}
    sent = {span_id_in(r["headers"]["traceparent"]) for r in api.requests[before:]}
    assert sent == {format(s.context.span_id, "016x") for s in spans}


def test_headers_set_by_an_outer_layer_are_kept(
    exporter: InMemorySpanExporter, instrumentor: Any, api: HeaderRecorder
) -> None:
    outer = "00-11111111111111111111111111111111-2222222222222222-01"
    with httpx2.Client() as client:
        client.get(api.url, headers={"traceparent": outer})
    assert api.trace_headers()["traceparent"] == outer
    assert len(http_spans(exporter)) == 1


def test_no_headers_outside_the_allowlist(
    exporter: InMemorySpanExporter, instrumentor: Any, api: HeaderRecorder, settings_env: Any
) -> None:
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="localhost")
    with instrumentors.session("private"), httpx2.Client() as client:
        client.get(f"{api.url}/blocked")  # 127.0.0.1 is not localhost
        blocked = api.trace_headers()
        settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="127.0.0.*,localhost")
        client.get(f"{api.url}/allowed")
        allowed = api.trace_headers()
    assert blocked == {}
    assert {"traceparent", "baggage"} <= set(allowed)
    assert len(http_spans(exporter)) == 2  # spans either way; only headers are withheld


@pytest.mark.parametrize(
    ("propagators", "expected"),
    [("b3", {"b3"}), ("b3multi", {"x-b3-traceid", "x-b3-spanid", "x-b3-sampled"})],
    ids=["b3-single", "b3-multi"],
)
def test_b3_headers(
    propagators: str,
    expected: set[str],
    exporter: InMemorySpanExporter,
    instrumentor: Any,
    api: HeaderRecorder,
    use_propagators: Any,
) -> None:
    use_propagators(propagators)
    with httpx2.Client() as client:
        client.get(api.url)
    headers = api.trace_headers()
    (span,) = http_spans(exporter)
    assert set(headers) == expected
    trace_id = format(span.context.trace_id, "032x")
    if "b3" in headers:
        assert headers["b3"].split("-")[:2] == [trace_id, format(span.context.span_id, "016x")]
    else:
        assert headers["x-b3-traceid"] == trace_id


def test_suppressed(exporter: InMemorySpanExporter, instrumentor: Any, api: HeaderRecorder) -> None:
    with httpx2.Client() as client:
        with suppress_instrumentation():
            client.get(api.url)
            assert api.trace_headers() == {}
        with suppress_http_instrumentation():
            client.get(api.url)
            assert api.trace_headers() == {}
    assert http_spans(exporter) == []


def test_unsampled(
    exporter: InMemorySpanExporter, instrumentor: Any, api: HeaderRecorder, unsampled: None
) -> None:
    with httpx2.Client() as client:
        client.get(api.url)
    assert exporter.get_finished_spans() == ()
    flags = int(api.trace_headers()["traceparent"].rsplit("-", 1)[1], 16)
    assert flags & 1 == 0  # the "not sampled" decision travels


def test_instrument_uninstrument_cycles(
    exporter: InMemorySpanExporter, api: HeaderRecorder
) -> None:
    instrumentor = HTTPX2Instrumentor()
    for _ in range(2):
        instrumentor.instrument()
        instrumentor.instrument()
        with httpx2.Client() as client:
            client.get(api.url)
        assert len(http_spans(exporter)) == 1
        exporter.clear()
        instrumentor.uninstrument()
        with httpx2.Client() as client:
            client.get(api.url)
        assert http_spans(exporter) == []
        assert api.trace_headers() == {}
    assert not hasattr(httpx2.Client.send, "__wrapped__")


def test_telemetry_bug_does_not_break_the_request(
    exporter: InMemorySpanExporter,
    instrumentor: Any,
    api: HeaderRecorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("telemetry bug")

    monkeypatch.setattr(_wrappers._extract, "protocol_version", broken)
    with httpx2.Client() as client:
        assert client.get(api.url).status_code == 200
    assert len(http_spans(exporter)) == 1  # the bug came late: the span still ended
    monkeypatch.setattr(_wrappers._extract, "request_attributes", broken)
    with httpx2.Client() as client:
        assert client.get(api.url).status_code == 200
    assert len(http_spans(exporter)) == 1
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_streamed_response(
    exporter: InMemorySpanExporter, instrumentor: Any, api: HeaderRecorder
) -> None:
    with httpx2.Client() as client, client.stream("GET", api.url) as response:
        assert response.read() == b'{"ok": true}'
    (span,) = http_spans(exporter)
    assert (span.attributes or {})["http.response.status_code"] == 200


def test_official_httpx2_instrumentation_adds_no_second_span(
    exporter: InMemorySpanExporter, instrumentor: Any, api: HeaderRecorder
) -> None:
    module = pytest.importorskip("opentelemetry.instrumentation.httpx")
    official_cls = getattr(module, "HTTPX2ClientInstrumentor", None)
    if official_cls is None:
        pytest.skip("this opentelemetry-instrumentation-httpx has no httpx2 support")
    official = official_cls()
    official.instrument()
    try:
        with httpx2.Client() as client:
            client.get(api.url)
    finally:
        official.uninstrument()
    (span,) = http_spans(exporter)
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "instrumentors.httpx2"


def test_threads_with_a_copied_context(
    exporter: InMemorySpanExporter, instrumentor: Any, api: HeaderRecorder
) -> None:
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    @instrumentors.tool
    def parallel_lookup() -> list[int]:
        with httpx2.Client() as client, ThreadPoolExecutor(max_workers=3) as pool:
            futures = [
                pool.submit(contextvars.copy_context().run, client.get, f"{api.url}/t/{n}")
                for n in range(3)
            ]
            return [f.result().status_code for f in futures]

    assert parallel_lookup() == [200, 200, 200]
    (tool,) = [s for s in exporter.get_finished_spans() if s.name == "execute_tool parallel_lookup"]
    spans = http_spans(exporter)
    assert len(spans) == 3
    assert {s.parent.span_id for s in spans if s.parent} == {tool.context.span_id}


def _redirecting_client(seen: list[tuple[str, dict[str, str]]]) -> httpx2.Client:
    """allowed.test/start -> other.test/hop -> allowed.test/end, recording each hop's headers."""
    hops = {
        "/start": "http://other.test/hop",
        "/hop": "http://allowed.test/end",
    }

    def handler(request: Any) -> Any:
        seen.append((request.url.host, {k.lower(): v for k, v in request.headers.items()}))
        target = hops.get(request.url.path)
        if target is not None:
            return httpx2.Response(302, headers={"location": target})
        return httpx2.Response(200, json={"ok": True})

    return httpx2.Client(transport=httpx2.MockTransport(handler), follow_redirects=True)


def test_redirects_honour_the_allowlist_per_host(
    exporter: InMemorySpanExporter, instrumentor: Any, settings_env: Any
) -> None:
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="allowed.test")
    seen: list[tuple[str, dict[str, str]]] = []
    with instrumentors.session("private"), _redirecting_client(seen) as client:
        assert client.get("http://allowed.test/start").status_code == 200
    (span,) = http_spans(exporter)
    hosts = [host for host, _ in seen]
    assert hosts == ["allowed.test", "other.test", "allowed.test"]
    first, hop, last = (headers for _, headers in seen)
    assert {"traceparent", "baggage"} <= set(first)
    assert "traceparent" not in hop and "baggage" not in hop  # withheld from other.test
    assert last["traceparent"] == first["traceparent"]  # restored for the allowed host
    assert span_id_in(first["traceparent"]) == format(span.context.span_id, "016x")


def test_a_callers_own_trace_header_follows_redirects(
    exporter: InMemorySpanExporter, instrumentor: Any, settings_env: Any
) -> None:
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="allowed.test")
    mine = "00-11111111111111111111111111111111-2222222222222222-01"
    seen: list[tuple[str, dict[str, str]]] = []
    with _redirecting_client(seen) as client:
        client.get("http://allowed.test/start", headers={"traceparent": mine})
    assert [headers["traceparent"] for _, headers in seen] == [mine, mine, mine]


def test_redirects_without_an_allowlist_keep_the_headers(
    exporter: InMemorySpanExporter, instrumentor: Any
) -> None:
    seen: list[tuple[str, dict[str, str]]] = []
    with _redirecting_client(seen) as client:
        client.get("http://allowed.test/start")
    assert len({headers["traceparent"] for _, headers in seen}) == 1


def _durations(reader: Any) -> list[Any]:
    data = reader.get_metrics_data()
    return [
        point
        for rm in (data.resource_metrics if data else ())
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == "http.client.request.duration"
        for point in metric.data.data_points
    ]


@pytest.fixture
def own_meters() -> Any:
    """The instrumentor on a MeterProvider of this test's own; yields its reader."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    instrumentor = HTTPX2Instrumentor()
    instrumentor.instrument(meter_provider=meters)
    yield reader
    instrumentor.uninstrument()
    meters.shutdown()


def test_request_duration_metric(api: HeaderRecorder, own_meters: Any) -> None:
    with httpx2.Client() as client:
        client.get(f"{api.url}/ok?token=secret")
        client.get(f"{api.url}/ok")
        client.get(f"{api.url}/status/503")
        with pytest.raises(httpx2.ConnectError):
            client.get("http://127.0.0.1:1/unreachable")
    points = {tuple(sorted(p.attributes.items())): p for p in _durations(own_meters)}
    base = {"http.request.method": "GET", "server.address": "127.0.0.1"}
    ok = {**base, "server.port": api.port, "http.response.status_code": 200}
    ok["network.protocol.version"] = "1.1"
    failed = {**ok, "http.response.status_code": 503, "error.type": "503"}
    unreachable = {**base, "server.port": 1, "error.type": "ConnectError"}
    expected = {tuple(sorted(a.items())) for a in (ok, failed, unreachable)}
    assert set(points) == expected  # no URL in the metric: its cardinality stays bounded
    assert points[tuple(sorted(ok.items()))].count == 2
    assert all(p.sum >= 0 for p in points.values())


def test_no_duration_metric_when_suppressed(api: HeaderRecorder, own_meters: Any) -> None:
    with suppress_http_instrumentation(), httpx2.Client() as client:
        client.get(f"{api.url}/ok")
    assert _durations(own_meters) == []
