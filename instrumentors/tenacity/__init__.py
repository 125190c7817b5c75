"""``TenacityInstrumentor``: every tenacity retry becomes a ``retry.attempted`` event.

Hooks ``BaseRetrying.iter`` (and the async ``AsyncRetrying.iter``): a call that
returns ``DoSleep`` means one retry is about to happen after the attempt that
just failed; a call that raises means tenacity gave up. Covers ``Retrying``,
``AsyncRetrying``, ``@retry`` and LangChain's ``.with_retry()``. Importing this
module does not import tenacity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

from instrumentors._instrumentor import AgentInstrumentor
from instrumentors._patching import Patch

__all__ = ["TenacityInstrumentor"]

_instruments: Final = ("tenacity >= 8.2",)


class TenacityInstrumentor(AgentInstrumentor):
    """Adds ``retry.attempted`` events for tenacity retries to the current span."""

    _instruments: ClassVar[tuple[str, ...]] = _instruments
    trigger: ClassVar[str] = "tenacity"
    scope: ClassVar[str] = "instrumentors.tenacity"

    def _patches(self) -> Sequence[Patch[Any]]:
        from instrumentors.tenacity import _wrappers

        return _wrappers.PATCHES
