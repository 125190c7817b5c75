"""LLM cache events: ``cache.hit`` / ``cache.miss`` with ``cache.name`` and ``cache.key.hash`` (the
hash of LangChain's lookup key, the (prompt, llm_string) pair), for chat models and completion
LLMs, global and model-level caches, sync and async."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.language_models.fake import FakeListLLM
from lc_support import ScriptedChat, answer, by_operation, one
from opentelemetry import trace

from instrumentors.params import hash_params

pytestmark = pytest.mark.usefixtures("instrumented")


class KeyedCache(InMemoryCache):
    """An in-memory cache that remembers the keys LangChain looked up."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[tuple[str, str]] = []

    def lookup(self, prompt: str, llm_string: str) -> Any:
        self.keys.append((prompt, llm_string))
        return super().lookup(prompt, llm_string)


@pytest.fixture
def global_cache() -> Any:
    from langchain_core.globals import set_llm_cache

    cache = KeyedCache()
    set_llm_cache(cache)
    yield cache
    set_llm_cache(None)


def _cache_events(span: Any) -> list[tuple[str, str, str]]:
    return [
        (e.name, e.attributes["cache.name"], e.attributes["cache.key.hash"])
        for e in span.events
        if e.name.startswith("cache.")
    ]


def _call(model: Any, mode: str, prompt: str = "q") -> Any:
    return model.invoke(prompt) if mode == "invoke" else asyncio.run(model.ainvoke(prompt))


@pytest.mark.parametrize("where", ["global", "model"])
@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_chat_model_hit_and_miss(
    exporter: Any, global_cache: KeyedCache, mode: str, where: str
) -> None:
    cache = global_cache if where == "global" else KeyedCache()
    model = ScriptedChat(
        responses=[answer("first"), answer("second")],
        cache=cache if where == "model" else None,
    )
    for _ in range(2):
        assert _call(model, mode).content == "first"
    (key, again) = cache.keys  # LangChain looked the same key up twice
    assert key == again
    expected = hash_params(key)
    assert expected.startswith("sha256:")
    miss, hit = by_operation(exporter.get_finished_spans(), "chat")
    # A hit still has its chat span, carrying the event.
    assert _cache_events(miss) == [("cache.miss", "KeyedCache", expected)]
    assert _cache_events(hit) == [("cache.hit", "KeyedCache", expected)]


def test_key_hash_follows_the_prompt(exporter: Any, global_cache: KeyedCache) -> None:
    model = ScriptedChat(responses=[answer("a"), answer("b")])
    model.invoke("one")
    model.invoke("two")
    first, second = by_operation(exporter.get_finished_spans(), "chat")
    (first_event,) = _cache_events(first)
    (second_event,) = _cache_events(second)
    assert first_event[2] != second_event[2]
    assert second_event[2] == hash_params(global_cache.keys[1])


def test_no_cache_no_event(exporter: Any) -> None:
    ScriptedChat(responses=[answer()]).invoke("q")
    (span,) = exporter.get_finished_spans()
    assert span.events == ()


def test_uninstrument_restores_cache_classes(
    exporter: Any, global_cache: KeyedCache, instrumented: Any
) -> None:
    ScriptedChat(responses=[answer()]).invoke("q")
    assert hasattr(KeyedCache.__dict__["lookup"], "__wrapped__")
    assert hasattr(KeyedCache.__dict__["alookup"], "__wrapped__")  # inherited: set on the class
    instrumented.uninstrument()
    assert not hasattr(KeyedCache.__dict__["lookup"], "__wrapped__")
    assert "alookup" not in KeyedCache.__dict__
    exporter.clear()
    ScriptedChat(responses=[answer()]).invoke("q")
    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize("where", ["global", "model"])
@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_completion_llm_hit_and_miss(
    exporter: Any, global_cache: KeyedCache, mode: str, where: str
) -> None:
    """A miss lands on the ``text_completion`` span. LangChain starts no run for a completion
    LLM's cache hit, so the hit lands on the span current around the call."""
    cache = global_cache if where == "global" else KeyedCache()
    llm = FakeListLLM(responses=["first", "second"], cache=cache if where == "model" else None)
    tracer = trace.get_tracer("test")
    for index in range(2):
        with tracer.start_as_current_span(f"outer-{index}"):
            assert _call(llm, mode, "prompt") == "first"
    key, again = cache.keys
    assert key == again
    expected = hash_params(key)
    spans = exporter.get_finished_spans()
    (completion,) = by_operation(spans, "text_completion")
    assert _cache_events(completion) == [("cache.miss", "KeyedCache", expected)]
    assert _cache_events(one(spans, "outer-0")) == []
    assert _cache_events(one(spans, "outer-1")) == [("cache.hit", "KeyedCache", expected)]


def test_batch_inside_a_model_call_is_not_attributed_to_it(
    exporter: Any, global_cache: KeyedCache
) -> None:
    """A several-prompt ``generate`` inside another model's call: its lookups are not the
    outer call's (with several runs, none is picked for the events)."""
    from langchain_core.messages import HumanMessage

    inner = ScriptedChat(responses=[answer("i")])

    class Outer(ScriptedChat):
        def _generate(
            self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any
        ) -> Any:
            inner.generate([[HumanMessage("a")], [HumanMessage("b")]])
            return super()._generate(messages, stop, run_manager, **kw)

    Outer(responses=[answer("o")], cache=False).invoke("q")
    assert len(global_cache.keys) == 2  # the inner prompts were looked up
    # (The inner requests, made while the outer chat span is current, enrich it.)
    (outer,) = by_operation(exporter.get_finished_spans(), "chat")
    assert _cache_events(outer) == []
