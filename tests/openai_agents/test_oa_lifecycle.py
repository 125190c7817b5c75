"""Instrument / uninstrument and the SDK's own processors, sessions, the SDK trace id,
content capture, cost, suppression, sampling, and a telemetry bug that breaks nothing."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation

import instrumentors
from tests._examples import ROOT
from tests.fakes.openai_server import Reply

pytest.importorskip("agents")

from agents import Agent, RunConfig, Runner, SQLiteSession
from agents.tracing import get_trace_provider
from oa_support import (
    CHAT,
    QUESTION,
    SECRET_PROMPT,
    WORKFLOW,
    agents,
    attrs,
    every_string,
    handoff_script,
    named,
    one,
    run_sync,
)

from instrumentors.openai_agents import _compat, _extract


def processors() -> list[object]:
    found = _compat.current_processors(get_trace_provider())
    assert found is not None
    return found


async def _solo(model, text: str = QUESTION, **kwargs):  # type: ignore[no-untyped-def]
    return await Runner.run(Agent(name="Solo", model=model), text, **kwargs)


# ----------------------------------------------------------------------------- processors


async def test_by_default_the_sdk_processors_stay(
    exporter, sdk_processor, instrumented, server, model
) -> None:
    assert processors()[0] is sdk_processor and len(processors()) == 2
    server.script(Reply(text="hi"))
    await _solo(model)
    assert len(sdk_processor.traces) == 1  # the SDK's export still sees the run
    step = one(exporter.get_finished_spans(), WORKFLOW)
    assert attrs(step)["openai_agents.trace_id"] == sdk_processor.traces[0]


async def test_replace_processors_keeps_everything_from_the_sdk_export(
    exporter, sdk_processor, instrument, server, model
) -> None:
    instrumentor = instrument(replace_processors=True)
    assert sdk_processor not in processors() and len(processors()) == 1
    server.script(Reply(text="hi"), Reply(text="again"))
    await _solo(model)
    assert sdk_processor.traces == [] and sdk_processor.spans == []
    assert named(exporter.get_finished_spans(), WORKFLOW)
    instrumentor.uninstrument()
    assert processors() == [sdk_processor]  # given back
    exporter.clear()
    await _solo(model)
    assert len(sdk_processor.traces) == 1
    assert exporter.get_finished_spans() == ()


async def test_uninstrument_takes_only_ours_out(
    exporter, sdk_processor, instrument, server, model
) -> None:
    instrumentor = instrument()
    instrumentor.uninstrument()
    assert processors() == [sdk_processor]
    server.script(Reply(text="hi"))
    await _solo(model)
    assert exporter.get_finished_spans() == ()
    assert len(sdk_processor.traces) == 1


async def test_instrumenting_twice_traces_once(exporter, instrument, server, model) -> None:
    instrument()
    instrument()
    assert len(processors()) == 2  # the SDK's and one of ours
    server.script(Reply(text="hi"))
    await _solo(model)
    assert len(named(exporter.get_finished_spans(), WORKFLOW)) == 1


def test_uninstrument_without_the_private_list_leaves_ours_inert(
    exporter, sdk_processor, instrument, server, model, monkeypatch
) -> None:
    instrumentor = instrument()
    monkeypatch.setattr(_compat, "current_processors", lambda provider: None)
    instrumentor.uninstrument()
    server.script(Reply(text="hi"))
    run_sync(Agent(name="Solo", model=model), QUESTION)
    assert exporter.get_finished_spans() == ()
    assert len(sdk_processor.traces) == 1


def test_the_entry_point_and_a_lazy_start() -> None:
    code = (
        "import sys\n"
        "from importlib.metadata import entry_points\n"
        "import instrumentors.openai_agents as oa\n"
        "assert 'agents' not in sys.modules, 'importing the bridge imported the SDK'\n"
        "(ep,) = [e for e in entry_points(group='opentelemetry_instrumentor')"
        " if e.name == 'agent_openai_agents']\n"
        "assert ep.load() is oa.OpenAIAgentsInstrumentor\n"
        "i = oa.OpenAIAgentsInstrumentor(); i.instrument()\n"
        "assert not i.started and 'agents' not in sys.modules\n"
        "import agents\n"
        "assert i.started\n"
        "from agents.tracing import get_trace_provider\n"
        "from instrumentors.openai_agents import _compat\n"
        "names = [type(p).__name__ for p in _compat.current_processors(get_trace_provider())]\n"
        "assert 'AgentsTracingProcessor' in names, names\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# ----------------------------------------------------------------------------- sessions, ids


async def test_session_from_instrumentors_session(exporter, instrumented, server, model) -> None:
    server.script(*handoff_script())
    triage, _ = agents(model)
    with instrumentors.session("s-42"):
        await Runner.run(triage, QUESTION, run_config=RunConfig(group_id="g-1"))
    spans = exporter.get_finished_spans()
    assert len(spans) == 8
    for span in spans:
        assert attrs(span)["agent.session_id"] == "s-42", span.name
        assert attrs(span)["gen_ai.conversation.id"] == "s-42", span.name
    assert attrs(one(spans, WORKFLOW))["openai_agents.group_id"] == "g-1"


async def test_session_from_the_sdk_group_id(exporter, instrumented, server, model) -> None:
    server.script(*handoff_script())
    triage, _ = agents(model)
    await Runner.run(triage, QUESTION, run_config=RunConfig(group_id="thread-9"))
    spans = exporter.get_finished_spans()
    assert {attrs(s).get("agent.session_id") for s in spans} == {"thread-9"}


async def test_session_from_the_sdk_session_object(
    exporter, instrumented, server, model, tmp_path
) -> None:
    server.script(Reply(text="hi"))
    session = SQLiteSession("conv-7", str(tmp_path / "conv.db"))
    await _solo(model, session=session, run_config=RunConfig(group_id="ignored"))
    spans = exporter.get_finished_spans()
    assert {attrs(s).get("agent.session_id") for s in spans} == {"conv-7"}
    assert instrumentors.session("x").session_id == "x"  # no session left set


def test_session_object_with_run_sync(exporter, instrumented, server, model) -> None:
    server.script(Reply(text="hi"))
    run_sync(Agent(name="Solo", model=model), QUESTION, session=SQLiteSession("conv-8"))
    spans = exporter.get_finished_spans()
    assert {attrs(s).get("agent.session_id") for s in spans} == {"conv-8"}


async def test_session_object_with_run_streamed(exporter, instrumented, server, model) -> None:
    server.script(Reply(text="hi"))
    agent = Agent(name="Solo", model=model)
    result = Runner.run_streamed(agent, QUESTION, session=SQLiteSession("conv-9"))
    async for _ in result.stream_events():
        pass
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    assert {attrs(s).get("agent.session_id") for s in spans} == {"conv-9"}


async def test_every_agent_span_keeps_the_sdk_trace_id(
    exporter, sdk_processor, instrumented, server, model
) -> None:
    server.script(*handoff_script())
    triage, _ = agents(model)
    await Runner.run(triage, QUESTION)
    (sdk_trace_id,) = sdk_processor.traces
    spans = exporter.get_finished_spans()
    for name in (WORKFLOW, "invoke_agent Triage", "invoke_agent Weather"):
        assert attrs(one(spans, name))["openai_agents.trace_id"] == sdk_trace_id


# ----------------------------------------------------------------------------- content, cost


async def test_no_content_by_default(exporter, instrumented, server, model) -> None:
    server.script(*handoff_script())
    triage, _ = agents(model)
    await Runner.run(triage, f"{QUESTION} {SECRET_PROMPT}")
    spans = exporter.get_finished_spans()
    text = every_string(spans)
    assert SECRET_PROMPT not in text
    assert "Paris" not in text and "Sunny" not in text  # no arguments, results or answers
    for span in spans:
        assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(attrs(span))
        assert "gen_ai.tool.call.arguments" not in attrs(span)


async def test_content_capture_on(exporter, capture, server, model) -> None:
    server.script(*handoff_script())
    triage, _ = agents(model)
    await Runner.run(triage, f"{QUESTION} {SECRET_PROMPT}")
    spans = exporter.get_finished_spans()
    first = named(spans, CHAT)[0]
    inputs = json.loads(attrs(first)["gen_ai.input.messages"])
    assert inputs[0]["role"] == "user"
    assert SECRET_PROMPT in inputs[0]["parts"][0]["content"]
    system = json.loads(attrs(first)["gen_ai.system_instructions"])
    assert "Hand weather questions" in system[0]["content"]
    outputs = json.loads(attrs(first)["gen_ai.output.messages"])
    (call,) = outputs[0]["parts"]
    assert call["type"] == "tool_call" and call["name"] == "transfer_to_weather"
    last = json.loads(attrs(named(spans, CHAT)[-1])["gen_ai.output.messages"])
    assert last[0]["parts"][0]["content"] == "Sunny in Paris."
    tool = attrs(one(spans, "execute_tool get_weather"))
    assert json.loads(tool["gen_ai.tool.call.arguments"]) == {"city": "Paris"}
    assert "21C, sunny" in tool["gen_ai.tool.call.result"]


async def test_chat_spans_are_priced(exporter, instrumented, server, model) -> None:
    server.script(*handoff_script())
    triage, _ = agents(model)
    await Runner.run(triage, QUESTION)
    spans = exporter.get_finished_spans()
    costs = []
    for chat in named(spans, CHAT):
        values = attrs(chat)
        assert values["gen_ai.usage.cost.currency"] == "USD"
        assert values["gen_ai.usage.cost.source"] == "local"
        assert values["gen_ai.usage.cost.amount"] > 0
        costs.append(values["gen_ai.usage.cost.amount"])
    assert attrs(one(spans, WORKFLOW))["agent.cost.total"] == pytest.approx(sum(costs))
    assert attrs(one(spans, "invoke_agent Weather"))["agent.cost.model_calls"] == pytest.approx(
        sum(costs[1:])
    )


# ----------------------------------------------------------------------------- safety


async def test_suppressed_runs_make_no_spans(exporter, instrumented, server, model) -> None:
    server.script(Reply(text="hi"))
    with suppress_instrumentation():
        result = await _solo(model)
    assert result.final_output == "hi"
    assert exporter.get_finished_spans() == ()


async def test_unsampled_runs_record_nothing(
    exporter, unsampled, instrumented, server, model
) -> None:
    server.script(*handoff_script())
    triage, _ = agents(model)
    result = await Runner.run(triage, QUESTION)
    assert result.final_output == "Sunny in Paris."
    assert exporter.get_finished_spans() == ()


async def test_a_telemetry_bug_breaks_nothing(
    exporter, instrumented, server, model, monkeypatch, caplog
) -> None:
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("telemetry bug")

    monkeypatch.setattr(_extract, "finish_chat", broken)
    monkeypatch.setattr(_extract, "tool_params", broken)
    server.script(*handoff_script())
    triage, _ = agents(model)
    with caplog.at_level(logging.DEBUG, logger="instrumentors"):
        result = await Runner.run(triage, QUESTION)
    assert result.final_output == "Sunny in Paris."
    assert "telemetry bug" in caplog.text
    spans = exporter.get_finished_spans()
    assert len(named(spans, "chat")) == 3  # ended all the same, with what they had
    assert named(spans, "invoke_agent Weather")
