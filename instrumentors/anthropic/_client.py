"""What the SDK client and its transport say: server, provider, the kind of result a
request method returned, retries and rate limits; all through the SDK's public API
(its private names are in ``_compat``)."""

from __future__ import annotations

import email.utils
import math
import time
import weakref
from collections.abc import Callable
from typing import Any, Final

import anthropic
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from instrumentors._errors import error_type
from instrumentors.events import record_rate_limit, record_retry
from instrumentors.telemetry import Run

PROVIDER: Final = GenAI.GenAiProviderNameValues.ANTHROPIC.value
BEDROCK: Final = GenAI.GenAiProviderNameValues.AWS_BEDROCK.value
VERTEX: Final = GenAI.GenAiProviderNameValues.GCP_VERTEX_AI.value


def _public(*names: str) -> tuple[type, ...]:
    return tuple(c for c in (getattr(anthropic, n, None) for n in names) if isinstance(c, type))


# The platform clients, by their public names (missing ones in older releases are skipped).
_BEDROCK: Final = _public(
    "AnthropicBedrock",
    "AsyncAnthropicBedrock",
    "AnthropicBedrockMantle",
    "AsyncAnthropicBedrockMantle",
)
_VERTEX: Final = _public("AnthropicVertex", "AsyncAnthropicVertex")
ASYNC_STREAM: Final = anthropic.AsyncStream
ASYNC_RESPONSE: Final = anthropic.AsyncAPIResponse
_STREAMS: Final = (anthropic.Stream, anthropic.AsyncStream)
_UNREAD: Final = (anthropic.APIResponse, anthropic.AsyncAPIResponse)
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}
_NUMBER: Final = (int, float)
RATE_LIMITED: Final = frozenset({429, 529})  # 529: Anthropic's "overloaded"

# --------------------------------------------------------------------------- what came back

# A parsed body (the common case), a stream, a ``with_streaming_response`` response whose
# body is unread, or a ``with_raw_response`` response whose body is read.
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
    if isinstance(result, anthropic.BaseModel):
        return BODY
    # with_raw_response's response type is not exported: known by its public surface.
    if callable(getattr(result, "parse", None)) and hasattr(result, "http_response"):
        return RAW
    return BODY


# --------------------------------------------------------------------------- the client


class ClientInfo:
    """What a client says about every request it sends (read once per client)."""

    __slots__ = ("address", "port", "provider", "ref", "url")

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
        if isinstance(client, _BEDROCK):
            self.provider: str = BEDROCK
        elif isinstance(client, _VERTEX):
            self.provider = VERTEX
        else:
            self.provider = PROVIDER


_NO_CLIENT: Final = ClientInfo(None, None)
# id(client) -> its info; used only while it holds that very client (weakly) and the
# client's base URL is the one it was made from.
_clients: dict[int, ClientInfo] = {}
_CLIENTS_CAP: Final = 256


def client_info(client: Any) -> ClientInfo:
    """The cached ``ClientInfo`` of ``client`` (a shared empty one for None)."""
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


# TODO(core): the same parser lives in instrumentors/openai/_client.py; it belongs in
# instrumentors/events.py next to record_rate_limit, shared by both SDK layers.
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


def on_retry(
    run: Run, attempt: int, delay: Any, cause: BaseException | None, response: Any
) -> None:
    """``retry.attempted`` (and ``rate.limit.invoked`` on a 429 / 529) for retry ``attempt``.

    ``response`` is the failed attempt's HTTP response (a status answer), ``cause`` its
    exception (a timeout, a connection error, or a status error in older releases).
    """
    if response is None:
        response = getattr(cause, "response", None)
    status = getattr(response, "status_code", None)
    record_retry(
        attempt=attempt,
        delay_s=delay if type(delay) in _NUMBER else None,
        status_code=status,
        error_type=error_type(cause) if cause is not None and status is None else None,
        span=run.span,
    )
    if status in RATE_LIMITED:
        headers = getattr(response, "headers", None)
        record_rate_limit(status, retry_after_s=retry_after_s(headers), span=run.span)


def on_error(run: Run, exc: BaseException) -> None:
    """Before the run fails: ``rate.limit.invoked`` when the final answer was a 429 / 529."""
    status = getattr(exc, "status_code", None)
    if status in RATE_LIMITED:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        record_rate_limit(status, retry_after_s=retry_after_s(headers), span=run.span)
