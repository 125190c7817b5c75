"""The framework examples run as a user runs them (subprocess, no API key, no backend).

Each one talks to the scripted local model (``examples/_local_model.py``) and
prints its trace tree and SLI table on stderr; these tests read that tree.
"""

from __future__ import annotations

import re

import pytest

from tests._examples import run_example

CHAT = "chat gpt-4o-mini"


def tree_lines(err: str) -> list[tuple[int, str]]:
    """(depth, text) of each span line of the (single) printed trace tree."""
    lines = err.split("SLIs\n", 1)[0].splitlines()
    (header,) = [line for line in lines if line.startswith("trace ")]
    spans = []
    for line in lines[lines.index(header) + 1 :]:
        match = re.match(r"^((?:│  |   )*)[├└]─ (.*)$", line)
        if match:
            spans.append((len(match.group(1)) // 3, match.group(2)))
    return spans


def spans_named(spans: list[tuple[int, str]], name: str) -> list[str]:
    return [text for _, text in spans if text.startswith(name + "  ")]


def children_of(spans: list[tuple[int, str]], text: str) -> list[str]:
    """The direct children of the span line ``text``."""
    index = next(i for i, (_, t) in enumerate(spans) if t == text)
    depth = spans[index][0]
    found = []
    for child_depth, child in spans[index + 1 :]:
        if child_depth <= depth:
            break
        if child_depth == depth + 1:
            found.append(child)
    return found


def assert_one_trace_and_slis(err: str, *rows: str) -> None:
    assert sum(line.startswith("trace ") for line in err.splitlines()) == 1, err
    table = err.split("SLIs\n", 1)[1]
    for row in rows:
        assert re.search(rf"^{row}\s", table, re.MULTILINE), table


def assert_tool_linked(text: str, session: str) -> None:
    assert re.search(r"\bcall=call_\d+\b", text), text
    assert f"session={session}" in text and f"linked to {CHAT}" in text, text


def test_openai_agent() -> None:
    pytest.importorskip("openai")
    pytest.importorskip("tenacity")
    result = run_example("openai_agent.py")
    assert "Paris: 21°C, sunny" in result.stdout and "Paris day 2: mild" in result.stdout
    err = result.stderr
    spans = tree_lines(err)
    assert spans[0][1].startswith("openai-agent run  ")
    assert "retry.attempted attempt=1" in spans[0][1] and "type=TimeoutError" in spans[0][1]
    chats = spans_named(spans, CHAT)
    assert len(chats) == 2 and all("tokens in=" in c and "out=" in c for c in chats), err
    (weather,) = spans_named(spans, "execute_tool get_weather")
    failed, retried = spans_named(spans, "execute_tool get_forecast")
    assert "ERROR TimeoutError" in failed and "[exception type=TimeoutError]" in failed
    assert "ERROR" not in retried and "ERROR" not in weather
    for tool in (weather, failed, retried):
        assert_tool_linked(tool, "openai-session-1")
    # The retry is the same model-requested call.
    assert re.search(r"call=(\S+)", failed)[1] == re.search(r"call=(\S+)", retried)[1]  # type: ignore[index]
    assert_one_trace_and_slis(
        err,
        "chat +gpt-4o-mini +2 +0",
        "execute_tool +get_forecast +2 +1",
        "execute_tool +get_weather",
    )


def test_langgraph_agent() -> None:
    for module in ("langgraph", "langchain_openai", "httpx", "tenacity"):
        pytest.importorskip(module)
    result = run_example("langgraph_agent.py")
    # The model got the booking error back as a message (wording differs per langgraph line).
    assert "Chez Nous is closed today" in result.stdout
    err = result.stderr
    spans = tree_lines(err)
    (root,) = [text for depth, text in spans if depth == 0]
    assert root.startswith("invoke_agent LangGraph  ") and "session=langgraph-thread-1" in root
    assert len(spans_named(spans, CHAT)) == 3, err
    (weather,) = spans_named(spans, "execute_tool get_weather")
    (forecast,) = spans_named(spans, "execute_tool get_forecast")
    (booking,) = spans_named(spans, "execute_tool book_table")
    for tool in (weather, forecast, booking):
        assert_tool_linked(tool, "langgraph-thread-1")
    # The loopback API call nests under the tool that made it.
    (get,) = children_of(spans, weather)
    assert get.startswith("GET  ") and "ERROR" not in get
    assert "retry.attempted attempt=1" in forecast and "ERROR" not in forecast
    assert "ERROR RuntimeError" in booking and "[exception type=RuntimeError]" in booking
    assert_one_trace_and_slis(
        err,
        "chat +gpt-4o-mini +3 +0",
        "execute_tool +book_table +1 +1",
        "execute_tool +get_forecast +1 +0",
        "execute_tool +get_weather +1 +0",
        "invoke_agent +LangGraph +1 +0",
    )


def test_llama_index_agent() -> None:
    pytest.importorskip("llama_index.core")
    pytest.importorskip("llama_index.llms.openai")
    result = run_example("llama_index_agent.py")
    # MockEmbedding makes every passage equally similar: any two of the guide's come back.
    assert result.stdout.startswith("Here is what I found: ") and "." in result.stdout
    err = result.stderr
    spans = tree_lines(err)
    assert spans[0][1].startswith("travel-agent run  ")
    (agent,) = spans_named(spans, "invoke_agent guide")
    assert "session=llama-session-1" in agent
    chats = spans_named(spans, CHAT)
    assert len(chats) == 2 and all("in=" in c for c in chats), err
    (search,) = spans_named(spans, "execute_tool search_guide")
    assert_tool_linked(search, "llama-session-1")
    (retrieval,) = children_of(spans, search)
    assert retrieval.startswith("retrieval ") and "docs=2" in retrieval
    assert "ERROR" not in err.split("SLIs\n", 1)[0]
    assert_one_trace_and_slis(
        err,
        "chat +gpt-4o-mini +2 +0",
        "execute_tool +search_guide +1 +0",
        "invoke_agent +guide +1 +0",
        "retrieval +\\S+ +1 +0",
    )
