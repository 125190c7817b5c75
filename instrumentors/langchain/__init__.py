"""OpenTelemetry instrumentation for LangChain and LangGraph (langchain-core 0.3 and 1.x).

``LangChainInstrumentor().instrument()`` adds one ``TracingCallbackHandler`` to every
callback manager LangChain configures, and makes each run's span current while the
run executes (sync, async, streamed, in LangGraph's worker threads). Without the
instrumentor, pass the handler yourself: ``config={"callbacks": [TracingCallbackHandler()]}``.
Importing this module does not import LangChain.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

if TYPE_CHECKING:
    from instrumentors.langchain._handler import TracingCallbackHandler

__all__ = ["LangChainInstrumentor", "TracingCallbackHandler"]

_instruments: Final = ("langchain-core >= 0.3",)


class LangChainInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces LangChain / LangGraph runs as agent, step, chat, tool and retrieval spans."""

    _patched: list[Any] | None = None
    _handler: Any = None

    def instrumentation_dependencies(self) -> Collection[str]:
        """The LangChain versions this instrumentor supports."""
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        # Imports LangChain: only when instrumenting.
        from instrumentors.langchain import _wrappers
        from instrumentors.langchain._handler import TracingCallbackHandler

        self._uninstrument()
        # Settings (content capture, limits) are read once, here.
        handler = TracingCallbackHandler(
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
        )
        handler._attach = False  # the wrappers make spans current
        self._handler = handler
        self._patched = _wrappers.patch(handler)

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._handler is not None:
            # Managers built before uninstrument() may still hold it: stop new spans there.
            self._handler._enabled = False
            self._handler = None
        if self._patched is not None:
            from instrumentors.langchain import _wrappers

            _wrappers.unpatch(self._patched)
            self._patched = None


def __getattr__(name: str) -> Any:
    if name == "TracingCallbackHandler":
        from instrumentors.langchain._handler import TracingCallbackHandler

        return TracingCallbackHandler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
