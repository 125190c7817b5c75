"""The only place for the Anthropic SDK's private names, each behind a guarded function.

Everything else in this package uses the SDK's public API. When a name here is
gone in the installed SDK, the feature it serves is skipped (one DEBUG log) and
the user's call is untouched; ``tests/anthropic/test_compat.py`` names every one
of them, so the compat matrix fails before users notice.

- ``APIResource._client``: the client a resource (``client.messages``...) belongs
  to, for ``server.address`` / ``server.port`` and the provider (Bedrock, Vertex).
  Resources keep it under this name only; without it the span has no server and
  the provider is ``anthropic``.
- ``anthropic._base_client.BaseClient._calculate_retry_timeout``: the SDK's retry
  loop calls it once per retry and it returns the delay (inside the ``except`` of
  a failed attempt for transport errors). No public hook sees a retry with its
  delay; without it there are no ``retry.attempted`` events.
- ``SyncAPIClient._sleep_for_retry`` / ``AsyncAPIClient._sleep_for_retry``: called
  once per retry with the failed attempt's ``response=`` (keyword), the only place
  an error *status* retry shows its status code (0.x-2.x retry status answers
  outside any ``except``). Without it, retries of a status answer carry no status
  and 429/529 retries give no ``rate.limit.invoked``.
- ``anthropic._base_client.start_api_call_span``: anthropic 1.x/2.x trace themselves
  (an ``anthropic.messages.create`` CLIENT span through the global provider). The
  SDK calls this function for every traced request and documents ``None`` as "the
  call goes on without a span"; while our layer traces a request (or
  instrumentation is suppressed) our wrapper answers ``None``, so one request is
  one ``chat {model}`` span. Without it (a release that renamed it), requests get
  the SDK's span next to ours.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any, Final

from instrumentors._patching import attribute_exists

_logger = logging.getLogger(__name__)

BASE_CLIENT: Final = "anthropic._base_client"
RETRY_METHOD: Final = "BaseClient._calculate_retry_timeout"
SLEEP_METHODS: Final = ("SyncAPIClient._sleep_for_retry", "AsyncAPIClient._sleep_for_retry")
SDK_SPAN_FUNCTION: Final = "start_api_call_span"
SDK_TRACING_MODULE: Final = "anthropic._tracing"  # present in the releases that trace themselves

# (module, dotted name): what tests/anthropic/test_compat.py checks in the installed SDK.
PRIVATE_NAMES: Final = (
    ("anthropic._resource", "SyncAPIResource._client"),
    (BASE_CLIENT, RETRY_METHOD),
    *((BASE_CLIENT, method) for method in SLEEP_METHODS),
    (BASE_CLIENT, SDK_SPAN_FUNCTION),  # only where SDK_TRACING_MODULE exists
)

_reported: set[str] = set()


def _gone(name: str, feature: str) -> None:
    """Log once per name that a private name is missing, and what is skipped."""
    if name not in _reported:
        _reported.add(name)
        _logger.debug("anthropic has no %s any more: %s", name, feature)


def client_of(resource: Any) -> Any:
    """The client of an SDK resource (``Messages``, ``AsyncMessages``...), or None."""
    client = getattr(resource, "_client", None)
    if client is None:
        _gone("APIResource._client", "no server address, provider taken as anthropic")
    return client


def retry_hook_available() -> bool:
    """Whether the SDK's retry loop still calls ``BaseClient._calculate_retry_timeout``."""
    present = attribute_exists(BASE_CLIENT, RETRY_METHOD)
    if not present:
        _gone(f"{BASE_CLIENT}.{RETRY_METHOD}", "retry.attempted events skipped")
    return present


def sleep_hook_available(method: str) -> bool:
    """Whether ``method`` (a ``_sleep_for_retry``) still exists to show retried statuses."""
    present = attribute_exists(BASE_CLIENT, method)
    if not present:
        _gone(f"{BASE_CLIENT}.{method}", "retried statuses and 429/529 events skipped")
    return present


def sdk_traces_itself() -> bool:
    """Whether the installed SDK makes its own spans (anthropic 1.x / 2.x)."""
    try:
        return importlib.util.find_spec(SDK_TRACING_MODULE) is not None
    except (ImportError, ValueError):
        return False


def sdk_span_hook_available() -> bool:
    """Whether the SDK's own span can be left out of the requests we trace."""
    if attribute_exists(BASE_CLIENT, SDK_SPAN_FUNCTION):
        return True
    if sdk_traces_itself():  # 0.x has nothing to leave out: silent there
        _gone(f"{BASE_CLIENT}.{SDK_SPAN_FUNCTION}", "the SDK's own span stays next to ours")
    return False
