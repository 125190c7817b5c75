"""The bridge: LLM, embedding, retrieval and agent runs; one span per call across layers."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import instrumentors
from instrumentors import semconv
from instrumentors.events import record_retry
from instrumentors.links import registry
from instrumentors.session import session
from instrumentors.telemetry import Message, Telemetry, ToolCallRequest


def test_llm_run_attributes(exporter) -> None:
    run = Telemetry("t").llm("openai", "gpt-4o", server_address="127.0.0.1", server_port=8000)
    run.set_request(temperature=0.2, max_tokens=100, seed=7, stream=False)
    run.set_response(response_id="chatcmpl-1", model="gpt-4o-2024", finish_reasons=["stop"])
    run.set_usage(input_tokens=12, output_tokens=3, cache_read_input_tokens=4, reasoning_tokens=2)
    run.stop()
    (span,) = exporter.get_finished_spans()
    a = span.attributes
    assert span.name == "chat gpt-4o" and span.kind is SpanKind.CLIENT
    assert a[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-1"
    assert a[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024"
    assert a[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert a[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert a["gen_ai.usage.cache_read.input_tokens"] == 4
    assert a["gen_ai.usage.reasoning.output_tokens"] == 2
    assert a[semconv.SERVER_ADDRESS] == "127.0.0.1" and a[semconv.SERVER_PORT] == 8000
    assert a["gen_ai.request.temperature"] == 0.2


def test_inner_layer_enriches_outer_chat_span(exporter) -> None:
    outer = Telemetry("framework").llm("openai", "gpt-4o")
    inner = Telemetry("sdk").llm("openai", "gpt-4o", server_address="api.test")
    record_retry(attempt=1, delay_s=0.5, status_code=429)
    inner.set_response(response_id="chatcmpl-9")
    inner.set_usage(input_tokens=5, output_tokens=1)
    inner.register_tool_calls([ToolCallRequest(name="get_weather", id="call_1")])
    inner.stop()
    outer.stop()
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_RESPONSE_ID] == "chatcmpl-9"
    assert span.attributes[semconv.SERVER_ADDRESS] == "api.test"  # only the inner layer knew
    assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 5
    assert span.attributes[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS] == ("call_1",)
    (event,) = span.events
    assert event.name == semconv.EVENT_RETRY_ATTEMPTED
    assert registry.lookup("call_1") == span.context


def test_tool_links_to_chat_span_that_requested_it(exporter) -> None:
    chat = Telemetry("t").llm("openai", "gpt-4o")
    chat.register_tool_calls(
        [ToolCallRequest(name="lookup", id="call_x", arguments={"query": "raw-arg-77"})]
    )
    chat.stop()

    @instrumentors.tool
    def lookup(q: int) -> int:
        return q

    with instrumentors.tool_call_id("call_x"):
        lookup(1)
    chat_span, tool_span = exporter.get_finished_spans()
    assert "raw-arg-77" not in str(chat_span.attributes)  # arguments are content: off by default
    (link,) = tool_span.links
    assert link.context == chat_span.context


def test_messages_only_under_capture(exporter, settings_env) -> None:
    secret = "sk-abcdefghijklmnopqrstuvwxyz"
    run = Telemetry("t").llm("openai", "m")
    run.set_messages(inputs=[Message(role="user", text=f"key {secret}")])
    run.stop()
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY")
    run = Telemetry("t").llm("openai", "m")
    run.set_messages(
        inputs=[Message(role="user", text=f"key {secret}")],
        outputs=[Message(role="assistant", text="hi", finish_reason="stop")],
    )
    run.stop()
    off, on = exporter.get_finished_spans()
    assert "gen_ai.input.messages" not in off.attributes
    captured = on.attributes["gen_ai.input.messages"]
    assert "[REDACTED]" in captured and secret not in captured
    assert "hi" in on.attributes["gen_ai.output.messages"]


def test_llm_failure(exporter) -> None:
    class RateLimitError(Exception):
        pass

    run = Telemetry("t").llm("openai", "gpt-4o")
    run.fail(RateLimitError("slow down"))
    run.fail(RateLimitError("twice is harmless"))
    run.stop()
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == RateLimitError.__qualname__
    assert [e.name for e in span.events] == ["exception"]


def test_embedding_retrieval_agent(exporter) -> None:
    tel = Telemetry("t")
    with instrumentors.session("sess-1"):
        agent = tel.agent("weather", agent_id="agent-1")
        emb = tel.embedding("openai", "text-embedding-3-small")
        emb.set_usage(input_tokens=3)
        emb.set_response(model="text-embedding-3-small", dimension=8)
        emb.stop()
        ret = tel.retrieval("docs", top_k=4)
        ret.set_documents(2)
        ret.stop()
        agent.stop()
    emb_span, ret_span, agent_span = exporter.get_finished_spans()
    assert emb_span.name == "embeddings text-embedding-3-small"
    assert emb_span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 3
    assert ret_span.name == "retrieval docs"
    assert ret_span.attributes[semconv.GEN_AI_DATA_SOURCE_ID] == "docs"
    assert ret_span.attributes[semconv.GEN_AI_REQUEST_TOP_K] == 4
    assert ret_span.attributes[semconv.RETRIEVAL_DOCUMENTS_COUNT] == 2
    assert agent_span.name == "invoke_agent weather"
    assert agent_span.kind is SpanKind.INTERNAL
    assert agent_span.attributes[semconv.GEN_AI_AGENT_NAME] == "weather"
    assert agent_span.attributes[semconv.GEN_AI_AGENT_ID] == "agent-1"
    for span in (emb_span, ret_span, agent_span):
        assert span.attributes[semconv.AGENT_SESSION_ID] == "sess-1"
    assert emb_span.parent.span_id == agent_span.context.span_id


def test_framework_session_applies_to_children_and_explicit_session_wins(exporter) -> None:
    tel = Telemetry("t")
    agent = tel.agent("graph", session_id="thread-9")
    with trace.get_tracer("http").start_as_current_span("GET"):
        from instrumentors.session import current_session_id

        inherited = current_session_id()
    agent.stop()
    with instrumentors.session("explicit"):
        tel.agent("graph", session_id="thread-9").stop()
    assert inherited == "thread-9"
    first_agent, _, second_agent = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time)
    assert first_agent.attributes[semconv.AGENT_SESSION_ID] == "thread-9"
    assert second_agent.attributes[semconv.AGENT_SESSION_ID] == "explicit"


def test_merged_tool_run_by_another_layer(exporter) -> None:
    outer = Telemetry("framework").tool("search", call_id=None, params={"q": "x"})
    inner = Telemetry("mcp").tool("remote", merge_any=True, call_id="call_5")
    inner.stop()
    outer.stop()
    (span,) = exporter.get_finished_spans()
    assert span.name == "execute_tool search"
    assert span.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_5"


def test_unsampled_runs_do_no_attribute_work(exporter, unsampled) -> None:
    run = Telemetry("t").tool("t1", params={"a": 1})
    assert not run.span.is_recording()
    run.stop()
    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize("mode", ["NO_CONTENT", "false", "bogus"])
def test_tool_arguments_never_captured_when_off(exporter, settings_env, mode: str) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=mode)
    run = Telemetry("t").tool("t1", params={"a": "raw-value-123"})
    run.stop(result="raw-result-456")
    (span,) = exporter.get_finished_spans()
    assert "raw-value-123" not in str(span.attributes)
    assert "raw-result-456" not in str(span.attributes)


def test_fail_with_an_error_type_and_no_exception(exporter) -> None:
    run = Telemetry("mcp").tool("remote_tool")
    run.fail_with("tool_error", "the tool said no")
    run.fail_with("again", "ignored")
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "tool_error"
    assert not span.events


def test_no_warning_for_the_true_spelling(settings_env, caplog) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    with caplog.at_level("WARNING"):
        Telemetry("t")
    assert not [r for r in caplog.records if "is not a valid option" in r.getMessage()]


def test_enriching_run_leaves_the_error_to_the_owning_layer(exporter) -> None:
    outer = Telemetry("framework").llm("openai", "gpt-4o")
    inner = Telemetry("sdk").llm("openai", "gpt-4o")
    assert inner.enriching and not outer.enriching
    error = TimeoutError("upstream")
    inner.fail(error)
    outer.fail(error)
    (span,) = exporter.get_finished_spans()
    assert [e.name for e in span.events] == ["exception"]
    assert span.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize("failure", [False, True])
def test_chat_run_span_and_metrics(exporter, metric_reader, failure: bool) -> None:
    """One lifecycle: the span's attributes, status and the GenAI duration and token metrics."""
    tel = Telemetry("chat-metrics")
    run = tel.llm("openai", "gpt-4o", server_address="api.test", server_port=443)
    run.set_request(temperature=0.5, max_tokens=64, seed=3, stop_sequences=["x"], stream=True)
    run.record_chunk()
    run.set_response(response_id="r1", model="gpt-4o-2024", finish_reasons=["tool_calls"])
    run.set_usage(input_tokens=10, output_tokens=4, cache_read_input_tokens=0, reasoning_tokens=1)
    run.register_tool_calls([ToolCallRequest(name="f", id="call-m")])
    if failure:
        run.fail(TimeoutError("slow"))
    else:
        run.stop()
    (span,) = exporter.get_finished_spans()
    a = span.attributes
    assert span.name == "chat gpt-4o" and span.kind is SpanKind.CLIENT
    assert span.status.status_code is (StatusCode.ERROR if failure else StatusCode.UNSET)
    assert a["gen_ai.request.stop_sequences"] == ("x",) and a["gen_ai.request.stream"] is True
    assert a[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 0  # a reported zero is a fact
    assert a[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    assert (semconv.ERROR_TYPE in a) is failure
    assert [e.name for e in span.events] == (["exception"] if failure else [])
    points = {
        (metric.name, tuple(sorted(point.attributes.items()))): point
        for rm in metric_reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        if sm.scope.name == "chat-metrics"
        for metric in sm.metrics
        for point in metric.data.data_points
    }
    expected_base = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024",
        "server.address": "api.test",
        "server.port": 443,
    }
    if failure:
        expected_base["error.type"] = "TimeoutError"
    duration = tuple(sorted(expected_base.items()))
    tokens = {
        tuple(sorted({**expected_base, "gen_ai.token.type": kind}.items()))
        for kind in ("input", "output")
    }
    assert ("gen_ai.client.operation.duration", duration) in points
    assert {("gen_ai.client.token.usage", t) for t in tokens} <= set(points)
    usage_sums = sorted(points[("gen_ai.client.token.usage", t)].sum for t in tokens)
    assert usage_sums == [4, 10]
    assert any(name == "gen_ai.client.operation.time_to_first_chunk" for name, _ in points)


def test_inner_layer_content_fills_what_the_owner_did_not_capture(exporter, settings_env) -> None:
    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="SPAN_ONLY")
    outer = Telemetry("framework").llm("openai", "gpt-4o")
    inner = Telemetry("sdk").llm("openai", "gpt-4o")
    inner.set_messages(
        inputs=[Message(role="user", text="inner question")],
        outputs=[Message(role="assistant", text="inner answer")],
    )
    inner.stop()
    outer.set_messages(inputs=[Message(role="user", text="outer question")])
    outer.stop()
    (span,) = exporter.get_finished_spans()
    assert "outer question" in span.attributes["gen_ai.input.messages"]
    assert "inner answer" in span.attributes["gen_ai.output.messages"]


def test_chat_spans_of_one_shape_share_nothing_mutable(exporter) -> None:
    """Per-model start attributes are cached; a session on one call does not leak to the next."""
    tel = Telemetry("shape")
    with session("s-1"):
        tel.llm("openai", "gpt-4o", server_address="api.test", server_port=443).stop()
    run = tel.llm("openai", "gpt-4o", server_address="api.test", server_port=443)
    run.set_response(model="gpt-4o-2024")
    run.stop()
    first, second = exporter.get_finished_spans()
    assert first.attributes[semconv.AGENT_SESSION_ID] == "s-1"
    assert first.attributes[semconv.GEN_AI_CONVERSATION_ID] == "s-1"
    assert semconv.AGENT_SESSION_ID not in second.attributes
    assert semconv.GEN_AI_CONVERSATION_ID not in second.attributes
    assert second.attributes[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-2024"
    assert first.name == second.name == "chat gpt-4o"


def test_chat_metrics_are_skipped_only_where_nothing_records() -> None:
    """No MeterProvider (a proxy instrument) or the no-op one: skipped; a real one: recorded,
    including a proxy that gets a provider later."""
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.metrics._internal import _ProxyMeterProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from instrumentors.telemetry import metrics_recorded

    assert not metrics_recorded(NoOpMeterProvider().get_meter("t").create_histogram("h"))
    proxy_provider = _ProxyMeterProvider()
    proxy = proxy_provider.get_meter("t").create_histogram("h")
    assert not metrics_recorded(proxy)
    real = MeterProvider(metric_readers=[InMemoryMetricReader()])
    proxy_provider.on_set_meter_provider(real)
    assert metrics_recorded(proxy)
    assert metrics_recorded(real.get_meter("t").create_histogram("h"))
    real.shutdown()


def test_tools_without_a_template_share_a_bounded_cached_one(exporter, monkeypatch) -> None:
    from instrumentors import telemetry

    tel = Telemetry("templates")
    for description in ("adds", "adds", "sums"):
        tel.tool(tel.tool_template("add", "extension", description)).stop()
    assert len(tel._templates) == 2
    spans = exporter.get_finished_spans()
    descriptions = [s.attributes[semconv.GEN_AI_TOOL_DESCRIPTION] for s in spans]
    assert descriptions == ["adds", "adds", "sums"]
    assert {s.attributes[semconv.GEN_AI_TOOL_TYPE] for s in spans} == {"extension"}
    monkeypatch.setattr(telemetry, "_TEMPLATES_CAP", 2)
    tel.tool("other").stop()  # past the cap: the cache starts over
    assert len(tel._templates) == 1


def test_a_server_side_tool_span_never_merges_with_the_local_tool(exporter) -> None:
    tel = Telemetry("mcp-server")
    template = tel.tool_template("add", None, kind=SpanKind.SERVER, span_name="tools/call add")
    server = tel.tool(template, attributes={"mcp.method.name": "tools/call"})

    @instrumentors.tool
    def add(a: int) -> int:
        return a + 1

    add(1)
    server.fail(RuntimeError("rpc"), "-32001")
    local, remote = exporter.get_finished_spans()
    assert remote.name == "tools/call add" and remote.kind is SpanKind.SERVER
    assert remote.attributes[semconv.ERROR_TYPE] == "-32001"  # the protocol's name for it
    assert local.name == "execute_tool add" and local.parent.span_id == remote.context.span_id
