"""What the SDK client and its transport say: server, provider, the kind of result a
request method returned, retries and rate limits; all through the SDK's public API
(its private names are in ``_compat``). The reading is shared with the OpenAI layer
(``instrumentors._sdk_client``); Anthropic's platforms and statuses are here."""

from __future__ import annotations

from typing import Any, Final

import anthropic
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI

from instrumentors import _sdk_client
from instrumentors._sdk_client import BODY, RAW, STREAM, UNREAD, ClientInfo, retry_after_s
from instrumentors.telemetry import Run

__all__ = ["BODY", "RAW", "STREAM", "UNREAD", "ClientInfo", "client_info", "retry_after_s"]

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
RATE_LIMITED: Final = frozenset({429, 529})  # 529: Anthropic's "overloaded"

# What a request method returned (``BODY``, ``STREAM``, ``UNREAD`` or ``RAW``), by type.
KINDS: Final = _sdk_client.ResultKinds(anthropic)
result_kind: Final = KINDS.of

# --------------------------------------------------------------------------- the client


def _info(client: Any, url: Any) -> ClientInfo:
    if isinstance(client, _BEDROCK):
        provider = BEDROCK
    elif isinstance(client, _VERTEX):
        provider = VERTEX
    else:
        provider = PROVIDER
    return ClientInfo(client, url, provider)


# The cached ``ClientInfo`` of a client (a shared empty one for None).
client_info = _sdk_client.Clients(_info).info

# --------------------------------------------------------------------------- retries, errors


def on_retry(
    run: Run, attempt: int, delay: Any, cause: BaseException | None, response: Any
) -> None:
    """``retry.attempted`` (and ``rate.limit.invoked`` on a 429 / 529) for retry ``attempt``.

    ``response`` is the failed attempt's HTTP response (a status answer), ``cause`` its
    exception (a timeout, a connection error, or a status error in older releases).
    """
    _sdk_client.on_retry(run, attempt, delay, cause, response, RATE_LIMITED)


def on_error(run: Run, exc: BaseException) -> None:
    """Before the run fails: ``rate.limit.invoked`` when the final answer was a 429 / 529."""
    _sdk_client.on_error(run, exc, RATE_LIMITED)
