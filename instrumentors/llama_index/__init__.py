"""OpenTelemetry instrumentor for LlamaIndex (llama-index-core 0.12 and 0.14).

Works through LlamaIndex's instrumentation dispatcher: a span handler and an
event handler on the root dispatcher see every LlamaIndex span (agent and
workflow runs, steps, LLM calls, tools, retrievers, embeddings, query engines)
and turn the ones that matter into runs on the core. The legacy callback
manager is not used.

    from instrumentors.llama_index import LlamaIndexInstrumentor
    LlamaIndexInstrumentor().instrument()
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import unwrap

from instrumentors.telemetry import Telemetry, guard

if TYPE_CHECKING:
    from instrumentors.llama_index._handlers import Tracker

_instruments: Final = ("llama-index-core >= 0.12",)
SCOPE: Final = "instrumentors.llama_index"
_FUNCTION_TOOL: Final = "llama_index.core.tools.function_tool"

__all__ = ["LlamaIndexInstrumentor"]


class LlamaIndexInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Adds span and event handlers to LlamaIndex's root dispatcher; removes them again."""

    _tracker: Tracker | None = None
    _patched_sync_to_async = False

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        import wrapt
        from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
        from llama_index.core.tools import function_tool

        from instrumentors.llama_index import _context, _extract, _handlers

        tel = Telemetry(
            scope=SCOPE,
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
        )
        tracker = _handlers.Tracker(tel, _extract.load_types())
        dispatcher = get_dispatcher()
        _remove_handlers(dispatcher)  # never two of ours, whatever happened before
        span_handler = _handlers.SpanHandler()
        span_handler.tracker = tracker
        event_handler = _handlers.EventHandler()
        event_handler.tracker = tracker
        dispatcher.add_span_handler(span_handler)
        dispatcher.add_event_handler(event_handler)
        self._tracker = tracker
        self._patched_sync_to_async = False
        self._patched_set_exception = False
        if tracker.types.run_is_future:
            with guard("patching WorkflowHandler.set_exception"):
                # 0.12 exits a failed run's span as if it succeeded (its Future callback
                # drops the exception): note the exception where the run's Future gets it.
                handler_type: Any = tracker.types.handler
                wrapt.wrap_function_wrapper(
                    handler_type, "set_exception", _context.run_failed(tracker)
                )
                self._patched_set_exception = True
        with guard("patching sync_to_async"):
            if _context.needs_context_patch(function_tool.sync_to_async):
                wrapt.wrap_function_wrapper(
                    _FUNCTION_TOOL, "sync_to_async", _context.sync_to_async_in_context
                )
                self._patched_sync_to_async = True

    def _uninstrument(self, **kwargs: Any) -> None:
        from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
        from llama_index.core.tools import function_tool

        _remove_handlers(get_dispatcher())
        tracker, self._tracker = self._tracker, None
        if tracker is not None:
            with guard("ending open LlamaIndex runs"):
                tracker.close()
        if self._patched_sync_to_async:
            unwrap(function_tool, "sync_to_async")
            self._patched_sync_to_async = False
        if self._patched_set_exception:
            with guard("unpatching WorkflowHandler.set_exception"):
                from instrumentors.llama_index import _extract

                handler_type: Any = _extract.load_types().handler
                if "set_exception" in vars(handler_type):  # ours: inherit Future's again
                    delattr(handler_type, "set_exception")
            self._patched_set_exception = False

    @property
    def tracker(self) -> Tracker | None:
        """The live tracker (its maps), or None when not instrumented; for tests."""
        return self._tracker


def _remove_handlers(dispatcher: Any) -> None:
    """Take our handlers off the dispatcher (it has no removal API: edit its lists)."""
    from instrumentors.llama_index._handlers import EventHandler, SpanHandler

    dispatcher.span_handlers[:] = [
        h for h in dispatcher.span_handlers if not isinstance(h, SpanHandler)
    ]
    dispatcher.event_handlers[:] = [
        h for h in dispatcher.event_handlers if not isinstance(h, EventHandler)
    ]
