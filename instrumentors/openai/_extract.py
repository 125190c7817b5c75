"""OpenAI SDK objects -> calls on the core's runs (requests, responses, usage, retries, errors).

Every difference between openai 1.x, 2.x and 3.x that the instrumentor cares
about is resolved here, in the ``_compat`` section, once at import time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import openai
import openai.types.chat
from openai._constants import RAW_RESPONSE_HEADER
from openai._legacy_response import LegacyAPIResponse
from openai._response import APIResponse, AsyncAPIResponse
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.util.types import AttributeValue

from instrumentors import semconv
from instrumentors.events import error_type, record_rate_limit, record_retry
from instrumentors.telemetry import EmbeddingRun, LLMRun, Message, Run, Telemetry, ToolCallRequest

# --------------------------------------------------------------------------- _compat

STREAMS: Final = (openai.Stream, openai.AsyncStream)
ASYNC_STREAM: Final = openai.AsyncStream
LEGACY_RESPONSE: Final = LegacyAPIResponse
STREAMED_RESPONSES: Final = (APIResponse, AsyncAPIResponse)
# 3.x adds ``AsyncStream.aclose``; the proxy offers it only where the SDK does.
ASYNC_STREAM_HAS_ACLOSE: Final = hasattr(openai.AsyncStream, "aclose")
RAW_HEADER: Final = RAW_RESPONSE_HEADER
# with_raw_response sends "true" (body read, LegacyAPIResponse); with_streaming_response:
RAW_STREAMED: Final = "stream"  # body unread, APIResponse

# Chat tool-call models with a ``function`` (1.x: one class; 2.x+: the function variant).
_FUNCTION_TOOL_CALLS: Final = frozenset(
    cls
    for cls in (
        getattr(openai.types.chat, "ChatCompletionMessageToolCall", None),
        getattr(openai.types.chat, "ChatCompletionMessageFunctionToolCall", None),
    )
    if isinstance(cls, type) and "function" in getattr(cls, "model_fields", {})
)
_CACHE_READ: Final = semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
_CACHE_WRITE: Final = semconv.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS
_REASONING: Final = semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS
PROVIDER: Final = GenAI.GenAiProviderNameValues.OPENAI.value
AZURE_PROVIDER: Final = GenAI.GenAiProviderNameValues.AZURE_AI_OPENAI.value
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}
_NUMBER: Final = (int, float)
_ABSENT: Final = object()


# id(base URL) -> (that URL, address, port). The entry holds the URL, so its id stays its
# own while cached; a client given a new base URL gets a new entry.
_servers: dict[int, tuple[Any, str | None, int | None]] = {}
_SERVERS_CAP: Final = 256


def server_of(client: Any) -> tuple[str | None, int | None]:
    """``server.address`` / ``server.port`` from the client's base URL (httpx or httpx2 URL)."""
    url = getattr(client, "_base_url", None) or client.base_url
    known = _servers.get(id(url))
    if known is not None and known[0] is url:
        return known[1], known[2]
    address, port = url.host or None, url.port or _DEFAULT_PORTS.get(url.scheme)
    if len(_servers) >= _SERVERS_CAP:
        _servers.clear()
    _servers[id(url)] = (url, address, port)
    return address, port


def provider_of(client: Any) -> str:
    """``openai``, or ``azure.ai.openai`` for the SDK's Azure clients."""
    return AZURE_PROVIDER if type(client).__name__.startswith(("Azure", "AsyncAzure")) else PROVIDER


def raw_mode(kwargs: Mapping[str, Any]) -> str | None:
    """``true`` (with_raw_response), ``stream`` (with_streaming_response) or None."""
    headers = kwargs.get("extra_headers")
    if not headers:
        return None
    mode = headers.get(RAW_HEADER)
    return mode if isinstance(mode, str) else None


def retry_after(client: Any, headers: Any) -> float | None:
    """The server's Retry-After (``retry-after-ms``, seconds or HTTP date), parsed by the SDK."""
    if headers is None:
        return None
    value = client._parse_retry_after_header(headers)
    return float(value) if value is not None else None


# --------------------------------------------------------------------------- helpers


def _num(value: Any) -> float | None:
    # Also rejects the SDK's NOT_GIVEN / Omit sentinels and bools.
    return value if type(value) in _NUMBER else None


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _field(obj: Any, name: str) -> Any:
    """A field of a request item: a TypedDict (plain dict) or an SDK model.

    SDK models keep their fields in ``__dict__`` and extras in ``__pydantic_extra__``
    (pydantic 2): reading those skips pydantic's ``__getattr__``, which costs
    microseconds for every absent name (``call_id`` on a chat tool call, say).
    """
    if isinstance(obj, dict):
        return obj.get(name)
    fields = getattr(obj, "__dict__", None)
    if fields is not None and name in fields:
        return fields[name]
    if isinstance(obj, Mapping):
        return obj.get(name)
    extra = getattr(obj, "__pydantic_extra__", _ABSENT)
    if extra is not _ABSENT:
        return extra.get(name) if isinstance(extra, dict) else None
    return getattr(obj, name, None)


def _text(content: Any) -> str | None:
    """Message text from a string or a list of content parts (other parts are skipped)."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, Iterable):
        texts = [t for t in (_field(part, "text") for part in content) if isinstance(t, str)]
        return "".join(texts) if texts else None
    return None


def _stops(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for s in value if isinstance(s, str)]
    return None


def _idempotency_key(run: Run, kwargs: Mapping[str, Any], client: Any) -> None:
    for headers in (kwargs.get("extra_headers"), getattr(client, "_custom_headers", None)):
        if headers:
            for name, value in headers.items():
                if isinstance(value, str) and name.lower() == "idempotency-key":
                    run.set_attribute(semconv.REQUEST_IDEMPOTENCY_KEY, value)
                    return


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


def start_llm(tel: Telemetry, client: Any, model: Any) -> LLMRun:
    """Open the ``chat {model}`` run (chat completions and the Responses API alike)."""
    address, port = server_of(client)
    return tel.llm(
        provider_of(client),
        _str(model),
        operation=semconv.OP_CHAT,
        server_address=address,
        server_port=port,
        attach=True,
    )


_CHAT_PARAMS: Final = frozenset(
    {"temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop"}
    | {"frequency_penalty", "presence_penalty", "n", "stream"}
)
_RESPONSES_PARAMS: Final = frozenset({"temperature", "top_p", "max_output_tokens", "stream"})


def chat_request(run: LLMRun, kwargs: Mapping[str, Any], client: Any) -> None:
    """Request parameters, idempotency key and (under capture) the input messages."""
    get = kwargs.get
    if not _CHAT_PARAMS.isdisjoint(kwargs):  # kwargs hold only what the caller passed
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
        )
    _idempotency_key(run, kwargs, client)
    if run.capture_content:
        run.set_messages(inputs=chat_inputs(get("messages")))


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


def _usage(run: LLMRun, usage: Any, inputs: str, outputs: str) -> None:
    """Token usage from ``<inputs>``/``<outputs>`` counts and their ``*_details``."""
    if usage is None:
        return
    # Fields differ by SDK version and usage kind: read without pydantic's __getattr__.
    given = _field(usage, f"{inputs}_details")
    produced = _field(usage, f"{outputs}_details")
    run.set_usage(
        input_tokens=_field(usage, inputs),
        output_tokens=_field(usage, outputs),
        cache_read_input_tokens=_field(given, "cached_tokens") if given is not None else None,
        cache_creation_input_tokens=(
            _field(given, "cache_write_tokens") if given is not None else None
        ),
        reasoning_tokens=_field(produced, "reasoning_tokens") if produced is not None else None,
    )


def chat_usage(run: LLMRun, usage: Any) -> None:
    """Token usage of a chat completion (or of the usage chunk of a stream)."""
    _usage(run, usage, "prompt_tokens", "completion_tokens")


def chat_response(run: LLMRun, completion: Any) -> None:
    """Identity, finish reasons, usage and requested tool calls of a ``ChatCompletion``."""
    values = run.lean_values
    if values is not None and not run.capture_content:
        _lean_chat_response(run, values, completion)
    else:
        _chat_response(run, completion)


def _lean_chat_response(run: LLMRun, values: dict[str, AttributeValue], completion: Any) -> None:
    """``_chat_response`` written straight into a lean run's batch: the default mode's hot path
    (a handful of reads, no setter calls). Parity with it is tested."""
    reasons: list[str] = []
    calls: list[ToolCallRequest] = []
    for choice in completion.choices or ():
        if choice.finish_reason:
            reasons.append(choice.finish_reason)
        message = choice.message
        if message.tool_calls:
            calls.extend(_call_of(c) for c in message.tool_calls)
        legacy = message.function_call
        if legacy is not None:
            calls.append(ToolCallRequest(name=legacy.name, arguments=legacy.arguments))
    lean_identity(values, completion.id, completion.model, reasons)
    lean_chat_usage(values, completion.usage)
    run.register_tool_calls_in(values, calls)


def lean_identity(
    values: dict[str, AttributeValue], response_id: Any, model: Any, reasons: list[str]
) -> None:
    """Response id, model and finish reasons into a lean run's batch, as ``set_response``."""
    if response_id:
        values[GenAI.GEN_AI_RESPONSE_ID] = response_id
    if model:
        values[GenAI.GEN_AI_RESPONSE_MODEL] = model
    if reasons:
        values[GenAI.GEN_AI_RESPONSE_FINISH_REASONS] = [str(r) for r in reasons]


def lean_chat_usage(values: dict[str, AttributeValue], usage: Any) -> None:
    """``chat_usage`` into a lean run's batch (see ``_lean_chat_response``)."""
    if usage is None:
        return
    _lean_count(values, GenAI.GEN_AI_USAGE_INPUT_TOKENS, usage.prompt_tokens, True)
    _lean_count(values, GenAI.GEN_AI_USAGE_OUTPUT_TOKENS, usage.completion_tokens, True)
    given, produced = usage.prompt_tokens_details, usage.completion_tokens_details
    if given is not None:  # fields differ by SDK version: read without pydantic's __getattr__
        _lean_count(values, _CACHE_READ, _field(given, "cached_tokens"), False)
        _lean_count(values, _CACHE_WRITE, _field(given, "cache_write_tokens"), False)
    if produced is not None:
        _lean_count(values, _REASONING, _field(produced, "reasoning_tokens"), False)


def _lean_count(values: dict[str, AttributeValue], key: str, count: Any, keep_zero: bool) -> None:
    # As LLMRun.set_usage would: ints (not bools), zero kept only for the input/output totals.
    if isinstance(count, (int, float)) and not isinstance(count, bool) and (keep_zero or count):
        values[key] = int(count)


def _chat_response(run: LLMRun, completion: Any) -> None:
    choices = completion.choices or ()
    run.set_response(
        response_id=completion.id,
        model=completion.model,
        finish_reasons=[c.finish_reason for c in choices if c.finish_reason],
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


def responses_request(run: LLMRun, kwargs: Mapping[str, Any], client: Any) -> None:
    """Request parameters, idempotency key and (under capture) instructions and input."""
    get = kwargs.get
    if not _RESPONSES_PARAMS.isdisjoint(kwargs):
        run.set_request(
            temperature=_num(get("temperature")),
            top_p=_num(get("top_p")),
            max_tokens=_int(get("max_output_tokens")),
            stream=True if get("stream") is True else None,
        )
    _idempotency_key(run, kwargs, client)
    if run.capture_content:
        run.set_messages(inputs=responses_inputs(get("instructions"), get("input")))


def responses_inputs(instructions: Any, items: Any) -> list[Message]:
    """Instructions and input items (text, messages, tool calls and their outputs)."""
    out: list[Message] = []
    if isinstance(instructions, str):
        out.append(Message(role="system", text=instructions))
    if isinstance(items, str):
        out.append(Message(role="user", text=items))
        return out
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


def tool_calls_of(items: Iterable[Any]) -> list[ToolCallRequest]:
    """The function / custom tool calls among Responses output items."""
    return [_call_of(item) for item in items if _field(item, "type") in _TOOL_ITEMS]


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
    _usage(run, usage, "input_tokens", "output_tokens")


def responses_response(run: LLMRun, response: Any) -> None:
    """Identity, status, usage and function calls of a ``Response``."""
    output = response.output or ()
    calls = tool_calls_of(output)
    finish = responses_finish_reason(response, bool(calls))
    run.set_response(
        response_id=response.id, model=response.model, finish_reasons=[finish] if finish else None
    )
    responses_usage(run, response.usage)
    run.register_tool_calls(calls)
    if run.capture_content:
        text = getattr(response, "output_text", None) or None  # the SDK joins the text parts
        run.set_messages(
            outputs=[Message(role="assistant", text=text, tool_calls=calls, finish_reason=finish)]
        )


# --------------------------------------------------------------------------- embeddings


def start_embedding(tel: Telemetry, client: Any, model: Any) -> EmbeddingRun:
    """Open the ``embeddings {model}`` run."""
    address, port = server_of(client)
    return tel.embedding(
        provider_of(client), _str(model), server_address=address, server_port=port, attach=True
    )


def embeddings_request(run: EmbeddingRun, kwargs: Mapping[str, Any], client: Any) -> None:
    """Only the idempotency key: the input is content, and there are no sampling parameters."""
    _idempotency_key(run, kwargs, client)


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


# --------------------------------------------------------------------------- retries, errors


def on_retry(
    run: Run,
    client: Any,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    delay: float,
    cause: BaseException | None,
) -> None:
    """``retry.attempted`` (and ``rate.limit.invoked`` on a 429) from the SDK's retry loop.

    Called from ``BaseClient._calculate_retry_timeout(remaining_retries, options,
    response_headers)``, which the SDK calls inside the ``except`` block of the
    failed attempt: ``cause`` is that attempt's exception.
    """
    remaining = args[0] if args else kwargs["remaining_retries"]
    options = args[1] if len(args) > 1 else kwargs["options"]
    headers = args[2] if len(args) > 2 else kwargs.get("response_headers")
    max_retries = options.get_max_retries(client.max_retries)
    status = getattr(getattr(cause, "response", None), "status_code", None)
    record_retry(
        attempt=max_retries - remaining + 1,
        delay_s=delay,
        status_code=status,
        error_type=error_type(cause) if cause is not None and status is None else None,
        span=run.span,
    )
    if status == 429:
        record_rate_limit(429, retry_after_s=retry_after(client, headers), span=run.span)


def on_error(run: Run, exc: BaseException, client: Any) -> None:
    """Before the run fails: ``rate.limit.invoked`` when the final answer was a 429."""
    if getattr(exc, "status_code", None) == 429:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        record_rate_limit(429, retry_after_s=retry_after(client, headers), span=run.span)
