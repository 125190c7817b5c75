"""Drive a user's generator with a run's span current while it produces each item.

Shared by ``@tool``, ``agent_step`` and ``session``: the span is current only
while the wrapped generator runs, never while it is suspended at a ``yield``
(the caller's code between items must not nest under it), and it ends on
exhaustion, ``close()``, an exception, or garbage collection. ``decorate``
gives a scope decorator its sync, async and generator forms in one place.
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import AsyncGenerator, Callable, Generator
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])


class _Runlike(Protocol):
    def activate(self) -> Any: ...

    def stop(self) -> None: ...

    def fail(self, exc: BaseException) -> None: ...


def traced_generator(gen: Generator[Any, Any, Any], run: _Runlike) -> Generator[Any, Any, Any]:
    """A real generator that forwards send/throw/close to ``gen`` under ``run``'s span."""
    outer = _traced_generator(gen, run)
    # An outer generator that is never started is not closed by GC; end the span anyway.
    weakref.finalize(outer, run.stop)
    return outer


def _traced_generator(gen: Generator[Any, Any, Any], run: _Runlike) -> Generator[Any, Any, Any]:
    method: Any = gen.send
    arg: Any = None
    while True:
        try:
            with run.activate():
                item = method(arg)
        except StopIteration as stop:
            run.stop()
            return stop.value
        except BaseException as exc:
            run.fail(exc)
            raise
        try:
            arg = yield item
            method = gen.send
        except GeneratorExit:
            try:
                with run.activate():
                    gen.close()
            finally:
                run.stop()
            raise
        except BaseException as exc:  # noqa: BLE001 - thrown in by the caller: forward it
            method, arg = gen.throw, exc


def traced_async_generator(
    agen: AsyncGenerator[Any, Any], run: _Runlike
) -> AsyncGenerator[Any, Any]:
    """A real async generator that forwards asend/athrow/aclose to ``agen`` under the span."""
    outer = _traced_async_generator(agen, run)
    weakref.finalize(outer, run.stop)
    return outer


async def _traced_async_generator(
    agen: AsyncGenerator[Any, Any], run: _Runlike
) -> AsyncGenerator[Any, Any]:
    method: Any = agen.asend
    arg: Any = None
    while True:
        try:
            with run.activate():
                item = await method(arg)
        except StopAsyncIteration:
            run.stop()
            return
        except BaseException as exc:
            run.fail(exc)
            raise
        try:
            arg = yield item
            method = agen.asend
        except GeneratorExit:
            try:
                with run.activate():
                    await agen.aclose()
            finally:
                run.stop()
            raise
        except BaseException as exc:  # noqa: BLE001 - telemetry must never raise
            method, arg = agen.athrow, exc


def decorate(
    func: F,
    scope: Callable[[], AbstractContextManager[Any]],
    run: Callable[[], _Runlike | None],
) -> F:
    """``func`` with each call inside ``scope()``; generators driven under ``run()``."""
    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
            started = run()
            agen = func(*args, **kwargs)
            return agen if started is None else traced_async_generator(agen, started)

        return cast(F, agen_wrapper)

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            started = run()
            gen = func(*args, **kwargs)
            return gen if started is None else traced_generator(gen, started)

        return cast(F, gen_wrapper)

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            with scope():
                return await func(*args, **kwargs)

        return cast(F, async_wrapper)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with scope():
            return func(*args, **kwargs)

    return cast(F, wrapper)
