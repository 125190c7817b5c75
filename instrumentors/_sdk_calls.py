"""One instrumented request of a model SDK built alike (openai, anthropic), and the
wrappers of its request methods.

A layer opens the run of a request its own way (``start``: how it reads its SDK's
client and arguments) and hands back its subclass of ``SdkCall``; the layer's
endpoints (``Api``) name how a body is read, the SDK's result kinds and the
proxies. From there every layer does the same: the
wrapper makes the call current (``active``, for the SDK-internal hooks), records
the user's exception or hands the result to ``finish``, which reads a body, or
gives a stream or an unread response back behind a proxy that carries the run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, Final, Protocol, TypeVar

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from instrumentors._patching import Wrapper
from instrumentors._sdk_client import STREAM, UNREAD, ResultKinds
from instrumentors._sdk_streams import Accumulator, Proxies, fail_run
from instrumentors.telemetry import LLMRun, Telemetry, guard

_RESPONSE_GUARD: Final = guard("reading an SDK response")
_ERROR_GUARD: Final = guard("recording an SDK error")
_END_GUARD: Final = guard("ending an SDK span")
_RETRY_GUARD: Final = guard("recording an SDK retry")


class Endpoint(Protocol):
    """How one endpoint's results are read (a layer's ``Api`` has these fields)."""

    # The SDK's result kinds, and the proxies that carry a run: the same for every
    # endpoint of a layer (a field default), read here on every call because a slot
    # costs less to read than a class attribute of the call.
    @property
    def kinds(self) -> ResultKinds: ...

    @property
    def proxies(self) -> Proxies: ...

    @property
    def response(self) -> Callable[[Any, Any], None]: ...

    # What the metrics need when the span does not record (model, usage...); None:
    # the layer reads nothing for a span that does not record.
    @property
    def measure(self) -> Callable[[Any, Any], None] | None: ...

    # (run, full) -> the stream's accumulator; ``full`` is False for a span that does
    # not record (only what the metrics need). None: the endpoint does not stream.
    @property
    def accumulator(self) -> Callable[[LLMRun, bool], Accumulator | None] | None: ...


class SdkCall:
    """One instrumented request: its run, and how to read what the SDK returns."""

    __slots__ = ("api", "enriching", "recording", "retries", "run")

    def __init__(self, api: Endpoint, run: Any, enriching: bool) -> None:
        self.api = api
        self.run = run
        # Nested in another layer's chat run (LangChain...): that layer owns the span.
        self.enriching = enriching
        self.recording: bool = run.span.is_recording()
        self.retries = 0

    def finish(self, result: Any) -> Any:
        """Record the response (or hand the run to a proxy); return what the user gets."""
        with _RESPONSE_GUARD:
            kind = self.api.kinds.of(result)
            if kind <= STREAM:  # a parsed body or a stream: the common cases
                return self.parsed(result, kind)
            if kind == UNREAD:  # with_streaming_response: the body is read later
                self.run.suspend()
                proxies = self.api.proxies
                proxy = (
                    proxies.async_response
                    if isinstance(result, self.api.kinds.async_response)
                    else proxies.response
                )
                return proxy(result, self.run, self.parsed)
            # with_raw_response: the body is read. Parse it now (the SDK caches it, so
            # the user's parse() gets the same object); a stream's proxy is handed out
            # by the response's proxy.
            parsed = result.parse()
            traced = self.parsed(parsed)
            return result if traced is parsed else self.api.proxies.raw(result, traced)
        with _END_GUARD:  # reading it failed: the span ends with what it has
            self.run.stop()
        return result

    def parsed(self, value: Any, kind: int | None = None) -> Any:
        """A parsed body: a stream gets a proxy carrying the run; anything else ends it."""
        with _RESPONSE_GUARD:
            if kind is None:
                kind = self.api.kinds.of(value)
            if kind == STREAM:
                proxies = self.api.proxies
                proxy = (
                    proxies.async_stream
                    if isinstance(value, self.api.kinds.async_stream)
                    else proxies.stream
                )
                self.run.suspend()
                return proxy(value, self.run, self.accumulator(), self.enriching)
            try:
                if self.recording:
                    self.api.response(self.run, value)
                elif self.run.measured:  # metrics count every call, sampled or not
                    measure = self.api.measure
                    if measure is not None:
                        measure(self.run, value)
            finally:
                self.run.stop()
            return value
        with _END_GUARD:  # reading failed: the span ends with what it has (stop is idempotent)
            self.run.stop()
        return value

    def accumulator(self) -> Accumulator | None:
        """A stream's accumulator: in full for a span that records, else for the metrics."""
        make = self.api.accumulator
        if make is not None and (self.recording or self.run.measured):
            return make(self.run, self.recording)
        return None

    def fail(self, exc: BaseException) -> None:
        with _ERROR_GUARD:
            try:
                if self.recording:
                    self.on_error(exc)
            finally:
                fail_run(self.run, exc, self.enriching)

    def on_error(self, exc: BaseException) -> None:
        """Before the run fails with the SDK's final error (rate limits...)."""

    def retried(self, delay: Any, cause: BaseException | None) -> None:
        """The SDK is about to retry this request after ``delay`` seconds."""


C = TypeVar("C", bound=SdkCall)
A = TypeVar("A")
Start = Callable[[Telemetry, A, Any, Mapping[str, Any]], C | None]


def sync_call(
    start: Start[A, C], api: A, active: ContextVar[C | None]
) -> Callable[[Telemetry], Wrapper]:
    """Factory of the wrapper of a sync request method (``create`` and friends)."""

    def factory(tel: Telemetry) -> Wrapper:
        def traced(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            if not is_instrumentation_enabled():
                return wrapped(*args, **kwargs)
            call = start(tel, api, instance, kwargs)
            if call is None:
                return wrapped(*args, **kwargs)
            token = active.set(call)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                call.fail(exc)
                raise
            finally:
                active.reset(token)
            return call.finish(result)

        return traced

    return factory


def async_call(
    start: Start[A, C], api: A, active: ContextVar[C | None]
) -> Callable[[Telemetry], Wrapper]:
    """Factory of the wrapper of an async request method; nothing starts until awaited."""

    def factory(tel: Telemetry) -> Wrapper:
        async def traced(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            if not is_instrumentation_enabled():
                return await wrapped(*args, **kwargs)
            call = start(tel, api, instance, kwargs)
            if call is None:
                return await wrapped(*args, **kwargs)
            token = active.set(call)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                call.fail(exc)
                raise
            finally:
                active.reset(token)
            return call.finish(result)

        return traced

    return factory


def retry_delay(active: ContextVar[C | None]) -> Wrapper:
    """The wrapper of the SDK's retry delay: one ``retry.attempted`` per retry of a request
    we trace (the retry loop calls it in the ``except`` of the failed attempt, if any)."""

    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        delay = wrapped(*args, **kwargs)
        call = active.get()
        if call is not None:
            with _RETRY_GUARD:
                call.retried(delay, sys.exc_info()[1])
        return delay

    return traced
