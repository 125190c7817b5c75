"""``LlamaIndexInstrumentor``: LlamaIndex (llama-index-core 0.12 and 0.14) as spans.

Works through LlamaIndex's instrumentation dispatcher: a span handler and an
event handler on the root dispatcher see every LlamaIndex span (agent and
workflow runs, steps, LLM calls, tools, retrievers, embeddings, query engines)
and turn the ones that matter into runs on the core. The legacy callback
manager is not used. Importing this module does not import LlamaIndex; the
handlers go in when ``llama_index.core`` is imported.

    from instrumentors.llama_index import LlamaIndexInstrumentor
    LlamaIndexInstrumentor().instrument()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Final

from instrumentors._instrumentor import AgentInstrumentor

if TYPE_CHECKING:
    from instrumentors.llama_index._tracker import Tracker

__all__ = ["LlamaIndexInstrumentor"]

_instruments: Final = ("llama-index-core >= 0.12",)


class LlamaIndexInstrumentor(AgentInstrumentor):
    """Adds span and event handlers to LlamaIndex's root dispatcher; removes them again."""

    _instruments: ClassVar[tuple[str, ...]] = _instruments
    trigger: ClassVar[str] = "llama_index.core"
    scope: ClassVar[str] = "instrumentors.llama_index"
    prices_calls: ClassVar[bool] = True

    def _start(self, options: dict[str, Any]) -> Any:
        from instrumentors.llama_index import _wrappers

        return _wrappers.start(self.telemetry(options))

    def _stop(self, state: Any) -> None:
        from instrumentors.llama_index import _wrappers

        _wrappers.stop(state)

    @property
    def tracker(self) -> Tracker | None:
        """The live tracker (its maps), or None before the start or after ``uninstrument``."""
        state = self._state
        return None if state is None else state.tracker  # type: ignore[no-any-return]
