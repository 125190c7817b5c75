"""OpenTelemetry instrumentation for the OpenAI Agents SDK (``openai-agents`` 0.4 and later).

``OpenAIAgentsInstrumentor().instrument()`` adds an ``AgentsTracingProcessor`` to the
SDK's tracing (its public ``add_trace_processor``): every agent, model call, function
tool, handoff, guardrail and custom span the SDK traces becomes one of ours, in one
OpenTelemetry trace under the span current when ``Runner.run`` starts. The SDK's own
export to OpenAI's dashboard is left as it is; ``instrument(replace_processors=True)``
replaces the SDK's processors, so nothing leaves for OpenAI, and ``uninstrument()``
gives them back. Without the instrumentor:
``agents.add_trace_processor(AgentsTracingProcessor())``. Importing this module does not
import the SDK; instrumenting before ``agents`` is imported starts when it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Final

from instrumentors._instrumentor import AgentInstrumentor

if TYPE_CHECKING:
    from instrumentors.openai_agents._processor import AgentsTracingProcessor

__all__ = ["AgentsTracingProcessor", "OpenAIAgentsInstrumentor"]

_instruments: Final = ("openai-agents >= 0.4",)
SCOPE: Final = "instrumentors.openai_agents"


class OpenAIAgentsInstrumentor(AgentInstrumentor):
    """Traces OpenAI Agents SDK runs as agent, chat, tool and step spans.

    ``instrument(replace_processors=True)``: the SDK's own trace processors (its export
    to OpenAI) are replaced by ours until ``uninstrument()``.
    """

    _instruments: ClassVar[tuple[str, ...]] = _instruments
    trigger: ClassVar[str] = "agents"
    scope: ClassVar[str] = SCOPE
    prices_calls: ClassVar[bool] = True

    def _start(self, options: dict[str, Any]) -> Any:
        from instrumentors.openai_agents import _wrappers

        # Settings (content capture, limits) are read once, here.
        replace = bool(options.get("replace_processors", False))
        return _wrappers.install(self.telemetry(options), replace)

    def _stop(self, state: Any) -> None:
        from instrumentors.openai_agents import _wrappers

        _wrappers.uninstall(state)


def __getattr__(name: str) -> Any:
    if name == "AgentsTracingProcessor":
        from instrumentors.openai_agents._processor import AgentsTracingProcessor

        return AgentsTracingProcessor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
