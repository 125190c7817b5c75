"""OpenTelemetry instrumentation for the OpenAI Python SDK (openai 1.x, 2.x and 3.x).

Chat completions (``create``, ``parse``, streams and the ``.stream()`` helper),
the Responses API and embeddings, sync and async, plain, ``with_raw_response``
and ``with_streaming_response``; retries and rate limits of the SDK's own
retry loop become span events. Importing this module does not import openai;
instrumenting before openai is imported patches it when it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

from instrumentors._instrumentor import AgentInstrumentor
from instrumentors._patching import Patch

__all__ = ["OpenAIInstrumentor"]

_instruments: Final = ("openai >= 1.0",)
SCOPE: Final = "instrumentors.openai"


class OpenAIInstrumentor(AgentInstrumentor):
    """Traces OpenAI SDK calls as ``chat {model}`` / ``embeddings {model}`` spans."""

    _instruments: ClassVar[tuple[str, ...]] = _instruments
    trigger: ClassVar[str] = "openai"
    scope: ClassVar[str] = SCOPE
    prices_calls: ClassVar[bool] = True

    def _patches(self) -> Sequence[Patch[Any]]:
        from instrumentors.openai import _wrappers  # imports openai: only once it is imported

        return _wrappers.PATCHES
