"""httpx2 request/response objects -> HTTP client span names and attributes (no secrets)."""

from __future__ import annotations

from typing import Any

from opentelemetry.util.types import AttributeValue

from instrumentors import _semconv_net as net
from instrumentors.propagation import sanitize_url


def request_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The ``Request`` handed to ``Client.send(request, ...)``."""
    return args[0] if args else kwargs.get("request")


def method_of(request: Any) -> tuple[str, str]:
    """The span name and the ``http.request.method`` value (``_OTHER`` when unknown)."""
    method = str(request.method).upper()
    if method in net.KNOWN_HTTP_METHODS:
        return method, method
    return net.HTTP_SPAN_NAME_OTHER, net.HTTP_METHOD_OTHER


def request_attributes(request: Any, method: str) -> dict[str, AttributeValue]:
    """Span attributes known before sending: method, scrubbed URL, server address and port."""
    url = request.url
    attributes: dict[str, AttributeValue] = {
        net.HTTP_REQUEST_METHOD: method,
        net.URL_FULL: sanitize_url(url),
    }
    if method == net.HTTP_METHOD_OTHER:
        attributes[net.HTTP_REQUEST_METHOD_ORIGINAL] = str(request.method)
    host = url.host
    if host:
        attributes[net.SERVER_ADDRESS] = host
    port = url.port or net.DEFAULT_PORTS.get(url.scheme)
    if port:
        attributes[net.SERVER_PORT] = port
    return attributes


def protocol_version(response: Any) -> str | None:
    """``1.1`` / ``2`` from the response's ``HTTP/1.1`` / ``HTTP/2``."""
    version = getattr(response, "http_version", None)
    if not isinstance(version, str) or not version:
        return None
    return version.split("/", 1)[-1]


# What ``http.client.request.duration`` carries from the request (not the URL: cardinality).
_METRIC_KEYS = (net.HTTP_REQUEST_METHOD, net.SERVER_ADDRESS, net.SERVER_PORT)


def metric_attributes(span_attributes: dict[str, AttributeValue]) -> dict[str, AttributeValue]:
    """The request's attributes for the duration metric, from its span attributes."""
    return {key: span_attributes[key] for key in _METRIC_KEYS if key in span_attributes}
