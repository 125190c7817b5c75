"""wrapt patches: the handler in every callback manager, span context for the code a run
executes (sync, async, streamed), LLM-cache hooks and tool call ids.

Context rules (see ``_handler``): nothing here attaches in one callback and detaches in
another. A run's span is attached either inside the private context copy LangChain
makes for the child call (``_set_config_context``, never detached: the copy is thrown
away), or around a call or one generator step, restored in the same frame.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import threading
from contextvars import ContextVar
from typing import Any, Final

import wrapt
from langchain_core.caches import BaseCache
from opentelemetry.context import attach, detach
from opentelemetry.instrumentation.utils import unwrap

from instrumentors.events import record_cache
from instrumentors.langchain import _runs
from instrumentors.langchain._handler import TracingCallbackHandler
from instrumentors.langchain._runs import PENDING_CALL_ID
from instrumentors.langchain._stream import (
    GRAPH,
    MODEL,
    RETRIEVER,
    Wrapper,
    model_stream_steps,
    scoped,
)
from instrumentors.telemetry import Run, guard

_logger = logging.getLogger(__name__)

Patch = tuple[Any, str, bool]  # (owner, attribute, owner had its own attribute before)

# ``_set_config_context`` is imported by name into these modules on older versions.
_CONFIG_CONTEXT_MODULES: Final = (
    "langchain_core.runnables.config",
    "langchain_core.runnables.base",
    "langchain_core.runnables.fallbacks",
    "langchain_core.tools.base",
    "langgraph._internal._runnable",
    "langgraph.utils.runnable",
)
_CHAT: Final = "langchain_core.language_models.chat_models"
_LLMS: Final = "langchain_core.language_models.llms"
_GUARD: Final = guard("propagating LangChain run context")


class _Probe:
    """What the LLM cache answered during one ``_generate_with_cache`` call."""

    __slots__ = ("cache", "hit")

    def __init__(self) -> None:
        self.cache: Any = None
        self.hit: bool | None = None


_PROBE: ContextVar[_Probe | None] = ContextVar("instrumentors_langchain_cache", default=None)
_lazy_patches: list[Patch] = []
_lazy_lock = threading.Lock()


def patch(handler: TracingCallbackHandler) -> list[Patch]:
    """Install every wrapper; returns what to undo."""
    patched: list[Patch] = []
    for module in (*_CONFIG_CONTEXT_MODULES, _CHAT, _LLMS, "langgraph.pregel"):
        # Import first, so modules that import a patched name bind the original, not our
        # wrapper (which would then be wrapped twice).
        with contextlib.suppress(ImportError):
            importlib.import_module(module)

    def wrap(target: str | Any, name: str, wrapper: Wrapper) -> None:
        try:
            owner = importlib.import_module(target) if isinstance(target, str) else target
            for part in name.split(".")[:-1]:
                owner = getattr(owner, part)
            attr = name.rsplit(".", 1)[-1]
            if not hasattr(owner, attr):
                return
            wrapt.wrap_function_wrapper(owner, attr, wrapper)
            patched.append((owner, attr, True))
        except ImportError:
            return  # an optional module (LangGraph) or a name of another version
        except Exception:
            _logger.debug("instrumentors: could not patch %s.%s", target, name, exc_info=True)

    wrap("langchain_core.callbacks.manager", "_configure", _configure(handler))
    for module in _CONFIG_CONTEXT_MODULES:
        wrap(module, "_set_config_context", _set_config_context)
    wrap(_CHAT, "BaseChatModel._generate_with_cache", _generate_with_cache)
    wrap(_CHAT, "BaseChatModel._agenerate_with_cache", _agenerate_with_cache)
    wrap(_CHAT, "get_llm_cache", _get_llm_cache)
    wrap(_CHAT, "BaseChatModel.stream", scoped(MODEL))
    chat_models = importlib.import_module(_CHAT)
    wrap(_CHAT, "BaseChatModel.astream", _model_astream(chat_models.BaseChatModel))
    wrap(_LLMS, "BaseLLM._generate_helper", _generate_helper)
    wrap(_LLMS, "BaseLLM._agenerate_helper", _agenerate_helper)
    wrap(_LLMS, "BaseLLM.stream", scoped(MODEL))
    wrap(_LLMS, "BaseLLM.astream", _model_astream(importlib.import_module(_LLMS).BaseLLM))
    wrap("langchain_core.retrievers", "BaseRetriever.invoke", scoped(RETRIEVER))
    wrap("langchain_core.retrievers", "BaseRetriever.ainvoke", scoped(RETRIEVER))
    if not _forwards_tool_call_id():
        wrap("langchain_core.tools.base", "BaseTool.run", _tool_run)
        wrap("langchain_core.tools.base", "BaseTool.arun", _tool_arun)
    wrap("langgraph.pregel", "Pregel.stream", scoped(GRAPH))
    wrap("langgraph.pregel", "Pregel.astream", scoped(GRAPH))
    _runs.set_wrapped(True)
    return patched


def unpatch(patched: list[Patch]) -> None:
    """Undo ``patch`` and every cache class patched since."""
    _runs.set_wrapped(False)
    with _lazy_lock:
        undo = [*reversed(patched), *reversed(_lazy_patches)]
        _lazy_patches.clear()
    for owner, attr, had_own in undo:
        try:
            if had_own:
                unwrap(owner, attr)
            else:
                delattr(owner, attr)  # it was inherited: inherit it again
        except Exception:
            _logger.debug("instrumentors: could not unpatch %s", attr, exc_info=True)


# --------------------------------------------------------------------------- handler injection


def _configure(handler: TracingCallbackHandler) -> Wrapper:
    def traced(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        with _GUARD:
            # One handler per run: ours, unless the user passed a TracingCallbackHandler.
            for existing in manager.handlers:
                if isinstance(existing, TracingCallbackHandler):
                    break
            else:
                manager.add_handler(handler, True)
        return manager

    return traced


# --------------------------------------------------------------------------- context


def _run_for(manager: Any) -> Run | None:
    """The open run of a run manager (or child manager: its parent run), via our handler."""
    run_id = getattr(manager, "run_id", None) or getattr(manager, "parent_run_id", None)
    for handler in getattr(manager, "handlers", ()):
        if isinstance(handler, TracingCallbackHandler):
            return handler.run_for(run_id)
    return None


def _guarded_run_for(manager: Any) -> Run | None:
    """``_run_for``, where a telemetry bug means no run (the call goes on untraced)."""
    with _GUARD:
        return _run_for(manager)
    return None


def _set_config_context(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    result = wrapped(*args, **kwargs)
    with _GUARD:
        config = args[0] if args else kwargs.get("config")
        callbacks = config.get("callbacks") if isinstance(config, dict) else None
        if callbacks is not None and getattr(callbacks, "parent_run_id", None) is not None:
            run = _run_for(callbacks)
            if run is not None:
                # Runs inside the context copy made for the child call, which is
                # discarded after it: never detached, nothing leaks.
                attach(run.context)
    return result


def _model_astream(base: type) -> Wrapper:
    """``astream`` of a model: a scope, and the model's own ``_astream`` run under its span.

    On langchain-core 0.3.0 the async start callback runs in a gathered task, so the
    span it claims cannot be attached in the caller's task before ``_astream`` sends
    the request; wrapping the model class's ``_astream`` makes the span current there.
    """
    in_scope = scoped(MODEL)

    def traced(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with _GUARD:
            cls = type(instance)
            # Only a real override: LangChain compares _astream with the base's to decide
            # whether the model streams at all.
            if cls is not base and getattr(cls, "_astream", None) is not getattr(
                base, "_astream", None
            ):
                _patch_class(cls, "_astream", model_stream_steps)
        return in_scope(wrapped, instance, args, kwargs)

    return traced


# --------------------------------------------------------------------------- models and cache


def _generate_with_cache(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    run = _guarded_run_for(kwargs.get("run_manager"))
    if run is None:
        return wrapped(*args, **kwargs)
    probe = _probe(instance)
    token = attach(run.context)
    probe_token = _PROBE.set(probe)
    try:
        return wrapped(*args, **kwargs)
    finally:
        _PROBE.reset(probe_token)
        detach(token)
        _record_cache(probe, run)


async def _agenerate_with_cache(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    run = _guarded_run_for(kwargs.get("run_manager"))
    if run is None:
        return await wrapped(*args, **kwargs)
    probe = _probe(instance)
    token = attach(run.context)
    probe_token = _PROBE.set(probe)
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _PROBE.reset(probe_token)
        detach(token)
        _record_cache(probe, run)


def _probe(model: Any) -> _Probe:
    probe = _Probe()
    cache = getattr(model, "cache", None)
    if isinstance(cache, BaseCache):  # a model-level cache: get_llm_cache() is not asked
        with _GUARD:
            probe.cache = cache
            _watch_cache(type(cache))
    return probe


def _record_cache(probe: _Probe, run: Run) -> None:
    if probe.hit is not None:
        with _GUARD:
            record_cache(probe.hit, type(probe.cache).__name__, span=run.span)


def _get_llm_cache(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    cache = wrapped(*args, **kwargs)
    probe = _PROBE.get()
    if probe is not None and cache is not None:
        with _GUARD:
            probe.cache = cache
            _watch_cache(type(cache))
    return cache


def _watch_cache(cls: type) -> None:
    """Patch ``lookup`` / ``alookup`` of this cache class, once."""
    _patch_class(cls, "lookup", _lookup)
    _patch_class(cls, "alookup", _alookup)


def _patch_class(cls: type, attr: str, wrapper: Wrapper) -> None:
    """Wrap ``cls.attr`` (own or inherited) once; ``unpatch`` restores it."""
    if any(owner is cls and name == attr for owner, name, _ in _lazy_patches):
        return
    with _lazy_lock:
        if any(owner is cls and name == attr for owner, name, _ in _lazy_patches):
            return
        had_own = attr in cls.__dict__
        wrapt.wrap_function_wrapper(cls, attr, wrapper)
        _lazy_patches.append((cls, attr, had_own))


def _lookup(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = wrapped(*args, **kwargs)
    probe = _PROBE.get()
    if probe is not None and instance is probe.cache:
        probe.hit = isinstance(result, list)
    return result


async def _alookup(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    result = await wrapped(*args, **kwargs)
    probe = _PROBE.get()
    if probe is not None and instance is probe.cache:
        probe.hit = isinstance(result, list)
    return result


def _generate_helper(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    run = _guarded_run_for(_first_manager(args, kwargs))
    if run is None:
        return wrapped(*args, **kwargs)
    token = attach(run.context)
    try:
        return wrapped(*args, **kwargs)
    finally:
        detach(token)


async def _agenerate_helper(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    run = _guarded_run_for(_first_manager(args, kwargs))
    if run is None:
        return await wrapped(*args, **kwargs)
    token = attach(run.context)
    try:
        return await wrapped(*args, **kwargs)
    finally:
        detach(token)


def _first_manager(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    managers = kwargs.get("run_managers", args[2] if len(args) > 2 else None)
    return managers[0] if managers else None


# --------------------------------------------------------------------------- tools


def _forwards_tool_call_id() -> bool:
    """Whether ``BaseTool.run`` passes the tool call id to ``on_tool_start`` (core 1.x)."""
    try:
        from langchain_core.tools import BaseTool

        return "tool_call_id=tool_call_id" in inspect.getsource(BaseTool.run)
    except (ImportError, OSError, TypeError):
        return False


def _tool_run(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
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
