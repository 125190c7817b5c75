"""Scopes: a run's span current while the call or generator step that started it runs.

A wrapper opens a ``Scope`` around a public call that starts one run (a graph's
``stream``, a model's ``generate`` / ``stream``, a retriever's ``invoke``); the first
matching start callback inside claims it and attaches its span. Each step restores the
context it found, in the same frame, so nothing is ever detached from another context
and nothing leaks into the caller between chunks. A model's scope also carries the LLM
cache LangChain consults for that call, so cache lookups land on the model's span.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from contextvars import ContextVar
from types import AsyncGeneratorType, GeneratorType
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.context import attach, detach, get_current

from instrumentors.events import record_cache
from instrumentors.telemetry import Run

# Scope kinds: what the wrapped call starts.
NO_RUN: Final = 0  # claimed by nothing: hides an enclosing scope from the call inside it
GRAPH: Final = 1
MODEL: Final = 2
RETRIEVER: Final = 3

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]
CacheEvent = tuple[bool, str, Any]  # (hit, cache name, lookup key)


class Scope:
    """Opened around a call that starts one run; claimed by that run's start callback."""

    __slots__ = ("cache", "claimed", "kind", "lookups", "pending", "run")

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.claimed = False
        self.run: Run | None = None
        self.cache: object = None  # the LLM cache LangChain uses for this model call
        self.pending: list[CacheEvent] | None = None
        self.lookups = 0  # cache lookups recorded

    def bind(self, run: Run) -> None:
        """The claiming run's span exists: record the cache misses seen before it started.

        A completion LLM looks its prompts up before it starts its run.
        """
        self.run = run
        pending, self.pending = self.pending, None
        if pending and run.span.is_recording():
            for hit, name, key in pending:
                record_cache(hit, name, key=key, span=run.span)

    def cache_event(self, hit: bool, name: str, key: Any) -> None:
        """A lookup in this call's cache: on the run's span, or once the run starts.

        A completion LLM's cache hit starts no run at all (LangChain skips the model), so
        the hit goes to the span current around the call.
        """
        self.lookups += 1
        run = self.run
        # The key's hash costs time proportional to the prompt: only for recorded spans.
        if run is not None:
            if run.span.is_recording():
                record_cache(hit, name, key=key, span=run.span)
        elif hit:
            if trace.get_current_span().is_recording():
                record_cache(hit, name, key=key)
        else:
            if self.pending is None:
                self.pending = []
            self.pending.append((hit, name, key))


SCOPE_VAR: ContextVar[Scope | None] = ContextVar("instrumentors_langchain_scope", default=None)


def claim(kind: int) -> Scope | None:
    """The open scope of ``kind`` if no run has claimed it yet (it is claimed now)."""
    scope = SCOPE_VAR.get()
    if scope is None or scope.kind != kind or scope.claimed:
        return None
    scope.claimed = True
    return scope


def scoped(kind: int) -> Wrapper:
    """A wrapt wrapper: the call, or each step of the (async) generator it returns, in a scope."""

    def traced(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return in_scope(Scope(kind), wrapped, args, kwargs)

    return traced


def in_scope(scope: Scope, func: Callable[..., Any], args: tuple[Any, ...], kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` in ``scope``; a generator or awaitable result stays in it."""
    result = _in_scope(scope, func, *args, **kwargs)
    if isinstance(result, GeneratorType):
        return drive(result, scope)
    if isinstance(result, AsyncGeneratorType):
        return adrive(result, scope)
    if hasattr(result, "__await__"):
        return _await_in_scope(scope, result)
    return result


def _current(scope: Scope) -> Any:
    run = scope.run
    return run.context if run is not None and not run.finished else get_current()


def _in_scope(scope: Scope, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    token = attach(_current(scope))
    scope_token = SCOPE_VAR.set(scope)
    try:
        return func(*args, **kwargs)
    finally:
        SCOPE_VAR.reset(scope_token)
        detach(token)


async def _await_in_scope(scope: Scope, awaitable: Any) -> Any:
    token = attach(get_current())
    scope_token = SCOPE_VAR.set(scope)
    try:
        return await awaitable
    finally:
        SCOPE_VAR.reset(scope_token)
        detach(token)


def drive(gen: Generator[Any, Any, Any], scope: Scope) -> Generator[Any, Any, Any]:
    """Forward send/throw/close to ``gen``; each step runs in the scope, its run current."""
    method: Any = gen.send
    arg: Any = None
    while True:
        try:
            item = _in_scope(scope, method, arg)
        except StopIteration as stop:
            return stop.value
        try:
            arg = yield item
            method = gen.send
        except GeneratorExit:
            gen.close()
            raise
        except BaseException as exc:  # noqa: BLE001 - thrown in by the caller: forward it
            method, arg = gen.throw, exc


async def adrive(agen: AsyncGenerator[Any, Any], scope: Scope) -> AsyncGenerator[Any, Any]:
    """``drive`` for async generators (asend/athrow/aclose)."""
    method: Any = agen.asend
    arg: Any = None
    while True:
        token = attach(_current(scope))
        scope_token = SCOPE_VAR.set(scope)
        try:
            item = await method(arg)
        except StopAsyncIteration:
            return
        finally:
            SCOPE_VAR.reset(scope_token)
            detach(token)
        try:
            arg = yield item
            method = agen.asend
        except GeneratorExit:
            await agen.aclose()
            raise
        except BaseException as exc:  # noqa: BLE001 - thrown in by the caller: forward it
            method, arg = agen.athrow, exc
