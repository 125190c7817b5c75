"""The span-rules checker catches each kind of violation (so it cannot pass silently).

Hand-made spans and log records go through the same checks every span of the suite
goes through (``tests/conformance/span_rules.py``, installed in ``tests/conftest.py``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import ReadWriteLogRecord
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

from tests.conformance import span_rules
from tests.conformance.attribute_reference import expand, parse_reference
from tests.conformance.span_rules import (
    REFERENCE,
    Violations,
    log_record_problems,
    span_problems,
)

SCOPE = InstrumentationScope("instrumentors.test", "0")
CHAT: dict[str, Any] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "server.address": "api.openai.com",
    "server.port": 443,
    "gen_ai.response.finish_reasons": ("stop",),
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 3,
}
TOOL: dict[str, Any] = {
    "gen_ai.operation.name": "execute_tool",
    "gen_ai.tool.name": "search",
    "tool.name": "search",
}
MESSAGES = [
    {"role": "user", "parts": [{"type": "text", "content": "hi"}]},
    {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "c1", "name": "search", "arguments": {"q": "x"}}],
    },
    {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": None}]},
]


def make_span(
    name: str = "chat gpt-4o",
    attributes: dict[str, Any] | None = None,
    kind: SpanKind = SpanKind.CLIENT,
    events: tuple[Event, ...] = (),
    status: Status | None = None,
) -> ReadableSpan:
    """A finished span of one of our scopes."""
    return ReadableSpan(
        name=name,
        context=SpanContext(1, 2, is_remote=False),
        kind=kind,
        attributes=CHAT if attributes is None else attributes,
        events=events,
        status=status or Status(StatusCode.UNSET),
        instrumentation_scope=SCOPE,
    )


def problems(span: ReadableSpan) -> list[str]:
    return span_problems(span, REFERENCE)


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``base`` with dotted keys given as ``a__b`` changed (None: removed)."""
    out = dict(base)
    for key, value in changes.items():
        dotted = key.replace("__", ".")
        if value is None:
            out.pop(dotted, None)
        else:
            out[dotted] = value
    return out


def test_the_reference_parses_cleanly() -> None:
    assert REFERENCE.problems == []
    assert "gen_ai.usage.cache_read.input_tokens" in REFERENCE.attributes  # a brace form
    assert REFERENCE.events["exception"] == "span event"
    assert REFERENCE.events["gen_ai.execute_tool.details"] == "log record"


@pytest.mark.parametrize(
    ("span", "kind"),
    [
        (make_span(), "chat"),
        (make_span("execute_tool search", TOOL, SpanKind.INTERNAL), "tool"),
        (
            make_span(
                "tools/call search",
                {**TOOL, "mcp.method.name": "tools/call", "jsonrpc.request.id": "1"},
                SpanKind.SERVER,
            ),
            "MCP server tool call",
        ),
        (
            make_span("invoke_agent", {"gen_ai.operation.name": "invoke_agent"}, SpanKind.INTERNAL),
            "agent",
        ),
        (
            make_span(
                "plan",
                {"gen_ai.operation.name": "agent_step", "agent.step.name": "plan"},
                SpanKind.INTERNAL,
            ),
            "step",
        ),
        (
            make_span(
                "send summarise",
                {
                    "messaging.system": "custom",
                    "messaging.operation.type": "send",
                    "messaging.operation.name": "send",
                    "messaging.destination.name": "summarise",
                },
                SpanKind.PRODUCER,
            ),
            "job",
        ),
        (
            make_span(
                "GET",
                {
                    "http.request.method": "GET",
                    "url.full": "https://example.com/",
                    "server.address": "example.com",
                    "server.port": 443,
                },
            ),
            "HTTP",
        ),
        (
            make_span(
                "chat gpt-4o",
                with_(
                    CHAT,
                    gen_ai__input__messages=json.dumps(MESSAGES),
                    gen_ai__tool__definitions=json.dumps([{"type": "function", "name": "search"}]),
                    gen_ai__system_instructions=json.dumps(
                        [{"type": "text", "content": "be brief"}]
                    ),
                ),
            ),
            "chat with content",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_conforming_spans_pass(span: ReadableSpan, kind: str) -> None:
    assert problems(span) == []


def chat(**changes: Any) -> ReadableSpan:
    """A chat span with attributes changed (``a__b=`` for ``a.b``; None removes it)."""
    return make_span(attributes=with_(CHAT, **changes))


def tool(
    name: str = "execute_tool search", kind: SpanKind = SpanKind.INTERNAL, **changes: Any
) -> ReadableSpan:
    return make_span(name, with_(TOOL, **changes), kind)


def internal(name: str, attributes: dict[str, Any]) -> ReadableSpan:
    return make_span(name, attributes, SpanKind.INTERNAL)


def inputs(*messages: Any) -> ReadableSpan:
    return chat(gen_ai__input__messages=json.dumps(list(messages)))


def calls(*parts: Any) -> ReadableSpan:
    return inputs({"role": "assistant", "parts": list(parts)})


def with_event(name: str, attributes: dict[str, Any]) -> ReadableSpan:
    return make_span(events=(Event(name, attributes),))


AGENT = {"gen_ai.operation.name": "invoke_agent"}
SEND = {
    "messaging.system": "custom",
    "messaging.operation.type": "send",
    "messaging.operation.name": "send",
    "messaging.destination.name": "j",
}
FUNCTION = {"type": "function", "name": "f"}

VIOLATIONS = [
    # (what, span, a phrase of the violation)
    (
        "undocumented key",
        chat(gen_ai__usage__input_token=1),
        "'gen_ai.usage.input_token' is not in",
    ),
    ("wrong type", chat(gen_ai__usage__input_tokens="12"), "input_tokens should be int"),
    ("bool for an int", chat(gen_ai__usage__output_tokens=True), "should be int"),
    ("negative usage", chat(gen_ai__usage__output_tokens=-1), "output_tokens is negative"),
    (
        "cache reads outside the input",
        chat(gen_ai__usage__cache_read__input_tokens=20),
        "cache_read.input_tokens + gen_ai.usage.cache_creation.input_tokens = 20 > ",
    ),
    (
        "reasoning outside the output",
        chat(gen_ai__usage__reasoning__output_tokens=4),
        "reasoning.output_tokens = 4 > gen_ai.usage.output_tokens = 3",
    ),
    ("finish reasons not a list", chat(gen_ai__response__finish_reasons="stop"), "string[]"),
    ("finish reasons of ints", chat(gen_ai__response__finish_reasons=(1,)), "string[]"),
    ("unknown operation", make_span("fly", {"gen_ai.operation.name": "fly"}), "'fly' has no rule"),
    ("no provider", chat(gen_ai__provider__name=None), "without gen_ai.provider.name"),
    ("empty required value", chat(gen_ai__provider__name=""), "without gen_ai.provider.name"),
    ("chat not CLIENT", make_span(kind=SpanKind.INTERNAL), "of kind INTERNAL"),
    ("chat misnamed", make_span("chat"), "should be named one of ['chat gpt-4o']"),
    ("misspelled provider", chat(gen_ai__provider__name="Anthropic"), "misspelling of 'anthropic'"),
    ("provider alias", chat(gen_ai__provider__name="vertex_ai"), "value is 'gcp.vertex_ai'"),
    ("provider not an identifier", chat(gen_ai__provider__name="My AI"), "lowercase identifier"),
    ("address without port", chat(server__port=None), "server.address without server.port"),
    ("error without error.type", make_span(status=Status(StatusCode.ERROR)), "without error.type"),
    ("tool names differ", tool(tool__name="find"), "tool.name 'find' != gen_ai.tool.name 'search'"),
    ("tool misnamed", tool("search"), "['execute_tool search']"),
    ("tool unnamed", tool(gen_ai__tool__name=None, tool__name=None), "without gen_ai.tool.name"),
    ("local tool as SERVER", tool(kind=SpanKind.SERVER), "span kind SERVER"),
    ("agent misnamed", internal("a", {**AGENT, "gen_ai.agent.name": "a"}), "['invoke_agent a']"),
    (
        "remote agent, no provider",
        make_span("invoke_agent", AGENT),
        "CLIENT span without gen_ai.pro",
    ),
    (
        "step misnamed",
        internal("x", {"gen_ai.operation.name": "agent_step", "agent.step.name": "p"}),
        "['p']",
    ),
    (
        "job of the wrong kind",
        make_span("send j", SEND, SpanKind.CONSUMER),
        "send span is CONSUMER",
    ),
    ("HTTP without url", make_span("GET", {"http.request.method": "GET"}), "without url.full"),
    ("span of no known kind", internal("mystery", {"agent.session_id": "s"}), "of no known kind"),
    ("messages not JSON", chat(gen_ai__input__messages="[{"), "not valid JSON"),
    ("messages not a list", chat(gen_ai__input__messages='{"role": "user"}'), "a list of messages"),
    ("message without role", inputs({"parts": []}), "without a string 'role'"),
    ("parts not a list", inputs({"role": "user", "parts": "hi"}), "'parts' should be a list"),
    ("untyped part", calls({"content": "hi"}), "part without a string 'type'"),
    ("text part without content", calls({"type": "text"}), "missing 'content'"),
    (
        "arguments as JSON text",
        calls({**FUNCTION, "type": "tool_call", "arguments": '{"q": 1}'}),
        "'arguments' is JSON text",
    ),
    ("null key", calls({"type": "tool_call", "name": "f", "id": None}), "key 'id' is null"),
    (
        "tool response missing",
        calls({"type": "tool_call_response", "id": "c"}),
        "missing 'response'",
    ),
    (
        "finish reason not a string",
        chat(gen_ai__output__messages='[{"role": "a", "parts": [], "finish_reason": 0}]'),
        "'finish_reason' should be a string",
    ),
    ("instructions not a list", chat(gen_ai__system_instructions='"be brief"'), "a list of parts"),
    (
        "tool definition, no name",
        chat(gen_ai__tool__definitions='[{"type": "function"}]'),
        "missing 'name'",
    ),
    (
        "tool parameters not a schema",
        chat(gen_ai__tool__definitions=json.dumps([{**FUNCTION, "parameters": "{}"}])),
        "'parameters' should be a JSON schema",
    ),
    (
        "arguments encoded twice",
        tool(gen_ai__tool__call__arguments=json.dumps('{"q": 1}')),
        "encoded twice",
    ),
    (
        "result encoded twice",
        tool(gen_ai__tool__call__result=json.dumps('[{"a": 1}]')),
        "encoded twice",
    ),
    ("undocumented event", with_event("retry.attempt", {}), "'retry.attempt': not a span event"),
    ("log event on a span", with_event("gen_ai.execute_tool.details", {}), "not a span event"),
    (
        "undocumented event key",
        with_event("retry.attempted", {"retry.count": 1}),
        "'retry.count' is not in",
    ),
    (
        "event value of the wrong type",
        with_event("retry.attempted", {"retry.attempt": "1"}),
        "retry.attempt should be int",
    ),
]


@pytest.mark.parametrize(("what", "span", "phrase"), VIOLATIONS, ids=[v[0] for v in VIOLATIONS])
def test_each_violation_is_caught(what: str, span: ReadableSpan, phrase: str) -> None:
    found = problems(span)
    assert any(phrase in p for p in found), found


def _log(name: str, attributes: dict[str, Any]) -> ReadWriteLogRecord:
    return ReadWriteLogRecord(
        LogRecord(event_name=name, attributes=attributes), instrumentation_scope=SCOPE
    )


def test_log_record_events_are_checked() -> None:
    good = _log(
        "gen_ai.client.inference.operation.details",
        {**CHAT, "gen_ai.input.messages": MESSAGES},  # structured in an event
    )
    assert log_record_problems(good, REFERENCE) == []
    assert any(
        "not a log-record event" in p
        for p in log_record_problems(_log("gen_ai.tool.details", {}), REFERENCE)
    )
    assert any(
        "not a log-record event" in p
        for p in log_record_problems(_log("retry.attempted", {}), REFERENCE)
    )
    bad = _log("gen_ai.execute_tool.details", {"gen_ai.input.messages": [{"parts": []}]})
    assert any("without a string 'role'" in p for p in log_record_problems(bad, REFERENCE))


def test_the_processor_checks_our_scopes_only() -> None:
    violations = Violations(REFERENCE)
    provider = TracerProvider()
    provider.add_span_processor(span_rules.SpanChecker(violations))
    ours = provider.get_tracer("instrumentors.someday")
    theirs = provider.get_tracer("opentelemetry.instrumentation.httpx")
    ours.start_span("odd", attributes={"made.up": 1}).end()
    theirs.start_span("odd", attributes={"made.up": 1}).end()
    ours.start_span("prefix only", attributes={"made.up": 1})  # never ended: not checked
    provider.get_tracer("instrumentorsx").start_span("near miss", attributes={"x": 1}).end()
    found = violations.take()
    assert any("span 'odd' (instrumentors.someday)" in p for p in found), found
    assert all("(instrumentors.someday)" in p for p in found), found
    assert violations.take() == []


@pytest.mark.nonconforming("proves the suite-wide checker sees the global provider's spans")
def test_the_global_provider_is_checked() -> None:
    span_rules.VIOLATIONS.take()
    trace.get_tracer("instrumentors.test").start_span("odd", attributes={"made.up": 1}).end()
    found = span_rules.VIOLATIONS.take()
    assert any("'made.up' is not in docs/attributes.md" in p for p in found), found


def test_reference_format() -> None:
    assert expand("a.{b,c}.{d,e}") == ["a.b.d", "a.b.e", "a.c.d", "a.c.e"]
    assert expand("gen_ai.response.{id,model}") == ["gen_ai.response.id", "gen_ai.response.model"]
    text = "\n".join(
        [
            "| attribute | source | type | when set | content |",
            "|---|---|---|---|---|",
            "| `x.{a,b}` | ours | int | always | no |",
            "| `h.<name>.v` | HTTP | string[] | sometimes | yes |",
            "| `bad` | nowhere | int | always | no |",
            "| `worse` | ours | integer | always | no |",
            "| `x.a` | ours | int | twice | no |",
            "",
            "| event | signal | source | attributes | when emitted |",
            "|---|---|---|---|---|",
            "| `e.{one,two}` | span event | ours | | always |",
            "| `e.three` | log line | ours | | always |",
        ]
    )
    reference = parse_reference(text)
    assert set(reference.attributes) == {"x.a", "x.b"}
    doc = reference.attribute("h.accept.v")
    assert doc is not None and doc.type == "string[]" and doc.content
    assert reference.attribute("h.a.b.v") is None  # a placeholder is one segment
    assert reference.events == {"e.one": "span event", "e.two": "span event"}
    assert len(reference.problems) == 4  # bad source, bad type, a duplicate, bad signal
