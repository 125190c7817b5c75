"""What the SDK client says (provider, server) and what its transport reports (retries,
rate limits); through the SDK's public API, its private names in ``_compat``.

The API key lives in the client's headers (``x-goog-api-key``) or a ``key=``
query: nothing here reads headers or URLs beyond the base URL's host and port.
"""

from __future__ import annotations

import email.utils
import math
import re
import sys
import time
import weakref
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from instrumentors._errors import error_type
from instrumentors.events import record_rate_limit, record_retry
from instrumentors.google_genai import _compat
from instrumentors.telemetry import Run

GEMINI: Final = GenAI.GenAiProviderNameValues.GCP_GEMINI.value
VERTEX_AI: Final = GenAI.GenAiProviderNameValues.GCP_VERTEX_AI.value
_DEFAULT_PORTS: Final = {"https": 443, "http": 80, "wss": 443, "ws": 80}
_RETRY_INFO: Final = "type.googleapis.com/google.rpc.RetryInfo"
_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


class ClientInfo:
    """Provider and server of the requests a client sends (read once per client)."""

    __slots__ = ("address", "port", "provider", "ref")

    def __init__(self, api_client: Any, vertex: bool, base_url: Any) -> None:
        try:
            self.ref: Callable[[], Any] | None = weakref.ref(api_client)
        except TypeError:
            self.ref = None
        self.provider: str = VERTEX_AI if vertex else GEMINI
        self.address, self.port = server_of(base_url)


def server_of(base_url: Any) -> tuple[str | None, int | None]:
    """(host, port) of a base URL; the port defaults by scheme. Nothing else is kept."""
    if not isinstance(base_url, str) or not base_url:
        return None, None
    try:
        parts = urlsplit(base_url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None, None
    return parts.hostname or None, port


# id(api client) -> its info; used only while it holds that very client (weakly).
_clients: dict[int, ClientInfo] = {}
_CLIENTS_CAP: Final = 256


def _base_url(api_client: Any) -> Any:
    options = api_client.get_read_only_http_options()  # public; a copy (headers too: dropped)
    return options.get("base_url") if isinstance(options, dict) else None


def client_info(resource: Any) -> ClientInfo:
    """The cached ``ClientInfo`` of the client behind ``client.models`` / ``client.aio.models``."""
    api_client = _compat.api_client_of(resource)
    if api_client is None:
        return ClientInfo(None, bool(getattr(resource, "vertexai", False)), None)
    known = _clients.get(id(api_client))
    if known is not None and known.ref is not None and known.ref() is api_client:
        return known
    info = ClientInfo(
        api_client, bool(getattr(api_client, "vertexai", False)), _base_url(api_client)
    )
    if info.ref is not None:
        if len(_clients) >= _CLIENTS_CAP:
            _clients.clear()
        _clients[id(api_client)] = info
    return info


def request_base_url(config: Any) -> str | None:
    """A per-request ``http_options.base_url`` override in the call's config, if any."""
    if config is None:
        return None
    options = config.get("http_options") if isinstance(config, dict) else config.http_options
    if options is None:
        return None
    url = options.get("base_url") if isinstance(options, dict) else options.base_url
    return url if isinstance(url, str) and url else None


# --------------------------------------------------------------------------- errors, retries


def status_of(exc: BaseException | None) -> int | None:
    """The HTTP status of an ``APIError`` (its public ``code``), else None."""
    code = getattr(exc, "code", None)
    return code if type(code) is int and 100 <= code < 600 else None


def retry_after_s(exc: BaseException) -> float | None:
    """The wait the server asked for: the error's ``RetryInfo.retryDelay``, or ``Retry-After``."""
    details = getattr(exc, "details", None)
    error = details.get("error", details) if isinstance(details, dict) else None
    for item in (error.get("details") if isinstance(error, dict) else None) or ():
        if isinstance(item, dict) and item.get("@type") == _RETRY_INFO:
            match = _DURATION.match(str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    headers = getattr(getattr(exc, "response", None), "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    try:
        delay = float(value)
        return delay if math.isfinite(delay) else None
    except ValueError:
        when = email.utils.parsedate_tz(value)
        return float(email.utils.mktime_tz(when) - time.time()) if when else None


def on_failed_attempt(run: Run, exc: BaseException) -> None:
    """A request attempt failed: ``rate.limit.invoked`` when it was a 429."""
    if status_of(exc) == 429:
        record_rate_limit(429, retry_after_s=retry_after_s(exc), span=run.span)


def on_retry(run: Run, attempt: int, delay_s: float, cause: BaseException) -> None:
    """``retry.attempted`` for retry number ``attempt`` (the delay as measured)."""
    status = status_of(cause)
    record_retry(
        attempt=attempt,
        delay_s=delay_s,
        status_code=status,
        error_type=error_type(cause) if status is None else None,
        span=run.span,
    )


def tenacity_layer_active() -> bool:
    """Whether our ``TenacityInstrumentor`` records tenacity's retries (the SDK's included)."""
    module = sys.modules.get("instrumentors.tenacity")
    if module is None:
        return False
    return bool(module.TenacityInstrumentor().started)  # the instrumentor is a singleton
