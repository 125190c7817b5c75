"""The framework examples (OpenAI SDK loop, LangGraph, LlamaIndex), run as a user runs
them against the scripted local model, exported to Phoenix over OTLP/HTTP and read
back through its REST API.

The trees they should produce (one trace per run)::

    openai-agent run                      {retry.attempted}
    ├─ chat gpt-4o-mini                   (usage)
    ├─ execute_tool get_weather           call_n
    ├─ execute_tool get_forecast  ERROR   call_m {exception}
    ├─ execute_tool get_forecast          call_m
    └─ chat gpt-4o-mini

    invoke_agent LangGraph
    ├─ model > chat gpt-4o-mini
    ├─ tools > execute_tool get_weather > GET (the loopback weather API)
    ├─ tools > execute_tool get_forecast  {retry.attempted}
    ├─ model > chat gpt-4o-mini
    ├─ tools > execute_tool book_table    ERROR {exception}
    └─ model > chat gpt-4o-mini

    travel-agent run
    ├─ embeddings (indexing)
    └─ invoke_agent guide
       ├─ ... chat gpt-4o-mini
       ├─ ... execute_tool search_guide > retrieval ... > embeddings
       └─ ... chat gpt-4o-mini

(Chat spans also have the OpenAI SDK's HTTP ``POST`` span under them.)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from .harness import EXAMPLES, PhoenixServer, run_agent
from .phoenix_client import PhoenixClient, Span, by_id, children, named, roots, tree

CHAT = "chat gpt-4o-mini"
CALL_ID = re.compile(r"^call_\d+$")


@dataclass(frozen=True)
class Example:
    script: str
    session: str
    spans: int  # as the tree view prints them offline
    root: str
    chats: int
    tools: dict[str, int]  # tool name -> execute_tool spans
    failing: dict[str, str]  # tool name -> error.type of its (first) span
    modules: tuple[str, ...]

    @property
    def project(self) -> str:
        return "e2e-" + self.script.removesuffix(".py").replace("_", "-")


EXAMPLES_RUN = {
    "openai": Example(
        "openai_agent.py",
        "e2e-openai-1",
        8,
        "openai-agent run",
        2,
        {"get_weather": 1, "get_forecast": 2},
        {"get_forecast": "TimeoutError"},
        ("openai", "tenacity"),
    ),
    "langgraph": Example(
        "langgraph_agent.py",
        "e2e-langgraph-1",
        17,
        "invoke_agent LangGraph",
        3,
        {"get_weather": 1, "get_forecast": 1, "book_table": 1},
        {"book_table": "RuntimeError"},
        ("langgraph", "langchain_openai", "httpx", "tenacity"),
    ),
    "llama_index": Example(
        "llama_index_agent.py",
        "e2e-llama-1",
        13,
        "travel-agent run",
        2,
        {"search_guide": 1},
        {},
        ("llama_index.core", "llama_index.llms.openai"),
    ),
}


@pytest.fixture(scope="module")
def runs(
    phoenix: PhoenixServer,
    phoenix_client: PhoenixClient,
    e2e_report: Callable[[str], None],
) -> dict[str, list[Span]]:
    """Each example whose framework is installed, run once over OTLP/HTTP: key -> spans."""
    spans = {}
    for key, example in EXAMPLES_RUN.items():
        if not all(_importable(module) for module in example.modules):
            continue
        started = time.monotonic()
        result = run_agent(
            phoenix,
            EXAMPLES / example.script,
            protocol="http",
            project=example.project,
            args=(example.session,),
            timeout=180,
        )
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr, result.stderr  # e.g. a failed export
        spans[key] = phoenix_client.wait_for_spans(example.project, example.spans)
        e2e_report(
            f"{example.script} over http: ran and read back {len(spans[key])} spans "
            f"in {time.monotonic() - started:.1f}s"
        )
    return spans


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


@pytest.fixture(params=list(EXAMPLES_RUN))
def run(request: pytest.FixtureRequest, runs: dict[str, list[Span]]) -> tuple[Example, list[Span]]:
    """(the example, its spans as Phoenix returns them)."""
    example = EXAMPLES_RUN[request.param]
    if request.param not in runs:
        pytest.skip(f"{example.script}: needs {', '.join(example.modules)}")
    return example, runs[request.param]


def _tools(spans: list[Span]) -> list[Span]:
    return [span for span in spans if span["name"].startswith("execute_tool ")]


def test_one_trace_with_one_root(run: tuple[Example, list[Span]]) -> None:
    example, spans = run
    assert len(spans) == example.spans, tree(spans)
    assert len({span["trace_id"] for span in spans}) == 1
    (root,) = roots(spans)
    assert root["name"] == example.root
    known = by_id(spans)
    assert all(span["parent_id"] in known for span in spans if span is not root)


def test_every_span_carries_the_session(run: tuple[Example, list[Span]]) -> None:
    example, spans = run
    for span in spans:
        assert span["attributes"]["agent.session_id"] == example.session, span["name"]


def test_tools_by_name_with_call_ids(run: tuple[Example, list[Span]]) -> None:
    example, spans = run
    tools = _tools(spans)
    counts = {name: len(named(tools, f"execute_tool {name}")) for name in example.tools}
    assert counts == example.tools and len(tools) == sum(counts.values()), tree(spans)
    for span in tools:
        attrs = span["attributes"]
        assert attrs["gen_ai.tool.name"] == span["name"].removeprefix("execute_tool ")
        assert CALL_ID.match(attrs["gen_ai.tool.call.id"]), attrs
        assert attrs["request.parameters.hash"].startswith("sha256:")


def test_chat_spans_with_usage(run: tuple[Example, list[Span]]) -> None:
    example, spans = run
    chats = named(spans, CHAT)
    assert len(chats) == example.chats, tree(spans)
    for chat in chats:
        attrs = chat["attributes"]
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.provider.name"] == "openai"
        assert attrs["gen_ai.usage.input_tokens"] > 0
        assert attrs["gen_ai.usage.output_tokens"] > 0
        assert chat["status"]["code"] != "ERROR"
    # Later turns send the tool results back: the prompt grows.
    inputs = [chat["attributes"]["gen_ai.usage.input_tokens"] for chat in chats]
    assert inputs == sorted(inputs) and inputs[0] < inputs[-1]


def test_errors_only_on_the_failing_tools(run: tuple[Example, list[Span]]) -> None:
    example, spans = run
    failed = [span for span in spans if span["status"]["code"] == "ERROR"]
    assert [span["name"].removeprefix("execute_tool ") for span in failed] == list(
        example.failing
    ), tree(spans)
    for span in failed:
        error_type = example.failing[span["name"].removeprefix("execute_tool ")]
        assert span["attributes"]["error.type"] == error_type
        (event,) = span["events"]
        assert event["name"] == "exception"
        assert event["attributes"]["exception.type"] == error_type


def _retry_events(spans: list[Span]) -> list[tuple[str, dict[str, object]]]:
    return [
        (span["name"], event["attributes"])
        for span in spans
        for event in span["events"]
        if event["name"] == "retry.attempted"
    ]


def test_openai_retry_around_the_tool(runs: dict[str, list[Span]]) -> None:
    if "openai" not in runs:
        pytest.skip("openai_agent.py did not run")
    spans = runs["openai"]
    ((where, attrs),) = _retry_events(spans)
    assert where == "openai-agent run"  # tenacity wraps the tool: the retry is the caller's
    assert attrs["retry.attempt"] == 1 and attrs["error.type"] == "TimeoutError"
    first, retry = named(spans, "execute_tool get_forecast")
    ids = {span["attributes"]["gen_ai.tool.call.id"] for span in (first, retry)}
    assert len(ids) == 1  # the same model-requested call, run twice


def test_langgraph_retry_http_and_thread_session(runs: dict[str, list[Span]]) -> None:
    if "langgraph" not in runs:
        pytest.skip("langgraph_agent.py did not run")
    spans = runs["langgraph"]
    ((where, attrs),) = _retry_events(spans)
    assert where == "execute_tool get_forecast"  # tenacity runs inside the tool
    assert attrs["error.type"] == "TimeoutError"
    (weather,) = named(spans, "execute_tool get_weather")
    (get,) = children(spans, weather)
    assert get["name"] == "GET"
    # The httpx instrumentation's HTTP semconv (old or new) follows OTEL_SEMCONV_STABILITY_OPT_IN.
    status = get["attributes"].get(
        "http.response.status_code", get["attributes"].get("http.status_code")
    )
    assert status == 200, get["attributes"]
    (agent,) = named(spans, "invoke_agent LangGraph")
    assert agent["attributes"]["gen_ai.conversation.id"] == "e2e-langgraph-1"


def test_llama_index_retrieval_under_the_tool(runs: dict[str, list[Span]]) -> None:
    if "llama_index" not in runs:
        pytest.skip("llama_index_agent.py did not run")
    spans = runs["llama_index"]
    (search,) = named(spans, "execute_tool search_guide")
    (retrieval,) = children(spans, search)
    assert retrieval["name"].startswith("retrieval ")
    assert retrieval["attributes"]["gen_ai.operation.name"] == "retrieval"
    (agent,) = named(spans, "invoke_agent guide")
    assert agent["attributes"]["gen_ai.agent.name"] == "guide"
    assert search in _descendants(spans, agent)


def _descendants(spans: list[Span], parent: Span) -> list[Span]:
    found = []
    for child in children(spans, parent):
        found += [child, *_descendants(spans, child)]
    return found
