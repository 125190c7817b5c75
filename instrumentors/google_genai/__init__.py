"""OpenTelemetry instrumentation for the Google Gen AI SDK (``google-genai`` 1.x, 2.x, 3.x).

``generate_content`` and ``generate_content_stream`` (sync and ``client.aio``),
``client.chats`` (which sends through them) and ``embed_content`` become
``chat {model}`` / ``embeddings {model}`` spans, provider ``gcp.gemini`` or
``gcp.vertex_ai``. The SDK's automatic function calling gives one
``execute_tool`` span per function it invokes, inside the chat span; its
retries and rate limits become span events. Importing this module does not
import google-genai; instrumenting before it is imported patches it when it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

from instrumentors._instrumentor import AgentInstrumentor
from instrumentors._patching import Patch

__all__ = ["GoogleGenAIInstrumentor"]

_instruments: Final = ("google-genai >= 1.0",)
SCOPE: Final = "instrumentors.google_genai"


class GoogleGenAIInstrumentor(AgentInstrumentor):
    """Traces google-genai calls as ``chat {model}`` / ``embeddings {model}`` spans."""

    _instruments: ClassVar[tuple[str, ...]] = _instruments
    trigger: ClassVar[str] = "google.genai"
    scope: ClassVar[str] = SCOPE
    prices_calls: ClassVar[bool] = True

    def _patches(self) -> Sequence[Patch[Any]]:
        from instrumentors.google_genai import _wrappers  # imports google.genai: only once it is

        return _wrappers.PATCHES
