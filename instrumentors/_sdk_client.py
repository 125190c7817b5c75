"""What the model SDKs built alike (openai, anthropic) say the same way: the kind of
result a request method returned, the client's server, ``Retry-After``, retries and
rate limits. Each layer names its SDK's types and providers; the reading is here.
"""

from __future__ import annotations

import email.utils
import math
import time
import weakref
from collections.abc import Callable, Collection
from typing import Any, Final, Generic, TypeVar

from instrumentors._errors import error_type
from instrumentors.events import record_rate_limit, record_retry
from instrumentors.telemetry import Run

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
_KINDS_CAP: Final = 64


class ResultKinds:
    """The kind of each result of one SDK, by its public types (cached per type)."""

    __slots__ = ("_body", "_kinds", "_streams", "_unread", "async_response", "async_stream")

    def __init__(self, sdk: Any) -> None:
        """``sdk``: the SDK's module (``openai``, ``anthropic``), which exports the types."""
        self.async_stream: type = sdk.AsyncStream
        self.async_response: type = sdk.AsyncAPIResponse
        self._streams: tuple[type, ...] = (sdk.Stream, sdk.AsyncStream)
        self._unread: tuple[type, ...] = (sdk.APIResponse, sdk.AsyncAPIResponse)
        self._body: type = sdk.BaseModel
        self._kinds: dict[type, int] = {}

    def of(self, result: Any) -> int:
        """``BODY``, ``STREAM``, ``UNREAD`` or ``RAW`` (one dict read a call)."""
        kind = self._kinds.get(type(result))
        if kind is None:
            kind = self._classify(result)
            if len(self._kinds) >= _KINDS_CAP:
                self._kinds.clear()
            self._kinds[type(result)] = kind
        return kind

    def _classify(self, result: Any) -> int:
        if isinstance(result, self._streams):
            return STREAM
        if isinstance(result, self._unread):
            return UNREAD
        if isinstance(result, self._body):
            return BODY
        # with_raw_response's response type is not exported: known by its public surface.
        if callable(getattr(result, "parse", None)) and hasattr(result, "http_response"):
            return RAW
        return BODY


# --------------------------------------------------------------------------- the client


class ClientInfo:
    """What a client says about every request it sends (read once per client)."""

    __slots__ = ("address", "port", "provider", "ref", "url")

    def __init__(self, client: Any, url: Any, provider: str) -> None:
        try:
            self.ref: Callable[[], Any] | None = weakref.ref(client)
        except TypeError:
            self.ref = None
        self.url = url
        self.address: str | None = getattr(url, "host", None) or None
        self.port: int | None = getattr(url, "port", None) or _DEFAULT_PORTS.get(
            getattr(url, "scheme", "")
        )
        self.provider = provider


InfoT = TypeVar("InfoT", bound=ClientInfo)
_CLIENTS_CAP: Final = 256


class Clients(Generic[InfoT]):
    """id(client) -> its info; an entry is used only while it holds that very client
    (weakly) and the client's base URL is the one it was made from."""

    __slots__ = ("_known", "_make", "_none")

    def __init__(self, make: Callable[[Any, Any], InfoT]) -> None:
        self._make = make  # (client, its base URL) -> its info
        self._known: dict[int, InfoT] = {}
        self._none = make(None, None)

    def info(self, client: Any) -> InfoT:
        """The cached info of ``client`` (a shared empty one for None)."""
        if client is None:
            return self._none
        url = getattr(client, "base_url", None)
        known = self._known.get(id(client))
        if (
            known is not None
            and known.url is url
            and known.ref is not None
            and known.ref() is client
        ):
            return known
        info = self._make(client, url)
        if info.ref is not None:
            if len(self._known) >= _CLIENTS_CAP:
                self._known.clear()
            self._known[id(client)] = info
        return info


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
    run: Run,
    attempt: int,
    delay: Any,
    cause: BaseException | None,
    response: Any,
    limited: Collection[int],
) -> None:
    """``retry.attempted`` (and ``rate.limit.invoked`` for a ``limited`` status) for retry
    number ``attempt``.

    ``response`` is the failed attempt's HTTP response where the layer saw it, else the
    one ``cause`` carries (an HTTP status error); a timeout or a connection error has
    none, only its type.
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
    if status in limited:
        headers = getattr(response, "headers", None)
        record_rate_limit(status, retry_after_s=retry_after_s(headers), span=run.span)


def on_error(run: Run, exc: BaseException, limited: Collection[int]) -> None:
    """Before the run fails: ``rate.limit.invoked`` when the final answer had a ``limited``
    status."""
    status = getattr(exc, "status_code", None)
    if status in limited:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        record_rate_limit(status, retry_after_s=retry_after_s(headers), span=run.span)
