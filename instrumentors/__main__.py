"""``python -m instrumentors report FILE.jsonl [FILE ...] -o run.html``: the offline trace report.

The input is OTLP JSON lines: one ``ExportTraceServiceRequest`` per line, as
the ``agent_jsonl`` exporter and the OpenTelemetry Collector's file exporter
write them (``-`` reads standard input).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m instrumentors")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser(
        "report",
        help="write the HTML trace report of OTLP JSON-lines files",
        description="Write one self-contained HTML file of every trace in the input files.",
    )
    report.add_argument(
        "inputs", nargs="+", metavar="FILE.jsonl", help="OTLP JSON lines ('-': stdin)"
    )
    report.add_argument("-o", "--output", default="report.html", help="default: report.html")
    report.add_argument("--title", default=None, help="the page's title")
    report.add_argument(
        "--include-content",
        action="store_true",
        help="show raw parameters and messages the spans carry (hidden by default unless "
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT is on)",
    )
    return parser


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _report(args: argparse.Namespace) -> int:
    from instrumentors.report import content_captured, read_jsonl, write_report
    from instrumentors.report._collector import MAX_SPANS

    spans: list[Any] = []
    notes: list[str] = []
    for name in args.inputs:
        try:
            read = read_jsonl(sys.stdin if name == "-" else name, max_spans=MAX_SPANS - len(spans))
        except OSError as exc:
            print(
                f"instrumentors report: cannot read {name}: {exc.strerror or exc}", file=sys.stderr
            )
            return 2
        spans += read.spans
        for number, why in read.bad_lines[:5]:
            print(f"instrumentors report: {name}:{number}: skipped ({why})", file=sys.stderr)
        if read.bad_lines:
            notes.append(f"{len(read.bad_lines)} lines of {name} were not OTLP JSON: skipped.")
        if len(spans) >= MAX_SPANS:
            notes.append(f"Only the first {MAX_SPANS:,} spans are shown.")
            break
    include = args.include_content or content_captured()
    try:
        path = write_report(
            spans, args.output, include_content=include, title=args.title, notes=notes
        )
    except OSError as exc:
        print(f"instrumentors report: cannot write {args.output}: {exc}", file=sys.stderr)
        return 2
    traces = len({s.context.trace_id for s in spans if s.context is not None})
    print(f"wrote {path} ({_count(traces, 'trace')}, {_count(len(spans), 'span')})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "report":
        return _report(args)
    return 2  # pragma: no cover - argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
