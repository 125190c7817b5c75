"""OpenTelemetry instrumentation for the Anthropic Python SDK (anthropic 0.50+, 1.x and 2.x).

Messages ``create`` (``stream=True`` too), ``parse``, the ``.stream()`` helper and
``count_tokens``, stable and beta, sync and async, plain, ``with_raw_response`` and
``with_streaming_response``, on every client (``Anthropic``, ``AnthropicBedrock``
-> ``aws.bedrock``, ``AnthropicVertex`` -> ``gcp.vertex_ai``): one CLIENT span
``chat {model}`` per request (``count_tokens {model}`` for a token count). The
SDK's own retries and 429 / 529 answers become span events. Importing this module
does not import anthropic; instrumenting before anthropic is imported patches it
when it is.

The SDK's own tracing. anthropic 1.x and 2.x make their own CLIENT span
(``anthropic.messages.create``, ``gen_ai.operation.name`` = ``chat``) through the
global tracer provider unless ``ANTHROPIC_OPEN_TELEMETRY=false``. While this
instrumentor is on, the requests it traces get its span *instead of* the SDK's
(the SDK's span hook answers "no span" for them, as the SDK allows), so a user
sees exactly one ``chat {model}`` span per request, named, shaped, redacted and
captured like every other model span of ours, whatever the SDK's content mode.
Requests it does not trace (models, files, batches...) keep the SDK's spans.
``uninstrument()`` gives the SDK its spans back. Instrumentation suppressed
(``suppress_instrumentation()``) suppresses the SDK's spans too while ours is on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

from instrumentors._instrumentor import AgentInstrumentor
from instrumentors._patching import Patch

__all__ = ["AnthropicInstrumentor"]

_instruments: Final = ("anthropic >= 0.50",)
SCOPE: Final = "instrumentors.anthropic"


class AnthropicInstrumentor(AgentInstrumentor):
    """Traces Anthropic SDK calls as ``chat {model}`` spans."""

    _instruments: ClassVar[tuple[str, ...]] = _instruments
    trigger: ClassVar[str] = "anthropic"
    scope: ClassVar[str] = SCOPE
    prices_calls: ClassVar[bool] = True

    def _patches(self) -> Sequence[Patch[Any]]:
        from instrumentors.anthropic import _wrappers  # imports anthropic: only once it is

        return _wrappers.PATCHES
