"""examples/basic_agent.py, run as a user runs it, exported to Phoenix over OTLP/HTTP
and OTLP/gRPC, and read back through Phoenix's REST API.

The trace it should produce (one per run)::

    invoke_agent weather-agent
    ├─ plan
    ├─ act
    │  └─ execute_tool get_weather                  call_1
    ├─ act                                          {retry.attempted}
    │  ├─ execute_tool get_forecast  ERROR Timeout  call_2 {exception}
    │  └─ execute_tool get_forecast                 call_2
    ├─ act
    │  └─ execute_tool book_table    ERROR Runtime  call_3 {exception}
    └─ answer

Tests for other examples go in their own ``test_*.py`` beside this one, with the
same pattern: a module fixture runs the agent (``run_agent``) and reads its spans
(``phoenix_client.wait_for_spans``); the tests assert on those plain dicts.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest

from .harness import EXAMPLES, PhoenixServer, run_agent
from .phoenix_client import PhoenixClient, Span, by_id, children, named, roots, tree

PROTOCOLS = ["http", "grpc"]
SESSION = "demo-session-1"  # set by the example
SPAN_COUNT = 10
TOOLS = {"get_weather": "call_1", "get_forecast": "call_2", "book_table": "call_3"}
HASH_KEY = "request.parameters.hash"
HASH = re.compile(r"^sha256:[0-9a-f]{32}$")
RAW_CONTENT = ("request.parameters", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result")
RAW_PREFIXES = tuple(f"{key}." for key in RAW_CONTENT)  # nested values come back flattened


def _project(protocol: str) -> str:
    return f"e2e-basic-agent-{protocol}"


@pytest.fixture(scope="module")
def runs(
    phoenix: PhoenixServer,
    phoenix_client: PhoenixClient,
    e2e_report: Callable[[str], None],
) -> dict[str, list[Span]]:
    """One basic_agent.py run per protocol, each into its own project: protocol -> spans."""
    spans = {}
    for protocol in PROTOCOLS:
        started = time.monotonic()
        result = run_agent(
            phoenix, EXAMPLES / "basic_agent.py", protocol=protocol, project=_project(protocol)
        )
        assert result.returncode == 0, result.stderr
        assert "Paris: 21°C" in result.stdout
        assert "Traceback" not in result.stderr, result.stderr  # e.g. a failed export
        spans[protocol] = phoenix_client.wait_for_spans(_project(protocol), SPAN_COUNT)
        e2e_report(
            f"basic_agent.py over {protocol}: ran and read back {len(spans[protocol])} spans "
            f"in {time.monotonic() - started:.1f}s"
        )
    return spans


@pytest.fixture(params=PROTOCOLS)
def basic_spans(request: pytest.FixtureRequest, runs: dict[str, list[Span]]) -> list[Span]:
    """The spans of the run exported over ``http`` or ``grpc``."""
    return runs[request.param]


def _tools(spans: list[Span]) -> list[Span]:
    return [span for span in spans if span["name"].startswith("execute_tool ")]


def test_one_trace_per_run_with_one_root(basic_spans: list[Span]) -> None:
    assert len(basic_spans) == SPAN_COUNT, tree(basic_spans)
    assert len({span["trace_id"] for span in basic_spans}) == 1
    (root,) = roots(basic_spans)
    assert root["name"] == "invoke_agent weather-agent"
    known = by_id(basic_spans)
    assert all(span["parent_id"] in known for span in basic_spans if span is not root)


def test_tree_steps_and_tools_nest(basic_spans: list[Span]) -> None:
    (root,) = roots(basic_spans)
    steps = children(basic_spans, root)
    assert [step["name"] for step in steps] == ["plan", "act", "act", "act", "answer"], tree(
        basic_spans
    )
    under_act = [[tool["name"] for tool in children(basic_spans, act)] for act in steps[1:4]]
    assert under_act == [
        ["execute_tool get_weather"],
        ["execute_tool get_forecast", "execute_tool get_forecast"],
        ["execute_tool book_table"],
    ]
    for step in steps:
        assert step["attributes"]["agent.step.name"] == step["name"]
    assert all(not children(basic_spans, step) for step in (steps[0], steps[4]))


def test_tool_spans_carry_names_ids_and_hashes(basic_spans: list[Span]) -> None:
    tools = _tools(basic_spans)
    assert len(tools) == 4
    for span in tools:
        attrs = span["attributes"]
        name = span["name"].removeprefix("execute_tool ")
        assert attrs["gen_ai.operation.name"] == "execute_tool"
        assert attrs["gen_ai.tool.name"] == name
        assert attrs["tool.name"] == name
        assert attrs["gen_ai.tool.call.id"] == TOOLS[name]
        assert attrs["gen_ai.tool.type"] == "function"
        assert attrs["gen_ai.tool.description"]
        assert HASH.match(attrs[HASH_KEY]), attrs
        # Privacy by default, end to end: no raw arguments or results reach the backend.
        raw = [
            key
            for key in attrs
            if key in RAW_CONTENT or (key.startswith(RAW_PREFIXES) and key != HASH_KEY)
        ]
        assert not raw, attrs
    first, retry = named(basic_spans, "execute_tool get_forecast")
    assert first["attributes"][HASH_KEY] == (retry["attributes"][HASH_KEY])


def test_every_span_carries_the_session(basic_spans: list[Span]) -> None:
    for span in basic_spans:
        assert span["attributes"]["agent.session_id"] == SESSION, span["name"]
        assert span["attributes"]["gen_ai.conversation.id"] == SESSION, span["name"]


def test_failures_set_error_status_and_exception_events(basic_spans: list[Span]) -> None:
    (booking,) = named(basic_spans, "execute_tool book_table")
    first, retry = named(basic_spans, "execute_tool get_forecast")
    for span, error_type, message in (
        (booking, "RuntimeError", "Chez Nous is closed today"),
        (first, "TimeoutError", "forecast upstream timed out"),
    ):
        assert span["status"] == {"code": "ERROR", "message": message}
        assert span["attributes"]["error.type"] == error_type
        (event,) = span["events"]
        assert event["name"] == "exception"
        assert event["attributes"]["exception.type"] == error_type
        assert event["attributes"]["exception.message"] == message
    assert retry["status"]["code"] in ("UNSET", "OK")
    assert retry["events"] == []
    assert "error.type" not in retry["attributes"]
    others = [span for span in basic_spans if span not in (booking, first)]
    assert all(span["status"]["code"] != "ERROR" for span in others), tree(basic_spans)


def test_retry_event_on_the_step_that_retried(basic_spans: list[Span]) -> None:
    (root,) = roots(basic_spans)
    acts = named(children(basic_spans, root), "act")
    assert [len(act["events"]) for act in acts] == [0, 1, 0]
    (event,) = acts[1]["events"]
    assert event["name"] == "retry.attempted"
    attrs = event["attributes"]
    assert attrs["retry.attempt"] == 1
    assert attrs["retry.delay_s"] == pytest.approx(0.02)
    assert attrs["error.type"] == "TimeoutError"


def test_no_links_without_a_chat_span(basic_spans: list[Span]) -> None:
    # The example has no model call, so no chat span registered the tool call ids:
    # links would be empty even in a backend that stores them (Phoenix does not).
    assert all(span["links"] is None for span in basic_spans)
    assert not named(basic_spans, "chat")


def test_each_protocol_run_is_its_own_trace_and_project(
    runs: dict[str, list[Span]], phoenix_client: PhoenixClient
) -> None:
    traces = {protocol: {span["trace_id"] for span in spans} for protocol, spans in runs.items()}
    assert all(len(ids) == 1 for ids in traces.values())
    assert traces["http"] != traces["grpc"]
    assert {_project(p) for p in PROTOCOLS} <= set(phoenix_client.projects())


@pytest.fixture(scope="module")
def captured_spans(phoenix: PhoenixServer, phoenix_client: PhoenixClient) -> list[Span]:
    """A run with content capture on and a hash key: what the opt-in privacy settings send."""
    project = "e2e-basic-agent-capture"
    result = run_agent(
        phoenix,
        EXAMPLES / "basic_agent.py",
        protocol="http",
        project=project,
        env={
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",
            "AGENT_INSTRUMENTORS_PARAMS_HASH_KEY": "e2e-key",
        },
    )
    assert result.returncode == 0, result.stderr
    return phoenix_client.wait_for_spans(project, SPAN_COUNT)


def test_content_capture_opt_in_sends_arguments_and_keyed_hashes(
    captured_spans: list[Span],
) -> None:
    (weather,) = named(captured_spans, "execute_tool get_weather")
    attrs = weather["attributes"]
    assert json.loads(attrs["request.parameters"]) == {"city": "Paris", "units": "C"}
    assert json.loads(attrs["gen_ai.tool.call.arguments"]) == {"city": "Paris", "units": "C"}
    assert "Paris: 21" in attrs["gen_ai.tool.call.result"]
    for span in _tools(captured_spans):
        assert re.match(r"^hmac-sha256:[0-9a-f]{32}$", span["attributes"][HASH_KEY])
