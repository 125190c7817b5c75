"""OpenTelemetry tracing for AI agents: tools, LLM calls, retrievals and agent steps in one trace.

Public API re-exports only; framework instrumentors live in sub-packages
(``instrumentors.openai``...) and are imported only when used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# First: settings the OpenTelemetry API or SDK would raise on at import (a typo in
# OTEL_PROPAGATORS, a negative span limit) are replaced before anything imports them.
from instrumentors import config as _config  # noqa: F401  (isort: first)
from instrumentors.agents import agent
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

if TYPE_CHECKING:
    from instrumentors._bootstrap import SetupHandle, setup
    from instrumentors.cost import record_cost
    from instrumentors.discovery import instrument_all
    from instrumentors.jobs import job, job_context

# Loaded on first use: they pull in the SDK's metrics, exporters and entry-point
# machinery, which a program that only decorates tools never needs.
_LAZY = {
    "setup": "instrumentors._bootstrap",
    "SetupHandle": "instrumentors._bootstrap",
    "instrument_all": "instrumentors.discovery",
    "job": "instrumentors.jobs",
    "job_context": "instrumentors.jobs",
    "record_cost": "instrumentors.cost",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'instrumentors' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "SessionSpanProcessor",
    "SetupHandle",
    "__version__",
    "agent",
    "agent_step",
    "instrument_all",
    "job",
    "job_context",
    "record_cache",
    "record_circuit_breaker",
    "record_cost",
    "record_rate_limit",
    "record_retry",
    "session",
    "setup",
    "tool",
    "tool_call_id",
]
