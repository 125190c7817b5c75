"""Making runs current: the record per LlamaIndex span, and the context in 0.12 tool threads.

The dispatcher enters and exits a span in the method's own context, so a run
attached on enter is detached on exit. LLM streams are the exception: their
run stays current past the exit (the provider request happens at the first
read) and is released from wherever the stream is read, which may be another
context or have other spans on top; ``release`` never detaches then.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import weakref
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any, Final

from opentelemetry.context import Context, attach, detach, get_current

from instrumentors.llama_index._extract import Kind, is_control_flow
from instrumentors.telemetry import Run, guard

# Set next to each OTel attach: resetting it tells whether we are still in the
# contextvars.Context that attached, so a detach never logs "Failed to detach context".
_scope: ContextVar[None] = ContextVar("instrumentors_llama_index_scope", default=None)


class Record:
    """One LlamaIndex span we turned into a run."""

    __slots__ = (
        "attached",
        "error",
        "event",
        "finalizer",
        "finish_reason",
        "instance",
        "kind",
        "method",
        "name",
        "otel_token",
        "parent_run",
        "run",
        "scope_token",
    )

    def __init__(self, kind: Kind, run: Run, instance: Any, method: str) -> None:
        self.kind = kind
        self.run = run
        self.instance = instance
        self.method = method
        self.name: str | None = None  # agent runs: the agent's name
        self.attached: Context | None = None  # the context object we made current
        self.otel_token: object | None = None
        self.scope_token: Token[None] | None = None
        self.event: Any = None  # a step's input event (a ToolCall names the tool call id)
        self.parent_run: Record | None = None  # the workflow run a step belongs to
        self.error: BaseException | None = None  # 0.12 runs: the exception a step failed with
        self.finalizer: weakref.finalize[Any, Any] | None = None  # streams: GC fallback
        self.finish_reason: str | None = None  # streams: seen on a chunk

    @property
    def is_attached(self) -> bool:
        """True while the run's span is current where it was attached."""
        return self.otel_token is not None

    def attach(self) -> None:
        """Make the run's span current in this context."""
        context = self.run.context
        self.scope_token = _scope.set(None)
        self.otel_token = attach(context)
        self.attached = context

    def release(self, *, on_top: bool = False) -> bool:
        """Undo ``attach`` here; True when nothing is attached any more.

        Not done (False) from another contextvars.Context, nor, with ``on_top``,
        while someone else's context is current above ours: detaching then would
        end their scope. A later call in the right place finishes it.
        """
        token = self.otel_token
        scope = self.scope_token
        if token is None or scope is None:
            return True
        if on_top and get_current() is not self.attached:
            return False
        try:
            _scope.reset(scope)
        except (ValueError, RuntimeError):
            return False
        self.otel_token = self.scope_token = None
        detach(token)  # type: ignore[arg-type]
        return True


def sync_to_async_in_context(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Callable[..., Any]:
    """0.12 ``sync_to_async`` runs sync tools in an executor without the caller's context.

    Give the function it wraps the context of each call, so the tool's span (and
    HTTP spans inside the tool) stay current in the worker thread, as in 0.14.
    """
    fn = args[0] if args else kwargs["fn"]

    async def in_context(*call_args: Any, **call_kwargs: Any) -> Any:
        context = contextvars.copy_context()
        return await wrapped(functools.partial(context.run, fn))(*call_args, **call_kwargs)

    return in_context


def needs_context_patch(sync_to_async: Callable[..., Any]) -> bool:
    """True when the installed ``sync_to_async`` does not copy the context itself."""
    code = getattr(sync_to_async, "__code__", None)
    if code is None:
        return False
    inner = [c for c in code.co_consts if inspect.iscode(c)]
    return not any("copy_context" in c.co_names for c in inner)


_RUN_FAILED: Final = guard("noting a LlamaIndex run's failure")


def run_failed(tracker: Any) -> Callable[..., Any]:
    """Wrap 0.12's ``WorkflowHandler.set_exception``: the exception a run ends with.

    0.12's dispatcher exits a run whose Future failed as if it succeeded (no result),
    so a timeout would leave the run's span UNSET. The Future gets its exception in
    the run's own task, where the dispatcher's active span is the run's: the exception
    is noted on that record, and the exit then fails the run with it.
    """
    from llama_index.core.instrumentation.span import (  # type: ignore[attr-defined]
        active_span_id,
    )

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with _RUN_FAILED:
            error = args[0] if args else kwargs.get("exception")
            record = tracker.records.get(active_span_id.get())
            if (
                record is not None
                and record.kind is Kind.AGENT
                and record.error is None
                and isinstance(error, BaseException)
                and not is_control_flow(error)
            ):
                record.error = error
        return wrapped(*args, **kwargs)

    return wrapper
