"""OpenAI request keyword arguments -> calls on the core's runs.

Read only for a span that records: request parameters, the output type asked
for, the service tier, the idempotency key and, under content capture, the
input messages, system instructions and tool definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from instrumentors import semconv
from instrumentors._sdk_fields import field as _field
from instrumentors._sdk_fields import integer as _int
from instrumentors._sdk_fields import number as _num
from instrumentors._sdk_fields import text as _str
from instrumentors.openai._client import ClientInfo, idempotency_in
from instrumentors.openai._extract import _call_of, _text
from instrumentors.telemetry import EmbeddingRun, LLMRun, Message, Run

_CHAT_PARAMS: Final = frozenset(
    {"temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop"}
    | {"frequency_penalty", "presence_penalty", "n", "stream"}
)
_RESPONSES_PARAMS: Final = frozenset({"temperature", "top_p", "max_output_tokens", "stream"})
_TOOL_ITEMS: Final = frozenset({"function_call", "custom_tool_call"})
# ``response_format`` / ``text.format`` types -> ``gen_ai.output.type``.
_OUTPUT_TYPES: Final = {
    "text": semconv.OUTPUT_TYPE_TEXT,
    "json_object": semconv.OUTPUT_TYPE_JSON,
    "json_schema": semconv.OUTPUT_TYPE_JSON,
}


def _stops(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for s in value if isinstance(s, str)]
    return None


def _idempotency_key(run: Run, kwargs: Mapping[str, Any], info: ClientInfo) -> None:
    """The request's ``Idempotency-Key`` (``extra_headers=``), else the client's default one."""
    extra = kwargs.get("extra_headers")
    key = idempotency_in(extra) if extra else None
    if key is None:
        key = info.idempotency_key
    if key is not None:
        run.set_attribute(semconv.REQUEST_IDEMPOTENCY_KEY, key)


def _output_type(response_format: Any) -> str | None:
    """``gen_ai.output.type`` for a ``response_format`` (a dict, its type name, or a class)."""
    if response_format is None:
        return None
    if isinstance(response_format, type):  # ``parse(response_format=Model)``: a JSON schema
        return semconv.OUTPUT_TYPE_JSON
    kind = response_format if isinstance(response_format, str) else _field(response_format, "type")
    return _OUTPUT_TYPES.get(kind, kind) if isinstance(kind, str) and kind else None


def _service_tier(kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
    """``openai.request.service_tier``: the argument, or ``extra_body`` (older SDKs)."""
    tier = _str(kwargs.get("service_tier"))
    if tier is None:
        extra = kwargs.get("extra_body")
        tier = _str(extra.get("service_tier")) if isinstance(extra, Mapping) else None
    return {semconv.OPENAI_REQUEST_SERVICE_TIER: tier} if tier else None


def tool_definitions(tools: Any) -> list[dict[str, Any]] | None:
    """Request ``tools`` in the conventions' shape: ``{"type", "name", "description",
    "parameters"}`` (a chat function tool's ``function`` is flattened into it)."""
    if not isinstance(tools, Iterable) or isinstance(tools, (str, bytes, Mapping)):
        return None
    out: list[dict[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, Mapping):
            continue
        function = tool.get("function")
        source = function if isinstance(function, Mapping) else tool
        entry: dict[str, Any] = {"type": tool.get("type") or "function"}
        for key in ("name", "description", "parameters"):
            value = source.get(key)
            if value is not None:
                entry[key] = value
        out.append(entry)
    return out or None


# --------------------------------------------------------------------------- chat completions


def chat_request(run: LLMRun, kwargs: Mapping[str, Any], info: ClientInfo) -> None:
    """Request parameters, output type, service tier, idempotency key; content under capture."""
    get = kwargs.get
    output_type = _output_type(get("response_format"))
    tier = _service_tier(kwargs)
    if output_type or tier or not _CHAT_PARAMS.isdisjoint(kwargs):  # kwargs: what was passed
        n = _int(get("n"))
        max_tokens = _int(get("max_completion_tokens"))
        run.set_request(
            temperature=_num(get("temperature")),
            top_p=_num(get("top_p")),
            max_tokens=max_tokens if max_tokens is not None else _int(get("max_tokens")),
            seed=_int(get("seed")),
            stop_sequences=_stops(get("stop")),
            frequency_penalty=_num(get("frequency_penalty")),
            presence_penalty=_num(get("presence_penalty")),
            choice_count=n if n != 1 else None,
            stream=True if get("stream") is True else None,
            output_type=output_type,
            attributes=tier,
        )
    _idempotency_key(run, kwargs, info)
    if run.capture_content:
        run.set_messages(
            inputs=chat_inputs(get("messages")), tool_definitions=tool_definitions(get("tools"))
        )


def chat_inputs(messages: Any) -> list[Message]:
    """Chat messages (dicts or SDK models) in neutral form."""
    out: list[Message] = []
    if not isinstance(messages, Iterable) or isinstance(messages, (str, bytes)):
        return out
    for item in messages:
        role = _field(item, "role") or "user"
        text = _text(_field(item, "content"))
        if role in ("tool", "function"):
            call_id = _field(item, "tool_call_id")
            out.append(Message(role="tool", tool_call_id=call_id, tool_result=text))
            continue
        calls = [_call_of(c) for c in _field(item, "tool_calls") or ()]
        out.append(Message(role=str(role), text=text, tool_calls=calls))
    return out


# --------------------------------------------------------------------------- responses API


def responses_request(run: LLMRun, kwargs: Mapping[str, Any], info: ClientInfo) -> None:
    """Request parameters, output type, service tier, idempotency key; content under capture."""
    get = kwargs.get
    text = get("text")
    output_type = _output_type(_field(text, "format")) if text is not None else None
    tier = _service_tier(kwargs)
    if output_type or tier or not _RESPONSES_PARAMS.isdisjoint(kwargs):
        run.set_request(
            temperature=_num(get("temperature")),
            top_p=_num(get("top_p")),
            max_tokens=_int(get("max_output_tokens")),
            stream=True if get("stream") is True else None,
            output_type=output_type,
            attributes=tier,
        )
    _idempotency_key(run, kwargs, info)
    if run.capture_content:
        instructions = _str(get("instructions"))
        run.set_messages(
            inputs=responses_inputs(get("input")),
            system=[instructions] if instructions else None,
            tool_definitions=tool_definitions(get("tools")),
        )


def responses_inputs(items: Any) -> list[Message]:
    """Input items (text, messages, tool calls and their outputs) in neutral form."""
    if isinstance(items, str):
        return [Message(role="user", text=items)]
    out: list[Message] = []
    if not isinstance(items, Iterable):
        return out
    for item in items:
        kind = _field(item, "type")
        if kind in ("function_call_output", "custom_tool_call_output"):
            call_id, result = _field(item, "call_id"), _field(item, "output")
            out.append(Message(role="tool", tool_call_id=call_id, tool_result=result))
        elif kind in _TOOL_ITEMS:
            out.append(Message(role="assistant", tool_calls=[_call_of(item)]))
        else:
            role = _field(item, "role") or "user"
            out.append(Message(role=str(role), text=_text(_field(item, "content"))))
    return out


# --------------------------------------------------------------------------- embeddings


def embeddings_request(run: EmbeddingRun, kwargs: Mapping[str, Any], info: ClientInfo) -> None:
    """Encoding format, requested dimensions and idempotency key (the input is content)."""
    get = kwargs.get
    encoding = _str(get("encoding_format"))
    dimensions = _int(get("dimensions"))
    if encoding or dimensions is not None:
        run.set_request(encoding_formats=[encoding] if encoding else None, dimensions=dimensions)
    _idempotency_key(run, kwargs, info)
