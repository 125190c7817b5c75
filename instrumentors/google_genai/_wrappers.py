"""Wrapper factories for the google-genai SDK's request methods, and the patch table.

The public request methods of ``Models``, ``AsyncModels``, ``Chat`` and
``AsyncChat`` are patched. One call is one ``chat`` span, the SDK's automatic
function calling included: its model turns add up in that span, and each
function it invokes is an ``execute_tool`` span inside it. A chat session's
call is one span too: the model requests it sends (through ``Models``) are its
turns. The hooks inside the SDK (``_hooks``) sit on the private names of ``_compat``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from instrumentors._patching import Patch, Wrapper, fixed
from instrumentors.google_genai import _compat, _extract, _hooks, _stream
from instrumentors.google_genai._call import (
    ACTIVE,
    REQUEST_GUARD,
    START_GUARD,
    Call,
    open_chat,
    where,
)
from instrumentors.telemetry import Telemetry, guard

_RESPONSE_GUARD: Final = guard("reading a Gemini response")
_ERROR_GUARD: Final = guard("recording a Gemini error")
_END_GUARD: Final = guard("ending a Gemini span")


def _start_embedding(
    tel: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Call | None:
    call = None
    with START_GUARD:
        info = where(instance, kwargs.get("config"))
        run = tel.embedding(
            info.provider,
            _extract.model_name(kwargs.get("model")),
            server_address=info.address,
            server_port=info.port,
            attach=True,
        )
        call = Call(run)
    if call is not None and call.recording:
        with REQUEST_GUARD:
            _extract.embed_request(call.run, kwargs)
    return call


def _start_generate(stream: bool) -> Start:
    def start(
        tel: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Call | None:
        run = open_chat(tel, instance, kwargs, stream, attach=True)
        return Call(run, stream) if run is not None else None

    return start


def _start_session(stream: bool) -> Start:
    """A chat session's call: its span opens with its first model request (``_turn``)."""
    return lambda tel, instance, args, kwargs: Call(None, stream, session=True)


def _fail(call: Call, exc: BaseException) -> None:
    if call.run is not None:
        with _ERROR_GUARD:
            call.fail(exc)


def _finish_chat(call: Call, result: Any) -> Any:
    if call.run is None:  # a chat session that sent no request
        return result
    with _RESPONSE_GUARD:
        call.finish(result)
        return result
    with _END_GUARD:  # reading failed: the span ends with what it has (stop is idempotent)
        call.run.stop()
    return result


def _finish_embedding(call: Call, result: Any) -> Any:
    try:
        with _RESPONSE_GUARD:
            if call.recording:
                _extract.embed_response(call.run, result)
    finally:
        call.run.stop()
    return result


def _finish_stream(proxy: type[_stream._StreamMixin]) -> Finish:
    """Hand the stream to the user: the run goes on in a proxy, the caller's context back."""

    def finish(call: Call, result: Any) -> Any:
        with _END_GUARD:
            if call.run is not None:
                call.run.suspend()
            return proxy(result, call)
        with _END_GUARD:  # no proxy: end the span now rather than never
            if call.run is not None:
                call.run.stop()
        return result

    return finish


Start = Callable[[Telemetry, Any, tuple[Any, ...], dict[str, Any]], "Call | None"]
Finish = Callable[[Call, Any], Any]


def _sync(start: Start, finish: Finish, turns: int = 0) -> Callable[[Telemetry], Wrapper]:
    """Factory of the wrapper of a sync request method. ``turns``: 1 for a model request
    (part of a chat session when one is active), 2 for a streamed one, 0 otherwise."""

    def factory(tel: Telemetry) -> Wrapper:
        def traced(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            if not is_instrumentation_enabled():
                return wrapped(*args, **kwargs)
            if turns:
                session = ACTIVE.get()
                if session is not None and session.session:
                    return _hooks.session_turn(
                        tel, session, turns == 2, wrapped, instance, args, kwargs
                    )
            call = start(tel, instance, args, kwargs)
            if call is None:
                return wrapped(*args, **kwargs)
            token = ACTIVE.set(call)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                _fail(call, exc)
                raise
            finally:
                ACTIVE.reset(token)
            return finish(call, result)

        return traced

    return factory


def _async(start: Start, finish: Finish, turns: int = 0) -> Callable[[Telemetry], Wrapper]:
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
            if turns:
                session = ACTIVE.get()
                if session is not None and session.session:
                    return await _hooks.asession_turn(
                        tel, session, turns == 2, wrapped, instance, args, kwargs
                    )
            call = start(tel, instance, args, kwargs)
            if call is None:
                return await wrapped(*args, **kwargs)
            token = ACTIVE.set(call)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                _fail(call, exc)
                raise
            finally:
                ACTIVE.reset(token)
            return finish(call, result)

        return traced

    return factory


_PLAIN, _TURN, _STREAMED_TURN = 0, 1, 2

# One chat span per call, automatic function calling included; a chat session's call
# (``Chat.send_message``...) is one span too, its model requests are turns of it. A
# stream's span ends with the stream (the generator sends nothing until it is read).
generate = _sync(_start_generate(False), _finish_chat, _TURN)
agenerate = _async(_start_generate(False), _finish_chat, _TURN)
stream = _sync(_start_generate(True), _finish_stream(_stream.StreamProxy), _STREAMED_TURN)
astream = _async(_start_generate(True), _finish_stream(_stream.AsyncStreamProxy), _STREAMED_TURN)
send = _sync(_start_session(False), _finish_chat)
asend = _async(_start_session(False), _finish_chat)
send_stream = _sync(_start_session(True), _finish_stream(_stream.StreamProxy))
asend_stream = _async(_start_session(True), _finish_stream(_stream.AsyncStreamProxy))
embed = _sync(_start_embedding, _finish_embedding)
aembed = _async(_start_embedding, _finish_embedding)


def _private(module: str, attribute: str, factory: Any, feature: str) -> Patch[Any]:
    """A row on an SDK-internal name (``_compat``): skipped, with one DEBUG line, when gone."""
    return Patch(module, attribute, factory, lambda: _compat.available(module, attribute, feature))


_MODELS: Final = "google.genai.models"
_CHATS: Final = "google.genai.chats"
_TOOLS: Final = "execute_tool spans of automatic function calling"
_ATTEMPTS: Final = "retry.attempted / rate.limit.invoked events of retried attempts"

# (module, ``Class.method``, wrapper factory): rows missing in the installed SDK are skipped.
PATCHES: Final[tuple[Patch[Any], ...]] = (
    Patch(_MODELS, "Models.generate_content", generate),
    Patch(_MODELS, "Models.generate_content_stream", stream),
    Patch(_MODELS, "Models.embed_content", embed),
    Patch(_MODELS, "AsyncModels.generate_content", agenerate),
    Patch(_MODELS, "AsyncModels.generate_content_stream", astream),
    Patch(_MODELS, "AsyncModels.embed_content", aembed),
    Patch(_CHATS, "Chat.send_message", send),
    Patch(_CHATS, "Chat.send_message_stream", send_stream),
    Patch(_CHATS, "AsyncChat.send_message", asend),
    Patch(_CHATS, "AsyncChat.send_message_stream", asend_stream),
    _private(_compat.CLIENT_MODULE, _compat.ATTEMPT, fixed(_hooks.attempt), _ATTEMPTS),
    _private(_compat.CLIENT_MODULE, _compat.ASYNC_ATTEMPT, fixed(_hooks.aattempt), _ATTEMPTS),
    _private(_compat.AFC_MODULE, _compat.TURN, fixed(_hooks.turn), _TOOLS),
    _private(_compat.AFC_MODULE, _compat.ASYNC_TURN, fixed(_hooks.aturn), _TOOLS),
    _private(_compat.AFC_MODULE, _compat.INVOKE, _hooks.invoke, _TOOLS),
    _private(_compat.AFC_MODULE, _compat.ASYNC_INVOKE, _hooks.ainvoke, _TOOLS),
)
