"""The span contract every layer meets, checked on every span and event the test suite makes.

- The reference, ``docs/attributes.md`` (parsed by ``attribute_reference``): every
  attribute and event name we emit is a row of its tables, with its type.
- ``GENAI_RULES`` / ``OTHER_RULES``: what each kind of span must look like (required
  attributes, span kind, span name), after the GenAI, MCP, messaging, HTTP and DB
  semantic conventions; plus the value rules of ``attribute_reference`` for every kind.

``CHECKER`` (a span processor) and ``LOG_CHECKER`` (a log-record processor) check what our
scopes (``instrumentors*``) emit and keep the violations until the test's teardown reads
them (``tests/conftest.py``). A new instrumentor is checked as soon as its tests run; a
new operation name fails until it has a row in ``GENAI_RULES``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Final

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind, StatusCode

from tests.conformance.attribute_reference import (
    Reference,
    content_problems,
    load_reference,
    provider_problem,
    type_problem,
)

OUR_SCOPE: Final = "instrumentors"

# --------------------------------------------------------------------------- span kinds

Attributes = Mapping[str, Any]


def _named(operation: str, key: str) -> Callable[[Attributes], tuple[str, ...]]:
    """``{operation} {attributes[key]}``, or ``{operation}`` alone when the value is unknown."""

    def names(attributes: Attributes) -> tuple[str, ...]:
        value = attributes.get(key)
        return (f"{operation} {value}",) if value else (operation,)

    return names


def _tool_names(attributes: Attributes) -> tuple[str, ...]:
    names = _named("execute_tool", "gen_ai.tool.name")(attributes)
    method = attributes.get("mcp.method.name")
    if method:  # the MCP conventions' ``{mcp.method.name} {target}``
        names += _named(str(method), "gen_ai.tool.name")(attributes)
    return names


def _tool_name_mirrored(span: ReadableSpan, attributes: Attributes) -> list[str]:
    if attributes.get("tool.name") != attributes.get("gen_ai.tool.name"):
        return [
            f"tool.name {attributes.get('tool.name')!r} != gen_ai.tool.name "
            f"{attributes.get('gen_ai.tool.name')!r}"
        ]
    return []


def _tool_kind(span: ReadableSpan, attributes: Attributes) -> list[str]:
    # INTERNAL (GenAI execute_tool); an MCP tool call may be CLIENT (the MCP client span)
    # or SERVER (the server's span), per the MCP conventions.
    allowed = {SpanKind.INTERNAL}
    if "mcp.method.name" in attributes:
        allowed |= {SpanKind.CLIENT, SpanKind.SERVER}
    if span.kind not in allowed:
        return [f"span kind {span.kind.name}, expected one of {sorted(k.name for k in allowed)}"]
    return []


def _remote_agent_has_provider(span: ReadableSpan, attributes: Attributes) -> list[str]:
    # The invoke-agent CLIENT span (a remote agent service) requires the provider; the
    # INTERNAL one (an in-process framework) does not.
    if span.kind is SpanKind.CLIENT and not attributes.get("gen_ai.provider.name"):
        return ["invoke_agent CLIENT span without gen_ai.provider.name"]
    return []


def _port_with_address(span: ReadableSpan, attributes: Attributes) -> list[str]:
    # ``server.port``: Conditionally Required if ``server.address`` is set.
    if "server.address" in attributes and "server.port" not in attributes:
        return ["server.address without server.port"]
    return []


def _step_name(attributes: Attributes) -> tuple[str, ...]:
    return (str(attributes.get("agent.step.name")),)


def _messaging_name(attributes: Attributes) -> tuple[str, ...]:
    return _named(str(attributes.get("messaging.operation.name")), "messaging.destination.name")(
        attributes
    )


def _messaging_kind(span: ReadableSpan, attributes: Attributes) -> list[str]:
    expected = {"send": SpanKind.PRODUCER, "process": SpanKind.CONSUMER}.get(
        str(attributes.get("messaging.operation.type"))
    )
    if expected is not None and span.kind is not expected:
        return [f"messaging {attributes.get('messaging.operation.type')} span is {span.kind.name}"]
    return []


def _http_name(attributes: Attributes) -> tuple[str, ...]:
    method = attributes.get("http.request.method")
    return ("HTTP",) if method == "_OTHER" else (str(method),)


Check = Callable[[ReadableSpan, Attributes], list[str]]


@dataclass(frozen=True)
class SpanRule:
    """What one kind of span must carry."""

    kind: str  # what the span is
    span_kinds: frozenset[SpanKind] | None  # None: checked by ``checks``
    required: tuple[str, ...]
    names: Callable[[Attributes], tuple[str, ...]] | None  # accepted span names
    checks: tuple[Check, ...] = ()
    source: str = ""  # where the rule comes from
    # ``error.type``: Conditionally Required "if the operation ended in an error" (GenAI,
    # MCP, HTTP, messaging, the stable DB conventions); the old DB names predate it.
    error_type: bool = True


_CLIENT: Final = frozenset({SpanKind.CLIENT})
_INTERNAL: Final = frozenset({SpanKind.INTERNAL})
_MODEL_REQUIRED: Final = ("gen_ai.operation.name", "gen_ai.provider.name")


def _model_call(operation: str, source: str) -> SpanRule:
    return SpanRule(
        f"model call ({operation})",
        _CLIENT,
        _MODEL_REQUIRED,
        _named(operation, "gen_ai.request.model"),
        (_port_with_address,),
        source,
    )


# Keyed by ``gen_ai.operation.name``: an operation missing here is a violation.
GENAI_RULES: Final[dict[str, SpanRule]] = {
    "chat": _model_call("chat", "GenAI spans: inference"),
    "text_completion": _model_call("text_completion", "GenAI spans: inference"),
    "generate_content": _model_call("generate_content", "GenAI spans: inference"),
    "embeddings": _model_call("embeddings", "GenAI spans: embeddings"),
    "count_tokens": _model_call("count_tokens", "ours, shaped like an inference span"),
    "execute_tool": SpanRule(
        "tool execution",
        None,
        ("gen_ai.operation.name", "gen_ai.tool.name", "tool.name"),
        _tool_names,
        (_tool_kind, _tool_name_mirrored),
        "GenAI spans: execute tool; MCP client/server spans",
    ),
    "invoke_agent": SpanRule(
        "agent run",
        frozenset({SpanKind.INTERNAL, SpanKind.CLIENT}),
        ("gen_ai.operation.name",),
        _named("invoke_agent", "gen_ai.agent.name"),
        (_remote_agent_has_provider,),
        "GenAI agent spans: invoke agent (internal / client)",
    ),
    "retrieval": SpanRule(
        "retrieval",
        frozenset({SpanKind.INTERNAL, SpanKind.CLIENT}),
        ("gen_ai.operation.name",),
        _named("retrieval", "gen_ai.data_source.id"),
        (),
        "GenAI spans: retrievals (CLIENT for a remote store; ours INTERNAL in-process)",
    ),
    "agent_step": SpanRule(
        "agent step",
        _INTERNAL,
        ("gen_ai.operation.name", "agent.step.name"),
        _step_name,
        (),
        "ours",
    ),
}


@dataclass(frozen=True)
class OtherRule:
    """A non-GenAI span kind of ours, recognised by one attribute."""

    marker: str
    rule: SpanRule


OTHER_RULES: Final = (
    OtherRule(
        "messaging.operation.type",
        SpanRule(
            "job send / process",
            None,
            (
                "messaging.system",
                "messaging.operation.type",
                "messaging.operation.name",
                "messaging.destination.name",
            ),
            _messaging_name,
            (_messaging_kind,),
            "messaging spans",
        ),
    ),
    OtherRule(
        "http.request.method",
        SpanRule(
            "HTTP client request",
            _CLIENT,
            ("http.request.method", "url.full", "server.address", "server.port"),
            _http_name,
            (),
            "HTTP client spans",
        ),
    ),
    OtherRule(
        "db.system.name",
        SpanRule("DB query", _CLIENT, ("db.system.name",), None, (), "database client spans"),
    ),
    OtherRule(
        "db.system",
        SpanRule(
            "DB query (old names)",
            _CLIENT,
            ("db.system",),
            None,
            (),
            "database spans before the stable DB conventions",
            error_type=False,
        ),
    ),
)

_NON_NEGATIVE: Final = re.compile(r"gen_ai\.usage\..*tokens")
# Token counts that the conventions say SHOULD be included in a total.
_PARTS_OF: Final = (
    (
        "gen_ai.usage.input_tokens",
        ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_creation.input_tokens"),
    ),
    ("gen_ai.usage.output_tokens", ("gen_ai.usage.reasoning.output_tokens",)),
)


def usage_problems(attributes: Attributes) -> list[str]:
    """Cache reads and writes are part of ``input_tokens``, reasoning of ``output_tokens``."""
    out = []
    for total_key, part_keys in _PARTS_OF:
        total = attributes.get(total_key)
        parts = [attributes[k] for k in part_keys if isinstance(attributes.get(k), int)]
        if isinstance(total, int) and parts and sum(parts) > total:
            out.append(f"{' + '.join(part_keys)} = {sum(parts)} > {total_key} = {total}")
    return out


def rule_for(attributes: Attributes) -> SpanRule | str:
    """The rule for a span with these attributes, or why there is none."""
    operation = attributes.get("gen_ai.operation.name")
    if operation is not None:
        rule = GENAI_RULES.get(str(operation))
        return rule or f"gen_ai.operation.name {operation!r} has no rule in GENAI_RULES"
    for other in OTHER_RULES:
        if other.marker in attributes:
            return other.rule
    return "a span of ours of no known kind (no gen_ai.operation.name, messaging, HTTP or DB)"


def attribute_problems(
    attributes: Attributes, reference: Reference, where: str, structured: bool = False
) -> list[str]:
    """Every key documented, of its documented type; value rules for every kind."""
    out: list[str] = []
    for key, value in attributes.items():
        doc = reference.attribute(key)
        if doc is None:
            out.append(f"{where}: {key!r} is not in docs/attributes.md")
        else:
            problem = type_problem(key, value, doc.type, structured)
            if problem is not None:
                out.append(f"{where}: {problem}")
        if _NON_NEGATIVE.fullmatch(key) and isinstance(value, int) and value < 0:
            out.append(f"{where}: {key} is negative ({value})")
        if key == "gen_ai.provider.name":
            problem = provider_problem(value, reference.providers)
            if problem is not None:
                out.append(f"{where}: {problem}")
        out.extend(f"{where}: {p}" for p in content_problems(key, value))
    return out


def span_problems(span: ReadableSpan, reference: Reference) -> list[str]:
    """Everything wrong with one finished span of ours."""
    attributes = dict(span.attributes or {})
    scope = getattr(span.instrumentation_scope, "name", "?")
    where = f"span {span.name!r} ({scope})"
    out = attribute_problems(attributes, reference, where)
    out.extend(f"{where}: {p}" for p in usage_problems(attributes))
    for event in span.events:
        event_where = f"{where} event {event.name!r}"
        if reference.events.get(event.name) != "span event":
            out.append(f"{event_where}: not a span event in docs/attributes.md")
        out.extend(attribute_problems(dict(event.attributes or {}), reference, event_where))
    rule = rule_for(attributes)
    if isinstance(rule, str):
        return [*out, f"{where}: {rule}"]
    failed = span.status.status_code is StatusCode.ERROR
    if failed and rule.error_type and not attributes.get("error.type"):
        out.append(f"{where}: status ERROR without error.type")
    for key in rule.required:
        if attributes.get(key) in (None, ""):
            out.append(f"{where}: {rule.kind} span without {key}")
    if rule.span_kinds is not None and span.kind not in rule.span_kinds:
        expected = sorted(k.name for k in rule.span_kinds)
        out.append(f"{where}: {rule.kind} span of kind {span.kind.name}, expected {expected}")
    if rule.names is not None:
        names = rule.names(attributes)
        if span.name not in names:
            out.append(f"{where}: {rule.kind} span should be named one of {list(names)}")
    for check in rule.checks:
        out.extend(f"{where}: {p}" for p in check(span, attributes))
    return out


def log_record_problems(record: ReadWriteLogRecord, reference: Reference) -> list[str]:
    """Everything wrong with one log-record event of ours (name, attribute keys and types)."""
    log = record.log_record
    name = log.event_name
    where = f"log record {name!r}"
    out: list[str] = []
    if not name:
        return []  # a plain log line, not an event
    if reference.events.get(name) != "log record":
        out.append(f"{where}: not a log-record event in docs/attributes.md")
    out.extend(attribute_problems(dict(log.attributes or {}), reference, where, structured=True))
    return out


# --------------------------------------------------------------------------- collection


def _ours(scope: object) -> bool:
    name = getattr(scope, "name", None)
    return isinstance(name, str) and (name == OUR_SCOPE or name.startswith(OUR_SCOPE + "."))


class Violations:
    """The violations found since the last ``take()`` (thread-safe)."""

    def __init__(self, reference: Reference) -> None:
        self.reference = reference
        self._lock = threading.Lock()
        self._found: list[str] = []
        self.checked = 0  # spans and log records checked, and the time it took (overhead)
        self.seconds = 0.0

    def add(self, problems: list[str], seconds: float = 0.0) -> None:
        """Keep what a check found."""
        with self._lock:
            self.checked += 1
            self.seconds += seconds
            self._found.extend(problems)

    def take(self) -> list[str]:
        """The violations so far (each once), and start over."""
        with self._lock:
            found, self._found = self._found, []
        return list(dict.fromkeys(found))


class SpanChecker(SpanProcessor):
    """Checks each span of ours as it ends."""

    def __init__(self, violations: Violations) -> None:
        self.violations = violations

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if _ours(span.instrumentation_scope):
            start = perf_counter()
            try:
                problems = span_problems(span, self.violations.reference)
            except Exception as exc:  # a checker bug is a violation, not a crash
                problems = [f"span {span.name!r}: the checker failed: {exc!r}"]
            self.violations.add(problems, perf_counter() - start)


class LogChecker(LogRecordProcessor):
    """Checks each log-record event of ours as it is emitted."""

    def __init__(self, violations: Violations) -> None:
        self.violations = violations

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        if _ours(log_record.instrumentation_scope):
            start = perf_counter()
            try:
                problems = log_record_problems(log_record, self.violations.reference)
            except Exception as exc:  # the same
                problems = [f"log record: the checker failed: {exc!r}"]
            self.violations.add(problems, perf_counter() - start)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


REFERENCE: Final = load_reference()
VIOLATIONS: Final = Violations(REFERENCE)
CHECKER: Final = SpanChecker(VIOLATIONS)
LOG_CHECKER: Final = LogChecker(VIOLATIONS)


def install(provider: TracerProvider) -> TracerProvider:
    """Check every span of ours that ``provider`` ends (for a test's own provider)."""
    provider.add_span_processor(CHECKER)
    return provider
