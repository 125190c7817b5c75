"""``setup(report=...)``: keep the run's spans, write the HTML report once, at exit.

A span processor, not an exporter behind a queue: ending a span costs one
append under a lock. Memory is bounded (``MAX_SPANS``); past it, spans are
counted and the report says how many it lacks. Writing happens in
``SetupHandle.shutdown()``, inside its time budget.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

_logger = logging.getLogger(__name__)

MAX_SPANS: Final = 50_000


class ReportProcessor(SpanProcessor):
    """Collects every sampled span of the run for the report written to ``path``."""

    def __init__(self, path: str | os.PathLike[str], max_spans: int = MAX_SPANS) -> None:
        self.path = Path(path)
        self.max_spans = max(1, max_spans)
        self.dropped = 0
        self._spans: list[ReadableSpan] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None or not context.trace_flags.sampled:
            return
        with self._lock:
            if len(self._spans) < self.max_spans:
                self._spans.append(span)
            else:
                self.dropped += 1

    def spans(self) -> list[ReadableSpan]:
        with self._lock:
            return list(self._spans)

    def write(self, sli: Any = None, include_content: bool | None = None) -> int | None:
        """Write the report now; the number of spans in it, or None when not written.

        A forked child writes nothing: the file is the parent's, and the child
        holds a copy of the parent's spans.
        """
        if os.getpid() != self._pid:
            return None
        from instrumentors.report import write_report

        notes = []
        if self.dropped:
            notes.append(
                f"{self.dropped} spans are not in this report: it keeps the first "
                f"{self.max_spans:,} spans of a run."
            )
        spans = self.spans()
        try:
            write_report(spans, self.path, sli=sli, include_content=include_content, notes=notes)
        except Exception:
            _logger.warning(
                "instrumentors: could not write the report to %s", self.path, exc_info=True
            )
            return None
        return len(spans)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
