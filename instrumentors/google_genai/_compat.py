"""The only place for the google-genai SDK's private names, each behind a guarded function.

Everything else in this package uses the SDK's public API (``Models`` /
``AsyncModels`` methods, ``google.genai.types``, ``google.genai.errors``). When a
name here is gone in the installed SDK, the feature it serves is skipped (one
DEBUG log) and the user's call is untouched; ``tests/google_genai/test_genai_compat.py``
names every one of them, so the compat matrix fails before users notice.

- ``BaseModule._api_client``: the API client a ``Models`` / ``AsyncModels`` resource
  belongs to: whether it targets Vertex AI (``vertexai``) and its base URL
  (public ``get_read_only_http_options()``), for ``gen_ai.provider.name`` and
  ``server.address``. Resources keep it under this name only; without it the
  provider is ``gcp.gemini`` and the span has no server.
- ``google.genai._extra_utils.get_function_response_parts`` (and ``_async``): the
  automatic-function-calling loop calls it once per model turn whose response
  asks for functions, with that response. It is where the turn's usage and
  requested calls are read (no public hook sees an intermediate turn) and where
  the call ids for the tool spans come from.
- ``google.genai._extra_utils.invoke_function_from_dict_args`` (and ``_async``): the
  loop calls it once per function invocation, with the arguments and the
  function; each call becomes one ``execute_tool`` span. Without these there are
  no tool spans for automatic function calling (the chat span is unaffected).
- ``google.genai._api_client.BaseApiClient._request_once`` (and
  ``_async_request_once``): the SDK's tenacity retry loop calls it once per
  attempt. It is the one place that sees every attempt, including timeouts and
  connection errors, with the failed attempt's status: retries (when our
  tenacity layer is not on) and rate limits come from it. Without it the final
  error still records ``rate.limit.invoked`` for a 429; retried attempts do not.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from instrumentors._patching import attribute_exists

_logger = logging.getLogger(__name__)

AFC_MODULE: Final = "google.genai._extra_utils"
TURN: Final = "get_function_response_parts"
ASYNC_TURN: Final = "get_function_response_parts_async"
INVOKE: Final = "invoke_function_from_dict_args"
ASYNC_INVOKE: Final = "invoke_function_from_dict_args_async"
CLIENT_MODULE: Final = "google.genai._api_client"
ATTEMPT: Final = "BaseApiClient._request_once"
ASYNC_ATTEMPT: Final = "BaseApiClient._async_request_once"
RESOURCE_MODULE: Final = "google.genai._api_module"
RESOURCE_CLIENT: Final = "_api_client"

# (module, name) of every private name relied on, for the compat test.
PRIVATE_NAMES: Final = (
    (AFC_MODULE, TURN),
    (AFC_MODULE, ASYNC_TURN),
    (AFC_MODULE, INVOKE),
    (AFC_MODULE, ASYNC_INVOKE),
    (CLIENT_MODULE, ATTEMPT),
    (CLIENT_MODULE, ASYNC_ATTEMPT),
    (RESOURCE_MODULE, f"BaseModule.{RESOURCE_CLIENT}"),
)

_reported: set[str] = set()


def _gone(name: str, feature: str) -> None:
    """Log once per name that a private name is missing, and what is skipped."""
    if name not in _reported:
        _reported.add(name)
        _logger.debug("google-genai has no %s any more: %s skipped", name, feature)


def api_client_of(resource: Any) -> Any:
    """The API client of a ``Models`` / ``AsyncModels`` resource, or None."""
    client = getattr(resource, RESOURCE_CLIENT, None)
    if client is None:
        _gone("BaseModule._api_client", "Vertex AI detection and server address")
    return client


def available(module: str, attribute: str, feature: str) -> bool:
    """Whether ``module.attribute`` still exists (a patch row's check); logs once when not."""
    present = attribute_exists(module, attribute)
    if not present:
        _gone(f"{module}.{attribute}", feature)
    return present
