"""OpenTelemetry tracing for AI agents: tools, LLM calls, retrievals and agent steps in one trace.

Public API re-exports only; framework instrumentors live in sub-packages
(``instrumentors.openai``...) and are imported only when used.
"""

from __future__ import annotations

from instrumentors._bootstrap import SetupHandle, setup
from instrumentors.discovery import instrument_all
from instrumentors.events import (
    record_cache,
    record_circuit_breaker,
    record_rate_limit,
    record_retry,
)
from instrumentors.session import SessionSpanProcessor, session
from instrumentors.steps import agent_step
from instrumentors.tools import tool, tool_call_id
from instrumentors.version import __version__

__all__ = [
    "SessionSpanProcessor",
    "SetupHandle",
    "__version__",
    "agent_step",
    "instrument_all",
    "record_cache",
    "record_circuit_breaker",
    "record_rate_limit",
    "record_retry",
    "session",
    "setup",
    "tool",
    "tool_call_id",
]
