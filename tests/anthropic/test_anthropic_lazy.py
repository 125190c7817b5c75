"""Instrumenting before anthropic is imported: nothing imported, the SDK patched on import.

Each case runs in a fresh interpreter, the only way to see an import happen. The
SDK's own tracing is at its default there (the global provider is ours).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests._layer_checks import run_fresh
from tests.fakes.anthropic_server import FakeAnthropicServer, Reply

pytest.importorskip("anthropic")

# After IN_MEMORY_TRACING (``exporter``, ``provider``); argv: the server's URL, the mode.
SCRIPT = """
    from opentelemetry import trace

    from instrumentors.anthropic import AnthropicInstrumentor

    trace.set_tracer_provider(provider)
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    imported_early = "anthropic" in sys.modules
    if sys.argv[2] == "cancel":
        instrumentor.uninstrument()

    import anthropic

    client = anthropic.Anthropic(base_url=sys.argv[1], api_key="k", max_retries=1)
    messages = [{"role": "user", "content": "hi"}]
    client.messages.create(model="m", max_tokens=8, messages=messages)
    with client.messages.stream(model="m", max_tokens=8, messages=messages) as stream:
        for _ in stream:
            break  # leaving the helper must end the span
    spans = [
        {"name": s.name, "scope": s.instrumentation_scope.name,
         "events": [e.name for e in s.events]}
        for s in exporter.get_finished_spans()
    ]
    print(json.dumps({"early": imported_early, "spans": spans}))
"""


def _run(mode: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    with FakeAnthropicServer() as server:
        server.script(Reply.rate_limited(retry_after=0.01), Reply(), Reply(chunk_size=1))
        return run_fresh(SCRIPT, server.base_url, mode, env=env)


def test_instrumenting_first_patches_anthropic_when_it_is_imported() -> None:
    result = _run("keep")
    assert result["early"] is False
    chat, streamed = result["spans"]
    assert chat == {
        "name": "chat m",
        "scope": "instrumentors.anthropic",
        "events": ["retry.attempted", "rate.limit.invoked"],
    }
    assert streamed["name"] == "chat m"


def test_uninstrument_before_the_import_cancels() -> None:
    result = _run("cancel")
    assert result["early"] is False
    # Only what the SDK makes of itself, where it traces itself.
    assert all(s["scope"] == "com.anthropic.sdk.python" for s in result["spans"])
