"""gRPC through the official instrumentation, as ``instrument_all()`` enables it, with a real
grpcio server and client: one trace from the tool to the server, the session, the roll-up."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from opentelemetry.instrumentation.grpc import GrpcInstrumentorClient, GrpcInstrumentorServer
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import instrumentors
from tests._spans import one, parent_of
from tests.grpc._service import SERVICE, Weather

TRACE_KEYS = {"traceparent", "tracestate", "baggage", "b3", "x-b3-traceid", "x-b3-spanid"}


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def by_kind(spans: Any, kind: SpanKind) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.kind is kind), key=lambda s: s.start_time or 0)


def call_in_tool(weather: Weather, method: str, request: Any, **options: Any) -> Any:
    """A tool that calls the service, inside a session."""

    @instrumentors.tool(name="lookup")
    def lookup() -> Any:
        with weather.channel() as channel:
            result = weather.method(channel, method)(request, **options)
            return list(result) if method in ("Forecast", "Chat") else result

    with instrumentors.session("sess-g"):
        return lookup()


def assert_one_trace(spans: Any, tool: ReadableSpan, method: str) -> None:
    """tool -> official CLIENT span -> official SERVER span, all in the tool's trace."""
    (client,) = by_kind(spans, SpanKind.CLIENT)
    (server,) = by_kind(spans, SpanKind.SERVER)
    assert client.name == server.name == f"/{SERVICE}/{method}"
    assert parent_of(client, spans) is tool
    assert parent_of(server, spans) is client
    assert {s.context.trace_id for s in (tool, client, server)} == {tool.context.trace_id}
    assert attrs(server)["agent.session_id"] == "sess-g"


def test_instrumented_like_instrument_all(grpc_enabled: list[str]) -> None:
    assert sorted(grpc_enabled) == ["grpc_client", "grpc_server"]
    assert GrpcInstrumentorClient().is_instrumented_by_opentelemetry
    assert GrpcInstrumentorServer().is_instrumented_by_opentelemetry


def test_unary_call_one_trace_session_and_roll_up(
    exporter: InMemorySpanExporter, weather: Weather
) -> None:
    assert call_in_tool(weather, "Get", b"Paris") == b"sunny in Paris"
    spans = exporter.get_finished_spans()
    tool = one(spans, "execute_tool lookup")
    assert_one_trace(spans, tool, "Get")
    assert weather.seen.baggage == [{"agent.session_id": "sess-g"}]
    assert weather.seen.in_span == [True]  # the handler runs in the server span
    rolled = {k: v for k, v in attrs(tool).items() if k.startswith(("rpc.", "server."))}
    assert rolled == {
        "rpc.system": "grpc",
        "rpc.service": SERVICE,
        "rpc.method": "Get",
        "rpc.grpc.status_code": 0,
        "rpc.response.status_code": "OK",
        "server.address": "127.0.0.1",
    }


@pytest.mark.parametrize(
    ("method", "request_", "expected"),
    [
        ("Forecast", b"Oslo", [b"Oslo day 0", b"Oslo day 1", b"Oslo day 2"]),
        ("Upload", iter([b"ab", b"cde"]), b"5"),
        ("Chat", iter([b"hi", b"there"]), [b"re: hi", b"re: there"]),
    ],
    ids=["unary-stream", "stream-unary", "stream-stream"],
)
def test_streaming_calls(
    method: str, request_: Any, expected: Any, exporter: InMemorySpanExporter, weather: Weather
) -> None:
    assert call_in_tool(weather, method, request_) == expected
    spans = exporter.get_finished_spans()
    tool = one(spans, "execute_tool lookup")
    assert_one_trace(spans, tool, method)
    assert attrs(tool)["rpc.method"] == method
    assert attrs(tool)["rpc.response.status_code"] == "OK"


def test_resource_exhausted_is_a_rate_limit_event(
    exporter: InMemorySpanExporter, weather: Weather
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        call_in_tool(weather, "Get", b"limit")
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED  # the user's error, as is
    spans = exporter.get_finished_spans()
    tool = one(spans, "execute_tool lookup")
    assert tool.status.status_code is StatusCode.ERROR
    assert attrs(tool)["rpc.grpc.status_code"] == 8
    assert attrs(tool)["rpc.response.status_code"] == "RESOURCE_EXHAUSTED"
    (event,) = [e for e in tool.events if e.name == "rate.limit.invoked"]
    assert dict(event.attributes or {}) == {
        "rpc.grpc.status_code": 8,
        "rpc.response.status_code": "RESOURCE_EXHAUSTED",
        "retry.after_s": 1.5,
    }
    (client,) = by_kind(spans, SpanKind.CLIENT)
    assert client.status.status_code is StatusCode.ERROR


def test_deadline_exceeded(exporter: InMemorySpanExporter, weather: Weather) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        call_in_tool(weather, "Get", b"slow", timeout=0.1)
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    tool = one(exporter.get_finished_spans(), "execute_tool lookup")
    assert attrs(tool)["rpc.response.status_code"] == "DEADLINE_EXCEEDED"
    assert attrs(tool)["rpc.grpc.status_code"] == 4
    assert not [e for e in tool.events if e.name == "rate.limit.invoked"]
    deadline = time.monotonic() + 10  # the server's span ends once it sees the cancellation
    while not by_kind(exporter.get_finished_spans(), SpanKind.SERVER):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_retry_policy_attempts_are_retry_events_on_the_server_spans(
    exporter: InMemorySpanExporter, weather: Weather
) -> None:
    config = {
        "methodConfig": [
            {
                "name": [{"service": SERVICE, "method": "Flaky"}],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.01s",
                    "maxBackoff": "0.05s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
    options = [("grpc.service_config", json.dumps(config)), ("grpc.enable_retries", 1)]

    @instrumentors.tool(name="lookup")
    def lookup() -> bytes:
        with weather.channel(options=options) as channel:
            return weather.method(channel, "Flaky")(b"x")  # type: ignore[no-any-return]

    assert lookup() == b"ok"
    spans = exporter.get_finished_spans()
    servers = by_kind(spans, SpanKind.SERVER)
    assert len(servers) == 3  # every attempt, each under the one client span
    (client,) = by_kind(spans, SpanKind.CLIENT)
    assert all(parent_of(s, spans) is client for s in servers)
    events = [[dict(e.attributes or {}) for e in s.events if e.name == "retry.attempted"]
              for s in servers]  # fmt: skip
    assert events == [[], [{"retry.attempt": 1}], [{"retry.attempt": 2}]]
    assert attrs(one(spans, "execute_tool lookup"))["rpc.response.status_code"] == "OK"


@pytest.mark.parametrize("names", ["tracecontext,baggage", "b3,baggage", "b3multi,baggage", "b3"])
def test_propagators(
    names: str,
    exporter: InMemorySpanExporter,
    weather: Weather,
    use_propagators: Callable[[str], Any],
) -> None:
    use_propagators(names)
    assert call_in_tool(weather, "Get", b"Rome") == b"sunny in Rome"
    spans = exporter.get_finished_spans()
    (client,) = by_kind(spans, SpanKind.CLIENT)
    (server,) = by_kind(spans, SpanKind.SERVER)
    assert parent_of(server, spans) is client
    sent = set(weather.seen.metadata[0]) & TRACE_KEYS
    assert ("traceparent" in sent) == names.startswith("tracecontext")
    assert ("b3" in sent) == (names.split(",", 1)[0] == "b3")
    has_baggage = names.endswith("baggage")
    assert weather.seen.baggage == [{"agent.session_id": "sess-g"} if has_baggage else {}]


def test_allowlist_applies_to_channel_targets(
    exporter: InMemorySpanExporter, weather: Weather, settings_env: Callable[..., Any]
) -> None:
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="*.internal,localhost")
    call_in_tool(weather, "Get", b"a")  # 127.0.0.1 is outside the list
    settings_env(AGENT_INSTRUMENTORS_PROPAGATE_HOSTS="127.0.0.*")
    call_in_tool(weather, "Get", b"b")
    withheld, sent = weather.seen.metadata
    assert not set(withheld) & TRACE_KEYS
    assert {"traceparent", "baggage"} <= set(sent)
    first, second = by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
    assert first.parent is None  # a new trace on the other side
    assert second.parent is not None


def test_callers_baggage_is_untrusted(exporter: InMemorySpanExporter, weather: Weather) -> None:
    hostile = "agent.session_id=" + "x%0A" * 300 + ",user.email=bob%40example.com,role=admin"
    with weather.channel() as channel:
        weather.method(channel, "Get")(b"c", metadata=[("baggage", hostile)])
    (seen,) = weather.seen.baggage
    assert set(seen) == {"agent.session_id"}
    session = str(seen["agent.session_id"])
    assert "\n" not in session and len(session) <= 256
    (server,) = by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
    assert attrs(server)["agent.session_id"] == session


def test_suppressed_and_telemetry_bug(
    exporter: InMemorySpanExporter, weather: Weather, monkeypatch: pytest.MonkeyPatch
) -> None:
    with suppress_instrumentation(), weather.channel() as channel:
        assert weather.method(channel, "Get")(b"q") == b"sunny in q"
    assert not [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]

    def broken(*args: Any) -> Any:
        raise RuntimeError("telemetry bug")

    monkeypatch.setattr("instrumentors._grpc_hooks._tool_run", broken)
    monkeypatch.setattr("instrumentors._grpc_hooks.accept_incoming", broken)
    assert call_in_tool(weather, "Get", b"z") == b"sunny in z"
    assert call_in_tool(weather, "Forecast", b"z")[0] == b"z day 0"


def test_unsampled_calls_still_carry_the_context(
    exporter: InMemorySpanExporter, weather: Weather, unsampled: None
) -> None:
    assert call_in_tool(weather, "Get", b"u") == b"sunny in u"
    assert exporter.get_finished_spans() == ()
    (sent,) = weather.seen.metadata
    assert not int(sent["traceparent"][-2:], 16) & 1  # not sampled, still one trace


def test_undone(exporter: InMemorySpanExporter, weather: Weather) -> None:
    from instrumentors import _companions, _grpc_hooks

    _companions.disable()
    assert not GrpcInstrumentorClient().is_instrumented_by_opentelemetry
    assert not _grpc_hooks._state["client"] and not _grpc_hooks._state["server"]
    with Weather() as plain:  # a server and a channel made now: no interceptor of ours
        assert call_in_tool(plain, "Get", b"p") == b"sunny in p"
    assert plain.seen.in_span == [False]
    assert [s.name for s in exporter.get_finished_spans()] == ["execute_tool lookup"]
    assert "rpc.system" not in attrs(exporter.get_finished_spans()[0])
