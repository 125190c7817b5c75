"""LLM objects and responses -> model, provider, endpoint, usage, finish reasons, tool calls.

Reads both 0.12 and 0.14 shapes and any provider's raw response by duck typing
(OpenAI objects, dicts, Anthropic-style usage); messages are converted only
when the core says content is captured.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from instrumentors.telemetry import Message, ToolCallRequest

# GenAI provider names for LlamaIndex integration packages (llama_index.llms.<x>).
_PROVIDERS: Final = {
    "openai": "openai",
    "azure_openai": "azure.ai.openai",
    "anthropic": "anthropic",
    "bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock",
    "gemini": "gcp.gemini",
    "google_genai": "gcp.gen_ai",
    "vertex": "gcp.vertex_ai",
    "mistralai": "mistral_ai",
    "cohere": "cohere",
    "groq": "groq",
    "deepseek": "deepseek",
    "perplexity": "perplexity",
    "ibm": "ibm.watsonx.ai",
}
DEFAULT_PROVIDER: Final = "llama_index"
_UNKNOWN_MODEL: Final = "unknown"


def is_completion(method: str) -> bool:
    """True for the ``complete`` family (text completion rather than chat)."""
    return "complete" in method


def is_stream_method(method: str) -> bool:
    """True for ``stream_*`` / ``astream_*``."""
    return "stream" in method


def provider(cls: type) -> str:
    """The GenAI provider name for an LLM / embedding class, from its integration package."""
    parts = cls.__module__.split(".")
    if len(parts) > 2 and parts[0] == "llama_index" and parts[1] in ("llms", "embeddings"):
        return _PROVIDERS.get(parts[2], parts[2])
    return DEFAULT_PROVIDER


def usable_name(value: object) -> str | None:
    """A model name worth recording (not empty, not LlamaIndex's ``"unknown"``)."""
    return value if isinstance(value, str) and value and value != _UNKNOWN_MODEL else None


def _has(cls: type, name: str) -> bool:
    # A missing attribute on a pydantic model costs an exception per read: ask the class.
    fields = getattr(cls, "model_fields", None)
    return (isinstance(fields, dict) and name in fields) or hasattr(cls, name)


class LLMProfile:
    """What an LLM class offers to read (computed once per class)."""

    __slots__ = (
        "endpoint_attr",
        "max_tokens",
        "metadata_model",
        "model_attrs",
        "provider",
        "temperature",
    )

    def __init__(self, cls: type) -> None:
        self.provider = provider(cls)
        self.model_attrs = tuple(a for a in ("model", "model_name") if _has(cls, a))
        self.endpoint_attr = next((a for a in ("api_base", "base_url") if _has(cls, a)), None)
        self.temperature = _has(cls, "temperature")
        self.max_tokens = _has(cls, "max_tokens")
        # Reading ``metadata`` builds an object; stop once a class shows it names no model.
        self.metadata_model = True

    def model(self, instance: Any) -> str | None:
        """The model the LLM object calls (its ``model`` field, else its metadata)."""
        for attr in self.model_attrs:
            found = usable_name(getattr(instance, attr, None))
            if found:
                return found
        if not self.metadata_model:
            return None
        try:
            found = usable_name(instance.metadata.model_name)
        except Exception:  # noqa: BLE001 - e.g. llms-openai raises for unknown model names
            found = None
        if found is None and not self.model_attrs:
            self.metadata_model = False
        return found

    def server(self, instance: Any) -> tuple[str | None, int | None]:
        """Host and port of the ``api_base`` / ``base_url`` the object talks to."""
        base = getattr(instance, self.endpoint_attr, None) if self.endpoint_attr else None
        return _endpoint(base) if isinstance(base, str) and base else (None, None)

    def request(self, instance: Any) -> tuple[float | None, int | None]:
        """Temperature and max tokens configured on the LLM object."""
        temperature = getattr(instance, "temperature", None) if self.temperature else None
        max_tokens = getattr(instance, "max_tokens", None) if self.max_tokens else None
        return (
            float(temperature) if isinstance(temperature, (int, float)) else None,
            max_tokens
            if isinstance(max_tokens, int) and not isinstance(max_tokens, bool)
            else None,
        )


@functools.lru_cache(maxsize=256)
def _endpoint(base: str) -> tuple[str | None, int | None]:
    parts = urlsplit(base)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.hostname, port


def llm_model(instance: Any) -> str | None:
    """The model an LLM object calls (for agents: their ``llm``)."""
    return LLMProfile(type(instance)).model(instance)


# --------------------------------------------------------------------------- LLM responses


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(slots=True)
class ResponseInfo:
    """What a ChatResponse / CompletionResponse says about the model's answer."""

    response_id: str | None = None
    model: str | None = None
    finish_reasons: list[str] | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None


def response_info(response: Any) -> ResponseInfo:
    """Id, model, finish reasons and usage from the provider's raw response (or counts)."""
    info = ResponseInfo()
    if response is None:
        return info
    raw = getattr(response, "raw", None)
    response_id = _get(raw, "id")
    info.response_id = response_id if isinstance(response_id, str) else None
    model = _get(raw, "model")
    info.model = model if isinstance(model, str) else None
    info.finish_reasons = _finish_reasons(raw)
    usage = _get(raw, "usage")
    if usage is None:
        usage = getattr(response, "additional_kwargs", None)
    if usage:
        info.input_tokens = _int(_get(usage, "prompt_tokens"))
        if info.input_tokens is None:
            info.input_tokens = _int(_get(usage, "input_tokens"))
        info.output_tokens = _int(_get(usage, "completion_tokens"))
        if info.output_tokens is None:
            info.output_tokens = _int(_get(usage, "output_tokens"))
        details = _get(usage, "prompt_tokens_details") or _get(usage, "input_tokens_details")
        info.cached_tokens = _int(_get(details, "cached_tokens"))
        if info.cached_tokens is None:
            info.cached_tokens = _int(_get(usage, "cache_read_input_tokens"))
        out = _get(usage, "completion_tokens_details") or _get(usage, "output_tokens_details")
        info.reasoning_tokens = _int(_get(out, "reasoning_tokens"))
    return info


def _finish_reasons(raw: Any) -> list[str] | None:
    choices = _get(raw, "choices")
    if isinstance(choices, list):
        reasons = [r for r in (_get(c, "finish_reason") for c in choices) if isinstance(r, str)]
        return reasons or None
    stop_reason = _get(raw, "stop_reason")
    return [stop_reason] if isinstance(stop_reason, str) else None


def chunk_finish_reason(response: Any) -> str | None:
    """The finish reason a streamed chunk carries (usually only the last content chunk)."""
    reasons = _finish_reasons(getattr(response, "raw", None))
    return reasons[0] if reasons else None


def tool_calls(response: Any) -> list[ToolCallRequest]:
    """Tool calls a chat response selected (ToolSelection, OpenAI objects, ToolCallBlock)."""
    message = getattr(response, "message", None)
    if message is None:
        return []
    found: dict[str, ToolCallRequest] = {}
    unnamed: list[ToolCallRequest] = []
    extra = getattr(message, "additional_kwargs", None) or {}
    for call in extra.get("tool_calls") or ():
        if hasattr(call, "tool_name"):  # llama_index ToolSelection
            request = ToolCallRequest(call.tool_name, call.tool_id, call.tool_kwargs)
        else:
            function = _get(call, "function")
            request = ToolCallRequest(
                str(_get(function, "name") or ""), _get(call, "id"), _get(function, "arguments")
            )
        _add_call(found, unnamed, request)
    for block in getattr(message, "blocks", None) or ():
        if getattr(block, "block_type", None) == "tool_call":
            request = ToolCallRequest(block.tool_name, block.tool_call_id, block.tool_kwargs)
            _add_call(found, unnamed, request)
    return [*found.values(), *unnamed]


def _add_call(
    found: dict[str, ToolCallRequest], unnamed: list[ToolCallRequest], request: ToolCallRequest
) -> None:
    if not request.name:
        return
    if isinstance(request.id, str) and request.id:
        found.setdefault(request.id, request)
    else:
        request.id = None
        unnamed.append(request)


# ----------------------------------------------------------------- messages (capture only)


def _role(message: Any) -> str:
    role = getattr(message, "role", "user")
    return str(getattr(role, "value", role))


def input_messages(bound: inspect.BoundArguments) -> list[Message]:
    """The chat messages or the prompt an LLM call was given."""
    arguments = bound.arguments
    messages = arguments.get("messages")
    if isinstance(messages, Iterable) and not isinstance(messages, (str, bytes)):
        out = []
        for m in messages:
            extra = getattr(m, "additional_kwargs", None) or {}
            role = _role(m)
            call_id = extra.get("tool_call_id")
            if role == "tool":
                out.append(Message(role, tool_call_id=call_id, tool_result=m.content))
            else:
                out.append(Message(role, text=getattr(m, "content", None)))
        return out
    prompt = arguments.get("prompt")
    if prompt is None:
        args = arguments.get("args") or ()
        prompt = args[0] if args else None
    return [Message("user", text=str(prompt))] if prompt is not None else []


def output_messages(response: Any, finish_reason: str | None) -> list[Message]:
    """The model's answer as a neutral message."""
    if response is None:
        return []
    message = getattr(response, "message", None)
    if message is None:
        return [
            Message("assistant", text=getattr(response, "text", None), finish_reason=finish_reason)
        ]
    return [
        Message(
            _role(message),
            text=getattr(message, "content", None),
            tool_calls=tool_calls(response),
            finish_reason=finish_reason,
        )
    ]
