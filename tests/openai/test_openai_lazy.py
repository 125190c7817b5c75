"""Instrumenting before openai is imported: nothing is imported, and the SDK is patched on import.

Each case runs in a fresh interpreter, the only way to see an import happen.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests._layer_checks import run_fresh
from tests.fakes.openai_server import FakeOpenAIServer, Reply

pytest.importorskip("openai")

# After IN_MEMORY_TRACING (``exporter``, ``provider``); argv: the server's URL, the mode.
SCRIPT = """
    from instrumentors.openai import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    imported_early = "openai" in sys.modules
    if sys.argv[2] == "cancel":
        instrumentor.uninstrument()

    import openai

    client = openai.OpenAI(base_url=sys.argv[1], api_key="k", max_retries=1)
    messages = [{"role": "user", "content": "hi"}]
    client.chat.completions.create(model="m", messages=messages)
    with client.chat.completions.stream(model="m", messages=messages) as stream:
        for _ in stream:
            break  # the helper's close() must end the span (a lazily patched module)
    ended_before_exit = len(exporter.get_finished_spans())
    spans = [
        {"name": s.name, "events": [e.name for e in s.events]}
        for s in exporter.get_finished_spans()
    ]
    print(json.dumps({"early": imported_early, "ended": ended_before_exit, "spans": spans}))
"""


def _run(mode: str) -> dict[str, Any]:
    with FakeOpenAIServer() as server:
        server.script(Reply.rate_limited(retry_after=0.01), Reply(), Reply(chunk_size=1))
        return run_fresh(SCRIPT, server.base_url, mode)


def test_instrumenting_first_patches_openai_when_it_is_imported() -> None:
    result = _run("keep")
    assert result["early"] is False
    assert result["ended"] == 2
    chat, streamed = result["spans"]
    assert chat == {"name": "chat m", "events": ["retry.attempted", "rate.limit.invoked"]}
    assert streamed["name"] == "chat m"


def test_uninstrument_before_the_import_cancels() -> None:
    result = _run("cancel")
    assert result == {"early": False, "ended": 0, "spans": []}
