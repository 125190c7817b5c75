"""Failures: a tool that raises, a model's HTTP error, MaxTurnsExceeded, a guardrail tripwire
(an error on the guardrail's step only), each with ``error.type`` and an ``exception``
event on the span where it happened."""

from __future__ import annotations

import pytest
from opentelemetry.trace import StatusCode

from tests.fakes.openai_server import Reply, ToolCall

pytest.importorskip("agents")

import openai
from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    MaxTurnsExceeded,
    OutputGuardrailTripwireTriggered,
    Runner,
    function_tool,
    input_guardrail,
    output_guardrail,
)
from oa_support import (
    CHAT,
    QUESTION,
    WORKFLOW,
    agents,
    attrs,
    exception_events,
    handoff_script,
    named,
    one,
    tree,
)


def _ok(spans, *names: str) -> None:
    for name in names:
        for span in named(spans, name):
            assert span.status.status_code is StatusCode.UNSET, name
            assert "error.type" not in attrs(span), name


async def test_a_tool_that_raises_fails_its_span_only(
    exporter, instrumented, server, model
) -> None:
    server.script(*handoff_script(ToolCall("get_weather", '{"city": "Atlantis"}', id="call_x")))
    triage, _ = agents(model)
    result = await Runner.run(triage, QUESTION)  # the SDK tells the model, the run goes on
    assert result.final_output == "Sunny in Paris."
    spans = exporter.get_finished_spans()
    tool = one(spans, "execute_tool get_weather")
    assert tool.status.status_code is StatusCode.ERROR
    assert attrs(tool)["error.type"] == "tool_error"
    assert attrs(tool)["gen_ai.tool.call.id"] == "call_x"
    (event,) = exception_events(tool)
    # The SDK's report (newer releases redact the tool's own message in it).
    assert event["exception.message"].startswith("Error running tool")
    _ok(spans, WORKFLOW, "invoke_agent Triage", "invoke_agent Weather", CHAT)


async def test_a_tool_error_the_sdk_does_not_handle_fails_with_its_class(
    exporter, instrumented, server, model
) -> None:
    @function_tool(failure_error_function=None)
    def explode() -> str:
        """Always fails."""
        raise KeyError("missing")

    server.script(Reply.tools(ToolCall("explode", "{}", id="call_e")))
    with pytest.raises(Exception) as raised:
        await Runner.run(Agent(name="Solo", model=model, tools=[explode]), QUESTION)
    spans = exporter.get_finished_spans()
    tool = one(spans, "execute_tool explode")
    assert tool.status.status_code is StatusCode.ERROR
    assert attrs(tool)["error.type"] == type(raised.value).__qualname__
    assert exception_events(tool)
    agent = one(spans, "invoke_agent Solo")  # the run failed: its agent span says so
    assert agent.status.status_code is StatusCode.ERROR


async def test_a_model_http_error(exporter, instrumented, server, model) -> None:
    server.script(Reply.failure(500, "upstream exploded"))
    with pytest.raises(openai.InternalServerError):
        await Runner.run(Agent(name="Solo", model=model), QUESTION)
    spans = exporter.get_finished_spans()
    (chat,) = [s for s in spans if attrs(s).get("gen_ai.operation.name") == "chat"]
    assert chat.status.status_code is StatusCode.ERROR
    assert attrs(chat)["error.type"] == "InternalServerError"
    (event,) = exception_events(chat)
    assert event["exception.type"].endswith("InternalServerError")
    for name in ("invoke_agent Solo", WORKFLOW):
        assert attrs(one(spans, name))["error.type"] == "InternalServerError"


async def test_a_model_http_error_with_the_openai_layer_is_recorded_once(
    exporter, instrumented, openai_layer, server, model
) -> None:
    server.script(Reply.failure(500, "upstream exploded"))
    with pytest.raises(openai.InternalServerError):
        await Runner.run(Agent(name="Solo", model=model), QUESTION)
    spans = exporter.get_finished_spans()
    (chat,) = [s for s in spans if attrs(s).get("gen_ai.operation.name") == "chat"]
    assert attrs(chat)["error.type"] == "InternalServerError"
    assert len(exception_events(chat)) == 1


async def test_max_turns_exceeded(exporter, instrumented, server, model) -> None:
    loop = [Reply.tools(ToolCall("get_weather", '{"city": "Paris"}')) for _ in range(3)]
    server.script(*loop)
    _, weather = agents(model)
    with pytest.raises(MaxTurnsExceeded):
        await Runner.run(weather, QUESTION, max_turns=2)
    spans = exporter.get_finished_spans()
    agent = one(spans, "invoke_agent Weather")
    assert agent.status.status_code is StatusCode.ERROR
    assert attrs(agent)["error.type"] == "MaxTurnsExceeded"
    assert exception_events(agent)
    _ok(spans, CHAT, "execute_tool get_weather")


@input_guardrail
async def no_secrets(ctx, agent, text) -> GuardrailFunctionOutput:  # type: ignore[no-untyped-def]
    return GuardrailFunctionOutput(output_info=None, tripwire_triggered="secret" in str(text))


@output_guardrail
async def no_rain(ctx, agent, output) -> GuardrailFunctionOutput:  # type: ignore[no-untyped-def]
    return GuardrailFunctionOutput(output_info=None, tripwire_triggered="rain" in str(output))


async def test_a_guardrail_that_passes(exporter, instrumented, server, model) -> None:
    server.script(Reply(text="sunny"))
    await Runner.run(Agent(name="Solo", model=model, input_guardrails=[no_secrets]), QUESTION)
    step = one(exporter.get_finished_spans(), "guardrail no_secrets")
    assert attrs(step)["agent.guardrail.triggered"] is False
    assert attrs(step)["agent.guardrail.name"] == "no_secrets"
    assert attrs(step)["gen_ai.operation.name"] == "agent_step"
    assert step.status.status_code is StatusCode.UNSET


async def test_a_tripped_input_guardrail_is_an_error_on_its_step_only(
    exporter, instrumented, server, model
) -> None:
    server.script(Reply(text="never asked"))
    agent = Agent(name="Solo", model=model, input_guardrails=[no_secrets])
    with pytest.raises(InputGuardrailTripwireTriggered):
        await Runner.run(agent, "tell me the secret")
    spans = exporter.get_finished_spans()
    step = one(spans, "guardrail no_secrets")
    assert step.status.status_code is StatusCode.ERROR
    assert attrs(step)["error.type"] == "guardrail_tripwire"
    assert attrs(step)["agent.guardrail.triggered"] is True
    assert exception_events(step)
    _ok(spans, "invoke_agent Solo", WORKFLOW)  # the run stopped as it should: no error


async def test_a_tripped_output_guardrail(exporter, instrumented, server, model) -> None:
    server.script(Reply(text="rain all day"))
    agent = Agent(name="Solo", model=model, output_guardrails=[no_rain])
    with pytest.raises(OutputGuardrailTripwireTriggered):
        await Runner.run(agent, QUESTION)
    spans = exporter.get_finished_spans()
    step = one(spans, "guardrail no_rain")
    assert attrs(step)["error.type"] == "guardrail_tripwire"
    _ok(spans, "invoke_agent Solo", WORKFLOW, CHAT)
    assert tree(spans)[1] == "  invoke_agent Solo"
