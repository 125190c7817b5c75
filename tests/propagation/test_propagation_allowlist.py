"""``AGENT_INSTRUMENTORS_PROPAGATE_HOSTS`` on the official httpx and requests instrumentations,
as ``instrument_all()`` enables them: first hop, every redirect hop, threads, propagators."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import instrumentors
from instrumentors import _http_gate, propagation
from instrumentors._http_spans import ScrubbingTracerProvider
from instrumentors.discovery import http_hooks
from tests.propagation._clients import CLIENTS, official_http, sender
from tests.propagation._recorder import TRACE_HEADERS, HeaderRecorder


@pytest.fixture
def api() -> Iterator[HeaderRecorder]:
    with HeaderRecorder() as recorder:
        yield recorder


@pytest.fixture
def official() -> Iterator[None]:
    with official_http():
        yield


def trace_headers(request: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in request["headers"].items() if k in TRACE_HEADERS}


def client_spans(exporter: InMemorySpanExporter) -> list[Any]:
    return [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]


@pytest.mark.parametrize("client", CLIENTS)
def test_headers_only_to_allowed_hosts(
    client: str,
    exporter: InMemorySpanExporter,
    official: None,
    api: HeaderRecorder,
    settings_env: Any,
) -> None:
    send = sender(client)
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="localhost,*.internal")
    with instrumentors.session("private"):
        assert send(f"{api.url}/blocked") == 200  # 127.0.0.1 is not localhost
        blocked = api.trace_headers()
        settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="127.0.0.*")
        assert send(f"{api.url}/allowed") == 200
        allowed = api.trace_headers()
    assert blocked == {}
    assert set(allowed) == {"traceparent", "baggage"}
    assert allowed["baggage"] == "agent.session_id=private"
    blocked_span, allowed_span = client_spans(exporter)  # spans either way: headers withheld
    assert allowed["traceparent"].split("-")[2] == format(allowed_span.context.span_id, "016x")
    assert blocked_span.name == allowed_span.name == "GET"


@pytest.mark.parametrize("client", CLIENTS)
def test_redirects_hop_by_hop(
    client: str,
    exporter: InMemorySpanExporter,
    official: None,
    api: HeaderRecorder,
    settings_env: Any,
) -> None:
    """127.0.0.1 (allowed) -> localhost (not allowed) -> 127.0.0.1 (allowed), one server."""
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="127.0.0.1")
    last = f"{api.url}/end"
    middle = f"http://localhost:{api.port}/redirect?to={quote(last, safe='')}"
    start = f"{api.url}/redirect?to={quote(middle, safe='')}"
    with instrumentors.session("private"):
        assert sender(client)(start) == 200
    hops = api.requests[-3:]
    assert [hop["headers"]["host"].split(":")[0] for hop in hops] == [
        "127.0.0.1",
        "localhost",
        "127.0.0.1",
    ]
    first, hop, back = (trace_headers(h) for h in hops)
    assert set(first) == {"traceparent", "baggage"}
    assert hop == {}  # withheld from localhost, though the headers were copied over
    assert set(back) == {"traceparent", "baggage"}
    spans = client_spans(exporter)
    sent = {format(s.context.span_id, "016x") for s in spans}
    assert {first["traceparent"].split("-")[2], back["traceparent"].split("-")[2]} <= sent


@pytest.mark.parametrize("client", ["httpx", "requests"])
def test_a_callers_own_header_stays(
    client: str, official: None, api: HeaderRecorder, settings_env: Any
) -> None:
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="localhost")
    mine = "00-11111111111111111111111111111111-2222222222222222-01"
    sender(client)(f"{api.url}/x", headers={"traceparent": mine})
    assert api.trace_headers() == {"traceparent": mine}


def test_the_gate_comes_back_after_the_propagator_is_replaced(
    exporter: InMemorySpanExporter,
    official: None,
    api: HeaderRecorder,
    settings_env: Any,
    use_propagators: Any,
) -> None:
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="localhost")
    send = sender("requests")
    send(f"{api.url}/first")
    assert isinstance(propagate.get_global_textmap(), _http_gate.AllowlistPropagator)
    use_propagators("b3multi")  # the program sets its own propagator after setup()
    send(f"{api.url}/blocked")
    assert api.trace_headers() == {}
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="127.0.0.1")
    send(f"{api.url}/allowed")
    assert set(api.trace_headers()) == {"x-b3-traceid", "x-b3-spanid", "x-b3-sampled"}


def test_no_allowlist_no_gate(
    exporter: InMemorySpanExporter, official: None, api: HeaderRecorder
) -> None:
    sender("httpx")(f"{api.url}/x")
    assert "traceparent" in api.trace_headers()
    assert not isinstance(propagate.get_global_textmap(), _http_gate.AllowlistPropagator)


def test_other_injections_pass_through_the_gate(
    official: None, api: HeaderRecorder, settings_env: Any
) -> None:
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="localhost")
    sender("requests")(f"{api.url}/x")  # installs the gate
    assert isinstance(propagate.get_global_textmap(), _http_gate.AllowlistPropagator)
    with trace.get_tracer("test").start_as_current_span("job"):
        payload: dict[str, str] = {}
        propagate.inject(payload)  # a job payload, the user's own code: not an HTTP span
        assert "traceparent" in payload
        blocked: dict[str, str] = {}
        assert not propagation.inject(blocked, destination="http://api.example/")
        assert blocked == {}


def test_unsampled_decision_travels_only_to_allowed_hosts(
    official: None, api: HeaderRecorder, settings_env: Any, unsampled: None
) -> None:
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="127.0.0.1")
    sender("httpx")(f"{api.url}/x")
    flags = int(api.trace_headers()["traceparent"].rsplit("-", 1)[1], 16)
    assert flags & 1 == 0
    sender("httpx")(f"http://localhost:{api.port}/y")
    assert api.trace_headers() == {}


def test_threads_decide_per_request(
    exporter: InMemorySpanExporter, official: None, api: HeaderRecorder, settings_env: Any
) -> None:
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="127.0.0.1")
    urls = [
        f"{api.url}/ok/{n}" if n % 2 else f"http://localhost:{api.port}/no/{n}" for n in range(24)
    ]
    send = sender("requests")
    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(send, urls)) == [200] * 24
    seen = api.requests[-24:]
    assert len(seen) == 24
    for request in seen:
        allowed = request["path"].startswith("/ok/")
        assert ("traceparent" in request["headers"]) is allowed, request


def test_a_failing_allowlist_check_withholds_and_the_request_succeeds(
    official: None, api: HeaderRecorder, settings_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("telemetry bug")

    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="127.0.0.1")
    monkeypatch.setattr(_http_gate, "parsed_host_allowed", broken)
    monkeypatch.setattr(_http_gate, "host_allowed", broken)
    for client in ("httpx", "requests"):
        assert sender(client)(f"{api.url}/x") == 200
        assert api.trace_headers() == {}


def test_instrument_all_hands_over_the_scrubbing_provider() -> None:
    for name in ("httpx", "requests"):
        options = http_hooks(name)
        assert isinstance(options.pop("tracer_provider"), ScrubbingTracerProvider)
        assert options and all(callable(hook) for hook in options.values())


AGENT = """
import sys
import httpx, httpx2, requests
import instrumentors

handle = instrumentors.setup(service_name="allowlist-agent", sli=False)
with instrumentors.session("sess-env"):
    httpx.get(sys.argv[1] + "/httpx")
    httpx2.get(sys.argv[1] + "/httpx2")
    requests.get(sys.argv[1] + "/requests", timeout=10)
handle.shutdown()
"""


@pytest.mark.parametrize(("hosts", "sent"), [("localhost", False), ("127.0.0.1", True)])
def test_setup_applies_the_allowlist_to_every_client(
    hosts: str, sent: bool, api: HeaderRecorder
) -> None:
    """A fresh agent configured by its environment alone: httpx, httpx2 and requests."""
    pytest.importorskip("httpx2")  # compat lines without openai 3 / mcp 2 have no httpx2
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "AGENT_INSTRUMENTORS_PROPAGATE_HOSTS": hosts,
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "agent_mcp,agent_openai,agent_langchain,"
        "agent_llama_index",
    }
    done = subprocess.run(
        [sys.executable, "-c", AGENT, api.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    paths = {r["path"]: trace_headers(r) for r in api.requests[-3:]}
    assert set(paths) == {"/httpx", "/httpx2", "/requests"}
    for headers in paths.values():
        assert (set(headers) == {"traceparent", "baggage"}) is sent, paths
        assert (headers == {}) is not sent, paths
