"""Bounded map from a tool call id to the chat span that requested that tool call.

The model's response names tool calls by id; the later ``execute_tool`` span
with that id links back to the ``chat`` span. Ids are kept in insertion order
and the oldest are dropped past the cap, so a long-running agent's memory
stays flat.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

from opentelemetry.trace import SpanContext

DEFAULT_CAPACITY: Final = 10_000


class ToolCallLinks:
    """Thread-safe, capped ``tool_call_id -> SpanContext`` map."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = max(1, capacity)
        self._items: OrderedDict[str, SpanContext] = OrderedDict()
        self._lock = threading.Lock()

    def register(self, tool_call_id: str, span_context: SpanContext) -> None:
        """Remember that the span ``span_context`` requested ``tool_call_id``."""
        if not tool_call_id or not span_context.is_valid:
            return
        with self._lock:
            self._items[tool_call_id] = span_context
            self._items.move_to_end(tool_call_id)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)

    def lookup(self, tool_call_id: str | None) -> SpanContext | None:
        """The requesting span's context, or None. Kept: a retried tool call links too."""
        if not tool_call_id:
            return None
        # dict.get is atomic under the GIL; no lock on the hot path.
        return self._items.get(tool_call_id)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        """Forget every id (tests, shutdown)."""
        with self._lock:
            self._items.clear()


# One registry per process: the chat span and the tool span usually come from
# different instrumentors (OpenAI requests the call, LangChain runs the tool).
registry = ToolCallLinks()
