"""The default mode's fast ``llm_result`` path writes exactly what the general path writes."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from instrumentors.langchain import _extract
from tests._spans import lean_and_general


def _result(message: AIMessage, llm_output: dict[str, Any] | None = None, **info: Any) -> Any:
    generation = ChatGeneration(message=message, generation_info=info or None)
    return LLMResult(generations=[[generation]], llm_output=llm_output)


CALLS = [
    {"type": "tool_call", "id": "c1", "name": "f", "args": {"x": 1}},
    {"type": "tool_call", "id": "c2", "name": "g", "args": {}},
]
CASES = {
    "usage metadata and tool calls": _result(
        AIMessage(
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
    ),
    "llm_output token usage": _result(
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
    ),
    "nothing known": _result(AIMessage("hi")),
}


@pytest.mark.parametrize("response", list(CASES.values()), ids=list(CASES))
def test_lean_result_path_matches_the_general_one(
    exporter, monkeypatch: pytest.MonkeyPatch, response: Any
) -> None:
    lean, general = lean_and_general(
        exporter, monkeypatch, lambda run: _extract.llm_result(run, response)
    )
    assert lean == general
    assert "gen_ai.response.id" in lean[0] or response is CASES["nothing known"]
