"""The offline trace report: one self-contained HTML file of every trace of a run.

- ``setup(report="run.html")`` or ``AGENT_INSTRUMENTORS_REPORT=run.html``: written at exit.
- ``python -m instrumentors report traces.jsonl -o run.html``: from OTLP JSON lines
  (one ``ExportTraceServiceRequest`` per line, as the collector's file exporter
  and our ``agent_jsonl`` exporter write them).
- ``write_report(spans, path)``: from any ``ReadableSpan`` objects.

Raw parameters and messages are left out unless content capture was on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from opentelemetry.sdk.trace import ReadableSpan

from instrumentors.report._collector import ReportProcessor
from instrumentors.report._html import build_document, render_html
from instrumentors.report._otlp_json import FormatError, dumps_line, loads_line

__all__ = [
    "FormatError",
    "JSONLines",
    "ReportProcessor",
    "content_captured",
    "dumps_line",
    "loads_line",
    "read_jsonl",
    "render_report",
    "write_report",
]


def content_captured() -> bool:
    """Whether this process records raw content (capture on, or a capture sample rate)."""
    from instrumentors import config

    current = config.settings()
    return current.capture_content or current.capture_sample_rate > 0


def render_report(
    spans: Iterable[ReadableSpan],
    *,
    sli: Any = None,
    include_content: bool | None = None,
    title: str | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The report's HTML text. ``sli``: an ``SLIProcessor`` (else computed from the spans)."""
    content = content_captured() if include_content is None else include_content
    document = build_document(spans, include_content=content, sli=sli, title=title, notes=notes)
    return render_html(document)


def write_report(
    spans: Iterable[ReadableSpan],
    path: str | os.PathLike[str],
    *,
    sli: Any = None,
    include_content: bool | None = None,
    title: str | None = None,
    notes: Sequence[str] = (),
) -> Path:
    """Write the report to ``path`` (through a temporary file: never half a report)."""
    text = render_report(spans, sli=sli, include_content=include_content, title=title, notes=notes)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, target)
    return target


@dataclass
class JSONLines:
    """What ``read_jsonl`` read: the spans, and the lines it could not use."""

    spans: list[ReadableSpan] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)


def _lines(source: str | os.PathLike[str] | IO[str]) -> Iterator[str]:
    if isinstance(source, (str, os.PathLike)):
        with open(source, encoding="utf-8") as stream:
            yield from stream
    else:
        yield from source


def read_jsonl(source: str | os.PathLike[str] | IO[str], max_spans: int | None = None) -> JSONLines:
    """Spans from OTLP JSON lines; a line that is not OTLP JSON is skipped and listed."""
    result = JSONLines()
    for number, line in enumerate(_lines(source), start=1):
        if not line.strip():
            continue
        try:
            result.spans += loads_line(line)
        except FormatError as exc:
            result.bad_lines.append((number, str(exc)))
        if max_spans is not None and len(result.spans) >= max_spans:
            del result.spans[max_spans:]
            break
    return result
