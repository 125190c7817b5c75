"""What docs/attributes.md declares, and the value rules that hold for every span kind.

The reference tables (attributes, events, our ``gen_ai.provider.name`` values) are parsed
from the page itself, so the page stays the one place a name is documented. Value rules:
each documented type, ``gen_ai.provider.name`` values, and the GenAI conventions' JSON
shape of content (messages with role and typed parts, tool definitions).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GenAiProviderNameValues,
)

REFERENCE_PATH: Final = Path(__file__).resolve().parents[2] / "docs" / "attributes.md"

# --------------------------------------------------------------------------- the reference

# Header rows (lowercased cells) of the reference tables in docs/attributes.md.
ATTRIBUTE_HEADER: Final = ("attribute", "source", "type", "when set", "content")
EVENT_HEADER: Final = ("event", "signal", "source", "attributes", "when emitted")
PROVIDER_HEADER: Final = ("gen_ai.provider.name", "source", "when")
SOURCES: Final = frozenset({"GenAI", "MCP", "HTTP", "RPC", "DB", "messaging", "general", "ours"})
TYPES: Final = frozenset(
    {"string", "int", "double", "boolean", "string[]", "int[]", "double[]", "JSON"}
)
SIGNALS: Final = frozenset({"span event", "log record"})
_BACKTICKED: Final = re.compile(r"`([^`]+)`")
_BRACES: Final = re.compile(r"\{([^{}]*,[^{}]*)\}")
_PLACEHOLDER: Final = re.compile(r"<[^<>]+>")


@dataclass(frozen=True)
class AttributeDoc:
    """One name's row: where it comes from, its type, whether it can hold content."""

    name: str
    source: str
    type: str
    content: bool


@dataclass(frozen=True)
class Reference:
    """What docs/attributes.md declares."""

    attributes: Mapping[str, AttributeDoc]
    patterns: Sequence[tuple[re.Pattern[str], AttributeDoc]]
    events: Mapping[str, str]  # event name -> signal ("span event" / "log record")
    providers: frozenset[str]  # gen_ai.provider.name values of ours
    problems: Sequence[str]  # malformed rows

    def attribute(self, key: str) -> AttributeDoc | None:
        """The row documenting ``key`` (exact, or a ``<placeholder>`` pattern)."""
        found = self.attributes.get(key)
        if found is not None:
            return found
        for pattern, doc in self.patterns:
            if pattern.fullmatch(key):
                return doc
        return None


def expand(name: str) -> list[str]:
    """``a.{b,c}.d`` -> ``a.b.d``, ``a.c.d`` (nested and repeated braces too)."""
    match = _BRACES.search(name)
    if match is None:
        return [name]
    head, tail = name[: match.start()], name[match.end() :]
    return [n for option in match.group(1).split(",") for n in expand(head + option.strip() + tail)]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _tables(text: str) -> Iterable[tuple[tuple[str, ...], list[list[str]]]]:
    """(header cells lowercased, body rows) of every markdown table in ``text``."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("|") and i + 1 < len(lines) and set(lines[i + 1].strip()) <= set("|-: "):
            header = tuple(c.lower() for c in _cells(line))
            rows = []
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            yield header, rows
        else:
            i += 1


def load_reference(path: Path = REFERENCE_PATH) -> Reference:
    """Parse the reference tables of docs/attributes.md."""
    return parse_reference(path.read_text(encoding="utf-8"))


def parse_reference(text: str) -> Reference:
    """Parse the reference tables of a docs/attributes.md text."""
    attributes: dict[str, AttributeDoc] = {}
    patterns: list[tuple[re.Pattern[str], AttributeDoc]] = []
    events: dict[str, str] = {}
    providers: set[str] = set()
    problems: list[str] = []
    for header, rows in _tables(text):
        for row in rows:
            if header == ATTRIBUTE_HEADER and len(row) == len(header):
                source, kind, content = row[1], row[2].strip("`"), row[4].lower()
                if source not in SOURCES or kind not in TYPES or content not in ("yes", "no"):
                    problems.append(f"malformed attribute row (source/type/content): {row}")
                    continue
                for cell_name in _BACKTICKED.findall(row[0]):
                    for name in expand(cell_name):
                        doc = AttributeDoc(name, source, kind, content == "yes")
                        if name in attributes:
                            problems.append(f"attribute documented twice: {name}")
                        if _PLACEHOLDER.search(name):
                            parts = _PLACEHOLDER.split(name)
                            regex = "[^.]+".join(re.escape(p) for p in parts)
                            patterns.append((re.compile(regex), doc))
                        else:
                            attributes[name] = doc
            elif header == EVENT_HEADER and len(row) == len(header):
                if row[1] not in SIGNALS or row[2] not in SOURCES:
                    problems.append(f"malformed event row (signal/source): {row}")
                    continue
                for cell_name in _BACKTICKED.findall(row[0]):
                    for name in expand(cell_name):
                        events[name] = row[1]
            elif header == PROVIDER_HEADER and len(row) == len(header):
                for cell_name in _BACKTICKED.findall(row[0]):
                    providers.update(expand(cell_name))
            elif header in (ATTRIBUTE_HEADER, EVENT_HEADER, PROVIDER_HEADER):
                problems.append(f"row with {len(row)} cells in a {header[0]} table: {row}")
    return Reference(attributes, patterns, events, frozenset(providers), problems)


# --------------------------------------------------------------------------- value rules

# The conventions' well-known ``gen_ai.provider.name`` values (this semconv release, plus
# ``moonshot_ai``, added after it). "If one of them applies, the respective value MUST be used."
WELL_KNOWN_PROVIDERS: Final = frozenset(
    {v.value for v in GenAiProviderNameValues} | {"moonshot_ai"}
)
# Other spellings of well-known providers: a layer that emits one of these missed the
# value the conventions require.
PROVIDER_ALIASES: Final = {
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "bedrock": "aws.bedrock",
    "amazon_bedrock": "aws.bedrock",
    "gemini": "gcp.gemini",
    "google": "gcp.gen_ai",
    "google_genai": "gcp.gen_ai",
    "vertex": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai",
    "vertex_ai": "gcp.vertex_ai",
    "google_vertexai": "gcp.vertex_ai",
    "mistral": "mistral_ai",
    "mistralai": "mistral_ai",
    "xai": "x_ai",
    "watsonx": "ibm.watsonx.ai",
    "ibm": "ibm.watsonx.ai",
    "moonshot": "moonshot_ai",
}
_CUSTOM_PROVIDER: Final = re.compile(r"[a-z0-9][a-z0-9_.\-]*")


def provider_problem(value: object, ours: frozenset[str]) -> str | None:
    """Why ``value`` is not an acceptable ``gen_ai.provider.name`` (None when it is).

    A well-known value, a documented value of ours, or a custom value (lowercase, as the
    framework names its integration) that is not another spelling of a well-known one.
    """
    if not isinstance(value, str) or not value:
        return f"gen_ai.provider.name is not a non-empty string: {value!r}"
    if value in WELL_KNOWN_PROVIDERS or value in ours:
        return None
    squashed = re.sub(r"[^a-z0-9]", "", value.lower())
    for known in WELL_KNOWN_PROVIDERS:
        if squashed == re.sub(r"[^a-z0-9]", "", known):
            return f"gen_ai.provider.name {value!r} is a misspelling of {known!r}"
    if value.lower() in PROVIDER_ALIASES:
        return (
            f"gen_ai.provider.name {value!r}: the conventions' value is "
            f"{PROVIDER_ALIASES[value.lower()]!r}"
        )
    if not _CUSTOM_PROVIDER.fullmatch(value):
        return f"gen_ai.provider.name {value!r} is not a lowercase identifier"
    return None


def type_problem(key: str, value: object, expected: str, structured: bool) -> str | None:
    """Why ``value`` is not of the documented type (None when it is).

    ``double`` accepts an int too (a JSON number). ``JSON``: JSON text on a span, a
    structured value (or JSON text) in a log record (``structured``).
    """
    ok: bool
    if expected == "string":
        ok = isinstance(value, str)
    elif expected == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected == "double":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif expected == "boolean":
        ok = isinstance(value, bool)
    elif expected.endswith("[]"):
        item = expected[:-2]
        ok = isinstance(value, (list, tuple)) and all(
            type_problem(key, v, item, structured) is None for v in value
        )
    elif expected == "JSON":
        if structured and isinstance(value, (list, tuple, Mapping)):
            ok = True
        else:
            ok = isinstance(value, str) and _json_or_none(value) is not _NOT_JSON
    else:
        ok = False
    if ok:
        return None
    return f"{key} should be {expected}, got {type(value).__name__} {_short(value)}"


_NOT_JSON: Final[Any] = object()


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _NOT_JSON


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------- content shape

_MESSAGE_KEYS_NULLABLE: Final = frozenset({"response"})  # a tool may return nothing


def _encoded_json(value: object) -> bool:
    """A string holding a JSON object or array: arguments the layer forgot to parse."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    return text[:1] in ("{", "[") and isinstance(_json_or_none(text), (dict, list))


def _nulls(obj: Mapping[str, Any], where: str, out: list[str]) -> None:
    for key, value in obj.items():
        if value is None and key not in _MESSAGE_KEYS_NULLABLE:
            out.append(f"{where}: key {key!r} is null (leave it out)")


def _str_field(
    part: Mapping[str, Any], key: str, where: str, out: list[str], required: bool
) -> None:
    if key not in part:
        if required:
            out.append(f"{where}: missing {key!r}")
    elif not isinstance(part[key], str):
        out.append(f"{where}: {key!r} should be a string, got {_short(part[key])}")


def part_problems(part: object, where: str) -> list[str]:
    """The conventions' message-part schema: a typed object, each known type's fields."""
    out: list[str] = []
    if not isinstance(part, Mapping):
        return [f"{where}: a part should be an object, got {_short(part)}"]
    _nulls(part, where, out)
    kind = part.get("type")
    if not isinstance(kind, str) or not kind:
        return [*out, f"{where}: part without a string 'type': {_short(part)}"]
    where = f"{where} ({kind})"
    if kind in ("text", "reasoning"):
        _str_field(part, "content", where, out, required=True)
    elif kind == "tool_call":
        _str_field(part, "name", where, out, required=True)
        _str_field(part, "id", where, out, required=False)
        if _encoded_json(part.get("arguments")):
            out.append(f"{where}: 'arguments' is JSON text; the conventions want the object")
    elif kind == "tool_call_response":
        _str_field(part, "id", where, out, required=False)
        if "response" not in part:
            out.append(f"{where}: missing 'response'")
    elif kind == "server_tool_call":
        _str_field(part, "name", where, out, required=True)
        if not isinstance(part.get("server_tool_call"), Mapping):
            out.append(f"{where}: 'server_tool_call' should be an object")
    elif kind == "server_tool_call_response":
        if not isinstance(part.get("server_tool_call_response"), Mapping):
            out.append(f"{where}: 'server_tool_call_response' should be an object")
    elif kind in ("blob", "file", "uri"):
        field = {"blob": "content", "file": "file_id", "uri": "uri"}[kind]
        _str_field(part, field, where, out, required=True)
        _str_field(part, "modality", where, out, required=True)
        _str_field(part, "mime_type", where, out, required=False)
    return out


# JSON arrays: lists, or tuples in a log record (the SDK stores sequences as tuples).
_ARRAY: Final = (list, tuple)


def messages_problems(value: object, key: str, output: bool) -> list[str]:
    """``gen_ai.input.messages`` / ``gen_ai.output.messages``: messages with role and parts."""
    if not isinstance(value, _ARRAY):
        return [f"{key}: should be a list of messages, got {_short(value)}"]
    out: list[str] = []
    for i, message in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(message, Mapping):
            out.append(f"{where}: a message should be an object, got {_short(message)}")
            continue
        _nulls(message, where, out)
        role = message.get("role")
        if not isinstance(role, str) or not role:
            out.append(f"{where}: message without a string 'role'")
        _str_field(message, "name", where, out, required=False)
        if output:
            _str_field(message, "finish_reason", where, out, required=False)
        parts = message.get("parts")
        if not isinstance(parts, _ARRAY):
            out.append(f"{where}: 'parts' should be a list, got {_short(parts)}")
            continue
        for j, part in enumerate(parts):
            out.extend(part_problems(part, f"{where}.parts[{j}]"))
    return out


def system_problems(value: object, key: str) -> list[str]:
    """``gen_ai.system_instructions``: a list of parts."""
    if not isinstance(value, _ARRAY):
        return [f"{key}: should be a list of parts, got {_short(value)}"]
    return [p for i, part in enumerate(value) for p in part_problems(part, f"{key}[{i}]")]


def tool_definitions_problems(value: object, key: str) -> list[str]:
    """``gen_ai.tool.definitions``: objects with ``type`` and ``name`` (functions: schema)."""
    if not isinstance(value, _ARRAY):
        return [f"{key}: should be a list of tool definitions, got {_short(value)}"]
    out: list[str] = []
    for i, tool in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(tool, Mapping):
            out.append(f"{where}: a tool definition should be an object, got {_short(tool)}")
            continue
        _nulls(tool, where, out)
        _str_field(tool, "type", where, out, required=True)
        _str_field(tool, "name", where, out, required=True)
        if tool.get("type") == "function":
            _str_field(tool, "description", where, out, required=False)
            if "parameters" in tool and not isinstance(tool["parameters"], Mapping):
                out.append(f"{where}: 'parameters' should be a JSON schema object")
    return out


_CONTENT_SHAPES: Final[dict[str, Callable[[object, str], list[str]]]] = {
    "gen_ai.input.messages": lambda v, k: messages_problems(v, k, output=False),
    "gen_ai.output.messages": lambda v, k: messages_problems(v, k, output=True),
    "gen_ai.system_instructions": system_problems,
    "gen_ai.tool.definitions": tool_definitions_problems,
}
# Tool-call payloads: any JSON value, but an object must not arrive as JSON text in a string.
_TOOL_PAYLOADS: Final = frozenset({"gen_ai.tool.call.arguments", "gen_ai.tool.call.result"})


def content_problems(key: str, value: object) -> list[str]:
    """The conventions' JSON shape of a content attribute (JSON text or structured)."""
    shape = _CONTENT_SHAPES.get(key)
    if shape is not None:
        parsed = _json_or_none(value) if isinstance(value, str) else value
        if parsed is _NOT_JSON:
            return [f"{key}: not valid JSON: {_short(value)}"]
        return shape(parsed, key)
    if key in _TOOL_PAYLOADS and isinstance(value, str):
        parsed = _json_or_none(value)
        if _encoded_json(parsed):
            return [f"{key}: an object encoded twice (JSON text inside a JSON string)"]
    return []
