"""The only place for the OpenAI SDK's private names, each behind a guarded function.

Everything else in this package uses the SDK's public API. When a name here is
gone in the installed SDK, the feature it serves is skipped (one DEBUG log) and
the user's call is untouched; ``tests/openai/test_compat.py`` names every one of
them, so the compat matrix fails before users notice.

- ``APIResource._client``: the client a resource (``client.chat.completions``...)
  belongs to, for ``server.address``, the provider and default headers. The
  resources keep it under this name only; without it the span has no server
  and the provider is ``openai``.
- ``openai._base_client.BaseClient._calculate_retry_timeout``: the SDK's retry
  loop calls it once per retry, inside the ``except`` of the failed attempt,
  and it returns the delay. No public hook sees a retry with its delay and
  cause (the SDK only logs it, at INFO, in a format that changes between
  majors; an HTTP event hook misses timeouts and connection errors and never
  sees the delay). Without it there are no ``retry.attempted`` events.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from instrumentors._patching import attribute_exists

_logger = logging.getLogger(__name__)

RETRY_MODULE: Final = "openai._base_client"
RETRY_METHOD: Final = "BaseClient._calculate_retry_timeout"

_reported: set[str] = set()


def _gone(name: str, feature: str) -> None:
    """Log once per name that a private name is missing, and what is skipped."""
    if name not in _reported:
        _reported.add(name)
        _logger.debug("openai has no %s any more: %s skipped", name, feature)


def client_of(resource: Any) -> Any:
    """The client of an SDK resource (``Completions``, ``Responses``...), or None."""
    client = getattr(resource, "_client", None)
    if client is None:
        _gone("APIResource._client", "server address, provider and default headers")
    return client


def retry_hook_available() -> bool:
    """Whether the SDK's retry loop still calls ``BaseClient._calculate_retry_timeout``."""
    present = attribute_exists(RETRY_MODULE, RETRY_METHOD)
    if not present:
        _gone(f"{RETRY_MODULE}.{RETRY_METHOD}", "retry.attempted events")
    return present
