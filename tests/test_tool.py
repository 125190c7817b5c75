"""``@instrumentors.tool``: spans, parameters, errors, generators, context, suppression, safety."""

from __future__ import annotations

import asyncio
import gc
import re

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, StatusCode

import instrumentors
from instrumentors import config, params, semconv, telemetry
from instrumentors.links import registry
from tests._threads import run_in_threads

SENTINEL = "sentinel-3f9a1c-raw-value"


@instrumentors.tool
def get_weather(city: str, units: str = "C") -> str:
    """Get the weather for a city.

    Longer text that is not part of the description.
    """
    return f"{city}: 21 {units}"


def all_strings(span) -> list[str]:  # type: ignore[no-untyped-def]
    values = [str(v) for v in (span.attributes or {}).values()]
    for event in span.events:
        values.extend(str(v) for v in (event.attributes or {}).values())
    return values


def test_span_follows_the_span_model(exporter) -> None:
    assert get_weather("Paris") == "Paris: 21 C"
    (span,) = exporter.get_finished_spans()
    attrs = span.attributes
    assert span.name == "execute_tool get_weather"
    assert span.kind is SpanKind.INTERNAL
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert attrs[semconv.GEN_AI_TOOL_NAME] == "get_weather"
    assert attrs[semconv.TOOL_NAME] == "get_weather"
    assert attrs[semconv.GEN_AI_TOOL_TYPE] == "function"
    assert attrs[semconv.GEN_AI_TOOL_DESCRIPTION] == "Get the weather for a city."
    assert re.fullmatch(r"sha256:[0-9a-f]{32}", attrs[semconv.REQUEST_PARAMETERS_HASH])
    assert span.status.status_code is StatusCode.UNSET


def test_hash_is_over_bound_arguments_with_defaults(exporter) -> None:
    get_weather("Paris")
    get_weather(city="Paris")
    get_weather("Paris", "C")
    get_weather(units="C", city="Paris")
    get_weather("Paris", units="F")
    hashes = [s.attributes[semconv.REQUEST_PARAMETERS_HASH] for s in exporter.get_finished_spans()]
    expected = params.hash_params({"city": "Paris", "units": "C"})
    assert hashes[:4] == [expected] * 4
    assert hashes[4] == params.hash_params({"city": "Paris", "units": "F"})


def test_keyed_hash(exporter, settings_env) -> None:
    settings_env(AGENT_INSTRUMENTORS_PARAMS_HASH_KEY="k1")
    get_weather("Paris")
    (span,) = exporter.get_finished_spans()
    value = span.attributes[semconv.REQUEST_PARAMETERS_HASH]
    assert re.fullmatch(r"hmac-sha256:[0-9a-f]{32}", value)
    assert value == params.hash_text(params.canonical_json({"city": "Paris", "units": "C"}), b"k1")


def test_options_name_description_type(exporter) -> None:
    @instrumentors.tool(name="lookup", description="Looks up.", tool_type="datastore")
    def anything(q: str) -> str:
        return q

    anything("x")
    (span,) = exporter.get_finished_spans()
    assert span.name == "execute_tool lookup"
    assert span.attributes[semconv.GEN_AI_TOOL_DESCRIPTION] == "Looks up."
    assert span.attributes[semconv.GEN_AI_TOOL_TYPE] == "datastore"


def test_methods_do_not_hash_self(exporter) -> None:
    class Tools:
        def __init__(self, tag: str) -> None:
            self.tag = tag

        @instrumentors.tool
        def search(self, query: str) -> str:
            return self.tag + query

    assert Tools("a").search("q") == "aq"
    Tools("b").search(query="q")
    first, second = exporter.get_finished_spans()
    assert (
        first.attributes[semconv.REQUEST_PARAMETERS_HASH]
        == second.attributes[semconv.REQUEST_PARAMETERS_HASH]
        == params.hash_params({"query": "q"})
    )


def test_varargs_and_kwargs_are_hashed(exporter) -> None:
    @instrumentors.tool
    def combine(*parts: str, sep: str = "-", **extra: str) -> str:
        return sep.join(parts) + "".join(extra.values())

    assert combine("a", "b", x="c") == "a-bc"
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.REQUEST_PARAMETERS_HASH] == params.hash_params(
        {"parts": ["a", "b"], "sep": "-", "extra": {"x": "c"}}
    )


def test_no_raw_argument_or_result_by_default(exporter) -> None:
    @instrumentors.tool
    def echo(secret_text: str, nested: dict) -> str:  # type: ignore[type-arg]
        return secret_text + SENTINEL

    echo(SENTINEL, {"deep": [SENTINEL]})
    with pytest.raises(ValueError):
        failing(SENTINEL)
    spans = exporter.get_finished_spans()
    assert len(spans) == 2
    for span in spans:
        assert not any(SENTINEL in value for value in all_strings(span))
        assert semconv.REQUEST_PARAMETERS not in span.attributes
        assert semconv.GEN_AI_TOOL_CALL_ARGUMENTS not in span.attributes
        assert semconv.GEN_AI_TOOL_CALL_RESULT not in span.attributes


@instrumentors.tool
def failing(value: str) -> str:
    raise ValueError("no weather for " + value[:0])


def test_capture_on_records_redacted_truncated_arguments_and_result(exporter, settings_env) -> None:
    settings_env(
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true",
        AGENT_INSTRUMENTORS_MAX_ATTRIBUTE_LENGTH="64",
    )

    @instrumentors.tool
    def call_api(url: str, api_key: str, body: str) -> str:
        return "ok " + "x" * 200

    call_api("https://example.test", "sk-live-1234567890abcdefghij", "y" * 500)
    (span,) = exporter.get_finished_spans()
    captured = span.attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS]
    assert span.attributes[semconv.REQUEST_PARAMETERS] == captured
    assert "sk-live" not in captured
    assert params.REDACTED in captured
    assert len(captured) <= 64
    result = span.attributes[semconv.GEN_AI_TOOL_CALL_RESULT]
    assert result.startswith('"ok xxx') or result.startswith("ok xxx")
    assert len(result) <= 64


def test_sampled_capture_without_content_capture(exporter, settings_env) -> None:
    settings_env(AGENT_INSTRUMENTORS_CAPTURE_SAMPLE_RATE="1")
    get_weather("Paris")
    (span,) = exporter.get_finished_spans()
    assert "Paris" in span.attributes[semconv.REQUEST_PARAMETERS]


def test_exception_reraised_unchanged_and_recorded(exporter) -> None:
    error = RuntimeError("tool broke")

    @instrumentors.tool
    def broken() -> None:
        raise error

    with pytest.raises(RuntimeError) as caught:
        broken()
    assert caught.value is error
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "RuntimeError"
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "RuntimeError"


def test_error_type_is_qualname(exporter) -> None:
    class Outer:
        class RateLimitError(Exception):
            pass

    @instrumentors.tool
    def limited() -> None:
        raise Outer.RateLimitError("429")

    with pytest.raises(Outer.RateLimitError):
        limited()
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.ERROR_TYPE] == Outer.RateLimitError.__qualname__


def test_tool_call_id_and_link_to_requesting_chat_span(exporter) -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("chat gpt") as chat:
        registry.register("call_1", chat.get_span_context())
    with instrumentors.tool_call_id("call_1"):
        get_weather("Paris")
        get_weather("Paris")  # a retry of the same call, directly in the block
    chat_span, first, retry = exporter.get_finished_spans()
    for span in (first, retry):
        assert span.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_1"
        (link,) = span.links
        assert link.context.span_id == chat_span.context.span_id


def test_tool_call_id_not_taken_by_nested_tools(exporter) -> None:
    @instrumentors.tool
    def outer() -> str:
        return get_weather("Rome")

    with instrumentors.tool_call_id("call_7"), instrumentors.agent_step("act"):
        outer()
    inner, outer_span, _step = exporter.get_finished_spans()
    assert outer_span.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_7"
    assert semconv.GEN_AI_TOOL_CALL_ID not in inner.attributes


def test_span_is_current_while_running_and_nests(exporter) -> None:
    seen = {}

    @instrumentors.tool
    def outer() -> str:
        seen["outer"] = trace.get_current_span().get_span_context().span_id
        return inner()

    @instrumentors.tool
    def inner() -> str:
        return "x"

    with instrumentors.agent_step("plan"):
        outer()
    inner_span, outer_span, step = exporter.get_finished_spans()
    assert seen["outer"] == outer_span.context.span_id
    assert inner_span.parent.span_id == outer_span.context.span_id
    assert outer_span.parent.span_id == step.context.span_id
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_same_tool_seen_by_two_layers_is_one_span(exporter) -> None:
    framework = telemetry.Telemetry("framework-layer")
    run = framework.tool("get_weather", call_id="call_9")
    try:
        get_weather("Paris")
    finally:
        run.stop()
    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.GEN_AI_TOOL_CALL_ID] == "call_9"
    assert span.attributes[semconv.REQUEST_PARAMETERS_HASH] == params.hash_params(
        {"city": "Paris", "units": "C"}
    )


async def test_async_tool(exporter) -> None:
    @instrumentors.tool
    async def fetch(city: str) -> str:
        await asyncio.sleep(0)
        return trace.get_current_span().name + city

    assert await fetch("Oslo") == "execute_tool fetchOslo"
    (span,) = exporter.get_finished_spans()
    assert span.name == "execute_tool fetch"


async def test_concurrent_async_tools_keep_their_parents(exporter) -> None:
    @instrumentors.tool
    async def leaf(i: int) -> int:
        await asyncio.sleep(0.001)
        return i

    async def one(i: int) -> int:
        with instrumentors.agent_step(f"step-{i}"), instrumentors.session(f"s{i}"):
            return await leaf(i)

    assert await asyncio.gather(*(one(i) for i in range(20))) == list(range(20))
    spans = exporter.get_finished_spans()
    steps = {s.context.span_id: s for s in spans if s.name.startswith("step-")}
    leaves = [s for s in spans if s.name == "execute_tool leaf"]
    assert len(leaves) == 20
    for span in leaves:
        parent = steps[span.parent.span_id]
        assert parent.name == f"step-{span.attributes[semconv.AGENT_SESSION_ID][1:]}"


def test_threads_with_copied_context(exporter) -> None:
    results: list[str] = []
    with instrumentors.agent_step("fan-out"), instrumentors.session("s-threads"):
        errors = run_in_threads(
            lambda _: results.append(get_weather("Paris")), 8, copy_context=True
        )
    assert errors == []
    spans = exporter.get_finished_spans()
    (step,) = [s for s in spans if s.name == "fan-out"]
    tools = [s for s in spans if s.name == "execute_tool get_weather"]
    assert len(tools) == 8 and len(results) == 8
    assert all(s.parent.span_id == step.context.span_id for s in tools)
    assert all(s.attributes[semconv.AGENT_SESSION_ID] == "s-threads" for s in tools)


def test_generator_span_current_per_item_and_ends_on_exhaustion(exporter) -> None:
    seen: list[str] = []

    @instrumentors.tool
    def chunks(n: int):  # type: ignore[no-untyped-def]
        for i in range(n):
            seen.append(trace.get_current_span().name)
            yield i

    gen = chunks(3)
    assert next(gen) == 0
    assert trace.get_current_span() is trace.INVALID_SPAN  # not current between items
    assert list(gen) == [1, 2]
    assert seen == ["execute_tool chunks"] * 3
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET


def test_generator_close_and_gc_end_the_span(exporter) -> None:
    @instrumentors.tool
    def numbers():  # type: ignore[no-untyped-def]
        yield from range(10)

    gen = numbers()
    next(gen)
    gen.close()
    assert len(exporter.get_finished_spans()) == 1

    abandoned = numbers()
    next(abandoned)
    del abandoned
    gc.collect()
    never_started = numbers()
    del never_started
    gc.collect()
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


def test_generator_exception_and_throw(exporter) -> None:
    @instrumentors.tool
    def fragile():  # type: ignore[no-untyped-def]
        try:
            yield 1
        except KeyError:
            yield "recovered"
        raise ValueError("late")

    gen = fragile()
    assert next(gen) == 1
    assert gen.throw(KeyError("k")) == "recovered"
    with pytest.raises(ValueError, match="late"):
        next(gen)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == "ValueError"


def test_generator_send_and_return_value(exporter) -> None:
    @instrumentors.tool
    def accumulate():  # type: ignore[no-untyped-def]
        total = 0
        while True:
            value = yield total
            if value is None:
                return total
            total += value

    gen = accumulate()
    next(gen)
    assert gen.send(2) == 2
    assert gen.send(3) == 5
    with pytest.raises(StopIteration) as stop:
        gen.send(None)
    assert stop.value.value == 5
    assert len(exporter.get_finished_spans()) == 1


async def test_async_generator(exporter) -> None:
    @instrumentors.tool
    async def stream(n: int):  # type: ignore[no-untyped-def]
        for _ in range(n):
            await asyncio.sleep(0)
            yield trace.get_current_span().name

    assert [x async for x in stream(2)] == ["execute_tool stream"] * 2
    agen = stream(5)
    await agen.__anext__()
    await agen.aclose()
    spans = exporter.get_finished_spans()
    assert len(spans) == 2


def test_suppressed_instrumentation_makes_no_span(exporter) -> None:
    with suppress_instrumentation():
        assert get_weather("Paris") == "Paris: 21 C"
    assert exporter.get_finished_spans() == ()


def test_unsampled_skips_parameter_work(exporter, unsampled, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(telemetry._tool, "hash_params", lambda *a, **k: calls.append(a) or "x")
    assert get_weather("Paris") == "Paris: 21 C"
    assert exporter.get_finished_spans() == ()
    assert calls == []


def test_telemetry_bug_does_not_break_the_call(exporter, monkeypatch) -> None:
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("telemetry bug")

    monkeypatch.setattr(telemetry.Telemetry, "tool", broken)
    assert get_weather("Paris") == "Paris: 21 C"
    monkeypatch.undo()
    monkeypatch.setattr(telemetry._tool, "hash_params", broken)
    assert get_weather("Paris") == "Paris: 21 C"
    (span,) = exporter.get_finished_spans()  # the span survives the failed hash
    assert span.name == "execute_tool get_weather"


def test_tool_rejects_non_callables() -> None:
    with pytest.raises(TypeError):
        instrumentors.tool(42)  # type: ignore[call-overload]


def test_decorator_preserves_metadata() -> None:
    assert get_weather.__name__ == "get_weather"
    assert get_weather.__doc__ and get_weather.__doc__.startswith("Get the weather")
    assert config.settings().capture_content is False


def test_idempotency_key_argument_is_recorded(exporter) -> None:
    @instrumentors.tool
    def charge(amount: int, idempotency_key: str) -> str:
        return "ok"

    charge(5, idempotency_key="order-42")
    charge(5, "order-42")
    first, second = exporter.get_finished_spans()
    assert first.attributes[semconv.REQUEST_IDEMPOTENCY_KEY] == "order-42"
    assert second.attributes[semconv.REQUEST_IDEMPOTENCY_KEY] == "order-42"


def test_recursive_tool_is_not_merged_with_itself(exporter) -> None:
    @instrumentors.tool
    def countdown(n: int) -> int:
        return n if n == 0 else countdown(n - 1)

    assert countdown(2) == 0
    assert len(exporter.get_finished_spans()) == 3


def test_hash_before_start_and_after_start_paths_agree() -> None:
    """With an always-on sampler the hash goes in with the first attributes; same result."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    own = InMemorySpanExporter()
    provider = TracerProvider()  # the SDK default sampler: always on at the root
    provider.add_span_processor(SimpleSpanProcessor(own))
    tel = telemetry.Telemetry("own", tracer_provider=provider)
    assert tel.will_record()
    early = tel.tool("t", params={"a": 1}, call_id="c1")
    early.stop()
    late = tel.tool("t", call_id="c1")
    late.set_params({"a": 1})
    late.stop()
    first, second = own.get_finished_spans()
    assert dict(first.attributes) == dict(second.attributes)
    assert first.attributes[semconv.REQUEST_PARAMETERS_HASH] == params.hash_params({"a": 1})


def test_will_record_follows_the_parent(unsampled) -> None:
    tel = telemetry.default()
    with trace.get_tracer("t").start_as_current_span("unsampled parent"):
        assert not tel.will_record()
