"""``agent_jsonl``: spans appended to a file as OTLP JSON lines, the input of the trace report.

One ``ExportTraceServiceRequest`` per line, the format the OpenTelemetry
Collector's file exporter writes, so ``python -m instrumentors report`` reads
either. The file is ``AGENT_INSTRUMENTORS_JSONL`` (default ``traces.jsonl``):

    OTEL_TRACES_EXPORTER=agent_jsonl python agent.py
    python -m instrumentors report traces.jsonl -o run.html

Like every exporter ``setup()`` uses, it runs behind a batch processor: the
agent never waits for the disk.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from instrumentors import config

_logger = logging.getLogger(__name__)


class JSONLinesSpanExporter(SpanExporter):
    """Appends each batch of spans to ``path`` as one OTLP JSON line."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path if path is not None else config.settings().jsonl)
        self._lock = threading.Lock()
        self._warned = False
        self._shutdown = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        if not spans:
            return SpanExportResult.SUCCESS
        try:
            from instrumentors.report._otlp_json import dumps_line

            line = dumps_line(spans) + "\n"
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as stream:
                    stream.write(line)
        except Exception as exc:  # noqa: BLE001 - a full disk must not stop the agent
            if not self._warned:
                self._warned = True
                _logger.warning("instrumentors: could not write spans to %s (%r)", self.path, exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._shutdown = True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
