"""Hooks inside the SDK's work for a call: a chat session's model requests (turns of the
session's span), request attempts (retries, rate limits), and the turns and function
invocations of automatic function calling (``execute_tool`` spans).

Each finds its call in ``ACTIVE``; with none (a request the instrumentation did not
start, suppression), it only calls through.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Final

from opentelemetry.context import attach, detach
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from instrumentors._patching import Wrapper
from instrumentors.google_genai._call import ACTIVE, START_GUARD, Call, open_chat
from instrumentors.telemetry import Telemetry, guard

_ATTEMPT_GUARD: Final = guard("recording a Gemini request attempt")
_TOOL_GUARD: Final = guard("tracing a Gemini automatic function call")


# --------------------------------------------------------------------------- a session's turns


def _join(
    tel: Telemetry, session: Call, instance: Any, kwargs: dict[str, Any], stream: bool
) -> bool:
    """A model request of a chat session: the first one opens the session's span."""
    if session.run is None:
        run = open_chat(tel, instance, kwargs, stream, attach=False)
        if run is None:
            return False
        session.begin(run)
    return True


def _attached(chunks: Iterator[Any], session: Call) -> Iterator[Any]:
    """A turn's chunks, each read with the session's span current (its HTTP requests)."""
    context = session.run.context
    try:
        while True:
            token = attach(context)
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            finally:
                detach(token)
            yield chunk
    finally:  # closed early by the session: close the turn's stream too
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


async def _aattached(chunks: AsyncIterator[Any], session: Call) -> AsyncIterator[Any]:
    """The async twin of ``_attached``."""
    context = session.run.context
    try:
        while True:
            token = attach(context)
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return
            finally:
                detach(token)
            yield chunk
    finally:  # closed early by the session: close the turn's stream too
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


def session_turn(
    tel: Telemetry,
    session: Call,
    stream: bool,
    wrapped: Callable[..., Any],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """A model request a chat session sends: a turn of the session's span, no span of its own."""
    joined = False
    with START_GUARD:
        joined = _join(tel, session, instance, kwargs, stream)
    if not joined:
        return wrapped(*args, **kwargs)
    token = attach(session.run.context)
    try:
        result = wrapped(*args, **kwargs)
    finally:
        detach(token)
    return _attached(result, session) if stream else result


async def asession_turn(
    tel: Telemetry,
    session: Call,
    stream: bool,
    wrapped: Callable[..., Any],
    instance: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """The async twin of ``session_turn`` (older SDKs send a stream's request while awaited)."""
    joined = False
    with START_GUARD:
        joined = _join(tel, session, instance, kwargs, stream)
    if not joined:
        return await wrapped(*args, **kwargs)
    token = attach(session.run.context)
    try:
        result = await wrapped(*args, **kwargs)
    finally:
        detach(token)
    return _aattached(result, session) if stream else result


# --------------------------------------------------------------------------- inside the SDK


def attempt(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """One attempt of the SDK's retry loop: retries (after a failed one) and rate limits."""
    call = ACTIVE.get()
    if call is None:
        return wrapped(*args, **kwargs)
    with _ATTEMPT_GUARD:
        call.attempt_started()
    try:
        return wrapped(*args, **kwargs)
    except BaseException as exc:
        with _ATTEMPT_GUARD:
            call.attempt_failed(exc)
        raise


async def aattempt(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The async twin of ``attempt``."""
    call = ACTIVE.get()
    if call is None:
        return await wrapped(*args, **kwargs)
    with _ATTEMPT_GUARD:
        call.attempt_started()
    try:
        return await wrapped(*args, **kwargs)
    except BaseException as exc:
        with _ATTEMPT_GUARD:
            call.attempt_failed(exc)
        raise


def _response_arg(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return args[0] if args else kwargs.get("response")


def turn(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Automatic function calling runs the functions a response asks for: note the turn."""
    call = ACTIVE.get()
    if call is not None:
        with _TOOL_GUARD:
            call.turn(_response_arg(args, kwargs))
    return wrapped(*args, **kwargs)


async def aturn(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The async twin of ``turn``."""
    call = ACTIVE.get()
    if call is not None:
        with _TOOL_GUARD:
            call.turn(_response_arg(args, kwargs))
    return await wrapped(*args, **kwargs)


def _invocation(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """(arguments, function) of ``invoke_function_from_dict_args(args, function_to_invoke)``."""
    arguments = args[0] if args else kwargs.get("args")
    function = args[1] if len(args) > 1 else kwargs.get("function_to_invoke")
    return arguments, function


def _own_error(exc: BaseException) -> BaseException:
    """The function's own exception, not the SDK's wrapper around it (whose message quotes the
    arguments, which are content)."""
    cause = exc.__cause__ or exc.__context__
    return cause if cause is not None and type(exc).__name__ == "FunctionInvocationError" else exc


def _run_function(tel: Telemetry, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """(the tool run, ACTIVE's token): the function runs as a tool of the call, and outside it
    (a model call it makes is a call of its own)."""
    call = ACTIVE.get()
    tool = None
    if call is not None and is_instrumentation_enabled():
        with _TOOL_GUARD:
            arguments, function = _invocation(args, kwargs)
            tool = call.start_tool(tel, function, arguments)
    return tool, ACTIVE.set(None)


def invoke(tel: Telemetry) -> Wrapper:
    """One function automatic function calling invokes: an ``execute_tool`` span."""

    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        tool, token = _run_function(tel, args, kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            if tool is not None:
                tool.fail(_own_error(exc))
            raise
        finally:
            ACTIVE.reset(token)
        if tool is not None:
            tool.stop(result)
        return result

    return traced


def ainvoke(tel: Telemetry) -> Wrapper:
    """The async twin of ``invoke`` (coroutine functions)."""

    async def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        tool, token = _run_function(tel, args, kwargs)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            if tool is not None:
                tool.fail(_own_error(exc))
            raise
        finally:
            ACTIVE.reset(token)
        if tool is not None:
            tool.stop(result)
        return result

    return traced
