"""Scopes: a run's span current while the call or generator step that started it runs.

A wrapper opens a ``Scope`` around a call that starts one run (a graph's ``stream``, a
model's ``stream`` / ``astream``, a retriever's ``invoke``); the first matching start
callback inside claims it and attaches its span. Each step restores the context it
found, in the same frame, so nothing is ever detached from another context and
nothing leaks into the caller between chunks.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from contextvars import ContextVar
from types import AsyncGeneratorType, GeneratorType
from typing import Any, Final

from opentelemetry.context import attach, detach, get_current

from instrumentors.telemetry import Run

# Scope kinds: what the wrapped call starts.
GRAPH: Final = 1
MODEL: Final = 2
RETRIEVER: Final = 3

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


class Scope:
    """Opened around a call that starts one run; claimed by that run's start callback."""

    __slots__ = ("claimed", "kind", "run")

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.claimed = False
        self.run: Run | None = None


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
        scope = Scope(kind)
        result = _in_scope(scope, wrapped, *args, **kwargs)
        if isinstance(result, GeneratorType):
            return drive(result, scope)
        if isinstance(result, AsyncGeneratorType):
            return adrive(result, scope)
        if hasattr(result, "__await__"):
            return _await_in_scope(scope, result)
        return result

    return traced


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


def model_stream_steps(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """A model class's own ``_astream``: each step under the span its scope's run claimed.

    On langchain-core 0.3.0 the async start callback runs in a gathered task, so the
    claimed span is not current in the caller's task when ``_astream`` sends the request.
    """
    stream = wrapped(*args, **kwargs)
    scope = SCOPE_VAR.get()
    if scope is None or scope.kind != MODEL or not isinstance(stream, AsyncGeneratorType):
        return stream
    return adrive(stream, scope)
