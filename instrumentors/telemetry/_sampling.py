"""Which sampler decides our root spans: lets the tool path hash parameters before the start."""

from __future__ import annotations

from typing import Final

from opentelemetry import trace
from opentelemetry.trace import TracerProvider

# Samplers that record every root span (the SDK default is the second).
_ALWAYS_ON: Final = frozenset(
    {
        "AlwaysOnSampler",
        "ParentBased{root:AlwaysOnSampler,remoteParentSampled:AlwaysOnSampler,"
        "remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,"
        "localParentNotSampled:AlwaysOffSampler}",
    }
)


class SamplerKind:
    """``always_on``, ``parent_based`` or ``other``, read once from the provider's sampler.

    The provider is the one given to the instrumentor, else the global one (read
    until an SDK provider is set: before that, the answer is ``other``).
    """

    __slots__ = ("_kind", "_provider")

    def __init__(self, provider: TracerProvider | None) -> None:
        self._provider = provider
        self._kind: str | None = None

    def kind(self) -> str:
        """The sampler's kind (cached once an SDK provider answers)."""
        kind = self._kind
        if kind is None:
            provider = self._provider or trace.get_tracer_provider()
            sampler = getattr(provider, "sampler", None)  # the SDK provider's public property
            if sampler is None:
                return "other"  # no SDK provider yet: decide again next time
            description = sampler.get_description()
            kind = (
                "always_on"
                if description in _ALWAYS_ON
                else "parent_based"
                if description.startswith("ParentBased{")
                else "other"
            )
            self._kind = kind
        return kind
