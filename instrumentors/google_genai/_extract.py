"""google-genai objects -> calls on the core's runs: request config, contents, responses, usage.

Requests take ``config`` as a ``GenerateContentConfig`` or a plain dict, and
``contents`` as a string, parts, ``Content`` objects or dicts; every shape is
read here. Responses are the SDK's public ``google.genai.types`` models.

Function calls without an API id get a stable one: ``<responseId>:<candidate>:<n>``,
``n`` being the call's position among that candidate's function calls in the
response (counted across the chunks of a stream), so a streamed and a
non-streamed answer give the same ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from instrumentors._sdk_fields import integer as _int
from instrumentors._sdk_fields import number as _num
from instrumentors.telemetry import EmbeddingRun, LLMRun, Message, ToolCallRequest

_ROLES: Final = {"model": "assistant", "user": "user", "function": "tool", "tool": "tool"}
# (python name, camelCase alias) of the request parameters read from a config.
_PARAMS: Final = (
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("top_k", "topK"),
    ("max_output_tokens", "maxOutputTokens"),
    ("stop_sequences", "stopSequences"),
    ("candidate_count", "candidateCount"),
    ("seed", "seed"),
    ("frequency_penalty", "frequencyPenalty"),
    ("presence_penalty", "presencePenalty"),
)
_PARAM_NAMES: Final = tuple(name for name, _ in _PARAMS)
_reasons: dict[Any, str] = {}  # enum member -> lowercased value (a handful of members)

# --------------------------------------------------------------------------- helpers


def _get(obj: Any, name: str, alias: str | None = None) -> Any:
    """A field of an SDK model or of the equivalent dict (snake_case or camelCase keys)."""
    if isinstance(obj, Mapping):
        value = obj.get(name)
        return obj.get(alias) if value is None and alias else value
    return getattr(obj, name, None)


def reason(value: Any) -> str | None:
    """A finish / block reason enum as the API's name, lowercased (``STOP`` -> ``stop``)."""
    if value is None:
        return None
    known = _reasons.get(value)
    if known is None:
        known = str(getattr(value, "value", value)).lower()
        if len(_reasons) < 64:
            _reasons[value] = known
    return known


_models: dict[str, str] = {}


def model_name(model: Any) -> str | None:
    """The model id from ``gemini-x``, ``models/gemini-x`` or a Vertex resource name."""
    if not isinstance(model, str) or not model:
        return None
    name = _models.get(model)
    if name is None:
        name = model.rsplit("/models/", 1)[-1] if "/models/" in model else model
        name = name.removeprefix("models/") or model
        if len(_models) < 256:
            _models[model] = name
    return name


# --------------------------------------------------------------------------- requests


def _params(config: Any) -> tuple[Any, ...]:
    """The request parameters of a config: a ``GenerateContentConfig`` or a dict."""
    if isinstance(config, Mapping):
        return tuple(_get(config, name, alias) for name, alias in _PARAMS)
    fields = getattr(config, "__dict__", None)
    if fields is None:
        return tuple(getattr(config, name, None) for name, _ in _PARAMS)
    # The SDK's pydantic model keeps its fields in ``__dict__``: plain reads (in C).
    return tuple(map(fields.get, _PARAM_NAMES))


def request(run: LLMRun, kwargs: Mapping[str, Any], stream: bool) -> None:
    """Request parameters and (under capture) the system instruction and contents."""
    config = kwargs.get("config")
    if config is not None:
        (temperature, top_p, top_k, max_tokens, stops, count, seed, frequency, presence) = _params(
            config
        )
        if isinstance(stops, str):
            stops = [stops]
        count = _int(count)
        run.set_request(
            temperature=_num(temperature),
            top_p=_num(top_p),
            top_k=_num(top_k),
            max_tokens=_int(max_tokens),
            stop_sequences=[s for s in stops if isinstance(s, str)] if stops else None,
            choice_count=count if count != 1 else None,
            seed=_int(seed),
            frequency_penalty=_num(frequency),
            presence_penalty=_num(presence),
            stream=True if stream else None,
        )
    elif stream:
        run.set_request(stream=True)
    if run.capture_content:
        system = _get(config, "system_instruction", "systemInstruction") if config else None
        run.set_messages(inputs=input_messages(kwargs.get("contents")), system=_texts(system))


def _texts(value: Any) -> list[str] | None:
    """System instruction texts from a string, a part, a ``Content`` or a list of them."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    parts = _get(value, "parts")
    items = parts if parts is not None else value
    if not isinstance(items, (list, tuple)):
        items = [items]
    texts = [t for t in (item if isinstance(item, str) else _get(item, "text") for item in items)]
    return [t for t in texts if isinstance(t, str) and t] or None


def _render(part: Any) -> tuple[str, Any] | None:
    """One part as ("text", str), ("call", ToolCallRequest), ("result", Message) or None."""
    if isinstance(part, str):
        return "text", part
    text = _get(part, "text")
    if isinstance(text, str):
        return None if _get(part, "thought") else ("text", text)
    call = _get(part, "function_call", "functionCall")
    if call is not None:
        return "call", ToolCallRequest(
            _get(call, "name") or "", _get(call, "id"), _get(call, "args")
        )
    result = _get(part, "function_response", "functionResponse")
    if result is not None:
        response = _get(result, "response")
        return "result", Message(role="tool", tool_call_id=_get(result, "id"), tool_result=response)
    blob = _get(part, "inline_data", "inlineData")
    if blob is not None:  # never the bytes: their MIME type and size
        data = _get(blob, "data")
        size = len(data) if isinstance(data, (bytes, str)) else None
        # TODO(core): a blob part ({"type": "blob", "mime_type", "size"}) once Message has parts.
        return "text", f"<inline_data mime_type={_get(blob, 'mime_type', 'mimeType')} size={size}>"
    file = _get(part, "file_data", "fileData")
    if file is not None:
        return "text", f"<file_data mime_type={_get(file, 'mime_type', 'mimeType')}>"
    return None if isinstance(part, Mapping) else ("text", f"<{type(part).__name__}>")


def _message(role: str, parts: Iterable[Any], finish: str | None = None) -> list[Message]:
    """A message (text and calls of its parts) followed by its function results, if any."""
    texts: list[str] = []
    calls: list[ToolCallRequest] = []
    results: list[Message] = []
    for part in parts:
        rendered = _render(part)
        if rendered is None:
            continue
        kind, value = rendered
        if kind == "text":
            texts.append(value)
        elif kind == "call":
            calls.append(value)
        else:
            results.append(value)
    out = [Message(role=role, text="".join(texts) or None, tool_calls=calls, finish_reason=finish)]
    return [*out, *results] if texts or calls or not results else results


def input_messages(contents: Any) -> list[Message]:
    """Request contents in neutral form; loose parts make one user message, as the SDK does."""
    items = contents if isinstance(contents, (list, tuple)) else [contents]
    out: list[Message] = []
    loose: list[Any] = []
    for item in items:
        parts = None if isinstance(item, str) else _get(item, "parts")
        if parts is None:
            loose.append(item)
            continue
        if loose:
            out += _message("user", loose)
            loose = []
        role = _get(item, "role") or "user"
        out += _message(_ROLES.get(role, role), parts)
    if loose:
        out += _message("user", loose)
    return out


# --------------------------------------------------------------------------- responses


Calls = list[tuple[int, ToolCallRequest]]  # (candidate index, call)


def function_calls(response: Any, counters: dict[tuple[str, int], int]) -> Calls:
    """The function calls a response (or stream chunk) asks for, with ids (see module doc)."""
    found: Calls = []
    rid = response.response_id
    for position, candidate in enumerate(response.candidates or ()):
        content = candidate.content
        parts = content.parts if content is not None else None
        if not parts:
            continue
        index = candidate.index or position
        for part in parts:
            call = part.function_call
            if call is None:
                continue
            call_id = call.id
            if rid:
                key = (rid, index)
                n = counters.get(key, 0)
                counters[key] = n + 1
                call_id = call_id or f"{rid}:{index}:{n}"
            found.append((index, ToolCallRequest(call.name or "", call_id or None, call.args)))
    return found


def finish_reasons(response: Any) -> list[str]:
    """Every candidate's finish reason; for a blocked prompt (no candidate), its block reason."""
    candidates = response.candidates
    if candidates:
        return [r for r in (reason(c.finish_reason) for c in candidates) if r]
    feedback = response.prompt_feedback
    blocked = reason(feedback.block_reason) if feedback is not None else None
    return [blocked] if blocked else []


def usage(run: LLMRun, usage: Any) -> None:
    """One response's ``usage_metadata`` (see ``Tokens.add`` for what adds up to what)."""
    if usage is None:
        return
    prompt, tool_use = usage.prompt_token_count, usage.tool_use_prompt_token_count
    output, thoughts = usage.candidates_token_count, usage.thoughts_token_count
    run.set_usage(
        input_tokens=prompt if tool_use is None else (prompt or 0) + tool_use,
        output_tokens=output if thoughts is None else (output or 0) + thoughts,
        cache_read_input_tokens=usage.cached_content_token_count,
        reasoning_tokens=thoughts,
    )


class Tokens:
    """Token counts summed over the model turns of one call (automatic function calling)."""

    __slots__ = ("cached", "inputs", "outputs", "thoughts")

    def __init__(self) -> None:
        self.inputs: int | None = None
        self.outputs: int | None = None
        self.cached: int | None = None
        self.thoughts: int | None = None

    def add(self, usage: Any) -> None:
        """One turn's ``usage_metadata``: prompt (+ tool-use prompt), candidates (+ thoughts)."""
        if usage is None:
            return
        prompt, tool_use = usage.prompt_token_count, usage.tool_use_prompt_token_count
        output, thoughts = usage.candidates_token_count, usage.thoughts_token_count
        cached = usage.cached_content_token_count
        if prompt is not None or tool_use is not None:
            self.inputs = (self.inputs or 0) + (prompt or 0) + (tool_use or 0)
        if output is not None or thoughts is not None:
            # The conventions count every generated token as output; Gemini reports
            # thinking apart (and bills it as output): both go in.
            self.outputs = (self.outputs or 0) + (output or 0) + (thoughts or 0)
        if thoughts is not None:
            self.thoughts = (self.thoughts or 0) + thoughts
        if cached is not None:
            self.cached = (self.cached or 0) + cached

    def apply(self, run: LLMRun) -> None:
        """Hand the counts to the run."""
        run.set_usage(
            input_tokens=self.inputs,
            output_tokens=self.outputs,
            cache_read_input_tokens=self.cached,
            reasoning_tokens=self.thoughts,
        )


def output_messages(response: Any, calls: Calls, reasons: list[str]) -> list[Message]:
    """The candidates as assistant messages (thought parts left out)."""
    out: list[Message] = []
    candidates = response.candidates or ()
    for position, candidate in enumerate(candidates):
        content = candidate.content
        texts = (
            [p.text for p in (content.parts or ()) if p.text and not p.thought] if content else []
        )
        index = candidate.index or position
        mine = [call for at, call in calls if at == index]
        finish = reason(candidate.finish_reason)
        out.append(Message("assistant", "".join(texts) or None, mine, finish_reason=finish))
    if not candidates and reasons:
        out.append(Message("assistant", finish_reason=reasons[0]))
    return out


# --------------------------------------------------------------------------- embeddings


def embed_request(run: EmbeddingRun, kwargs: Mapping[str, Any]) -> None:
    """The requested output dimensionality."""
    config = kwargs.get("config")
    if config is not None:
        run.set_request(
            dimensions=_int(_get(config, "output_dimensionality", "outputDimensionality"))
        )


def embed_response(run: EmbeddingRun, response: Any) -> None:
    """Dimension, and input tokens where the API reports them (Vertex AI statistics, usage)."""
    embeddings = response.embeddings or ()
    values = embeddings[0].values if embeddings else None
    run.set_response(dimension=len(values) if isinstance(values, list) else None)
    usage = getattr(response, "usage_metadata", None)  # 3.x
    tokens = _int(getattr(usage, "prompt_token_count", None)) if usage is not None else None
    if tokens is None:
        counts = [getattr(e.statistics, "token_count", None) for e in embeddings if e.statistics]
        tokens = int(sum(c for c in counts if c is not None)) if counts else None
    run.set_usage(input_tokens=tokens)
