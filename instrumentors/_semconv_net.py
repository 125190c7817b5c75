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

# --- messaging: job payloads (``instrumentors.jobs``; messaging conventions, incubating) ---
MESSAGING_SYSTEM: Final = "messaging.system"
MESSAGING_OPERATION_TYPE: Final = "messaging.operation.type"
MESSAGING_OPERATION_NAME: Final = "messaging.operation.name"
MESSAGING_DESTINATION_NAME: Final = "messaging.destination.name"
MESSAGING_MESSAGE_ID: Final = "messaging.message.id"
MESSAGING_OP_SEND: Final = "send"
MESSAGING_OP_PROCESS: Final = "process"
# ``messaging.system`` of a job queue the user does not name (the conventions allow custom values).
MESSAGING_SYSTEM_CUSTOM: Final = "custom"

# --- gRPC (RPC conventions: the names the official instrumentation writes, and the newer ones) ---
RPC_SYSTEM: Final = "rpc.system"
RPC_SERVICE: Final = "rpc.service"
RPC_METHOD: Final = "rpc.method"
RPC_GRPC_STATUS_CODE: Final = "rpc.grpc.status_code"
RPC_SYSTEM_GRPC: Final = "grpc"
# Metadata grpc's retry policy adds to each retried attempt (seen by the server only).
GRPC_PREVIOUS_ATTEMPTS: Final = "grpc-previous-rpc-attempts"
# Trailing metadata a server may send with RESOURCE_EXHAUSTED / UNAVAILABLE (gRFC A6).
GRPC_RETRY_PUSHBACK_MS: Final = "grpc-retry-pushback-ms"

# --- databases and caches (database conventions: stable names, and the old ones the official
# instrumentations still write by default, until OTEL_SEMCONV_STABILITY_OPT_IN=database) ---
DB_SYSTEM_NAME: Final = "db.system.name"
DB_SYSTEM_OLD: Final = "db.system"
DB_QUERY_TEXT: Final = "db.query.text"
DB_STATEMENT_OLD: Final = "db.statement"
DB_STATEMENT_PARAMETERS_OLD: Final = "db.statement.parameters"

# --- our roll-ups on the enclosing execute_tool span (like the HTTP one) ---
# The number of DB / cache queries the tool made, and the error type of the last failed one.
DB_QUERY_COUNT: Final = "tool.db.query_count"
DB_ERROR_TYPE: Final = "tool.db.error_type"
