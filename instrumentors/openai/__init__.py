"""OpenTelemetry instrumentation for the OpenAI Python SDK (openai 1.x, 2.x and 3.x).

Chat completions (``create``, ``parse``, streams and the ``.stream()`` helper),
the Responses API and embeddings, sync and async, plain, ``with_raw_response``
and ``with_streaming_response``; retries and rate limits of the SDK's own
retry loop become span events. Importing this module does not import openai.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from instrumentors.telemetry import Telemetry

__all__ = ["OpenAIInstrumentor"]

_instruments: Final = ("openai >= 1.0",)
SCOPE: Final = "instrumentors.openai"


class OpenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces OpenAI SDK calls as ``chat {model}`` / ``embeddings {model}`` spans."""

    _patched: list[tuple[str, str]] | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        """The SDK versions this instrumentor supports."""
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        from instrumentors.openai import _wrappers  # imports openai: only when instrumenting

        if self._patched:  # instrumenting again must not stack a second wrapper
            _wrappers.unpatch(self._patched)
        # Settings (content capture, limits) are read once, here.
        tel = Telemetry(
            scope=SCOPE,
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
        )
        self._patched = _wrappers.patch(tel)

    def _uninstrument(self, **kwargs: Any) -> None:
        from instrumentors.openai import _wrappers

        if self._patched:
            _wrappers.unpatch(self._patched)
        self._patched = None
