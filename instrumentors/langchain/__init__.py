"""OpenTelemetry instrumentation for LangChain and LangGraph (langchain-core 0.3 and 1.x).

``LangChainInstrumentor().instrument()`` adds one ``TracingCallbackHandler`` to every
callback manager LangChain configures, and makes each run's span current while the
run executes (sync, async, streamed, in LangGraph's worker threads). Without the
instrumentor, pass the handler yourself: ``config={"callbacks": [TracingCallbackHandler()]}``.
Importing this module does not import LangChain; instrumenting before LangChain is
imported starts when it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Final

from instrumentors._instrumentor import AgentInstrumentor

if TYPE_CHECKING:
    from instrumentors.langchain._handler import TracingCallbackHandler

__all__ = ["LangChainInstrumentor", "TracingCallbackHandler"]

_instruments: Final = ("langchain-core >= 0.3",)


class LangChainInstrumentor(AgentInstrumentor):
    """Traces LangChain / LangGraph runs as agent, step, chat, tool and retrieval spans."""

    _instruments: ClassVar[tuple[str, ...]] = _instruments
    trigger: ClassVar[str] = "langchain_core"
    scope: ClassVar[str] = "instrumentors.langchain"
    prices_calls: ClassVar[bool] = True

    def _start(self, options: dict[str, Any]) -> Any:
        from instrumentors.langchain import _wrappers
        from instrumentors.langchain._handler import TracingCallbackHandler

        # Settings (content capture, limits) are read once, here.
        return _wrappers.install(TracingCallbackHandler(telemetry=self.telemetry(options)))

    def _stop(self, state: Any) -> None:
        from instrumentors.langchain import _wrappers

        _wrappers.uninstall(state)


def __getattr__(name: str) -> Any:
    if name == "TracingCallbackHandler":
        from instrumentors.langchain._handler import TracingCallbackHandler

        return TracingCallbackHandler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
