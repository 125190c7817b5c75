"""Attribute names and values for spans that cross processes: MCP, JSON-RPC and HTTP clients.

Stable names come from ``opentelemetry.semconv``; the MCP and JSON-RPC names
are still incubating there (and absent from older releases we support), so
their values are written out once, here.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.semconv.attributes import (
    error_attributes,
    http_attributes,
    network_attributes,
    server_attributes,
    url_attributes,
)

# --- MCP (semantic conventions for Model Context Protocol, incubating) ---
MCP_METHOD_NAME: Final = "mcp.method.name"
MCP_SESSION_ID: Final = "mcp.session.id"
MCP_PROTOCOL_VERSION: Final = "mcp.protocol.version"
JSONRPC_REQUEST_ID: Final = "jsonrpc.request.id"
RPC_RESPONSE_STATUS_CODE: Final = "rpc.response.status_code"

METHOD_TOOLS_CALL: Final = "tools/call"
# ``error.type`` of a tool call whose result says ``isError`` (MCP conventions).
TOOL_ERROR: Final = "tool_error"
# The streamable-HTTP header that carries the MCP session id.
HEADER_MCP_SESSION_ID: Final = "mcp-session-id"

# --- network / server / error ---
NETWORK_TRANSPORT: Final = network_attributes.NETWORK_TRANSPORT
NETWORK_PROTOCOL_VERSION: Final = network_attributes.NETWORK_PROTOCOL_VERSION
TRANSPORT_TCP: Final = network_attributes.NetworkTransportValues.TCP.value
TRANSPORT_PIPE: Final = network_attributes.NetworkTransportValues.PIPE.value
SERVER_ADDRESS: Final = server_attributes.SERVER_ADDRESS
SERVER_PORT: Final = server_attributes.SERVER_PORT
ERROR_TYPE: Final = error_attributes.ERROR_TYPE

# --- HTTP client spans (stable HTTP semantic conventions) ---
HTTP_REQUEST_METHOD: Final = http_attributes.HTTP_REQUEST_METHOD
HTTP_REQUEST_METHOD_ORIGINAL: Final = http_attributes.HTTP_REQUEST_METHOD_ORIGINAL
HTTP_RESPONSE_STATUS_CODE: Final = http_attributes.HTTP_RESPONSE_STATUS_CODE
URL_FULL: Final = url_attributes.URL_FULL
# The old conventions' name for the URL, which the official instrumentations still
# write by default (until OTEL_SEMCONV_STABILITY_OPT_IN=http).
HTTP_URL_OLD: Final = "http.url"
# Methods the conventions know; anything else is reported as ``_OTHER``.
HTTP_METHOD_OTHER: Final = http_attributes.HttpRequestMethodValues.OTHER.value
KNOWN_HTTP_METHODS: Final = frozenset(
    m.value for m in http_attributes.HttpRequestMethodValues if m.value != HTTP_METHOD_OTHER
)
# Span name when the method is not a known one.
HTTP_SPAN_NAME_OTHER: Final = "HTTP"
DEFAULT_PORTS: Final = {"http": 80, "https": 443}
