"""The HTTP roll-up: a tool's last HTTP request, summarised on its ``execute_tool`` span.

Our httpx2 layer calls ``roll_up`` itself. The official httpx and requests
instrumentations (which ``instrument_all()`` enables, and which we do not
rewrite) reach it through the response hooks that ``hook_kwargs(name)`` gives;
``instrument_all()`` also hands them the scrubbing tracer provider of
``_http_spans`` (URLs and errors scrubbed) whose spans ``_http_gate`` reads to
keep trace headers to the allowed hosts.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Final

from instrumentors.telemetry import enclosing_tool, guard


def retry_after_seconds(value: object) -> float | None:
    """Seconds from a ``Retry-After`` value (delta-seconds or an HTTP-date), or None."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    text = text.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def header(headers: Any, name: str) -> Any:
    """A header value from a mapping or a raw ``[(name, value), ...]`` list, or None."""
    if headers is None:
        return None
    get = getattr(headers, "get", None)
    if get is not None:
        return get(name)
    wanted = name.lower().encode("latin-1")
    for key, value in headers:
        raw = key if isinstance(key, bytes) else str(key).encode("latin-1")
        if raw.lower() == wanted:
            return value
    return None


def roll_up(
    parent_span_id: int | None,
    method: object,
    url: object,
    status_code: int | None,
    retry_after: object = None,
) -> None:
    """Record the request on the ``execute_tool`` run whose span is the HTTP span's parent."""
    run = enclosing_tool(parent_span_id)
    if run is None:
        return
    verb = method.decode("ascii", "replace") if isinstance(method, bytes) else str(method)
    run.record_http(verb.upper(), str(url), status_code, retry_after_seconds(retry_after))


def _parent_id(span: Any) -> int | None:
    parent = getattr(span, "parent", None)  # SDK spans only; non-recording ones have none
    return parent.span_id if parent is not None else None


_ROLL_UP_GUARD: Final = guard("rolling up an HTTP request onto its tool")


def response_hook(span: Any, request: Any, response: Any) -> None:
    """``response_hook`` for the httpx (sync clients) and requests instrumentations.

    Both hand over a request with ``method`` and ``url`` and a response with
    ``status_code`` and ``headers``.
    """
    with _ROLL_UP_GUARD:
        roll_up(
            _parent_id(span),
            request.method,
            request.url,
            response.status_code,
            header(response.headers, "retry-after"),
        )


async def httpx_async_response_hook(span: Any, request: Any, response: Any) -> None:
    """``async_response_hook`` for opentelemetry-instrumentation-httpx."""
    response_hook(span, request, response)


_HOOKS: dict[str, dict[str, Callable[..., Any]]] = {
    "httpx": {
        "response_hook": response_hook,
        "async_response_hook": httpx_async_response_hook,
    },
    "requests": {"response_hook": response_hook},
}


def hook_kwargs(name: str) -> dict[str, Any]:
    """Keyword arguments for the official instrumentor ``name`` (empty for any other)."""
    return dict(_HOOKS.get(name, {}))
