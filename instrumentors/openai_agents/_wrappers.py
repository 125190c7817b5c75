"""Putting the bridge in place, taking it out, and the SDK session as the run's session.

``install`` registers the ``AgentsTracingProcessor`` next to the SDK's own processors
(``add_trace_processor``), or instead of them (``set_trace_processors``) when asked,
so nothing goes to OpenAI's dashboard. ``uninstall`` gives the SDK back the
processors it had. The SDK hands its processors no session object, so the public
entry points ``Runner.run`` / ``run_sync`` / ``run_streamed`` are wrapped: a run given
``session=`` (an SDK ``Session``) runs in ``instrumentors.session(session.session_id)``
unless a session is already set; every span of the run then carries it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Final

from instrumentors._patching import Patch, Patches, Wrapper, apply
from instrumentors.openai_agents import _compat
from instrumentors.openai_agents._processor import AgentsTracingProcessor
from instrumentors.session import current_session_id, normalize_session_id, session
from instrumentors.telemetry import Telemetry, guard

_logger = logging.getLogger(__name__)
_SESSION_GUARD: Final = guard("reading an openai-agents session")


def _session_id(kwargs: dict[str, Any]) -> str | None:
    """The SDK session's id, when the run was given one and no session is set already."""
    given = kwargs.get("session")
    if given is None:
        return None
    with _SESSION_GUARD:
        if current_session_id() is None:
            return normalize_session_id(getattr(given, "session_id", None))
    return None


async def _in_session(call: Awaitable[Any], session_id: str) -> Any:
    with session(session_id):
        return await call


def run_async(_tel: Telemetry) -> Wrapper:
    """``Runner.run``: the coroutine runs in the SDK session's session."""

    def traced(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        session_id = _session_id(kwargs)
        if session_id is None:
            return wrapped(*args, **kwargs)
        return _in_session(wrapped(*args, **kwargs), session_id)

    return traced


def run_in_session(_tel: Telemetry) -> Wrapper:
    """``Runner.run_sync`` / ``run_streamed`` (whose task copies the context it starts in)."""

    def traced(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        session_id = _session_id(kwargs)
        if session_id is None:
            return wrapped(*args, **kwargs)
        with session(session_id):
            return wrapped(*args, **kwargs)

    return traced


PATCHES: Final = (
    Patch("agents.run", "Runner.run", run_async),
    Patch("agents.run", "Runner.run_sync", run_in_session),
    Patch("agents.run", "Runner.run_streamed", run_in_session),
)


@dataclass
class State:
    """What ``install`` did: the processor, the patches, the processors it replaced."""

    processor: AgentsTracingProcessor
    patches: Patches[Any]
    replaced: list[Any] | None


def install(tel: Telemetry, replace_processors: bool) -> State:
    """Register the bridge (replacing the SDK's processors when asked); wrap the runners."""
    from agents.tracing import add_trace_processor, get_trace_provider, set_trace_processors

    processor = AgentsTracingProcessor(telemetry=tel)
    replaced = None
    if replace_processors:
        replaced = _compat.current_processors(get_trace_provider())
        if replaced is None:
            replaced = _default_processors()
        set_trace_processors([processor])
    else:
        add_trace_processor(processor)
    return State(processor, apply(PATCHES, tel), replaced)


def uninstall(state: State) -> None:
    """Give the SDK back its processors; unwrap the runners; end what is still open."""
    from agents.tracing import get_trace_provider, set_trace_processors

    state.patches.revert()
    processor = state.processor
    current = _compat.current_processors(get_trace_provider())
    if state.replaced is not None:
        added = [p for p in current or () if p is not processor and p not in state.replaced]
        set_trace_processors([*state.replaced, *added])
    elif current is not None:
        set_trace_processors([p for p in current if p is not processor])
    # Otherwise it stays registered, inert (closed below).
    processor.close()


def _default_processors() -> list[Any]:
    """The SDK's default processor list (its export to OpenAI), for a restore by public API."""
    try:
        from agents.tracing.processors import default_processor

        return [default_processor()]
    except (ImportError, AttributeError):
        _logger.debug("instrumentors: agents default_processor is gone", exc_info=True)
        return []
