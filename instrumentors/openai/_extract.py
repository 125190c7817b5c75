"""OpenAI SDK objects -> calls on the core's runs: responses, usage, messages, tool calls.

Every difference between openai 1.x, 2.x and 3.x in response objects is resolved
here, once at import time, through the SDK's public types (requests: ``_request``).
A response is read whole for a span that records; for one that does not, the
``*_measure`` readers take only what the call's metrics need (model, usage,
service tier, system fingerprint): metrics count every call, sampled or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import openai.types.chat

from instrumentors import semconv
from instrumentors._sdk_fields import field as _field
from instrumentors._sdk_fields import text as _str
from instrumentors.openai._client import ClientInfo
from instrumentors.telemetry import EmbeddingRun, LLMRun, Message, Telemetry, ToolCallRequest

# Chat tool-call models with a ``function`` (1.x: one class; 2.x+: the function variant).
_FUNCTION_TOOL_CALLS: Final = frozenset(
    cls
    for cls in (
        getattr(openai.types.chat, "ChatCompletionMessageToolCall", None),
        getattr(openai.types.chat, "ChatCompletionMessageFunctionToolCall", None),
    )
    if isinstance(cls, type) and "function" in getattr(cls, "model_fields", {})
)

# --------------------------------------------------------------------------- helpers


def _text(content: Any) -> str | None:
    """Message text from a string or a list of content parts (other parts are skipped)."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, Iterable):
        texts = [t for t in (_field(part, "text") for part in content) if isinstance(t, str)]
        return "".join(texts) if texts else None
    return None


def _call_of(call: Any) -> ToolCallRequest:
    """A requested tool call: a chat one (function / custom, nested) or a Responses item (flat).

    SDK models and request dicts alike; a Responses item's own ``id`` is not the call id.
    """
    if type(call) in _FUNCTION_TOOL_CALLS:  # the common case, read straight from the model
        function = call.function
        return ToolCallRequest(function.name or "", call.id, function.arguments)
    function = _field(call, "function") or _field(call, "custom") or call
    arguments = _field(function, "arguments")
    if arguments is None:
        arguments = _field(function, "input")
    call_id = _field(call, "call_id") or _field(call, "id")
    return ToolCallRequest(_field(function, "name") or "", call_id, arguments)


# --------------------------------------------------------------------------- chat completions


def start_llm(tel: Telemetry, info: ClientInfo, model: Any) -> LLMRun:
    """Open the ``chat {model}`` run (chat completions and the Responses API alike)."""
    return tel.llm(
        info.provider,
        _str(model),
        operation=semconv.OP_CHAT,
        server_address=info.address,
        server_port=info.port,
        attach=True,
    )


_CHAT_USAGE: Final = ("prompt_tokens", "completion_tokens")
_RESPONSES_USAGE: Final = ("input_tokens", "output_tokens")
_DETAILS: Final = {name: f"{name}_details" for name in (*_CHAT_USAGE, *_RESPONSES_USAGE)}


def _usage(run: LLMRun, usage: Any, names: tuple[str, str]) -> None:
    """Token usage from the ``names`` counts (input, output) and their ``*_details``."""
    if usage is None:
        return
    inputs, outputs = names
    # The details differ by SDK version and usage kind: read without pydantic's __getattr__.
    given = _field(usage, _DETAILS[inputs])
    produced = _field(usage, _DETAILS[outputs])
    run.set_usage(
        input_tokens=getattr(usage, inputs, None),
        output_tokens=getattr(usage, outputs, None),
        cache_read_input_tokens=_field(given, "cached_tokens") if given is not None else None,
        cache_creation_input_tokens=(
            _field(given, "cache_write_tokens") if given is not None else None
        ),
        reasoning_tokens=_field(produced, "reasoning_tokens") if produced is not None else None,
    )
    # A gateway's own price of the call (OpenRouter's ``usage.cost``, USD): it wins.
    reported = _field(usage, "cost")
    if type(reported) in (float, int) and reported >= 0:
        run.set_cost(reported)


def chat_usage(run: LLMRun, usage: Any) -> None:
    """Token usage of a chat completion (or of the usage chunk of a stream)."""
    _usage(run, usage, _CHAT_USAGE)


def response_attributes(body: Any) -> dict[str, Any] | None:
    """``openai.response.service_tier`` / ``system_fingerprint`` of a response or chunk."""
    tier = _str(_field(body, "service_tier"))
    fingerprint = _str(_field(body, "system_fingerprint"))
    if tier is None and fingerprint is None:
        return None
    return {
        semconv.OPENAI_RESPONSE_SERVICE_TIER: tier,
        semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: fingerprint,
    }


def chat_measure(run: LLMRun, completion: Any) -> None:
    """What the metrics of a call whose span does not record need from a ``ChatCompletion``."""
    run.set_response(model=completion.model, attributes=response_attributes(completion))
    chat_usage(run, completion.usage)


def chat_response(run: LLMRun, completion: Any) -> None:
    """Identity, finish reasons, usage and requested tool calls of a ``ChatCompletion``."""
    choices = completion.choices or ()
    run.set_response(
        response_id=completion.id,
        model=completion.model,
        finish_reasons=[c.finish_reason for c in choices if c.finish_reason],
        attributes=response_attributes(completion),
    )
    chat_usage(run, completion.usage)
    per_choice: list[list[ToolCallRequest]] = []
    for choice in choices:
        message = choice.message
        calls = [_call_of(c) for c in message.tool_calls or ()]
        legacy = message.function_call  # the deprecated ``functions`` API
        if legacy is not None:
            calls.append(ToolCallRequest(name=legacy.name, arguments=legacy.arguments))
        per_choice.append(calls)
    run.register_tool_calls([c for calls in per_choice for c in calls])
    if run.capture_content:
        run.set_messages(
            outputs=[
                Message(
                    role=c.message.role,
                    text=c.message.content,
                    tool_calls=calls,
                    finish_reason=c.finish_reason,
                )
                for c, calls in zip(choices, per_choice, strict=True)
            ]
        )


# --------------------------------------------------------------------------- responses API

_INCOMPLETE_REASONS: Final = {"max_output_tokens": "length", "content_filter": "content_filter"}
_TOOL_ITEMS: Final = frozenset({"function_call", "custom_tool_call"})
_SERVICE_TIER: Final = semconv.OPENAI_RESPONSE_SERVICE_TIER


def tool_calls_of(items: Iterable[Any]) -> list[ToolCallRequest]:
    """The function / custom tool calls among Responses output items."""
    return [_call_of(item) for item in items if _field(item, "type") in _TOOL_ITEMS]


def item_text(item: Any) -> str | None:
    """The text of a Responses ``message`` output item (None for other items)."""
    return _text(_field(item, "content")) if _field(item, "type") == "message" else None


def responses_finish_reason(response: Any, has_calls: bool) -> str | None:
    """A chat-style finish reason for a Responses ``status``."""
    status = response.status
    if status == "completed":
        return "tool_calls" if has_calls else "stop"
    if status == "incomplete":
        reason = _str(getattr(response.incomplete_details, "reason", None)) or "incomplete"
        return _INCOMPLETE_REASONS.get(reason, reason)
    if status == "failed":
        return "error"
    return _str(status)


def responses_usage(run: LLMRun, usage: Any) -> None:
    """Token usage of a ``Response``."""
    _usage(run, usage, _RESPONSES_USAGE)


def responses_measure(run: LLMRun, response: Any) -> None:
    """What the metrics of a call whose span does not record need from a ``Response``."""
    attributes = {_SERVICE_TIER: _str(_field(response, "service_tier"))}
    run.set_response(model=response.model, attributes=attributes)
    responses_usage(run, response.usage)


def responses_response(run: LLMRun, response: Any) -> None:
    """Identity, status, usage and function calls of a ``Response``."""
    output = response.output or ()
    calls = tool_calls_of(output)
    finish = responses_finish_reason(response, bool(calls))
    run.set_response(
        response_id=response.id,
        model=response.model,
        finish_reasons=[finish] if finish else None,
        attributes={_SERVICE_TIER: _str(_field(response, "service_tier"))},
    )
    responses_usage(run, response.usage)
    run.register_tool_calls(calls)
    if run.capture_content:
        text = getattr(response, "output_text", None) or None  # the SDK joins the text parts
        run.set_messages(
            outputs=[Message(role="assistant", text=text, tool_calls=calls, finish_reason=finish)]
        )


# --------------------------------------------------------------------------- embeddings


def start_embedding(tel: Telemetry, info: ClientInfo, model: Any) -> EmbeddingRun:
    """Open the ``embeddings {model}`` run."""
    return tel.embedding(
        info.provider,
        _str(model),
        server_address=info.address,
        server_port=info.port,
        attach=True,
    )


def embeddings_response(run: EmbeddingRun, response: Any) -> None:
    """Response model, dimension and input tokens of a ``CreateEmbeddingResponse``."""
    data = response.data
    vector = data[0].embedding if data else None
    run.set_response(
        model=response.model, dimension=len(vector) if isinstance(vector, list) else None
    )
    usage = response.usage
    if usage is not None:
        run.set_usage(input_tokens=usage.prompt_tokens)
