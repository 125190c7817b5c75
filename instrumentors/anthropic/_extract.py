"""Anthropic SDK objects -> calls on the core's runs: requests, responses, usage, messages.

Request items are what the caller passed (TypedDicts, i.e. dicts, or SDK models);
responses are SDK models, or plain objects for block types an older SDK does not
know. Every read goes through ``_field``, so an unknown block type is skipped and
never breaks extraction. Content is built only under content capture: images and
documents become a placeholder with their media type and size (never base64),
thinking blocks are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from instrumentors import semconv
from instrumentors._sdk_fields import field as _field
from instrumentors._sdk_fields import integer as _int
from instrumentors._sdk_fields import number as _num
from instrumentors._sdk_fields import text as _str
from instrumentors.anthropic._client import ClientInfo
from instrumentors.telemetry import LLMRun, Message, Telemetry, ToolCallRequest

# TODO(core): a constant for instrumentors/semconv.py (the SDK's own name for this count).
COUNT_TOKENS_INPUT: Final = "anthropic.message.count_tokens.input_tokens"
OP_COUNT_TOKENS: Final = "count_tokens"

# Blocks in which the model asks for a tool: the client's, and the ones the API runs itself.
TOOL_USES: Final = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})
_MEDIA: Final = frozenset({"image", "document"})

# --------------------------------------------------------------------------- helpers


def _items(value: Any) -> Iterable[Any]:
    """``value`` as a sequence of items (nothing for a string, a sentinel or None)."""
    if isinstance(value, (list, tuple)):
        return value
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping)):
        return list(value)
    return ()


def _stops(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [s for s in value if isinstance(s, str)]
    return None


def placeholder(block: Any) -> str:
    """``[image image/png 1234 bytes]``: what stands for an image or a document, never its data."""
    kind = _field(block, "type") or "media"
    source = _field(block, "source")
    media_type = _str(_field(source, "media_type"))
    data = _field(source, "data")
    size: int | None = None
    if isinstance(data, str):
        if _field(source, "type") == "base64":
            size = len(data) * 3 // 4 - data[-2:].count("=")
        else:  # a plain-text document
            size = len(data.encode("utf-8", "replace"))
    parts = [str(kind), media_type or str(_field(source, "type") or "unknown")]
    if size is not None:
        parts.append(f"{size} bytes")
    return "[" + " ".join(parts) + "]"


def _text_of(content: Any) -> str | None:
    """Text of a string or of content blocks (media as placeholders, other blocks skipped)."""
    if content is None or isinstance(content, str):
        return content
    texts = []
    for block in _items(content):
        kind = _field(block, "type")
        if kind == "text":
            text = _field(block, "text")
            if isinstance(text, str):
                texts.append(text)
        elif kind in _MEDIA:
            texts.append(placeholder(block))
    return "\n".join(texts) if texts else None


def _call_of(block: Any) -> ToolCallRequest:
    return ToolCallRequest(
        name=_field(block, "name") or "", id=_field(block, "id"), arguments=_field(block, "input")
    )


# --------------------------------------------------------------------------- requests


def start(tel: Telemetry, info: ClientInfo, model: Any, operation: str) -> LLMRun:
    """Open the ``chat {model}`` (or ``count_tokens {model}``) run."""
    run = tel.llm(
        info.provider,
        _str(model),
        operation=operation,
        server_address=info.address,
        server_port=info.port,
        attach=True,
    )
    if run.enriching and info.address and semconv.SERVER_ADDRESS not in run.shape.start:
        # TODO(core): Telemetry.llm() drops server_address/port when it answers with an
        # enriching run; publish them (the owner's own start attributes win) until it does.
        run.values.setdefault(semconv.SERVER_ADDRESS, info.address)
        if info.port is not None:
            run.values.setdefault(semconv.SERVER_PORT, info.port)
    return run


def _param(kwargs: Mapping[str, Any], extra: Mapping[str, Any] | None, name: str) -> Any:
    """A parameter given as an argument, else in ``extra_body`` (2.x takes some only there)."""
    value = kwargs.get(name)
    if value is None and extra is not None:
        value = extra.get(name)
    return value


def chat_request(run: LLMRun, kwargs: Mapping[str, Any]) -> None:
    """Request parameters and (under capture) the system prompt and input messages."""
    extra = kwargs.get("extra_body")
    extra = extra if isinstance(extra, Mapping) else None
    run.set_request(
        max_tokens=_int(_param(kwargs, extra, "max_tokens")),
        temperature=_num(_param(kwargs, extra, "temperature")),
        top_p=_num(_param(kwargs, extra, "top_p")),
        top_k=_num(_param(kwargs, extra, "top_k")),
        stop_sequences=_stops(_param(kwargs, extra, "stop_sequences")),
        stream=True if kwargs.get("stream") is True else None,
    )
    if run.capture_content:
        system = kwargs.get("system")
        texts = [system] if isinstance(system, str) else [_text_of([b]) for b in _items(system)]
        run.set_messages(
            inputs=input_messages(kwargs.get("messages")),
            system=[t for t in texts if t] or None,
        )


def count_request(run: LLMRun, kwargs: Mapping[str, Any]) -> None:
    """``count_tokens`` sends messages but no sampling parameters: nothing but content."""
    if run.capture_content:
        run.set_messages(inputs=input_messages(kwargs.get("messages")))


def input_messages(messages: Any) -> list[Message]:
    """Request messages in neutral form: each ``tool_result`` block a ``tool`` message."""
    out: list[Message] = []
    for item in _items(messages):
        role = str(_field(item, "role") or "user")
        content = _field(item, "content")
        if content is None or isinstance(content, str):
            out.append(Message(role=role, text=content))
            continue
        # Block order is kept: what comes before a tool result is one message, the result
        # another (a ``tool`` message), and what follows it a third.
        calls: list[ToolCallRequest] = []
        blocks: list[Any] = []
        for block in _items(content):
            kind = _field(block, "type")
            if kind in TOOL_USES:
                calls.append(_call_of(block))
            elif kind == "tool_result" or (isinstance(kind, str) and kind.endswith("_tool_result")):
                _flush(out, role, blocks, calls)
                blocks, calls = [], []
                result = _field(block, "content")
                out.append(
                    Message(
                        role="tool",
                        tool_call_id=_field(block, "tool_use_id"),
                        tool_result=_text_of(result) if kind == "tool_result" else f"[{kind}]",
                    )
                )
            else:
                blocks.append(block)
        _flush(out, role, blocks, calls)
    return out


def _flush(out: list[Message], role: str, blocks: list[Any], calls: list[ToolCallRequest]) -> None:
    text = _text_of(blocks)
    if text is not None or calls:
        out.append(Message(role=role, text=text, tool_calls=calls))


# --------------------------------------------------------------------------- responses


def usage(run: LLMRun, used: Any) -> None:
    """Token usage; ``input_tokens`` counts the cache too, as the conventions ask (the API's
    ``input_tokens`` leaves cache reads and writes out)."""
    if used is None:
        return
    given = _int(_field(used, "input_tokens"))
    read = _int(_field(used, "cache_read_input_tokens"))
    written = _int(_field(used, "cache_creation_input_tokens"))
    run.set_usage(
        input_tokens=None if given is None else given + (read or 0) + (written or 0),
        output_tokens=_int(_field(used, "output_tokens")),
        cache_read_input_tokens=read,
        cache_creation_input_tokens=written,
    )


def chat_response(run: LLMRun, message: Any) -> None:
    """Identity, stop reason, usage and requested tool calls of a ``Message``."""
    content = _items(_field(message, "content"))
    calls = [_call_of(b) for b in content if _field(b, "type") in TOOL_USES]
    reason = _str(_field(message, "stop_reason"))
    run.set_response(
        response_id=_str(_field(message, "id")),
        model=_str(_field(message, "model")),
        finish_reasons=[reason] if reason else None,
    )
    usage(run, _field(message, "usage"))
    run.register_tool_calls(calls)
    if run.capture_content:
        text = _text_of(content)
        run.set_messages(
            outputs=[Message(role="assistant", text=text, tool_calls=calls, finish_reason=reason)]
        )


def count_response(run: LLMRun, counted: Any) -> None:
    """The count ``count_tokens`` answered (not usage: nothing was generated)."""
    run.set_at_end(COUNT_TOKENS_INPUT, _int(_field(counted, "input_tokens")))
