"""Hostile inputs: parameters and incoming trace headers never raise into the user's code."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import baggage, trace

import instrumentors
from instrumentors import params, propagation

header_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="0123456789abcdef-", max_size=80),
    st.builds(lambda n: "00-" + "a" * n, st.integers(0, 100_000)),
    st.sampled_from(
        [
            "00-" + "0" * 32 + "-" + "0" * 16 + "-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
            "k=" + "v" * 100_000,
            ",,,=;;;",
            "agent.session_id=%ZZ",
        ]
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traceparent=header_text, tracestate=header_text, bag=header_text)
def test_extract_never_raises(traceparent: str, tracestate: str, bag: str) -> None:
    ctx = propagation.extract(
        {"traceparent": traceparent, "tracestate": tracestate, "baggage": bag}
    )
    span_context = trace.get_current_span(ctx).get_span_context()
    if span_context.is_valid:  # only a well-formed traceparent yields a parent
        assert re.fullmatch(
            r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", traceparent.strip()
        )
    baggage.get_all(ctx)


json_like = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(), st.binary()
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(st.text(), st.integers()), children, max_size=5),
        st.tuples(children, children),
    ),
    max_leaves=30,
)


@instrumentors.tool
def echo(value: object) -> object:
    return value


@settings(max_examples=200, deadline=None)
@given(value=json_like)
def test_tool_parameters_never_break_the_call(value: object) -> None:
    assert echo(value) is value
    assert params.hash_params(value).startswith("sha256:")


@settings(max_examples=200, deadline=None)
@given(value=json_like)
def test_captured_content_never_breaks_the_call(value: object) -> None:
    text = params.safe_content({"api_key": "sk-" + "x" * 30, "value": value})
    assert "sk-xxxx" not in text
