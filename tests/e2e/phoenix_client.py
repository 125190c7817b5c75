"""Read spans back from Phoenix's REST API as plain dicts, and walk them as trees.

Phoenix 20.x: ``GET /v1/projects/{project}/spans`` (cursor-paginated). What it
returns, and what it cannot:

- attributes come back flattened with dotted keys, but Phoenix stores them
  nested, so a list attribute comes back as ``key.0``, ``key.1``...; and it adds
  OpenInference attributes it derives from ``gen_ai.*`` ones without overriding
  any the span carries (``tool.name``, ``tool.id``, ``session.id``...).
- ``openinference.span.kind`` is moved out of the attributes into ``kind``.
- span links are dropped at ingest (Phoenix's span model has no links), so
  ``links`` is always ``None``; resource attributes other than the project name
  are not stored either.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

Span = dict[str, Any]


class PhoenixClient:
    """A small reader for one Phoenix server (loopback, no auth)."""

    exposes_links = False

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # Loopback only: never route through a proxy from the environment.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _request(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with self._opener.open(request, timeout=self.timeout) as response:
            return json.loads(response.read())

    def projects(self) -> list[str]:
        """Names of the projects that exist."""
        return [project["name"] for project in self._request("/v1/projects")["data"]]

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """Run a GraphQL query (``/graphql``) and return its ``data``."""
        answer = self._request("/graphql", {"query": query, "variables": variables or {}})
        if answer.get("errors"):
            raise RuntimeError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]

    def spans(self, project: str) -> list[Span]:
        """Every span of ``project`` (none if it does not exist yet), by start time."""
        spans: list[Span] = []
        cursor: str | None = None
        quoted = urllib.parse.quote(project, safe="")
        while True:
            query = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            path = f"/v1/projects/{quoted}/spans?{urllib.parse.urlencode(query)}"
            try:
                page = self._request(path)
            except urllib.error.HTTPError as exc:
                if exc.code == 404:  # the project appears with its first span
                    return []
                raise
            spans.extend(_plain(span) for span in page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                return sorted(spans, key=lambda span: span["start_time"])

    def wait_for_spans(
        self, project: str, count: int, timeout: float = 30.0, settle: float = 0.5
    ) -> list[Span]:
        """The spans of ``project`` once at least ``count`` are stored (Phoenix inserts
        in the background), re-read after ``settle`` seconds to catch stragglers."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans(project)
            if len(spans) >= count:
                time.sleep(settle)
                return self.spans(project)
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(spans)} of {count} spans in project {project!r} after {timeout:.0f}s: "
                    f"{[span['name'] for span in spans]}"
                )
            time.sleep(0.25)


def _plain(raw: dict[str, Any]) -> Span:
    return {
        "name": raw["name"],
        "trace_id": raw["context"]["trace_id"],
        "span_id": raw["context"]["span_id"],
        "parent_id": raw.get("parent_id"),
        "kind": raw.get("span_kind"),
        "start_time": raw["start_time"],
        "end_time": raw["end_time"],
        "status": {"code": raw["status_code"], "message": raw.get("status_message") or ""},
        "attributes": dict(raw.get("attributes") or {}),
        "events": [
            {"name": event["name"], "attributes": dict(event.get("attributes") or {})}
            for event in raw.get("events") or []
        ],
        "links": None,  # not stored by Phoenix; see the module docstring
    }


# --- trees -------------------------------------------------------------------------


def by_id(spans: Iterable[Span]) -> dict[str, Span]:
    """Spans keyed by span id."""
    return {span["span_id"]: span for span in spans}


def roots(spans: Iterable[Span]) -> list[Span]:
    """Spans without a parent."""
    return [span for span in spans if not span["parent_id"]]


def children(spans: Iterable[Span], parent: Span) -> list[Span]:
    """Direct children of ``parent``, by start time."""
    return [span for span in spans if span["parent_id"] == parent["span_id"]]


def named(spans: Iterable[Span], name: str) -> list[Span]:
    """Spans called ``name``, by start time."""
    return [span for span in spans if span["name"] == name]


def tree(spans: list[Span]) -> str:
    """An indented outline (name, status, events) for assertion messages."""
    lines: list[str] = []

    def walk(span: Span, depth: int) -> None:
        status = span["status"]["code"]
        events = ",".join(event["name"] for event in span["events"])
        lines.append(
            "  " * depth
            + span["name"]
            + (f" [{status}]" if status != "UNSET" else "")
            + (f" {{{events}}}" if events else "")
        )
        for child in children(spans, span):
            walk(child, depth + 1)

    known = by_id(spans)
    for span in spans:
        if not span["parent_id"] or span["parent_id"] not in known:
            walk(span, 0)
    return "\n".join(lines)
