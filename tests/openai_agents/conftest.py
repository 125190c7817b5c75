"""Fixtures for the OpenAI Agents SDK bridge: the fake OpenAI server, real SDK models on it.

No ``__init__.py`` here on purpose: a package named ``openai_agents`` must not shadow
anything, and the helpers live in ``oa_support`` (a unique module name). Test modules
skip themselves (``importorskip``) where the SDK is absent; this file imports nothing
from it at import time.

The SDK's own trace export never leaves the machine in these tests: before each test
its processors are replaced (public ``set_trace_processors``) by ``SDK_PROCESSOR``, a
recorder standing in for "the SDK's own processors" (what the instrumentor must leave in
place, or replace and give back), and its default exporter is pointed at a closed
loopback port in case anything puts the default processor back.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from instrumentors.openai_agents import OpenAIAgentsInstrumentor
from tests._instrumenting import reinstrumenting

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
HAS_AGENTS = importlib.util.find_spec("agents") is not None
NOWHERE = "http://127.0.0.1:9/v1/traces/ingest"  # the discard port: nothing listens


@pytest.fixture(autouse=True)
def sdk_processor(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The SDK's processors for this test: one recorder; the default export goes nowhere."""
    if not HAS_AGENTS:
        yield None
        return
    from agents.tracing import set_trace_processors
    from agents.tracing.processors import default_exporter
    from oa_support import Recorder

    for name in ("OPENAI_AGENTS_DISABLE_TRACING", "OPENAI_AGENTS_TRACE_INCLUDE_SENSITIVE_DATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(default_exporter(), "endpoint", NOWHERE)
    recorder = Recorder()
    set_trace_processors([recorder])
    yield recorder
    set_trace_processors([])


@pytest.fixture
def server() -> Iterator[Any]:
    """A fresh fake OpenAI server (Chat Completions and Responses) on a free loopback port."""
    from oa_server import AgentsServer

    with AgentsServer() as fake:
        yield fake


@pytest.fixture
def client(server: Any) -> Any:
    """A real ``openai.AsyncOpenAI`` talking HTTP to the fake server (no retries)."""
    import openai

    return openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)


@pytest.fixture
def model(client: Any) -> Any:
    """The SDK's Responses API model on the fake server."""
    from agents import OpenAIResponsesModel
    from oa_support import MODEL

    return OpenAIResponsesModel(model=MODEL, openai_client=client)


@pytest.fixture
def chat_model(client: Any) -> Any:
    """The SDK's Chat Completions model on the fake server."""
    from agents import OpenAIChatCompletionsModel
    from oa_support import MODEL

    return OpenAIChatCompletionsModel(model=MODEL, openai_client=client)


@pytest.fixture
def instrument() -> Iterator[Callable[..., OpenAIAgentsInstrumentor]]:
    """Instrument (again) on demand, e.g. after changing settings; uninstrumented at teardown."""
    yield from reinstrumenting(OpenAIAgentsInstrumentor())


@pytest.fixture
def instrumented(instrument: Callable[..., OpenAIAgentsInstrumentor]) -> OpenAIAgentsInstrumentor:
    """The instrumentor with the global providers and default settings."""
    return instrument()


@pytest.fixture
def capture(
    settings_env: Any, instrument: Callable[..., OpenAIAgentsInstrumentor]
) -> OpenAIAgentsInstrumentor:
    """Content capture on (settings are read at instrument() time)."""
    settings_env(**{CAPTURE_ENV: "true"})
    return instrument()


@pytest.fixture
def openai_layer() -> Iterator[Any]:
    """Our OpenAI instrumentor on too (the layer under the Agents SDK's models)."""
    from instrumentors.openai import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    yield instrumentor
    instrumentor.uninstrument()
