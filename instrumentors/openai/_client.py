"""What the SDK client and its transport say: server, provider, default headers, the kind
of result a request method returned, retries and rate limits; all through the SDK's
public API (its private names are in ``_compat``)."""

from __future__ import annotations

import email.utils
import math
import time
import weakref
from collections.abc import Callable
from typing import Any, Final

import openai
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from instrumentors._errors import error_type
from instrumentors.events import record_rate_limit, record_retry
from instrumentors.telemetry import Run

ASYNC_STREAM: Final = openai.AsyncStream
ASYNC_RESPONSE: Final = openai.AsyncAPIResponse
# 3.x adds ``AsyncStream.aclose``; the proxy offers it only where the SDK does.
ASYNC_STREAM_HAS_ACLOSE: Final = hasattr(openai.AsyncStream, "aclose")
_STREAMS: Final = (openai.Stream, openai.AsyncStream)
_UNREAD: Final = (openai.APIResponse, openai.AsyncAPIResponse)
_AZURE: Final = tuple(
    c
    for c in (getattr(openai, "AzureOpenAI", None), getattr(openai, "AsyncAzureOpenAI", None))
    if c
)
PROVIDER: Final = GenAI.GenAiProviderNameValues.OPENAI.value
AZURE_PROVIDER: Final = GenAI.GenAiProviderNameValues.AZURE_AI_OPENAI.value
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}
_NUMBER: Final = (int, float)

# --------------------------------------------------------------------------- what came back

# What a request method returned: a parsed body (the common case), a stream, a
# ``with_streaming_response`` response whose body is unread, or a
# ``with_raw_response`` response whose body is read (``LegacyAPIResponse``).
BODY: Final = 0
STREAM: Final = 1
UNREAD: Final = 2
RAW: Final = 3
_kinds: dict[type, int] = {}


def result_kind(result: Any) -> int:
    """``BODY``, ``STREAM``, ``UNREAD`` or ``RAW`` (cached per type: one dict read a call)."""
    kind = _kinds.get(type(result))
    if kind is None:
        kind = _classify(result)
        if len(_kinds) >= 64:
            _kinds.clear()
        _kinds[type(result)] = kind
    return kind


def _classify(result: Any) -> int:
    if isinstance(result, _STREAMS):
        return STREAM
    if isinstance(result, _UNREAD):
        return UNREAD
    if isinstance(result, openai.BaseModel):
        return BODY
    # with_raw_response's response type is not exported: known by its public surface.
    if callable(getattr(result, "parse", None)) and hasattr(result, "http_response"):
        return RAW
    return BODY


# --------------------------------------------------------------------------- the client


class ClientInfo:
    """What a client says about every request it sends (read once per client)."""

    __slots__ = ("address", "idempotency_key", "port", "provider", "ref", "url")

    def __init__(self, client: Any, url: Any) -> None:
        try:
            self.ref: Callable[[], Any] | None = weakref.ref(client)
        except TypeError:
            self.ref = None
        self.url = url
        self.address: str | None = getattr(url, "host", None) or None
        self.port: int | None = getattr(url, "port", None) or _DEFAULT_PORTS.get(
            getattr(url, "scheme", "")
        )
        self.provider: str = AZURE_PROVIDER if isinstance(client, _AZURE) else PROVIDER
        # Headers the client sends with every request (``default_headers=``), with ours.
        self.idempotency_key = idempotency_in(getattr(client, "default_headers", None))


# id(client) -> its info; an entry is used only while it holds that very client (weakly)
# and the client's base URL is the one it was made from.
_clients: dict[int, ClientInfo] = {}
_CLIENTS_CAP: Final = 256


def client_info(client: Any) -> ClientInfo:
    """The cached ``ClientInfo`` of ``client`` (None: a resource without a client)."""
    if client is None:
        return _NO_CLIENT
    url = getattr(client, "base_url", None)
    known = _clients.get(id(client))
    if known is not None and known.url is url and known.ref is not None and known.ref() is client:
        return known
    info = ClientInfo(client, url)
    if info.ref is not None:
        if len(_clients) >= _CLIENTS_CAP:
            _clients.clear()
        _clients[id(client)] = info
    return info


def server_of(client: Any) -> tuple[str | None, int | None]:
    """``server.address`` / ``server.port`` from the client's base URL (httpx or httpx2 URL)."""
    info = client_info(client)
    return info.address, info.port


def idempotency_in(headers: Any) -> str | None:
    """The value of an ``Idempotency-Key`` header (any case) among ``headers``."""
    if headers:
        for name, value in headers.items():
            if isinstance(value, str) and name.lower() == "idempotency-key":
                return value
    return None


_NO_CLIENT: Final = ClientInfo(None, None)


def retry_after_s(headers: Any) -> float | None:
    """The server's ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date), in seconds."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            delay = float(value) * scale
        except ValueError:
            continue
        return delay if math.isfinite(delay) else None
    value = headers.get("retry-after")
    try:
        when = email.utils.parsedate_tz(value) if value else None
        return float(email.utils.mktime_tz(when) - time.time()) if when else None
    except (TypeError, ValueError, OverflowError):
        return None


# --------------------------------------------------------------------------- retries, errors


def on_retry(run: Run, attempt: int, delay: Any, cause: BaseException | None) -> None:
    """``retry.attempted`` (and ``rate.limit.invoked`` on a 429) for retry number ``attempt``.

    ``cause`` is the failed attempt's exception: an HTTP status error carries the
    response (status, ``Retry-After``); a timeout or connection error only its type.
    """
    response = getattr(cause, "response", None)
    status = getattr(response, "status_code", None)
    record_retry(
        attempt=attempt,
        delay_s=delay if type(delay) in _NUMBER else None,
        status_code=status,
        error_type=error_type(cause) if cause is not None and status is None else None,
        span=run.span,
    )
    if status == 429:
        headers = getattr(response, "headers", None)
        record_rate_limit(429, retry_after_s=retry_after_s(headers), span=run.span)


def on_error(run: Run, exc: BaseException) -> None:
    """Before the run fails: ``rate.limit.invoked`` when the final answer was a 429."""
    if getattr(exc, "status_code", None) == 429:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        record_rate_limit(429, retry_after_s=retry_after_s(headers), span=run.span)
