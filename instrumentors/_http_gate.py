"""``AGENT_INSTRUMENTORS_PROPAGATE_HOSTS`` for the official httpx and requests instrumentations.

They inject through ``opentelemetry.propagate.inject`` (the global propagator) while
their CLIENT span is current, with no option to skip a host. ``install()`` wraps the
global propagator in ``AllowlistPropagator``: when the current span is one of their
scrubbed ``HTTPSpan`` s (``_http_spans``: it knows the request's host) and the host
is outside the allowlist, nothing is injected; for any other span (our own layers,
job payloads, the user's code) it passes through untouched.

Redirects, hop by hop:

- httpx sends every hop through the instrumented transport: a new span and a new
  injection, into headers copied from the previous hop. For a host outside the
  allowlist the gate also takes back the values it injected into the previous hop.
- requests sends its redirect hops inside the first hop's span with HTTP
  instrumentation suppressed, so nothing is injected again. ``Session.rebuild_auth``
  (requests' documented hook for stripping what must not follow a redirect) is
  wrapped to take the trace headers back for a host outside the allowlist and to
  restore them for one inside it.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from wrapt import register_post_import_hook, wrap_function_wrapper

from instrumentors._http_spans import HTTPSpan
from instrumentors.config import settings
from instrumentors.propagation import host_allowed, parsed_host_allowed

_logger = logging.getLogger(__name__)

# What the gate last injected for an official HTTP span in this context: an httpx
# redirect copies it into the next hop's headers.
_last_injected: ContextVar[dict[str, str] | None] = ContextVar(
    "instrumentors_http_gate_last_injected", default=None
)


class _Recording(Setter[Any]):
    """A setter that remembers what it set."""

    def __init__(self, setter: Setter[Any]) -> None:
        self.setter = setter
        self.values: dict[str, str] = {}

    def set(self, carrier: Any, key: str, value: str) -> None:
        self.values[key] = value
        self.setter.set(carrier, key, value)


def _get(carrier: Any, key: str) -> Any:
    get = getattr(carrier, "get", None)
    return get(key) if callable(get) else None


def withdraw(carrier: Any, values: dict[str, str]) -> None:
    """Take ``values`` (headers we injected into an earlier hop) back out of ``carrier``.

    Only when every one of them is there unchanged: then the headers are a copy of
    that hop's, not something the caller set.
    """
    if not values or any(_get(carrier, key) != value for key, value in values.items()):
        return
    for key in values:
        carrier.pop(key, None)


class AllowlistPropagator(TextMapPropagator):
    """The global propagator, withholding trace headers from hosts outside the allowlist."""

    def __init__(self, inner: TextMapPropagator) -> None:
        self.inner = inner

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,  # type: ignore[assignment]
    ) -> Context:
        return self.inner.extract(carrier, context, getter)

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,  # type: ignore[assignment]
    ) -> None:
        span = trace.get_current_span(context)
        if not isinstance(span, HTTPSpan) or settings().propagate_hosts is None:
            self.inner.inject(carrier, context, setter)
            return
        try:
            allowed = parsed_host_allowed(span.host)
        except Exception:  # withholding never breaks a request; leaking might matter
            _logger.debug("checking the propagation allowlist failed", exc_info=True)
            allowed = False
        if not allowed:
            try:
                withdraw(carrier, _last_injected.get() or {})
            except Exception:
                _logger.debug("withdrawing trace headers failed", exc_info=True)
            return
        recording = _Recording(setter)
        self.inner.inject(carrier, context, recording)
        span.injected = recording.values
        _last_injected.set(recording.values)

    @property
    def fields(self) -> set[str]:
        return self.inner.fields


def _rebuild_auth(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrap ``requests.Session.rebuild_auth(prepared_request, response)``: one redirect hop."""
    result = wrapped(*args, **kwargs)
    span = trace.get_current_span()
    if isinstance(span, HTTPSpan) and span.injected:
        try:
            request = args[0] if args else kwargs["prepared_request"]
            headers = request.headers
            if host_allowed(request.url):
                for key, value in span.injected.items():
                    if key not in headers:
                        headers[key] = value
            else:
                withdraw(headers, span.injected)
        except Exception:
            _logger.debug("checking trace headers on a requests redirect failed", exc_info=True)
    return result


_lock: Final = threading.Lock()
_state: Final = {"active": False, "hook_registered": False, "requests_wrapped": False}


def _wrap_requests(module: Any) -> None:
    """Post-import hook for requests (fires once it is imported, or at once if it is)."""
    with _lock:
        if not _state["active"] or _state["requests_wrapped"]:
            return
        try:
            wrap_function_wrapper(module, "Session.rebuild_auth", _rebuild_auth)
            _state["requests_wrapped"] = True
        except Exception:
            _logger.debug("could not watch requests redirects", exc_info=True)


def install() -> None:
    """Wrap the global propagator (again, if it was replaced since); idempotent, never raises."""
    try:
        if isinstance(propagate.get_global_textmap(), AllowlistPropagator) and _state["active"]:
            return
        with _lock:
            current = propagate.get_global_textmap()
            if not isinstance(current, AllowlistPropagator):
                propagate.set_global_textmap(AllowlistPropagator(current))
            _state["active"] = True
            register = not _state["hook_registered"]
            _state["hook_registered"] = True
        if register:  # requests is hooked once the program imports it, not imported here
            register_post_import_hook(_wrap_requests, "requests")
        elif "requests" in sys.modules:
            _wrap_requests(sys.modules["requests"])
    except Exception:
        _logger.debug("could not install the propagation allowlist", exc_info=True)


def ensure() -> None:
    """``install()`` when an allowlist is configured (called as each official HTTP span starts).

    Cheap when installed; re-wraps a global propagator that the program replaced since.
    """
    if settings().propagate_hosts is not None:
        install()


def uninstall() -> None:
    """Undo ``install()`` (for tests): the inner propagator back, requests unwrapped."""
    with _lock:
        current = propagate.get_global_textmap()
        if isinstance(current, AllowlistPropagator):
            propagate.set_global_textmap(current.inner)
        _state["active"] = False
        module = sys.modules.get("requests")
        if _state["requests_wrapped"] and module is not None:
            unwrap(module.Session, "rebuild_auth")
        _state["requests_wrapped"] = False
