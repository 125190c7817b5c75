"""The report as one self-contained HTML file: template, CSS, script and data inlined.

No network is ever needed to open it: no CDN, no font, no external file, and
a Content-Security-Policy that forbids fetching anything. Values come from
spans (names and attributes can come from the network): the data sits in a
JSON script element with ``<``, ``>`` and ``&`` escaped, and the page writes
every value as text, never as markup.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from instrumentors._sli_table import table_cells
from instrumentors.report._data import SPAN_FIELDS, Builder, group_traces
from instrumentors.version import __version__


@cache
def _asset(name: str) -> str:
    return (
        resources.files("instrumentors.report").joinpath("assets").joinpath(name).read_text("utf-8")
    )


def sli_table(spans: Sequence[ReadableSpan], sli: Any = None) -> dict[str, Any] | None:
    """The SLI table's cells: from the run's ``SLIProcessor``, else computed from the spans."""
    if sli is None:
        from instrumentors import config
        from instrumentors.sli import Objective, SLIProcessor

        # The objective setup() gives the table it prints.
        sli = SLIProcessor(
            default=Objective(latency_p95=2.0, success_rate=0.95),
            min_calls=config.settings().sli_min_calls,
        )
        for span in spans:
            sli.on_end(span)
    rows = sli.report()
    if not rows:
        return None
    headers, body = table_cells(rows, getattr(sli, "min_calls", 1))
    return {"headers": list(headers), "rows": [list(row) for row in body]}


def build_document(
    spans: Iterable[ReadableSpan],
    *,
    include_content: bool,
    sli: Any = None,
    title: str | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The page's data: traces, attribute keys, services, the SLI table, notes."""
    spans = list(spans)
    builder = Builder(include_content)
    traces = [builder.trace(trace_id, group) for trace_id, group in group_traces(spans)]
    notes = list(notes)
    if builder.hidden:
        notes.append(
            f"{builder.hidden} content attributes (raw parameters or messages) hidden: content "
            "capture was off."
        )
    return {
        "title": title or "Trace report",
        "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "version": __version__,
        "fields": list(SPAN_FIELDS),
        "keys": list(builder.keys.index),
        "services": list(builder.services),
        "traces": traces,
        "spanCount": builder.span_count,
        "errorCount": builder.error_count,
        "content": include_content,
        "sli": sli_table(spans, sli),
        "notes": notes,
    }


def _script_json(document: dict[str, Any]) -> str:
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # Inside <script>, "</script>" or "<!--" in a value would end or change the element.
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def render_html(document: dict[str, Any]) -> str:
    """The complete HTML text of the report."""
    page = _asset("report.html")
    page = page.replace("{{TITLE}}", html.escape(str(document.get("title", "Trace report"))))
    page = page.replace("/*{{CSS}}*/", _asset("report.css"))
    page = page.replace("/*{{JS}}*/", _asset("report.js"))
    # Last: the data may contain any text, including the placeholders above.
    return page.replace("{{DATA}}", _script_json(document))
