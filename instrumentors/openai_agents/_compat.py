"""The only place that names the Agents SDK's private names.

Everything else stands on the SDK's public tracing API: ``add_trace_processor``,
``set_trace_processors``, ``TracingProcessor`` and the span data classes. One thing
has no public route: reading the processors the SDK has now. ``set_trace_processors``
replaces the list but nothing returns it, so restoring the user's processors on
``uninstrument()`` (or taking only ours out) needs the provider's private list. When
it is gone, ``uninstrument()`` falls back on public ground: a replaced list becomes
the SDK's default processor again, and our own processor, left in place, goes inert.
Each name is listed in ``PRIVATE_NAMES`` and checked by ``tests/openai_agents/test_oa_compat.py``.
"""

from __future__ import annotations

import logging
from typing import Any, Final

_logger = logging.getLogger(__name__)

# (module, dotted attribute) of every private name this package reads, for test_oa_compat.
PRIVATE_NAMES: Final = (
    ("agents.tracing.provider", "DefaultTraceProvider._multi_processor"),
    ("agents.tracing.provider", "SynchronousMultiTracingProcessor._processors"),
)

_warned: set[str] = set()


def _gone(name: str) -> None:
    if name not in _warned:
        _warned.add(name)
        _logger.debug("instrumentors: agents %s is gone; that feature is skipped", name)


def current_processors(provider: Any) -> list[Any] | None:
    """The trace processors ``provider`` forwards to now, or None when they can't be read."""
    multi = getattr(provider, "_multi_processor", None)
    if multi is None:
        _gone("DefaultTraceProvider._multi_processor")
        return None
    processors = getattr(multi, "_processors", None)
    if not isinstance(processors, (tuple, list)):
        _gone("SynchronousMultiTracingProcessor._processors")
        return None
    return list(processors)
