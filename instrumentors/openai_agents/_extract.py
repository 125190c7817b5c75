"""Agents SDK span data -> calls on the core's runs: model calls, tools, agents and steps.

The SDK fills its span data as the work goes: a ``generation`` span knows its model
and settings when it starts, a ``response`` span only when it ends (and only the
usage when the run keeps sensitive data out of traces), a ``function`` span its
arguments and output at the end. So runs start with what is known and the rest goes
in at the end. Span-data objects are read through their public attributes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from opentelemetry.util.types import AttributeValue

from instrumentors import semconv
from instrumentors.openai_agents import _messages
from instrumentors.openai_agents._messages import field
from instrumentors.telemetry import NO_PARAMS, LLMRun, Telemetry, ToolCallRequest

PROVIDER: Final = "openai"

# Our attributes for what the Agents SDK adds (docs/attributes.md).
OPENAI_AGENTS_TRACE_ID: Final = "openai_agents.trace_id"
OPENAI_AGENTS_GROUP_ID: Final = "openai_agents.group_id"
AGENT_HANDOFF_FROM: Final = "agent.handoff.from"
AGENT_HANDOFF_TO: Final = "agent.handoff.to"
AGENT_GUARDRAIL_NAME: Final = "agent.guardrail.name"
AGENT_GUARDRAIL_TRIGGERED: Final = "agent.guardrail.triggered"

HANDOFF_STEP: Final = "handoff"
GUARDRAIL_STEP: Final = "guardrail"

_DEFAULT_PORTS: Final = {"https": 443, "http": 80}
_INCOMPLETE: Final = {"max_output_tokens": "length", "content_filter": "content_filter"}
_MISSING: Final = object()
_JSON_LIMIT: Final = 1 << 20  # tool arguments parsed from JSON text up to 1 MB


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _num(value: Any) -> float | None:
    return value if type(value) in (int, float) else None


# --------------------------------------------------------------------------- model calls


def server_of(base_url: Any) -> tuple[str | None, int | None]:
    """``server.address`` and ``server.port`` of the client's base URL."""
    if not isinstance(base_url, str) or not base_url:
        return None, None
    try:
        parts = urlsplit(base_url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None, None
    return (parts.hostname, port) if parts.hostname else (None, None)


def start_chat(tel: Telemetry, data: Any, placement: dict[str, Any]) -> LLMRun:
    """Open the ``chat`` run of a ``generation`` or ``response`` span."""
    model = config = address = port = None
    if data.type == "generation":
        model = _str(data.model)
        config = data.model_config if isinstance(data.model_config, Mapping) else None
        if config is not None:
            address, port = server_of(config.get("base_url"))
    run = tel.llm(PROVIDER, model, server_address=address, server_port=port, **placement)
    if config and run.span.is_recording():
        run.set_request(
            temperature=_num(config.get("temperature")),
            top_p=_num(config.get("top_p")),
            max_tokens=_int(config.get("max_tokens")),
            frequency_penalty=_num(config.get("frequency_penalty")),
            presence_penalty=_num(config.get("presence_penalty")),
        )
    return run


def _finish_reason(response: Any, has_calls: bool) -> str | None:
    status = field(response, "status")
    if status in (None, "completed"):
        return "tool_calls" if has_calls else "stop"
    if status == "incomplete":
        reason = _str(field(field(response, "incomplete_details"), "reason")) or "incomplete"
        return _INCOMPLETE.get(reason, reason)
    return "error" if status == "failed" else _str(status)


def _response_of(data: Any) -> Any:
    """The ``Response`` (object or stream dump) a span holds, or None."""
    if data.type == "response":
        return data.response
    output = data.output
    if isinstance(output, list) and len(output) == 1 and field(output[0], "object") == "response":
        return output[0]  # a streamed generation keeps the final Response's dump
    return None


def finish_chat(run: LLMRun, data: Any) -> list[ToolCallRequest]:
    """Response identity, usage, requested tool calls (and content); the calls requested."""
    response = _response_of(data)
    if response is not None:
        output = field(response, "output")
    else:  # a generation's messages; a response span without its Response has none
        output = data.output if data.type == "generation" else None
    calls = _messages.tool_calls_in(output) if output is not None else []
    finish: str | None = None
    if response is not None or output:
        finish = _finish_reason(response, bool(calls))
        run.set_response(
            response_id=_str(field(response, "id")),
            model=_str(field(response, "model")),
            finish_reasons=[finish] if finish else None,
        )
    # The span's usage (0.20 and later), else the Response's own (older releases).
    _usage(run, getattr(data, "usage", None) or field(response, "usage"))
    run.register_tool_calls(calls)
    if run.capture_content:
        messages, system = _messages.inputs(data.input)
        instructions = _str(field(response, "instructions"))
        run.set_messages(
            inputs=messages,
            outputs=_messages.outputs(output, finish),
            system=[instructions] if instructions else system,
        )
    _name_model(run)
    return calls


def _usage(run: LLMRun, usage: Any) -> None:
    """Token usage from the SDK's usage dict or a ``Response``'s usage object."""
    if usage is None:
        return
    inputs, outputs = _int(field(usage, "input_tokens")), _int(field(usage, "output_tokens"))
    if not inputs and not outputs:
        return  # what the SDK records when the API reported no usage (a stream without it)
    given = field(usage, "input_tokens_details")
    made = field(usage, "output_tokens_details")
    run.set_usage(
        input_tokens=inputs,
        output_tokens=outputs,
        cache_read_input_tokens=_int(field(given, "cached_tokens")) if given else None,
        reasoning_tokens=_int(field(made, "reasoning_tokens")) if made else None,
    )


def _name_model(run: LLMRun) -> None:
    """A ``response`` span learns its model at the end: name the span after it then.

    The SDK says which model only in the ``Response`` (or, with the OpenAI layer on and
    the SDK keeping sensitive data out of traces, through that layer's enrichment): the
    model the API answered with stands for the one requested, as in the span name.
    """
    if run.shape.start.get(semconv.GEN_AI_REQUEST_MODEL) or not run.span.is_recording():
        return
    model = run.values.get(semconv.GEN_AI_RESPONSE_MODEL)
    if model is None:
        model = run.publication().values.get(semconv.GEN_AI_RESPONSE_MODEL)
    if isinstance(model, str) and model:
        run.set_request(attributes={semconv.GEN_AI_REQUEST_MODEL: model})
        run.span.update_name(f"{run.shape.span_name} {model}")


def requested_calls(run: LLMRun) -> list[ToolCallRequest]:
    """The tool calls another layer (the OpenAI instrumentor) saw in the response."""
    ids = run.values.get(semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS)
    names = run.values.get(semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES)
    if not isinstance(ids, (list, tuple)) or not isinstance(names, (list, tuple)):
        return []
    if len(ids) != len(names):
        return []
    return [ToolCallRequest(name=str(n), id=str(i)) for i, n in zip(ids, names, strict=True)]


# --------------------------------------------------------------------------- tools


def tool_params(arguments: Any) -> Any:
    """What is hashed: the arguments' JSON object, else ``{"input": <text>}``."""
    if arguments is None:
        return NO_PARAMS
    if isinstance(arguments, Mapping):
        return arguments
    if isinstance(arguments, str):
        if len(arguments) <= _JSON_LIMIT:
            try:
                parsed = json.loads(arguments) if arguments.strip() else {}
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                return parsed
        return {"input": arguments}
    return {"input": arguments}


# --------------------------------------------------------------------------- agents, steps


def agent_id(data: Any) -> str | None:
    """The agent's id, where the SDK (or the user, in span metadata) gives one."""
    metadata = getattr(data, "metadata", None)
    return _str(metadata.get("agent_id")) if isinstance(metadata, Mapping) else None


def step_name(data: Any) -> str:
    """A step is named after what it is: ``handoff``, ``guardrail {name}``, a custom span's name."""
    kind = data.type
    if kind == "handoff":
        return HANDOFF_STEP
    if kind == "guardrail":
        return f"{GUARDRAIL_STEP} {data.name}" if data.name else GUARDRAIL_STEP
    return _str(getattr(data, "name", None)) or str(kind)


def step_attributes(data: Any) -> dict[str, AttributeValue | None]:
    """What a step records at its end: who handed off to whom, whether a guardrail tripped."""
    kind = data.type
    if kind == "handoff":
        return {AGENT_HANDOFF_FROM: _str(data.from_agent), AGENT_HANDOFF_TO: _str(data.to_agent)}
    if kind == "guardrail":
        triggered = bool(data.triggered)
        return {AGENT_GUARDRAIL_NAME: _str(data.name), AGENT_GUARDRAIL_TRIGGERED: triggered}
    return {}


def trace_info(trace: Any) -> tuple[str, str | None]:
    """The workflow name and the group id of an SDK trace (its attribute, else its export)."""
    group = getattr(trace, "group_id", _MISSING)
    if group is _MISSING:
        exported = trace.export()
        group = exported.get("group_id") if isinstance(exported, Mapping) else None
    return _str(trace.name) or "Agent workflow", _str(group)
