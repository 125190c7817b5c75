"""What ``_extract.llm_result`` records from a LangChain ``LLMResult`` through the run setters:
response identity, finish reasons, usage from either place LangChain puts it, tool calls and
their link registrations."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from instrumentors import semconv
from instrumentors.langchain import _extract
from instrumentors.links import registry
from instrumentors.telemetry import Telemetry


def _result(message: AIMessage, llm_output: dict[str, Any] | None = None, **info: Any) -> Any:
    generation = ChatGeneration(message=message, generation_info=info or None)
    return LLMResult(generations=[[generation]], llm_output=llm_output)


def _recorded(exporter: Any, response: Any) -> tuple[dict[str, Any], Any]:
    """The chat span's attributes after ``llm_result``, and the span's context."""
    registry.clear()
    run = Telemetry("extract").llm("openai", "gpt-4o")
    _extract.llm_result(run, response)
    run.stop()
    (span,) = exporter.get_finished_spans()
    return dict(span.attributes or {}), span.context


CALLS = [
    {"type": "tool_call", "id": "c1", "name": "f", "args": {"x": 1}},
    {"type": "tool_call", "id": "c2", "name": "g", "args": {}},
]


def test_usage_metadata_and_tool_calls(exporter: Any) -> None:
    message = AIMessage(
        "",
        tool_calls=CALLS,  # type: ignore[arg-type]
        usage_metadata={
            "input_tokens": 10,
            "output_tokens": 4,
            "total_tokens": 14,
            "input_token_details": {"cache_read": 3},
            "output_token_details": {"reasoning": 2},
        },
        response_metadata={"id": "r1", "model_name": "gpt-4o", "finish_reason": "tool_calls"},
    )
    attrs, context = _recorded(exporter, _result(message))
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == "r1"
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o"
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 10
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 4
    assert attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 3
    assert attrs[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 2
    assert attrs[semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS] == ("c1", "c2")
    assert attrs[semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES] == ("f", "g")
    # Each requested call points back at this span, for the tool spans' links.
    assert registry.lookup("c1") == context
    assert registry.lookup("c2") == context


def test_llm_output_token_usage(exporter: Any) -> None:
    """Usage from ``llm_output`` (older integrations); a zero input count is kept, a zero
    cache read is not recorded."""
    response = _result(
        AIMessage("hi", response_metadata={"model": "claude"}),
        {
            "id": "r2",
            "token_usage": {
                "prompt_tokens": 0,
                "completion_tokens": 7,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
        },
        finish_reason="stop",
    )
    attrs, _ = _recorded(exporter, response)
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == "r2"
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == "claude"
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 0
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 7
    assert semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS not in attrs
    assert semconv.GEN_AI_RESPONSE_TOOL_CALL_IDS not in attrs


@pytest.mark.parametrize("response", [_result(AIMessage("hi")), LLMResult(generations=[])])
def test_nothing_known(exporter: Any, response: Any) -> None:
    attrs, _ = _recorded(exporter, response)
    for key in (
        semconv.GEN_AI_RESPONSE_ID,
        semconv.GEN_AI_RESPONSE_MODEL,
        semconv.GEN_AI_RESPONSE_FINISH_REASONS,
        semconv.GEN_AI_USAGE_INPUT_TOKENS,
        semconv.GEN_AI_RESPONSE_TOOL_CALL_NAMES,
    ):
        assert key not in attrs
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
