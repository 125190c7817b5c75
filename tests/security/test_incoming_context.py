"""Incoming context is untrusted input: what a caller's baggage can do to a server.

``propagation.extract()`` (MCP 1.x servers, job consumers) and
``propagation.accept_incoming()`` (the MCP 2.x server, which gets its context from
the SDK) keep only the keys ``AGENT_INSTRUMENTORS_TRUST_INCOMING_BAGGAGE`` names
(default: ``agent.session_id``), at most ``MAX_INCOMING_ENTRIES`` of them, values
capped and without control characters.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import baggage, trace
from opentelemetry.context import Context

from instrumentors import propagation
from instrumentors._controls import strip_controls
from instrumentors.session import (
    MAX_SESSION_ID_LENGTH,
    current_session_id,
    normalize_session_id,
    session,
)

KEY = "agent.session_id"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
# Percent-encoded, as a hostile caller would send them: the propagator decodes them.
CONTROLS = {
    "newline": "%0A",
    "carriage-return": "%0D",
    "escape": "%1B",
    "nul": "%00",
    "delete": "%7F",
    "next-line": "%C2%85",
    "line-separator": "%E2%80%A8",
    "right-to-left-override": "%E2%80%AE",
    "first-strong-isolate": "%E2%81%A8",
}


def incoming(header: str, context: Context | None = None) -> Context:
    ctx = propagation.extract({"traceparent": TRACEPARENT, "baggage": header}, context=context)
    assert ctx is not None
    return ctx


def no_controls(text: str) -> bool:
    return strip_controls(text) == text and text.isprintable()


@pytest.mark.parametrize("encoded", list(CONTROLS.values()), ids=list(CONTROLS))
def test_control_characters_are_stripped_from_the_session_id(encoded: str) -> None:
    ctx = incoming(f"{KEY}=sess{encoded}1{encoded}%5B31mforged")
    assert current_session_id(ctx) == "sess1[31mforged"
    assert trace.get_current_span(ctx).get_span_context().trace_id == int(TRACEPARENT[3:35], 16)


def test_a_session_id_made_only_of_controls_is_none() -> None:
    assert current_session_id(incoming(f"{KEY}=%0A%0D%1B")) is None


def test_the_session_id_is_capped() -> None:
    ctx = incoming(f"{KEY}=" + "s" * 4000)  # under the header limits, over ours
    assert current_session_id(ctx) == "s" * MAX_SESSION_ID_LENGTH


def test_a_100_kb_header_is_ignored() -> None:
    ctx = incoming(f"{KEY}=" + "s" * 100_000)
    assert baggage.get_all(ctx) == {}


def test_a_100_kb_value_handed_over_directly_is_capped_quickly(settings_env: Any) -> None:
    """The MCP 2.x server gets a context from the SDK, which applies no header limit."""
    settings_env(AGENT_INSTRUMENTORS_TRUST_INCOMING_BAGGAGE="*")
    hostile = baggage.set_baggage(KEY, "\n".join(["x" * 1000] * 100), Context())
    hostile = baggage.set_baggage("note", "\x1b[2J" * 25_000, hostile)
    started = time.perf_counter()
    ctx = propagation.accept_incoming(hostile)
    assert time.perf_counter() - started < 0.5
    entries = baggage.get_all(ctx)
    assert entries[KEY] == "x" * MAX_SESSION_ID_LENGTH
    assert entries["note"] == "[2J" * 85 + "["  # escapes stripped, then capped at 256
    assert all(len(str(v)) <= 256 and no_controls(str(v)) for v in entries.values())


def test_ten_thousand_entries(settings_env: Any) -> None:
    header = ",".join(f"k{n}=v" for n in range(10_000))
    assert baggage.get_all(incoming(header)) == {}  # over the header limit: all ignored
    settings_env(AGENT_INSTRUMENTORS_TRUST_INCOMING_BAGGAGE="*")
    many = Context()
    for n in range(10_000):
        many = baggage.set_baggage(f"k{n}", "v", many)
    started = time.perf_counter()
    kept = baggage.get_all(propagation.accept_incoming(many))
    assert time.perf_counter() - started < 0.5
    assert len(kept) == propagation.MAX_INCOMING_ENTRIES
    under_the_header_limit = ",".join(f"k{n}=v" for n in range(170))
    assert len(baggage.get_all(incoming(under_the_header_limit))) == (
        propagation.MAX_INCOMING_ENTRIES
    )


def test_only_trusted_keys_by_default() -> None:
    ctx = incoming(f"tenant=acme,role=admin,{KEY}=s-1,user.id=42")
    assert dict(baggage.get_all(ctx)) == {KEY: "s-1"}


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("*", {KEY: "s-1", "tenant": "acme", "role": "admin"}),
        ("tenant, role", {"tenant": "acme", "role": "admin"}),
        ("none", {}),
        ("", {}),
        ("NONE", {}),
    ],
)
def test_the_trust_setting(setting: str, expected: dict[str, str], settings_env: Any) -> None:
    settings_env(AGENT_INSTRUMENTORS_TRUST_INCOMING_BAGGAGE=setting)
    assert dict(baggage.get_all(incoming(f"tenant=acme,role=admin,{KEY}=s-1"))) == expected


def test_trusted_values_of_other_keys_are_cleaned(settings_env: Any) -> None:
    settings_env(AGENT_INSTRUMENTORS_TRUST_INCOMING_BAGGAGE="tenant")
    ctx = incoming("tenant=ac%0Ame%E2%80%AE" + "e" * 3000)
    cap = propagation.MAX_INCOMING_VALUE_LENGTH
    assert baggage.get_baggage("tenant", ctx) == "acme" + "e" * (cap - 4)


def test_a_servers_own_baggage_is_not_the_callers() -> None:
    local = baggage.set_baggage("tenant", "ours", Context())
    local = baggage.set_baggage("region", "eu", local)
    ctx = incoming(f"tenant=theirs,{KEY}=s-2", context=local)
    assert dict(baggage.get_all(ctx)) == {"tenant": "ours", "region": "eu", KEY: "s-2"}


def test_a_callers_session_id_replaces_none_of_the_servers_other_keys() -> None:
    with session("server-own"):
        ctx = incoming(f"{KEY}=caller%0A")
    assert current_session_id(ctx) == "caller"  # a trusted key: the caller's, cleaned


def test_non_text_values_are_dropped(settings_env: Any) -> None:
    settings_env(AGENT_INSTRUMENTORS_TRUST_INCOMING_BAGGAGE="*")
    odd = baggage.set_baggage("n", 42, Context())  # the API takes any object
    odd = baggage.set_baggage("bad\nkey", "v", odd)
    odd = baggage.set_baggage(KEY, "ok", odd)
    assert dict(baggage.get_all(propagation.accept_incoming(odd))) == {KEY: "ok"}


def test_normalize_session_id_strips_controls() -> None:
    assert normalize_session_id("a\nb\x1b[0m\u202ec\u2028") == "ab[0mc"
    assert normalize_session_id(" \r\n\t ") is None
    assert normalize_session_id("x" * 300 + "\n") == "x" * MAX_SESSION_ID_LENGTH


header_text = st.lists(
    st.sampled_from(
        [*"ab=,;%0AE2k. ", "agent.session_id=", "%0A", "%1B", "%E2%80%AE", "\x00", "x" * 300]
    ),
    max_size=60,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=header_text, trust=st.sampled_from(["", "*", "agent.session_id", "a,k"]))
def test_whatever_a_caller_sends(header: str, trust: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        from instrumentors import config

        if trust:
            patch.setenv("AGENT_INSTRUMENTORS_TRUST_INCOMING_BAGGAGE", trust)
        config.reload()
        ctx = propagation.extract({"baggage": header})
        entries = baggage.get_all(ctx) if ctx is not None else {}
        allowed = None if trust == "*" else set((trust or KEY).split(","))
        for key, value in entries.items():
            assert allowed is None or key in allowed
            assert isinstance(value, str) and no_controls(value) and 0 < len(value) <= 256
        assert len(entries) <= propagation.MAX_INCOMING_ENTRIES
    config.reload()


def test_quoted_header_round_trip() -> None:
    """Control: an ordinary session id with spaces and unicode arrives intact."""
    value = "sess 42 \u00e0 caf\u00e9 \u4e2d"
    assert current_session_id(incoming(f"{KEY}={quote(value)}")) == value
