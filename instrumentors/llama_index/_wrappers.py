"""LlamaIndex hooks: our handlers on the root dispatcher, and the patch table.

The instrumentation dispatcher is LlamaIndex's public API for exactly this: a
span handler and an event handler on the root see every LlamaIndex span and
event. It has no removal method, so ``stop`` reassigns its public handler lists
(pydantic fields) without ours. Two patches cover what the dispatcher cannot:
0.12 runs sync tools in an executor without the caller's context
(``sync_to_async``), and 0.12 exits a failed run's span as if it had succeeded
(``WorkflowHandler.set_exception`` notes the exception first).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any, Final

from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.span import BaseSpan, active_span_id
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler

from instrumentors._patching import Patch, Patches, Wrapper, apply, fixed
from instrumentors.llama_index import _extract
from instrumentors.llama_index._extract import Kind, Types
from instrumentors.llama_index._tracker import Tracker
from instrumentors.telemetry import Telemetry, guard

_ENTER: Final = guard("LlamaIndex span start")
_END: Final = guard("LlamaIndex span end")
_EVENT: Final = guard("LlamaIndex event")
_RUN_FAILED: Final = guard("noting a LlamaIndex run's failure")


class SpanHandler(BaseSpanHandler[BaseSpan]):
    """Receives span enter/exit/drop from the root dispatcher."""

    tracker: Tracker | None = None

    @classmethod
    def class_name(cls) -> str:
        return "InstrumentorsSpanHandler"

    def span_enter(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        parent_id: str | None = None,
        tags: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        tracker = self.tracker
        if tracker is not None:
            with _ENTER:
                tracker.enter(id_, bound_args, instance, parent_id)

    def span_exit(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        result: Any | None = None,
        **kwargs: Any,
    ) -> None:
        tracker = self.tracker
        if tracker is not None and tracker.records:
            with _END:
                tracker.exit(id_, result)

    def span_drop(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        err: BaseException | None = None,
        **kwargs: Any,
    ) -> None:
        tracker = self.tracker
        if tracker is not None and tracker.records:
            with _END:
                tracker.drop(id_, err)

    # The base class's bookkeeping (open_spans) is bypassed: span_* above do the work.
    def new_span(self, *args: Any, **kwargs: Any) -> BaseSpan | None:
        return None

    def prepare_to_exit_span(self, *args: Any, **kwargs: Any) -> BaseSpan | None:
        return None

    def prepare_to_drop_span(self, *args: Any, **kwargs: Any) -> BaseSpan | None:
        return None

    def close(self) -> None:
        tracker = self.tracker
        if tracker is not None:
            with _END:
                tracker.close()


class EventHandler(BaseEventHandler):
    """Receives events; only LLM stream chunks, ends and errors matter."""

    tracker: Tracker | None = None

    @classmethod
    def class_name(cls) -> str:
        return "InstrumentorsEventHandler"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        tracker = self.tracker
        if tracker is not None and tracker.streams.open:
            with _EVENT:
                tracker.on_event(event)


# --------------------------------------------------------------------------- patches


def sync_to_async_in_context(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Callable[..., Any]:
    """0.12 ``sync_to_async`` runs sync tools in an executor without the caller's context.

    Give the function it wraps the context of each call, so the tool's span (and
    HTTP spans inside the tool) stay current in the worker thread. Releases that
    copy the context themselves (0.14) are patched alike: a second copy is harmless,
    and telling them apart would mean reading their code.
    """
    fn = args[0] if args else kwargs["fn"]

    async def in_context(*call_args: Any, **call_kwargs: Any) -> Any:
        context = contextvars.copy_context()
        return await wrapped(functools.partial(context.run, fn))(*call_args, **call_kwargs)

    return in_context


def run_failed(tracker: Tracker) -> Wrapper:
    """Wrap 0.12's ``WorkflowHandler.set_exception``: the exception a run ends with.

    0.12's dispatcher exits a run whose Future failed as if it succeeded (no result),
    so a timeout would leave the run's span UNSET. The Future gets its exception in
    the run's own task, where the dispatcher's active span is the run's: the exception
    is noted on that record, and the exit then fails the run with it.
    """

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with _RUN_FAILED:
            error = args[0] if args else kwargs.get("exception")
            span_id = active_span_id.get()
            record = tracker.records.get(span_id) if span_id else None
            if (
                record is not None
                and record.kind is Kind.AGENT
                and record.error is None
                and isinstance(error, BaseException)
                and not _extract.is_control_flow(error)
            ):
                record.error = error
        return wrapped(*args, **kwargs)

    return wrapper


def patches(types: Types) -> tuple[Patch[Tracker], ...]:
    """The patch table (the handler's module is where this release defines it)."""
    handler = types.handler
    return (
        Patch(
            "llama_index.core.tools.function_tool", "sync_to_async", fixed(sync_to_async_in_context)
        ),
        Patch(
            handler.__module__,
            f"{handler.__qualname__}.set_exception",
            run_failed,
            available=lambda: types.run_is_future,
        ),
    )


# --------------------------------------------------------------------------- start / stop


class State:
    """What ``start`` put in place, for ``stop``."""

    __slots__ = ("patches", "tracker")

    def __init__(self, tracker: Tracker, patches: Patches[Tracker]) -> None:
        self.tracker = tracker
        self.patches = patches


def start(tel: Telemetry) -> State:
    """Add our handlers to the root dispatcher and apply the patch table."""
    types = _extract.load_types()
    tracker = Tracker(tel, types)
    dispatcher = get_dispatcher()
    _remove_handlers(dispatcher)  # never two of ours, whatever happened before
    span_handler = SpanHandler()
    span_handler.tracker = tracker
    event_handler = EventHandler()
    event_handler.tracker = tracker
    dispatcher.add_span_handler(span_handler)
    dispatcher.add_event_handler(event_handler)
    return State(tracker, apply(patches(types), tracker))


def stop(state: State) -> None:
    """Take our handlers off, end the runs still open, and undo the patches."""
    with guard("removing the LlamaIndex handlers"):
        _remove_handlers(get_dispatcher())
    with guard("ending open LlamaIndex runs"):
        state.tracker.close()
    state.patches.revert()
    with guard("restoring WorkflowHandler.set_exception"):
        _drop_inherited_copy(state.tracker.types.handler, "set_exception")


def _remove_handlers(dispatcher: Any) -> None:
    # A new list, not an edit in place: a thread iterating the old one is undisturbed.
    dispatcher.span_handlers = [
        h for h in dispatcher.span_handlers if not isinstance(h, SpanHandler)
    ]
    dispatcher.event_handlers = [
        h for h in dispatcher.event_handlers if not isinstance(h, EventHandler)
    ]


def _drop_inherited_copy(cls: type, name: str) -> None:
    """Unwrapping an inherited method leaves a copy of it on the class: inherit it again."""
    own = vars(cls).get(name)
    if own is None:
        return
    inherited = next((vars(base)[name] for base in cls.__mro__[1:] if name in vars(base)), None)
    if own is inherited:
        delattr(cls, name)
