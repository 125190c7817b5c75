"""Trace context across processes: inject/extract helpers, the host allowlist, URL scrubbing.

The propagators are OpenTelemetry's global ones (``OTEL_PROPAGATORS``: W3C
``tracecontext,baggage`` by default; ``b3`` / ``b3multi`` when named and
opentelemetry-propagator-b3 is installed). Our layers (httpx2, MCP) inject
only into hosts that ``AGENT_INSTRUMENTORS_PROPAGATE_HOSTS`` allows.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Mapping, MutableMapping
from functools import lru_cache
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from opentelemetry import propagate
from opentelemetry.context import Context

from instrumentors.config import Settings, settings

_logger = logging.getLogger(__name__)

REDACTED: Final = "REDACTED"
# Incoming header values past this size are dropped before any propagator parses them.
MAX_HEADER_LENGTH: Final = 8192


def host_of(url_or_host: str | None) -> str | None:
    """The lower-cased host of a URL or ``host[:port]``, without the port."""
    if not url_or_host:
        return None
    text = url_or_host if "://" in url_or_host else f"//{url_or_host}"
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    return host.lower() if host else None


@lru_cache(maxsize=1024)
def _matches(host: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(host, pattern) for pattern in patterns)


def host_allowed(url_or_host: str | None, config: Settings | None = None) -> bool:
    """Whether trace headers may go to this host (default: every host)."""
    patterns = (config or settings()).propagate_hosts
    if patterns is None:
        return True
    host = host_of(url_or_host)
    return host is not None and _matches(host, patterns)


def inject(
    carrier: MutableMapping[str, str],
    destination: str | None = None,
    context: Context | None = None,
) -> bool:
    """Add trace headers (and baggage) for ``destination`` if allowed; never raises."""
    try:
        if destination is not None and not host_allowed(destination):
            return False
        propagate.inject(carrier, context=context)
        return True
    except Exception:
        _logger.debug("inject failed", exc_info=True)
        return False


def extract(carrier: Mapping[str, Any] | None, context: Context | None = None) -> Context | None:
    """The context a request carries (malformed or oversized values ignored); never raises."""
    if not carrier:
        return context
    try:
        clean = {
            str(k).lower(): v
            for k, v in carrier.items()
            if isinstance(v, str) and len(v) <= MAX_HEADER_LENGTH
        }
        return propagate.extract(clean, context=context)
    except Exception:
        _logger.debug("extract failed", exc_info=True)
        return context


def sanitize_url(url: object) -> str:
    """The URL without user:password and with every query value replaced by ``REDACTED``."""
    text = str(url)
    try:
        parts = urlsplit(text)
        netloc = parts.hostname or ""
        if ":" in netloc:  # IPv6 literal
            netloc = f"[{netloc}]"
        if parts.port is not None:
            netloc = f"{netloc}:{parts.port}"
        query = urlencode(
            [(k, REDACTED) for k, _ in parse_qsl(parts.query, keep_blank_values=True)],
            safe=REDACTED,
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return text.split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
