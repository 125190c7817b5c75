"""``instrumentors.session``: scopes, decorators, nesting, tasks, threads, the span processor."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry import baggage, trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

import instrumentors
from instrumentors import semconv
from instrumentors.session import (
    MAX_SESSION_ID_LENGTH,
    SessionSpanProcessor,
    current_session_id,
    normalize_session_id,
    session,
)

KEY = "agent.session_id"


def sid() -> object:
    return baggage.get_baggage(KEY)


@pytest.fixture
def extra_processors(provider: TracerProvider) -> list[SpanProcessor]:
    """The conftest forwarder's ``extra`` list (cleared by conftest after each test)."""
    processors = provider._active_span_processor._span_processors  # type: ignore[attr-defined]
    (forward,) = [p for p in processors if hasattr(p, "extra")]
    return forward.extra  # type: ignore[no-any-return]


@pytest.fixture
def session_processor(extra_processors: list[SpanProcessor]) -> SessionSpanProcessor:
    processor = SessionSpanProcessor()
    extra_processors.append(processor)
    return processor


def run_in_thread(target: Callable[[], Any]) -> Any:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(target()))
    thread.start()
    thread.join()
    (value,) = result
    return value


# --- context manager ------------------------------------------------------------


def test_context_manager_sets_and_restores_baggage() -> None:
    assert sid() is None

    with session("sess-42") as scope:
        assert sid() == "sess-42"
        assert current_session_id() == "sess-42"
        assert scope.session_id == "sess-42"

    assert sid() is None
    assert current_session_id() is None


def test_public_api_exports_session() -> None:
    assert instrumentors.session is session
    assert instrumentors.SessionSpanProcessor is SessionSpanProcessor


def test_session_is_restored_after_an_exception() -> None:
    with pytest.raises(KeyError), session("s"):
        assert sid() == "s"
        raise KeyError("boom")

    assert sid() is None


def test_other_baggage_is_kept() -> None:
    from opentelemetry.context import attach, detach

    token = attach(baggage.set_baggage("tenant", "acme"))
    try:
        with session("s"):
            assert baggage.get_all() == {"tenant": "acme", KEY: "s"}
        assert baggage.get_all() == {"tenant": "acme"}
    finally:
        detach(token)


def test_nested_sessions_inner_wins_outer_restored() -> None:
    with session("outer"):
        assert sid() == "outer"
        with session("inner"):
            assert sid() == "inner"
        assert sid() == "outer"
    assert sid() is None


def test_same_instance_can_be_reentered() -> None:
    scope = session("again")
    with scope:
        with scope:
            assert sid() == "again"
        assert sid() == "again"
    assert sid() is None
    with scope:
        assert sid() == "again"
    assert sid() is None


def test_non_string_ids_are_stringified() -> None:
    with session(42):
        assert sid() == "42"
    with session("  padded  "):
        assert sid() == "padded"


@pytest.mark.parametrize("bad", ["", "   ", None, True, False])
def test_empty_ids_are_ignored_with_a_warning(
    bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="instrumentors.session"):
        scope = session(bad)

    assert scope.session_id is None
    (record,) = [r for r in caplog.records if r.name == "instrumentors.session"]
    assert record.levelno == logging.WARNING
    assert "empty session id" in record.getMessage()

    with scope:
        assert sid() is None


def test_empty_id_inside_a_session_keeps_the_outer_one() -> None:
    with session("outer"), session(""):
        assert sid() == "outer"


def test_long_ids_are_truncated() -> None:
    long_id = "x" * 1000 + "tail"

    with session(long_id) as scope:
        assert sid() == "x" * MAX_SESSION_ID_LENGTH
    assert scope.session_id == "x" * 256
    assert MAX_SESSION_ID_LENGTH == 256


def test_id_of_exactly_the_max_length_is_kept() -> None:
    exact = "y" * 256
    with session(exact):
        assert sid() == exact


@pytest.mark.parametrize(
    ("value", "expected"),
    [("a", "a"), (7, "7"), (" b ", "b"), ("", None), (None, None), (True, None)],
)
def test_normalize_session_id(value: object, expected: str | None) -> None:
    assert normalize_session_id(value) == expected


def test_current_session_id_of_an_explicit_context() -> None:
    ctx = baggage.set_baggage(KEY, "explicit", Context())

    assert current_session_id(ctx) == "explicit"
    assert current_session_id(Context()) is None
    assert current_session_id() is None


# --- decorator --------------------------------------------------------------------


def test_decorates_sync_function() -> None:
    @session("deco")
    def work(a: int, *, b: int) -> tuple[object, int]:
        """Doc."""
        return sid(), a + b

    assert work(1, b=2) == ("deco", 3)
    assert sid() is None
    assert work.__name__ == "work"
    assert work.__doc__ == "Doc."


def test_decorated_sync_function_reraises_and_restores() -> None:
    @session("deco")
    def fail() -> None:
        assert sid() == "deco"
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        fail()
    assert sid() is None


async def test_decorates_async_function() -> None:
    @session("async-deco")
    async def work() -> object:
        await asyncio.sleep(0)
        return sid()

    assert asyncio.iscoroutinefunction(work)
    assert await work() == "async-deco"
    assert sid() is None


async def test_decorated_coroutine_reraises() -> None:
    @session("async-deco")
    async def fail() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("async nope")

    with pytest.raises(RuntimeError, match="async nope"):
        await fail()
    assert sid() is None


def test_decorates_generator_function() -> None:
    @session("gen")
    def produce(n: int) -> Iterator[object]:
        for _ in range(n):
            yield sid()
        return "done"

    gen = produce(3)
    seen: list[object] = []
    for item in gen:
        seen.append(item)
        # The session is current only while the generator runs, not in the consumer.
        assert sid() is None
    assert seen == ["gen", "gen", "gen"]


def test_decorated_generator_return_value_and_send() -> None:
    @session("gen")
    def echo() -> Iterator[object]:
        received = yield sid()
        received = yield (received, sid())
        return received

    gen = echo()
    assert next(gen) == "gen"
    assert gen.send("hello") == ("hello", "gen")
    with pytest.raises(StopIteration) as stop:
        gen.send("bye")
    assert stop.value.value == "bye"


def tolerant_generator(closed: list[object]) -> Callable[[], Iterator[object]]:
    @session("gen")
    def tolerant() -> Iterator[object]:
        try:
            while True:
                try:
                    yield sid()
                except ValueError:
                    yield ("caught", sid())
        finally:
            closed.append("closed")

    return tolerant


def test_decorated_generator_throw_is_forwarded() -> None:
    closed: list[object] = []
    gen = tolerant_generator(closed)()

    assert next(gen) == "gen"
    assert gen.throw(ValueError) == ("caught", "gen")
    assert next(gen) == "gen"
    assert sid() is None


def test_decorated_generator_close_closes_the_inner_generator() -> None:
    closed: list[object] = []
    gen = tolerant_generator(closed)()

    assert next(gen) == "gen"
    gen.close()

    assert closed == ["closed"]
    with pytest.raises(StopIteration):
        next(gen)


def test_decorated_generator_close_after_throw_closes_the_inner_generator() -> None:
    closed: list[object] = []
    gen = tolerant_generator(closed)()

    assert next(gen) == "gen"
    assert gen.throw(ValueError) == ("caught", "gen")
    # A reference cycle would let a later garbage collection close it; the bug is
    # that close() itself does not.
    gc.disable()
    try:
        gen.close()
        assert closed == ["closed"]
    finally:
        gc.enable()


def test_decorated_generator_propagates_errors_unchanged() -> None:
    error = LookupError("inner")

    @session("gen")
    def broken() -> Iterator[int]:
        yield 1
        raise error

    gen = broken()
    assert next(gen) == 1
    with pytest.raises(LookupError) as info:
        next(gen)
    assert info.value is error
    assert sid() is None


def test_decorated_generator_forwards_every_throw() -> None:
    def tolerant() -> Iterator[str]:
        while True:
            with contextlib.suppress(ValueError):
                yield "item"

    plain = tolerant()
    next(plain)
    assert plain.throw(ValueError) == "item"
    assert plain.throw(ValueError) == "item"  # what the user's code sees without us

    wrapped = session("gen")(tolerant)()
    next(wrapped)
    assert wrapped.throw(ValueError) == "item"
    assert wrapped.throw(ValueError) == "item"


async def test_decorates_async_generator_function() -> None:
    @session("agen")
    async def produce(n: int) -> Any:
        for _ in range(n):
            await asyncio.sleep(0)
            yield sid()

    seen = []
    async for item in produce(2):
        seen.append(item)
        assert sid() is None
    assert seen == ["agen", "agen"]


async def test_decorated_async_generator_forwards_asend() -> None:
    @session("agen")
    async def echo() -> Any:
        received = None
        while True:
            received = yield received

    agen = echo()
    await agen.asend(None)
    assert await agen.asend("value") == "value"


def test_decorator_with_empty_id_returns_the_function_unchanged() -> None:
    def work() -> object:
        return sid()

    assert session("")(work) is work
    with session("outer"):
        assert session(None)(work)() == "outer"


def test_decorator_each_call_is_independent() -> None:
    @session("deco")
    def inner() -> object:
        return sid()

    with session("outer"):
        assert inner() == "deco"
        assert sid() == "outer"


# --- asyncio ------------------------------------------------------------------------


async def test_tasks_created_inside_the_session_inherit_it() -> None:
    async def read() -> object:
        await asyncio.sleep(0)
        return sid()

    with session("task-sess"):
        inside = asyncio.create_task(read())
        gathered = asyncio.gather(read(), read())
    outside = asyncio.create_task(read())

    assert await inside == "task-sess"
    assert await gathered == ["task-sess", "task-sess"]
    assert await outside is None


async def test_task_changes_do_not_leak_back() -> None:
    async def nested() -> object:
        with session("in-task"):
            await asyncio.sleep(0)
            return sid()

    with session("parent"):
        assert await asyncio.create_task(nested()) == "in-task"
        assert sid() == "parent"


async def test_concurrent_tasks_keep_their_own_sessions() -> None:
    async def run(name: str) -> list[object]:
        seen = []
        with session(name):
            for _ in range(5):
                await asyncio.sleep(0)
                seen.append(sid())
        return seen

    results = await asyncio.gather(*(run(f"s{i}") for i in range(10)))

    assert results == [[f"s{i}"] * 5 for i in range(10)]
    assert sid() is None


# --- threads ------------------------------------------------------------------------


def test_copied_context_threads_inherit_the_session() -> None:
    with session("thread-sess"):
        ctx = contextvars.copy_context()
        assert run_in_thread(lambda: ctx.run(sid)) == "thread-sess"


def test_plain_threads_do_not_inherit_the_session() -> None:
    with session("thread-sess"):
        assert run_in_thread(sid) is None


def test_session_inside_a_thread_stays_in_that_thread() -> None:
    def work() -> object:
        with session("worker"):
            return sid()

    with session("main"):
        assert run_in_thread(work) == "worker"
        assert sid() == "main"


# --- SessionSpanProcessor -------------------------------------------------------------


def test_processor_stamps_plain_spans_in_a_session(
    exporter,
    session_processor: SessionSpanProcessor,  # type: ignore[no-untyped-def]
) -> None:
    tracer = trace.get_tracer("some.http.client")
    with session("sess-7"), tracer.start_as_current_span("GET"):
        pass

    (span,) = exporter.get_finished_spans()
    assert span.attributes[semconv.AGENT_SESSION_ID] == "sess-7"
    assert span.attributes[semconv.GEN_AI_CONVERSATION_ID] == "sess-7"
    assert semconv.AGENT_SESSION_ID == "agent.session_id"
    assert semconv.GEN_AI_CONVERSATION_ID == "gen_ai.conversation.id"


def test_processor_stamps_child_spans_and_spans_in_tasks(
    exporter,
    session_processor: SessionSpanProcessor,  # type: ignore[no-untyped-def]
) -> None:
    tracer = trace.get_tracer("lib")

    async def child() -> None:
        with tracer.start_as_current_span("in-task"):
            await asyncio.sleep(0)

    async def main() -> None:
        with session("s-async"), tracer.start_as_current_span("parent"):
            await asyncio.create_task(child())

    asyncio.run(main())

    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"parent", "in-task"}
    for span in spans.values():
        assert span.attributes[semconv.AGENT_SESSION_ID] == "s-async"
        assert span.attributes[semconv.GEN_AI_CONVERSATION_ID] == "s-async"


def test_processor_leaves_spans_outside_sessions_alone(
    exporter,
    session_processor: SessionSpanProcessor,  # type: ignore[no-untyped-def]
) -> None:
    tracer = trace.get_tracer("lib")
    with tracer.start_as_current_span("outside", attributes={"k": "v"}):
        pass

    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes) == {"k": "v"}


def test_without_the_processor_plain_spans_carry_no_session(exporter) -> None:  # type: ignore[no-untyped-def]
    tracer = trace.get_tracer("lib")
    with session("s"), tracer.start_as_current_span("plain"):
        pass

    (span,) = exporter.get_finished_spans()
    assert semconv.AGENT_SESSION_ID not in span.attributes
    assert semconv.GEN_AI_CONVERSATION_ID not in span.attributes


def test_processor_never_overwrites_existing_values(
    exporter,
    session_processor: SessionSpanProcessor,  # type: ignore[no-untyped-def]
) -> None:
    tracer = trace.get_tracer("lib")
    with session("from-baggage"):
        with tracer.start_as_current_span(
            "both", attributes={KEY: "mine", semconv.GEN_AI_CONVERSATION_ID: "conv-1"}
        ):
            pass
        with tracer.start_as_current_span("one", attributes={KEY: "mine"}):
            pass

    both, one = exporter.get_finished_spans()
    assert both.attributes[KEY] == "mine"
    assert both.attributes[semconv.GEN_AI_CONVERSATION_ID] == "conv-1"
    assert one.attributes[KEY] == "mine"
    assert one.attributes[semconv.GEN_AI_CONVERSATION_ID] == "from-baggage"


def test_processor_uses_the_explicit_parent_context(
    exporter,
    session_processor: SessionSpanProcessor,  # type: ignore[no-untyped-def]
) -> None:
    tracer = trace.get_tracer("lib")
    explicit = baggage.set_baggage(KEY, "explicit-ctx", Context())
    with session("current"):
        tracer.start_span("with-ctx", context=explicit).end()
        tracer.start_span("without-baggage", context=Context()).end()

    with_ctx, without = exporter.get_finished_spans()
    assert with_ctx.attributes[KEY] == "explicit-ctx"
    assert KEY not in without.attributes


def test_processor_skips_unsampled_spans(
    exporter,
    unsampled,
    session_processor: SessionSpanProcessor,  # type: ignore[no-untyped-def]
) -> None:
    tracer = trace.get_tracer("lib")
    with session("s"), tracer.start_as_current_span("dropped") as span:
        assert not span.is_recording()

    assert exporter.get_finished_spans() == ()


def test_processor_on_start_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    class ExplodingSpan:
        def is_recording(self) -> bool:
            return True

        @property
        def attributes(self) -> dict[str, Any]:
            raise RuntimeError("attributes exploded")

    processor = SessionSpanProcessor()
    ctx = baggage.set_baggage(KEY, "s", Context())

    with caplog.at_level(logging.DEBUG, logger="instrumentors.session"):
        processor.on_start(ExplodingSpan(), ctx)  # type: ignore[arg-type]

    assert any(r.exc_info for r in caplog.records if r.name == "instrumentors.session")


def test_processor_lifecycle_methods() -> None:
    processor = SessionSpanProcessor()

    assert processor.force_flush() is True
    assert processor.shutdown() is None


def test_session_processor_cleans_an_unfiltered_incoming_session(exporter, provider) -> None:
    """A server that did not filter its callers' baggage: the processor still shows it clean."""
    from opentelemetry import baggage, context

    from instrumentors.session import SessionSpanProcessor

    processor = SessionSpanProcessor()
    token = context.attach(baggage.set_baggage("agent.session_id", "evil\nINJECTED " + "x" * 500))
    try:
        with trace.get_tracer("other-lib").start_as_current_span("GET") as span:
            processor.on_start(span, context.get_current())
    finally:
        context.detach(token)
    (ended,) = exporter.get_finished_spans()
    value = ended.attributes["agent.session_id"]
    assert "\n" not in value and len(value) <= 256 and value.startswith("evilINJECTED")
