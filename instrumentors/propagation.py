"""Trace context across processes: inject/extract helpers, the host allowlist, URL scrubbing,
and the filter for what callers send (incoming baggage is untrusted input).

The propagators are OpenTelemetry's global ones (``OTEL_PROPAGATORS``: W3C
``tracecontext,baggage`` by default; ``b3`` / ``b3multi`` when named and
opentelemetry-propagator-b3 is installed). Trace headers go only to hosts that
``AGENT_INSTRUMENTORS_PROPAGATE_HOSTS`` allows (our layers check it themselves; the
official HTTP instrumentations go through ``instrumentors._http_gate``). A server
takes from its callers only the baggage keys ``AGENT_INSTRUMENTORS_TRUST_INCOMING_BAGGAGE``
names, capped and without control characters.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Mapping, MutableMapping
from functools import lru_cache
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import baggage, propagate
from opentelemetry.context import Context, get_current

from instrumentors import semconv
from instrumentors._controls import strip_controls
from instrumentors.config import Settings, settings
from instrumentors.session import normalize_session_id

_logger = logging.getLogger(__name__)

REDACTED: Final = "REDACTED"
# Incoming header values past this size are dropped before any propagator parses them.
MAX_HEADER_LENGTH: Final = 8192
# Incoming baggage: at most this many entries taken from a caller, each value capped
# (the session id at its own 256), keys that are not plain printable text dropped.
MAX_INCOMING_ENTRIES: Final = 64
MAX_INCOMING_VALUE_LENGTH: Final = 256
MAX_INCOMING_KEY_LENGTH: Final = 128


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


def parsed_host_allowed(host: str | None) -> bool:
    """``host_allowed`` for a host that ``host_of`` returned already."""
    patterns = settings().propagate_hosts
    return patterns is None or (host is not None and _matches(host, patterns))


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
    """The context a request carries (malformed or oversized values ignored); never raises.

    The caller's baggage goes through ``accept_incoming``: only trusted keys, capped,
    without control characters. Baggage already in ``context`` is ours and stays.
    """
    if not carrier:
        return context
    try:
        clean = {
            str(k).lower(): v
            for k, v in carrier.items()
            if isinstance(v, str) and len(v) <= MAX_HEADER_LENGTH
        }
        base = context if context is not None else get_current()
        return accept_incoming(propagate.extract(clean, context=base), base=base)
    except Exception:
        _logger.debug("extract failed", exc_info=True)
        return context


def _incoming_value(key: str, value: object) -> str | None:
    """The value as a server may keep it: no control characters, capped; None to drop."""
    if not isinstance(value, str):
        return None
    if key == semconv.BAGGAGE_SESSION_KEY:
        return normalize_session_id(value)
    # Cap before stripping too: the work stays bounded whatever a caller sends.
    text = strip_controls(value[: MAX_INCOMING_VALUE_LENGTH * 4])[:MAX_INCOMING_VALUE_LENGTH]
    return text or None


_MISSING: Final = object()


def _trusted_entries(
    entries: Mapping[str, object], local: Mapping[str, object]
) -> dict[str, object]:
    trusted = settings().trusted_baggage
    kept: dict[str, object] = {}
    taken = 0
    for key, value in entries.items():
        if local.get(key, _MISSING) == value:  # ours already, not the caller's
            kept[key] = value
            continue
        clean = None
        if (
            taken < MAX_INCOMING_ENTRIES
            and (trusted is None or key in trusted)
            and len(key) <= MAX_INCOMING_KEY_LENGTH
            and key.isprintable()
        ):
            clean = _incoming_value(key, value)
        if clean is not None:
            kept[key] = clean
            taken += 1
        elif key in local:  # an untrusted value may not replace ours, nor remove it
            kept[key] = local[key]
    return kept


def accept_incoming(context: Context, base: Context | None = None) -> Context:
    """``context`` with the baggage a caller sent cut down to what a server may trust.

    Keys not in ``AGENT_INSTRUMENTORS_TRUST_INCOMING_BAGGAGE`` (default: only
    ``agent.session_id``; ``*`` = every key) are dropped, at most
    ``MAX_INCOMING_ENTRIES`` are taken, control characters are stripped and values
    capped. Entries equal to those of ``base`` (the context before extraction) are
    local, not the caller's, and are kept as they are. Never raises.
    """
    try:
        entries = baggage.get_all(context)
        if not entries:
            return context
        local = baggage.get_all(base) if base is not None else {}
        kept = _trusted_entries(entries, local)
        if kept == dict(entries):
            return context
        result = baggage.clear(context)
        for key, value in kept.items():
            result = baggage.set_baggage(key, value, result)
        return result
    except Exception:
        # Nothing of the caller's then: the context as it was before, or no baggage.
        _logger.debug("filtering incoming baggage failed; dropping it", exc_info=True)
    return base if base is not None else baggage.clear(context)


# Credentials of a URL quoted in free text (an exception message, a stack trace):
# ``scheme://user:password@``. Anchored on the literal "://" and bounded by the
# authority's delimiters, so the work stays linear in the text.
_TEXT_USERINFO: Final = re.compile(r"://[^/\s'\"<>?#]*@")
# Query values in free text: ``?key=value&key=value``, also in a URL's path alone
# (urllib3 quotes ``url: /path?api_key=...`` in its connection errors).
_TEXT_QUERY_VALUE: Final = re.compile(r"([?&][^\s=&?#'\"<>]{1,256}=)[^\s&#'\"<>()\[\]]*")


# Free text longer than this keeps its head and its tail (where a stack trace names the
# error; a typical one is 4 KB): scrubbing stays fast however large a message grows.
MAX_SCRUBBED_TEXT: Final = 16_384


def scrub_text(text: str) -> str:
    """``text`` with every URL credential removed and every query value ``REDACTED``."""
    if len(text) > MAX_SCRUBBED_TEXT:
        half = MAX_SCRUBBED_TEXT // 2
        cut = len(text) - 2 * half
        text = f"{text[:half]}\n[... {cut} characters cut ...]\n{text[-half:]}"
    if "@" in text:
        text = _TEXT_USERINFO.sub("://", text)
    if "=" in text:
        text = _TEXT_QUERY_VALUE.sub(rf"\g<1>{REDACTED}", text)
    return text


def _scrubbed_query(query: str) -> str:
    pieces = []
    for piece in query.split("&"):
        if piece:
            key, sep, _ = piece.partition("=")
            # A piece without "=" may be the secret itself (``?<token>``): none of it stays.
            pieces.append(f"{key}={REDACTED}" if sep else REDACTED)
    return "&".join(pieces)


def sanitize_url(url: object) -> str:
    """The URL without user:password, with every query value replaced by ``REDACTED``
    (and without a fragment)."""
    text = str(url)
    if "?" not in text and "@" not in text and "#" not in text:
        return text  # nothing to take out (the usual case, on every HTTP span)
    try:
        parts = urlsplit(text)
        netloc = parts.netloc.rpartition("@")[2]
        query = _scrubbed_query(parts.query) if parts.query else ""
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return text.split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
