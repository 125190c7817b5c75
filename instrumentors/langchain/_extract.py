"""LangChain objects -> calls on the core: run names and kinds, request and response fields,
messages, tool input and output (model identity: ``_providers``).

Every function here reads LangChain / LangGraph objects defensively (attributes and
dict keys moved between langchain-core 0.3 and 1.x) and never decides what the core
records: hashing, capture and attribute names stay in ``instrumentors.telemetry``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any, Final

from instrumentors.telemetry import LLMRun, Message, ToolCallRequest

DEFAULT_GRAPH_NAME: Final = "LangGraph"
HIDDEN_TAG: Final = "langsmith:hidden"
_NODE_TAG: Final = "graph:step:"
# LangGraph's configurable thread id first (core 0.3 and langgraph 1.x copy it into metadata).
_SESSION_KEYS: Final = ("thread_id", "session_id", "conversation_id")
_AGENT_CLASSES: Final = frozenset(
    {"AgentExecutor", "CompiledStateGraph", "CompiledGraph", "Pregel"}
)
_AGENT_INTEGRATIONS: Final = frozenset({"langgraph", "langchain_create_agent"})
_ROLES: Final = {
    "human": "user",
    "ai": "assistant",
    "AIMessageChunk": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
    "function": "tool",
}


def _control_flow() -> tuple[type[BaseException], ...]:
    kinds: list[type[BaseException]] = [GeneratorExit]  # an abandoned stream is not an error
    try:
        errors = importlib.import_module("langgraph.errors")
    except ImportError:
        return tuple(kinds)
    # GraphBubbleUp (0.3+) covers GraphInterrupt, ParentCommand (Command hand-offs) and
    # GraphDrained; langgraph 0.2 only has GraphInterrupt.
    bubble = getattr(errors, "GraphBubbleUp", None) or getattr(errors, "GraphInterrupt", None)
    if isinstance(bubble, type) and issubclass(bubble, BaseException):
        kinds.append(bubble)
    return tuple(kinds)


_CONTROL_FLOW: Final = _control_flow()


def is_control_flow(error: BaseException) -> bool:
    """True for LangGraph interrupts, parent commands and abandoned streams: not failures."""
    return isinstance(error, _CONTROL_FLOW)


# --------------------------------------------------------------------------- runs


def run_name(serialized: Any, kwargs: Mapping[str, Any], default: str = "chain") -> str:
    """The run's name: ``run_name`` / ``get_name()``, else the serialized name or class."""
    name = kwargs.get("name")
    if not (isinstance(name, str) and name) and isinstance(serialized, Mapping):
        name = serialized.get("name") or class_name(serialized)
    return name if isinstance(name, str) and name else default


def class_name(serialized: Any) -> str | None:
    """The class of a serialized LangChain object (the last part of its ``id``)."""
    ids = serialized.get("id") if isinstance(serialized, Mapping) else None
    if isinstance(ids, Sequence) and ids and isinstance(ids[-1], str):
        return ids[-1]
    return None


def session_id(metadata: Mapping[str, Any] | None) -> object:
    """The framework's session: ``thread_id``, else ``session_id`` / ``conversation_id``."""
    if not metadata:
        return None
    for key in _SESSION_KEYS:
        value = metadata.get(key)
        if value is not None and value != "":
            return value
    return None


def is_graph_node(
    name: str, tags: Sequence[str] | None, metadata: Mapping[str, Any] | None
) -> bool:
    """A LangGraph node run: tagged ``graph:step:N`` and named as its ``langgraph_node``."""
    if not tags or not metadata or metadata.get("langgraph_node") != name:
        return False
    return any(tag.startswith(_NODE_TAG) for tag in tags)


def looks_like_agent(serialized: Any, name: str, metadata: Mapping[str, Any] | None) -> bool:
    """A root chain that is an agent: a compiled graph or an AgentExecutor."""
    if name in (DEFAULT_GRAPH_NAME, "AgentExecutor"):
        return True
    ids = serialized.get("id") if isinstance(serialized, Mapping) else None
    if isinstance(ids, Sequence) and ids and (ids[0] == "langgraph" or ids[-1] in _AGENT_CLASSES):
        return True
    integration = metadata.get("ls_integration") if metadata else None
    return isinstance(integration, str) and integration in _AGENT_INTEGRATIONS


# --------------------------------------------------------------------------- models


# invocation_params key -> (set_request keyword, conversion); ls_* metadata as fallback.
_REQUEST_PARAMS: Final = (
    ("temperature", "temperature", float),
    ("top_p", "top_p", float),
    ("max_tokens", "max_tokens", int),
    ("max_completion_tokens", "max_tokens", int),
    ("max_output_tokens", "max_tokens", int),
    ("seed", "seed", int),
    ("frequency_penalty", "frequency_penalty", float),
    ("presence_penalty", "presence_penalty", float),
    ("n", "choice_count", int),
)
_REQUEST_METADATA: Final = (
    ("ls_temperature", "temperature", float),
    ("ls_max_tokens", "max_tokens", int),
)


_REQUEST_PARAM_KEYS: Final = frozenset(key for key, _, _ in _REQUEST_PARAMS)
_REQUEST_METADATA_KEYS: Final = frozenset(key for key, _, _ in _REQUEST_METADATA)


def llm_request(
    run: LLMRun,
    params: Mapping[str, Any],
    options: Mapping[str, Any] | None,
    metadata: Mapping[str, Any] | None,
) -> None:
    """Request parameters from ``invocation_params`` (with the ``ls_*`` metadata as fallback)."""
    request: dict[str, Any] = {}
    for sources, table, keys in (
        (params, _REQUEST_PARAMS, _REQUEST_PARAM_KEYS),
        (metadata or {}, _REQUEST_METADATA, _REQUEST_METADATA_KEYS),
    ):
        if keys.isdisjoint(sources):  # most calls: nothing to read from this source
            continue
        for key, name, kind in table:
            value = sources.get(key)
            if (
                value is not None
                and name not in request
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
            ):
                request[name] = kind(value)
    stop = (options or {}).get("stop") or params.get("stop") or (metadata or {}).get("ls_stop")
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, (list, tuple)) and stop:
        request["stop_sequences"] = [str(s) for s in stop]
    if params.get("stream") is True:
        request["stream"] = True
    if request:
        run.set_request(**request)


def llm_inputs(inputs: Any, chat: bool) -> list[Message]:
    """The first prompt of a start event: ``list[list[BaseMessage]]`` or ``list[str]``."""
    if not inputs or not isinstance(inputs, Sequence):
        return []
    first = inputs[0]
    if not chat:
        return [Message(role="user", text=str(first))]
    return [to_message(m) for m in first] if isinstance(first, Sequence) else []


def to_message(message: Any, finish_reason: str | None = None) -> Message:
    """A ``BaseMessage`` as a neutral message."""
    kind = getattr(message, "type", None)
    role = _ROLES.get(kind) if isinstance(kind, str) else None
    if role is None:
        role = str(getattr(message, "role", None) or kind or "user")
    text = content_text(getattr(message, "content", None))
    if role == "tool":
        return Message(
            role=role, tool_call_id=getattr(message, "tool_call_id", None), tool_result=text
        )
    return Message(
        role=role, text=text, tool_calls=tool_calls(message), finish_reason=finish_reason
    )


def content_text(content: Any) -> str | None:
    """Message content as text (string content, or the text parts of a content list)."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = [
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in content
            if isinstance(part, str) or (isinstance(part, Mapping) and "text" in part)
        ]
        return "".join(parts)
    return str(content)


def tool_calls(message: Any) -> list[ToolCallRequest]:
    """The tool calls an ``AIMessage`` requests."""
    calls = getattr(message, "tool_calls", None)
    if not calls:
        return []
    return [
        ToolCallRequest(
            name=str(call.get("name") or ""), id=call.get("id"), arguments=call.get("args")
        )
        for call in calls
        if isinstance(call, Mapping)
    ]


def llm_result(run: LLMRun, response: Any) -> None:
    """Usage, response identity, finish reasons, requested tool calls and (if captured) outputs."""
    generations = getattr(response, "generations", None)
    batch = generations[0] if generations else ()
    message = getattr(batch[0], "message", None) if batch else None
    llm_output = getattr(response, "llm_output", None) or {}
    metadata = getattr(message, "response_metadata", None) or {}
    reasons = []
    for generation in batch:
        reason = _finish_reason(generation)
        if reason:
            reasons.append(reason)
    response_id = _str(metadata.get("id")) or _str(llm_output.get("id"))
    model = (
        _str(metadata.get("model_name"))
        or _str(metadata.get("model"))
        or _str(llm_output.get("model_name"))
    )
    _usage(run, getattr(message, "usage_metadata", None), llm_output)
    run.set_response(response_id=response_id, model=model, finish_reasons=reasons)
    calls = tool_calls(message)
    if calls:
        run.register_tool_calls(calls)
    if run.capture_content and batch:
        run.set_messages(outputs=[_output(g) for g in batch])


def _output(generation: Any) -> Message:
    message = getattr(generation, "message", None)
    if message is None:
        return Message(role="assistant", text=getattr(generation, "text", None))
    return to_message(message, _finish_reason(generation))


def _finish_reason(generation: Any) -> str | None:
    info = getattr(generation, "generation_info", None)
    if info:
        reason = _str(info.get("finish_reason"))
        if reason:
            return reason
    metadata = getattr(getattr(generation, "message", None), "response_metadata", None)
    if metadata:
        return _str(metadata.get("finish_reason")) or _str(metadata.get("stop_reason"))
    return None


_Counts = tuple[int | None, int | None, int | None, int | None]


def _usage_counts(usage: Any, llm_output: Mapping[str, Any]) -> _Counts | None:
    """(input, output, cache read, reasoning) tokens from ``usage_metadata`` or ``llm_output``."""
    if isinstance(usage, Mapping) and ("input_tokens" in usage or "output_tokens" in usage):
        return (
            _integer(usage.get("input_tokens")),
            _integer(usage.get("output_tokens")),
            _integer(_detail(usage, "input_token_details", "cache_read")),
            _integer(_detail(usage, "output_token_details", "reasoning")),
        )
    raw = llm_output.get("token_usage") or llm_output.get("usage")
    if not isinstance(raw, Mapping):
        return None
    return (
        _integer(raw.get("prompt_tokens", raw.get("input_tokens"))),
        _integer(raw.get("completion_tokens", raw.get("output_tokens"))),
        _integer(_detail(raw, "prompt_tokens_details", "cached_tokens")),
        _integer(_detail(raw, "completion_tokens_details", "reasoning_tokens")),
    )


def _usage(run: LLMRun, usage: Any, llm_output: Mapping[str, Any]) -> None:
    counts = _usage_counts(usage, llm_output)
    if counts is None:
        return
    # A zero cache read or reasoning count says nothing: recorded only when non-zero.
    run.set_usage(
        input_tokens=counts[0],
        output_tokens=counts[1],
        cache_read_input_tokens=counts[2] or None,
        reasoning_tokens=counts[3] or None,
    )


def _detail(usage: Mapping[str, Any], group: str, key: str) -> Any:
    details = usage.get(group)
    return details.get(key) if isinstance(details, Mapping) else None


# --------------------------------------------------------------------------- tools


def tool_params(input_str: Any, inputs: Any) -> Any:
    """What the framework hands the tool: the argument dict, or ``{"input": <str>}``."""
    if isinstance(inputs, Mapping):  # hashed (and captured) at start: no copy needed
        return inputs
    return {"input": input_str}


def tool_output(output: Any) -> tuple[str | None, Any]:
    """(tool call id, result) of a tool's output: a ``ToolMessage`` when called with a ToolCall."""
    call_id = getattr(output, "tool_call_id", None)
    if isinstance(call_id, str) and getattr(output, "type", None) == "tool":
        return call_id, getattr(output, "content", output)
    return None, output


def agent_action_call(action: Any) -> tuple[str, str] | None:
    """(tool name, tool call id) announced by an AgentExecutor's tool-calling action."""
    call_id = getattr(action, "tool_call_id", None)
    name = getattr(action, "tool", None)
    if isinstance(call_id, str) and call_id and isinstance(name, str):
        return name, call_id
    return None


# --------------------------------------------------------------------------- helpers


def first_str(source: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    """The first non-empty string among ``keys`` of ``source``."""
    for key in keys:
        value = source.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)
