"""What the SDK client and its transport say: server, provider, default headers, the kind
of result a request method returned, retries and rate limits; all through the SDK's
public API (its private names are in ``_compat``). The reading is shared with the
Anthropic layer (``instrumentors._sdk_client``); OpenAI's providers and headers are here."""

from __future__ import annotations

from typing import Any, Final

import openai
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from instrumentors import _sdk_client
from instrumentors._sdk_client import BODY, RAW, STREAM, UNREAD, retry_after_s
from instrumentors.telemetry import Run

__all__ = ["BODY", "RAW", "STREAM", "UNREAD", "ClientInfo", "client_info", "retry_after_s"]

# 3.x adds ``AsyncStream.aclose``; the proxy offers it only where the SDK does.
ASYNC_STREAM_HAS_ACLOSE: Final = hasattr(openai.AsyncStream, "aclose")
_AZURE: Final = tuple(
    c
    for c in (getattr(openai, "AzureOpenAI", None), getattr(openai, "AsyncAzureOpenAI", None))
    if c
)
PROVIDER: Final = GenAI.GenAiProviderNameValues.OPENAI.value
AZURE_PROVIDER: Final = GenAI.GenAiProviderNameValues.AZURE_AI_OPENAI.value
_RATE_LIMITED: Final = (429,)

# What a request method returned (``BODY``, ``STREAM``, ``UNREAD`` or ``RAW``), by type.
KINDS: Final = _sdk_client.ResultKinds(openai)
result_kind: Final = KINDS.of

# --------------------------------------------------------------------------- the client


def idempotency_in(headers: Any) -> str | None:
    """The value of an ``Idempotency-Key`` header (any case) among ``headers``."""
    if headers:
        for name, value in headers.items():
            if isinstance(value, str) and name.lower() == "idempotency-key":
                return value
    return None


class ClientInfo(_sdk_client.ClientInfo):
    """What a client says about every request it sends (read once per client)."""

    __slots__ = ("idempotency_key",)

    def __init__(self, client: Any, url: Any) -> None:
        super().__init__(client, url, AZURE_PROVIDER if isinstance(client, _AZURE) else PROVIDER)
        # Headers the client sends with every request (``default_headers=``), with ours.
        self.idempotency_key = idempotency_in(getattr(client, "default_headers", None))


# The cached ``ClientInfo`` of a client (an empty one for None, a resource without one).
client_info = _sdk_client.Clients(ClientInfo).info


def server_of(client: Any) -> tuple[str | None, int | None]:
    """``server.address`` / ``server.port`` from the client's base URL (httpx or httpx2 URL)."""
    info = client_info(client)
    return info.address, info.port


# --------------------------------------------------------------------------- retries, errors


def on_retry(run: Run, attempt: int, delay: Any, cause: BaseException | None) -> None:
    """``retry.attempted`` (and ``rate.limit.invoked`` on a 429) for retry number ``attempt``.

    ``cause`` is the failed attempt's exception: an HTTP status error carries the
    response (status, ``Retry-After``); a timeout or connection error only its type.
    """
    _sdk_client.on_retry(run, attempt, delay, cause, None, _RATE_LIMITED)


def on_error(run: Run, exc: BaseException) -> None:
    """Before the run fails: ``rate.limit.invoked`` when the final answer was a 429."""
    _sdk_client.on_error(run, exc, _RATE_LIMITED)
