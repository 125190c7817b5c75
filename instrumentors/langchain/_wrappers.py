"""The patch table and its wrappers: the handler in every callback manager, span context
for the code each run executes (sync, async, streamed), LLM-cache events, tool call ids.

The handler reaches every callback manager through LangChain's public
``register_configure_hook``. Context rules (see ``_handler``): nothing here attaches
in one callback and detaches in another. A run's span is attached either inside the
context copy LangChain makes for a child call (thrown away after it: never detached),
or around a public call or one generator step (``_stream``), restored in the same frame.
Private names are only reached through ``_compat``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextvars import Context, ContextVar
from typing import Any, Final, cast

import wrapt
from langchain_core.caches import BaseCache
from langchain_core.tracers.context import register_configure_hook
from opentelemetry.context import attach, detach, get_current
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap

from instrumentors._patching import Patch, Patches, apply, fixed
from instrumentors.langchain import _compat, _runs
from instrumentors.langchain._handler import TracingCallbackHandler
from instrumentors.langchain._runs import PENDING_CALL_ID
from instrumentors.langchain._stream import (
    GRAPH,
    MODEL,
    NO_RUN,
    RETRIEVER,
    SCOPE_VAR,
    Scope,
    Wrapper,
    in_scope,
    scoped,
)
from instrumentors.telemetry import Run, guard

_GUARD: Final = guard("propagating LangChain run context")
_CACHE_GUARD: Final = guard("recording a LangChain cache lookup")
_UNPATCH_GUARD: Final = guard("unpatching a LangChain cache class")
_CHAT: Final = "langchain_core.language_models.chat_models"
_LLMS: Final = "langchain_core.language_models.llms"
_MANAGER: Final = "langchain_core.callbacks.manager"
# Modules that bind the public ``set_config_context`` (newer langchain-core): patched where
# it is called, never where it is defined, so no caller binds a wrapper twice.
_CONFIG_CONTEXT_CALLERS: Final = (
    "langchain_core.runnables.base",
    "langchain_core.runnables.fallbacks",
    "langchain_core.tools.base",
)


class Installed:
    """What ``install`` did: the handler it hooked in and the patches it applied."""

    __slots__ = ("handler", "patches")

    def __init__(self, handler: TracingCallbackHandler, patches: Patches[Any]) -> None:
        self.handler = handler
        self.patches = patches


def install(handler: TracingCallbackHandler) -> Installed:
    """Hook ``handler`` into every callback manager and apply the patch table."""
    handler._attach = False  # the wrappers make spans current
    _register_hook()
    _SLOT.handler = handler
    _runs.set_wrapped(True)
    return Installed(handler, apply(PATCHES, None))


def uninstall(installed: Installed) -> None:
    """Undo ``install`` and every cache class patched since."""
    _SLOT.handler = None
    # Managers built before uninstrument() may still hold it: stop new spans there.
    installed.handler._enabled = False
    _runs.set_wrapped(False)
    installed.patches.revert()
    with _lazy_lock:
        undo = list(reversed(_lazy_patches))
        _lazy_patches.clear()
    for owner, attr, had_own in undo:
        with _UNPATCH_GUARD:
            if had_own:
                unwrap(owner, attr)
            else:
                delattr(owner, attr)  # it was inherited: inherit it again


# --------------------------------------------------------------------------- the handler


class _HandlerSlot:
    """The "context variable" given to ``register_configure_hook``: LangChain calls ``get()``
    on it whenever it configures a callback manager, and adds what it returns.

    A real ``ContextVar`` would not do: a value set at ``instrument()`` is not seen in
    threads started later, and a default could not be taken back at ``uninstrument()``
    (a registered hook cannot be removed; this one just answers None then).
    """

    __slots__ = ("handler",)

    def __init__(self) -> None:
        self.handler: TracingCallbackHandler | None = None

    def get(self) -> TracingCallbackHandler | None:
        return self.handler


_SLOT: Final = _HandlerSlot()
_hook_lock = threading.Lock()
_hooked: list[bool] = [False]


def _register_hook() -> None:
    with _hook_lock:
        if _hooked[0]:
            return
        # handle_class: a manager that already holds a TracingCallbackHandler (the user's
        # own) gets no second one. inheritable: child runs' managers keep it.
        register_configure_hook(
            cast("ContextVar[Any]", _SLOT), True, handle_class=TracingCallbackHandler
        )
        _hooked[0] = True


# --------------------------------------------------------------------------- child contexts


def _parent_run(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Run | None:
    """The open run whose child gets this config (its callbacks: a child callback manager
    holding the parent's run id), via our handler. Runs for every child runnable: kept to
    one call, the hook's handler tried before a scan for a user's own."""
    config = args[0] if args else kwargs.get("config")
    callbacks = config.get("callbacks") if isinstance(config, dict) else None
    parent_id = getattr(callbacks, "parent_run_id", None)
    if parent_id is None:
        return None
    run_id = getattr(callbacks, "run_id", None) or parent_id
    handlers = getattr(callbacks, "handlers", ())
    ours = _SLOT.handler
    if ours is None or ours not in handlers:
        ours = next((h for h in handlers if isinstance(h, TracingCallbackHandler)), None)
        if ours is None:
            return None
    return ours.run_for(run_id)


def _child_context(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``_set_config_context`` (``_compat``): runs inside the child's context copy."""
    result = wrapped(*args, **kwargs)
    with _GUARD:
        run = _parent_run(args, kwargs)
        if run is not None and get_current() is not run.context:
            attach(run.context)  # the copy is discarded after the child call
    return result


class _EnterWithRun:
    """``set_config_context(config)`` whose yielded context copy has the run's span current."""

    __slots__ = ("_manager", "_run")

    def __init__(self, manager: Any, run: Run) -> None:
        self._manager = manager
        self._run = run

    def __enter__(self) -> Context:
        ctx: Context = self._manager.__enter__()
        with _GUARD:
            ctx.run(attach, self._run.context)  # the copy is discarded after the child call
        return ctx

    def __exit__(self, *exc_info: Any) -> Any:
        return self._manager.__exit__(*exc_info)


def _config_context(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The public ``set_config_context`` (a context manager yielding the child's context)."""
    manager = wrapped(*args, **kwargs)
    run: Run | None = None
    with _GUARD:
        run = _parent_run(args, kwargs)
    return manager if run is None else _EnterWithRun(manager, run)


# --------------------------------------------------------------------------- models


def _model_call(batch: str) -> Wrapper:
    """``generate`` / ``agenerate``: the run's span current while the model runs, and the
    cache LangChain consults for the call watched. ``batch`` names the prompts argument."""

    def traced(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        prompts = args[0] if args else kwargs.get(batch)
        # One run per prompt: with several, which span to make current would be a guess
        # (and an enclosing model's scope must not take this call's runs or lookups).
        if not isinstance(prompts, Sequence) or len(prompts) != 1:
            return in_scope(Scope(NO_RUN), wrapped, args, kwargs)
        scope = Scope(MODEL)
        with _CACHE_GUARD:
            cache = getattr(instance, "cache", None)
            if isinstance(cache, BaseCache):  # a model's own cache: get_llm_cache() is not asked
                _watch(scope, cache)
        return in_scope(scope, wrapped, args, kwargs)

    return traced


def _async_model_start(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``AsyncCallbackManager.on_chat_model_start`` / ``on_llm_start``, back in the caller.

    Early langchain-core 0.3 runs the start callbacks in gathered tasks, so the span the
    model's scope claimed there is made current here, in the model call's own task
    (undone when its scope closes).
    """

    async def traced() -> Any:
        managers = await wrapped(*args, **kwargs)
        scope = SCOPE_VAR.get()
        if scope is not None and scope.kind == MODEL:
            run = scope.run
            with _GUARD:
                if run is not None and not run.finished and get_current() is not run.context:
                    attach(run.context)
        return managers

    return traced()


async def _async_llm_helper(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``BaseLLM._agenerate_helper`` (``_compat``): its start callbacks ran in gathered tasks."""
    scope = SCOPE_VAR.get()
    run = scope.run if scope is not None and scope.kind == MODEL else None
    if run is None or run.finished:
        return await wrapped(*args, **kwargs)
    token = attach(run.context)
    try:
        return await wrapped(*args, **kwargs)
    finally:
        detach(token)


# --------------------------------------------------------------------------- LLM cache


def _get_llm_cache(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    cache = wrapped(*args, **kwargs)
    if cache is not None:
        scope = SCOPE_VAR.get()
        if scope is not None and scope.kind == MODEL and scope.cache is None:
            with _CACHE_GUARD:
                _watch(scope, cache)
    return cache


def _watch(scope: Scope, cache: Any) -> None:
    """Record this call's lookups in ``cache``: patch its class's lookups, once."""
    scope.cache = cache
    cls = type(cache)
    _patch_class(cls, "lookup", _lookup)
    _patch_class(cls, "alookup", _alookup)


_lazy_patches: list[tuple[type, str, bool]] = []  # (class, attribute, had its own)
_lazy_lock = threading.Lock()


def _patch_class(cls: type, attr: str, wrapper: Wrapper) -> None:
    """Wrap ``cls.attr`` (own or inherited) once; ``uninstall`` restores it."""
    if any(owner is cls and name == attr for owner, name, _ in _lazy_patches):
        return
    with _lazy_lock:
        if any(owner is cls and name == attr for owner, name, _ in _lazy_patches):
            return
        had_own = attr in cls.__dict__
        wrapt.wrap_function_wrapper(cls, attr, wrapper)
        _lazy_patches.append((cls, attr, had_own))


def _lookup_scope(cache: Any) -> Scope | None:
    scope = SCOPE_VAR.get()
    if scope is None or scope.cache is not cache or not is_instrumentation_enabled():
        return None
    return scope


def _record_lookup(
    scope: Scope, cache: Any, result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with _CACHE_GUARD:
        # LangChain's lookup key: (prompt, llm_string); only its hash is recorded.
        prompt = args[0] if args else kwargs.get("prompt")
        llm_string = args[1] if len(args) > 1 else kwargs.get("llm_string")
        scope.cache_event(isinstance(result, list), type(cache).__name__, (prompt, llm_string))


def _lookup(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = wrapped(*args, **kwargs)
    scope = _lookup_scope(instance)
    if scope is not None:
        _record_lookup(scope, instance, result, args, kwargs)
    return result


async def _alookup(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    scope = _lookup_scope(instance)
    seen = scope.lookups if scope is not None else 0
    result = await wrapped(*args, **kwargs)
    # An alookup that delegates to lookup (the default does) was recorded there already.
    if scope is not None and scope.lookups == seen:
        _record_lookup(scope, instance, result, args, kwargs)
    return result


# --------------------------------------------------------------------------- tools


def _tool_run(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """langchain-core 0.3 does not pass the tool call id to ``on_tool_start`` (1.x does)."""
    call_id = kwargs.get("tool_call_id")
    if not call_id:
        return wrapped(*args, **kwargs)
    token = PENDING_CALL_ID.set([call_id])
    try:
        return wrapped(*args, **kwargs)
    finally:
        PENDING_CALL_ID.reset(token)


async def _tool_arun(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    call_id = kwargs.get("tool_call_id")
    if not call_id:
        return await wrapped(*args, **kwargs)
    token = PENDING_CALL_ID.set([call_id])
    try:
        return await wrapped(*args, **kwargs)
    finally:
        PENDING_CALL_ID.reset(token)


# --------------------------------------------------------------------------- the table

PATCHES: Final[tuple[Patch[Any], ...]] = (
    *(Patch(m, "set_config_context", fixed(_config_context)) for m in _CONFIG_CONTEXT_CALLERS),
    *_compat.patches(_child_context, _async_llm_helper),
    Patch(_CHAT, "BaseChatModel.generate", fixed(_model_call("messages"))),
    Patch(_CHAT, "BaseChatModel.agenerate", fixed(_model_call("messages"))),
    Patch(_CHAT, "BaseChatModel.stream", fixed(scoped(MODEL))),
    Patch(_CHAT, "BaseChatModel.astream", fixed(scoped(MODEL))),
    Patch(_CHAT, "get_llm_cache", fixed(_get_llm_cache)),
    Patch(_LLMS, "BaseLLM.generate", fixed(_model_call("prompts"))),
    Patch(_LLMS, "BaseLLM.agenerate", fixed(_model_call("prompts"))),
    Patch(_LLMS, "BaseLLM.stream", fixed(scoped(MODEL))),
    Patch(_LLMS, "BaseLLM.astream", fixed(scoped(MODEL))),
    Patch(_LLMS, "get_llm_cache", fixed(_get_llm_cache)),
    Patch(_MANAGER, "AsyncCallbackManager.on_chat_model_start", fixed(_async_model_start)),
    Patch(_MANAGER, "AsyncCallbackManager.on_llm_start", fixed(_async_model_start)),
    Patch("langchain_core.retrievers", "BaseRetriever.invoke", fixed(scoped(RETRIEVER))),
    Patch("langchain_core.retrievers", "BaseRetriever.ainvoke", fixed(scoped(RETRIEVER))),
    Patch("langchain_core.tools.base", "BaseTool.run", fixed(_tool_run)),
    Patch("langchain_core.tools.base", "BaseTool.arun", fixed(_tool_arun)),
    Patch("langgraph.pregel", "Pregel.stream", fixed(scoped(GRAPH))),
    Patch("langgraph.pregel", "Pregel.astream", fixed(scoped(GRAPH))),
)
