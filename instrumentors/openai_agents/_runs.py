"""The bridge's bounded state: SDK span and trace ids -> our runs, and requested tool calls.

The SDK names a span's parent by id, so each SDK span maps to an entry holding our
run (or, for a span we make no span for, the context its children go under). A
trace's entry also lists the spans still open in it, so a trace that ends with
spans the SDK never finished (a stream torn down mid-way) ends them too. Tool
calls a model response requested wait under the SDK span both the response and
the function spans hang from, until a function span takes one. Everything is
capped: past the cap the oldest entries go, and their spans end.
"""

from __future__ import annotations

import threading
from typing import Any, Final

from opentelemetry.context import Context

from instrumentors.telemetry import Run, ToolCallRequest

DEFAULT_MAX_SPANS: Final = 10_000
_MAX_PENDING: Final = 64  # tool calls waiting under one SDK span

# Entry kinds.
TRACE: Final = 0
AGENT: Final = 1
CHAT: Final = 2
TOOL: Final = 3
STEP: Final = 4
PASS: Final = 5  # no span of ours (turns, tasks, MCP listings...): children go under the parent


class Entry:
    """One SDK span (or trace) and what we made of it."""

    __slots__ = ("agent", "context", "kind", "mcp_tools", "open", "run", "trace_id")

    def __init__(
        self,
        kind: int,
        run: Run | None,
        context: Context | None,
        trace_id: str,
        agent: str | None,
    ) -> None:
        self.kind = kind
        self.run = run
        self.context = context  # where children start (None: the current context)
        self.trace_id = trace_id
        self.agent = agent  # the name of the agent this span runs under, if any
        # A trace's open spans, in start order.
        self.open: dict[str, None] | None = {} if kind == TRACE else None
        self.mcp_tools: frozenset[str] = frozenset()  # a trace's tools listed by MCP servers


class Entries:
    """``span id -> Entry`` and ``trace id -> Entry``, capped; dict operations are atomic."""

    __slots__ = ("_lock", "_max", "pending", "spans", "traces")

    def __init__(self, max_spans: int = DEFAULT_MAX_SPANS) -> None:
        self._max = max(1, max_spans)
        self._lock = threading.Lock()
        self.spans: dict[str, Entry] = {}
        self.traces: dict[str, Entry] = {}
        # SDK parent span id -> tool calls requested under it, not yet run.
        self.pending: dict[str, list[ToolCallRequest]] = {}

    def __len__(self) -> int:
        return len(self.spans) + len(self.traces)

    def add_trace(self, trace_id: str, entry: Entry) -> None:
        """Remember a started trace."""
        self.traces[trace_id] = entry
        if len(self.traces) > self._max:
            self._evict(self.traces)

    def add_span(self, span_id: str, entry: Entry) -> None:
        """Remember a started span (and count it open in its trace)."""
        self.spans[span_id] = entry
        trace = self.traces.get(entry.trace_id)
        if trace is not None and trace.open is not None:
            trace.open[span_id] = None
        if len(self.spans) > self._max:
            self._evict(self.spans)

    def pop_span(self, span_id: str) -> Entry | None:
        """Forget an ended span; its entry, if it was known."""
        entry = self.spans.pop(span_id, None)
        self.pending.pop(span_id, None)
        if entry is not None:
            trace = self.traces.get(entry.trace_id)
            if trace is not None and trace.open is not None:
                trace.open.pop(span_id, None)
        return entry

    def pop_trace(self, trace_id: str) -> tuple[Entry | None, list[Entry]]:
        """Forget an ended trace; its entry and the entries of its spans still open."""
        trace = self.traces.pop(trace_id, None)
        if trace is None or not trace.open:
            return trace, []
        left = [e for e in (self.pop_span(i) for i in list(trace.open)) if e is not None]
        return trace, left

    def request(self, parent_id: str | None, calls: list[ToolCallRequest]) -> None:
        """Tool calls a response under ``parent_id`` requested, for the function spans to take."""
        if not parent_id or not calls:
            return
        waiting = self.pending.setdefault(parent_id, [])
        waiting.extend(calls)
        del waiting[:-_MAX_PENDING]
        if len(self.pending) > self._max:
            self._evict(self.pending)

    def claim(self, parent_id: str | None, name: str) -> ToolCallRequest | None:
        """The first waiting call of tool ``name`` under ``parent_id`` (then no longer waiting).

        Parallel calls of one tool start their spans in the order the model asked for them.
        """
        waiting = self.pending.get(parent_id) if parent_id else None
        if not waiting:
            return None
        for index, call in enumerate(waiting):
            if call.name == name:
                del waiting[index]
                return call
        return None

    def drain(self) -> list[Entry]:
        """Forget everything; the entries whose runs are still open (uninstrument)."""
        with self._lock:
            entries = [*self.spans.values(), *self.traces.values()]
            self.spans.clear()
            self.traces.clear()
            self.pending.clear()
        return [e for e in entries if e.run is not None and not e.run.finished]

    def _evict(self, table: dict[str, Any]) -> None:
        with self._lock:
            while len(table) > self._max:
                try:
                    oldest = next(iter(table))
                except (StopIteration, RuntimeError):
                    return
                value = table.pop(oldest, None)
                if isinstance(value, Entry) and value.run is not None:
                    # The SDK never ended it: end it now rather than hold it forever.
                    value.run.stop()
