"""How an SDK span ended: success, the exception it ended with, or an error the SDK reported.

The SDK reports failures on its spans as ``SpanError`` (a message and data), and
hands processors no exception. When an exception is on its way out while a span
ends (a model's HTTP error leaving ``with response_span()``, ``MaxTurnsExceeded``
leaving the run loop), ``sys.exc_info()`` has it: ``error.type`` is its class.
An error the SDK caught itself (a tool's exception turned into a message for the
model) has no exception left by then: it is recorded as ``tool_error``, the name
the MCP layer gives a tool result that is an error. A guardrail tripwire is an
error on the guardrail's step only: the run that stopped on it did what it should.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Final

from instrumentors.openai_agents import _runs
from instrumentors.telemetry import Run, ToolRun

TOOL_ERROR: Final = "tool_error"  # a tool failed and the SDK told the model so
GUARDRAIL_TRIPWIRE: Final = "guardrail_tripwire"  # a guardrail's tripwire triggered
OTHER: Final = "_OTHER"  # the conventions' value when nothing names the error

_TRIPWIRE_MESSAGE: Final = "Guardrail tripwire triggered"
# SDK span-error messages whose exception is known by name.
_KNOWN: Final = {"Max turns exceeded": "MaxTurnsExceeded"}


class AgentsSpanError(Exception):
    """An error the Agents SDK reported on one of its spans, with no exception to hand."""


def _is_tripwire(exc: BaseException) -> bool:
    # InputGuardrailTripwireTriggered, OutputGuardrailTripwireTriggered and the tool ones.
    return type(exc).__name__.endswith("GuardrailTripwireTriggered")


def _message(error: Mapping[str, Any]) -> str:
    message = str(error.get("message") or "error")
    data = error.get("data")
    detail = data.get("error") if isinstance(data, Mapping) else None
    return f"{message}: {detail}" if detail else message


def end(entry: _runs.Entry, span: Any, result: Any = None) -> None:
    """End ``entry``'s run the way the SDK span ended (``result``: a tool's, on success)."""
    run = entry.run
    if run is None:
        return
    exc = sys.exc_info()[1]
    if exc is not None and (not isinstance(exc, Exception) or _is_tripwire(exc)):
        exc = None  # cancelled, closed or stopped by a guardrail: not this span's failure
    error = span.error if span is not None else None
    if not isinstance(error, Mapping) or error.get("message") == _TRIPWIRE_MESSAGE:
        error = None
    if exc is not None:
        run.fail(exc)
    elif error is not None:
        kind = TOOL_ERROR if entry.kind == _runs.TOOL else _KNOWN.get(str(error.get("message")))
        run.fail(AgentsSpanError(_message(error)), kind or OTHER)
    elif isinstance(run, ToolRun):
        run.stop(result)
    else:
        run.stop()


def trip(run: Run, name: str | None) -> None:
    """End a guardrail's step whose tripwire triggered."""
    run.fail(AgentsSpanError(f"guardrail {name or ''} tripwire triggered"), GUARDRAIL_TRIPWIRE)
