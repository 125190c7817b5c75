"""``HTTPX2Instrumentor``: HTTP client spans, trace headers and the tool roll-up for httpx2.

httpx2 is the httpx fork that openai 3.x and mcp 2.x talk HTTP through. One CLIENT
span per ``send`` (sync and async, any transport), named after the method, per the
stable HTTP semantic conventions, and the ``http.client.request.duration``
histogram; URLs without credentials or query values; trace headers only to hosts
that ``AGENT_INSTRUMENTORS_PROPAGATE_HOSTS`` allows, redirect targets included.
Importing this module does not import httpx2; instrumenting before httpx2 is
imported patches it when it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

from instrumentors._instrumentor import AgentInstrumentor
from instrumentors._patching import Patch, apply

__all__ = ["HTTPX2Instrumentor"]

SCOPE: Final = "instrumentors.httpx2"
_instruments: Final = ("httpx2 >= 2.10",)


class HTTPX2Instrumentor(AgentInstrumentor):
    """Instrument ``httpx2.Client.send`` and ``httpx2.AsyncClient.send``."""

    _instruments: ClassVar[tuple[str, ...]] = _instruments
    trigger: ClassVar[str] = "httpx2"
    scope: ClassVar[str] = SCOPE

    def _patches(self) -> Sequence[Patch[Any]]:
        from instrumentors.httpx2 import _wrappers  # imports httpx2: only once it is imported

        return _wrappers.PATCHES

    def _start(self, options: dict[str, Any]) -> Any:
        from instrumentors.httpx2 import _wrappers

        instruments = _wrappers.Instruments.create(
            SCOPE, options.get("tracer_provider"), options.get("meter_provider")
        )
        return apply(self._patches(), instruments)
