"""Chat shapes: what every span of one (operation, provider, model, server) starts with."""

from __future__ import annotations

from typing import Final

from opentelemetry.util.types import AttributeValue

from instrumentors import semconv

_METRIC_KEYS: Final = (
    semconv.GEN_AI_OPERATION_NAME,
    semconv.GEN_AI_PROVIDER_NAME,
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.SERVER_ADDRESS,
    semconv.SERVER_PORT,
)


class ChatShape:
    """What every chat span of one (operation, provider, model, server) starts with."""

    __slots__ = ("metric", "span_name", "start")

    def __init__(self, span_name: str, start: dict[str, AttributeValue]) -> None:
        self.span_name = span_name
        self.start = start  # shared by every span of this shape: never mutated
        self.metric: dict[str, AttributeValue] = {k: start[k] for k in _METRIC_KEYS if k in start}


_shapes: dict[tuple[str, str, str | None, str | None, int | None], ChatShape] = {}
_SHAPES_CAP: Final = 1024  # models x servers seen; cleared (not grown) past it


def chat_shape(
    operation: str,
    provider: str,
    request_model: str | None,
    server_address: str | None,
    server_port: int | None,
) -> ChatShape:
    """The span name and start attributes of this kind of chat span (cached)."""
    key = (operation, provider, request_model, server_address, server_port)
    shape = _shapes.get(key)
    if shape is None:
        start: dict[str, AttributeValue] = {
            semconv.GEN_AI_OPERATION_NAME: operation,
            semconv.GEN_AI_PROVIDER_NAME: provider,
        }
        if request_model:
            start[semconv.GEN_AI_REQUEST_MODEL] = request_model
        if server_address:
            start[semconv.SERVER_ADDRESS] = server_address
        if server_port is not None:
            start[semconv.SERVER_PORT] = server_port
        name = f"{operation} {request_model}" if request_model else operation
        shape = ChatShape(name, start)
        if len(_shapes) >= _SHAPES_CAP:
            _shapes.clear()
        _shapes[key] = shape
    return shape


def start_attributes(shape: ChatShape, session_id: str | None) -> dict[str, AttributeValue]:
    """A span's first attributes: the shape's, plus the session (and conversation) if any."""
    if not session_id:
        return shape.start
    return {
        **shape.start,
        semconv.GEN_AI_CONVERSATION_ID: session_id,
        semconv.AGENT_SESSION_ID: session_id,
    }
