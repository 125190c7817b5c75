"""Agents SDK model inputs and outputs -> neutral ``Message`` records (content capture only).

The SDK hands its processors what it sent and got: Responses API input items and a
``Response`` (``response`` spans), or Chat Completions messages, or a ``Response``
dump for a stream (``generation`` spans). Items may be dicts or SDK models; both
read the same through ``field``. Nothing here runs unless content capture is on,
except ``tool_calls_in``, which finds the tool calls a response requested.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from instrumentors.telemetry import Message, ToolCallRequest

_CALL_ITEMS: Final = frozenset({"function_call", "custom_tool_call"})
_RESULT_ITEMS: Final = frozenset({"function_call_output", "custom_tool_call_output"})


_ABSENT: Final = object()


def field(obj: Any, name: str) -> Any:
    """A field of a dict or of an SDK (pydantic) object; None when absent.

    SDK models keep their fields in ``__dict__`` and extras in ``__pydantic_extra__``:
    reading those skips pydantic's ``__getattr__``, which costs microseconds for every
    absent name (``tool_calls`` on a Responses output item, say).
    """
    if isinstance(obj, Mapping):
        return obj.get(name)
    fields = getattr(obj, "__dict__", None)
    if fields is not None and name in fields:
        return fields[name]
    extra = getattr(obj, "__pydantic_extra__", _ABSENT)
    if extra is not _ABSENT:
        return extra.get(name) if isinstance(extra, dict) else None
    return getattr(obj, name, None)


def text_of(content: Any) -> str | None:
    """Text from a string or a list of content parts (other parts are skipped)."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, Iterable):
        texts = [t for t in (field(part, "text") for part in content) if isinstance(t, str)]
        return "".join(texts) if texts else None
    return None


def _call(item: Any) -> ToolCallRequest | None:
    """A requested call: a Responses item (flat) or a chat tool call (``function`` nested)."""
    function = field(item, "function")
    if function is not None:
        name, arguments, call_id = field(function, "name"), field(function, "arguments"), None
        call_id = field(item, "id")
    else:
        name = field(item, "name")
        arguments = field(item, "arguments") or field(item, "input")
        call_id = field(item, "call_id") or field(item, "id")
    if not isinstance(name, str):
        return None
    return ToolCallRequest(name=name, id=call_id if isinstance(call_id, str) else None,
                           arguments=arguments)  # fmt: skip


def tool_calls_in(output: Any) -> list[ToolCallRequest]:
    """The tool calls among Responses output items or chat messages (their ``tool_calls``)."""
    calls: list[ToolCallRequest] = []
    if not isinstance(output, Iterable) or isinstance(output, (str, bytes)):
        return calls
    for item in output:
        if field(item, "type") in _CALL_ITEMS:
            call = _call(item)
            if call is not None:
                calls.append(call)
            continue
        nested = field(item, "tool_calls")
        if isinstance(nested, Iterable):
            calls.extend(c for c in map(_call, nested) if c is not None)
    return calls


def inputs(items: Any) -> tuple[list[Message], list[str]]:
    """Input messages and system instructions from Responses items or chat messages."""
    if isinstance(items, str):
        return [Message(role="user", text=items)], []
    out: list[Message] = []
    system: list[str] = []
    if not isinstance(items, Iterable):
        return out, system
    for item in items:
        kind = field(item, "type")
        if kind in _RESULT_ITEMS:
            call_id, result = field(item, "call_id"), field(item, "output")
            out.append(Message(role="tool", tool_call_id=call_id, tool_result=result))
            continue
        if kind in _CALL_ITEMS:
            call = _call(item)
            out.append(Message(role="assistant", tool_calls=[call] if call else []))
            continue
        role = field(item, "role") or "user"
        text = text_of(field(item, "content"))
        if role in ("system", "developer"):
            if text:
                system.append(text)
            continue
        if role == "tool":
            result = field(item, "content")
            out.append(Message(role="tool", tool_call_id=field(item, "tool_call_id"),
                               tool_result=result))  # fmt: skip
            continue
        calls = tool_calls_in([item])
        out.append(Message(role=str(role), text=text, tool_calls=calls))
    return out, system


def outputs(items: Any, finish_reason: str | None) -> list[Message]:
    """The assistant's answer: the text and tool calls of the output items or messages."""
    if not isinstance(items, Iterable) or isinstance(items, (str, bytes)):
        return []
    texts = []
    for item in items:
        kind = field(item, "type")
        if kind == "message" or (kind is None and field(item, "role") == "assistant"):
            text = text_of(field(item, "content"))
            if text:
                texts.append(text)
    calls = tool_calls_in(items)
    text = "".join(texts) or None
    return [Message(role="assistant", text=text, tool_calls=calls, finish_reason=finish_reason)]
