"""The ``.stream()`` helper: its manager makes the request only when entered.

``Messages.stream(...)`` returns a ``MessageStreamManager`` (``AsyncMessageStreamManager``
for the async client) holding a prepared request; ``with manager as stream:`` sends
it and gives a ``MessageStream``. The wrapper hands the manager out behind a proxy:
entering it opens the chat run (current while the request is sent, so HTTP spans
nest under it), and the ``MessageStream`` comes back behind a stream proxy
that ends the run when the stream is read, closed, exited or dropped. The helper's
own ways of reading (``text_stream``, ``until_done``, ``get_final_message``,
``get_final_text``) read through that proxy, so no event passes unseen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

import wrapt
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from instrumentors._patching import Wrapper
from instrumentors._sdk_fields import field as _field
from instrumentors._sdk_streams import StreamMixin
from instrumentors.anthropic import _stream
from instrumentors.anthropic._calls import Api, Call, active, start
from instrumentors.telemetry import Telemetry, guard

if TYPE_CHECKING:
    _Proxy = wrapt.ObjectProxy[Any]
else:
    _Proxy = wrapt.ObjectProxy

_HELPER_GUARD: Final = guard("following an Anthropic stream helper")


class _Request:
    """What entering the manager needs to open the run (read when the helper is called)."""

    __slots__ = ("api", "instance", "kwargs", "tel")

    def __init__(self, tel: Telemetry, api: Api, instance: Any, kwargs: Mapping[str, Any]) -> None:
        self.tel = tel
        self.api = api
        self.instance = instance
        self.kwargs = kwargs

    def open(self) -> Call | None:
        return start(self.tel, self.api, self.instance, self.kwargs)


def _stream_of(call: Call, stream: Any, proxy: type[StreamMixin]) -> Any:
    """The helper's stream behind a proxy that carries the run (the caller's context back)."""
    with _HELPER_GUARD:
        call.run.suspend()
        return proxy(stream, call.run, call.accumulator(), call.enriching)
    with _HELPER_GUARD:
        call.run.stop()
    return stream


def _is_text(event: Any) -> bool:
    return bool(event.type == "content_block_delta" and _field(event.delta, "type") == "text_delta")


class MessageStreamProxy(_stream.SyncEvents):
    """The ``.stream()`` helper's ``MessageStream``; its readers read through this proxy."""

    @property
    def text_stream(self) -> Iterator[str]:
        return (event.delta.text for event in self if _is_text(event))

    def until_done(self) -> None:
        for _ in self:
            pass

    def get_final_message(self) -> Any:
        self.until_done()
        return self.__wrapped__.get_final_message()

    def get_final_text(self) -> Any:
        self.until_done()
        return self.__wrapped__.get_final_text()

    def __enter__(self) -> MessageStreamProxy:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class AsyncMessageStreamProxy(_stream.AsyncEvents):
    """The async ``.stream()`` helper's ``AsyncMessageStream``."""

    @property
    def text_stream(self) -> AsyncIterator[str]:
        return _async_texts(self)

    async def until_done(self) -> None:
        async for _ in self:
            pass

    async def get_final_message(self) -> Any:
        await self.until_done()
        return await self.__wrapped__.get_final_message()

    async def get_final_text(self) -> Any:
        await self.until_done()
        return await self.__wrapped__.get_final_text()

    async def __aenter__(self) -> AsyncMessageStreamProxy:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()


async def _async_texts(stream: AsyncMessageStreamProxy) -> AsyncIterator[str]:
    async for event in stream:
        if _is_text(event):
            yield event.delta.text


class _ManagerMixin(_Proxy):
    def __init__(self, manager: Any, request: _Request) -> None:
        super().__init__(manager)
        self._self_request = request
        self._self_stream: StreamMixin | None = None

    def _self_open(self) -> Call | None:
        if not is_instrumentation_enabled():
            return None
        return self._self_request.open()

    def _self_close(self) -> None:
        stream = self._self_stream
        if stream is not None:
            stream._self_end()


class MessageStreamManagerProxy(_ManagerMixin):
    """``MessageStreamManager``: the run starts at ``__enter__``, ends with the stream."""

    def __enter__(self) -> Any:
        call = self._self_open()
        if call is None:
            return self.__wrapped__.__enter__()
        token = active.set(call)
        try:
            stream = self.__wrapped__.__enter__()
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            active.reset(token)
        traced = _stream_of(call, stream, MessageStreamProxy)
        self._self_stream = traced if traced is not stream else None
        return traced

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            with _HELPER_GUARD:
                self._self_close()


class AsyncMessageStreamManagerProxy(_ManagerMixin):
    """``AsyncMessageStreamManager``: the run starts at ``__aenter__``."""

    async def __aenter__(self) -> Any:
        call = self._self_open()
        if call is None:
            return await self.__wrapped__.__aenter__()
        token = active.set(call)
        try:
            stream = await self.__wrapped__.__aenter__()
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            active.reset(token)
        traced = _stream_of(call, stream, AsyncMessageStreamProxy)
        self._self_stream = traced if traced is not stream else None
        return traced

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            with _HELPER_GUARD:
                self._self_close()


def stream_helper(api: Api) -> Callable[[Telemetry], Wrapper]:
    """Factory of the wrapper of ``Messages.stream`` / ``AsyncMessages.stream`` (both sync
    methods returning a manager; nothing is sent until the manager is entered)."""

    def factory(tel: Telemetry) -> Wrapper:
        def traced(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            manager = wrapped(*args, **kwargs)
            with _HELPER_GUARD:
                request = _Request(tel, api, instance, kwargs)
                if hasattr(manager, "__aenter__"):
                    return AsyncMessageStreamManagerProxy(manager, request)
                return MessageStreamManagerProxy(manager, request)
            return manager

        return traced

    return factory
