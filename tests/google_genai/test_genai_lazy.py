"""Instrumenting before google-genai is imported: nothing is imported, and the SDK is patched
when it is. Each case runs in a fresh interpreter, the only way to see an import happen."""

from __future__ import annotations

from typing import Any

import pytest

from tests._layer_checks import imports_in_fresh_interpreter, run_fresh
from tests.fakes.gemini_server import Call, FakeGeminiServer, Reply

pytest.importorskip("google.genai")

# After IN_MEMORY_TRACING (``exporter``, ``provider``); argv: the server's URL, the mode.
SCRIPT = """
    from instrumentors.google_genai import GoogleGenAIInstrumentor

    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    imported_early = sorted(m for m in sys.modules if m.startswith("google.genai"))
    if sys.argv[2] == "cancel":
        instrumentor.uninstrument()

    from google import genai
    from google.genai import types

    def get_weather(city: str) -> str:
        return city

    retry = types.HttpRetryOptions(attempts=2, initial_delay=0.01)
    client = genai.Client(
        api_key="k", http_options={"base_url": sys.argv[1], "retry_options": retry}
    )
    client.models.generate_content(model="m", contents="hi", config={"tools": [get_weather]})
    for _ in client.models.generate_content_stream(model="m", contents="hi"):
        pass
    spans = [
        {"name": s.name, "events": [e.name for e in s.events]}
        for s in exporter.get_finished_spans()
    ]
    print(json.dumps({"early": imported_early, "spans": spans}))
"""


def _run(mode: str) -> dict[str, Any]:
    with FakeGeminiServer() as server:
        server.script(
            Reply.failure(429),
            Reply.with_calls(Call("get_weather", {"city": "Paris"})),
            Reply(),
            Reply(),
        )
        return run_fresh(SCRIPT, server.base_url, mode)


def test_instrumenting_first_patches_google_genai_when_it_is_imported() -> None:
    result = _run("keep")
    assert result["early"] == []  # importing and instrumenting imported nothing of the SDK
    assert result["spans"] == [
        {"name": "execute_tool get_weather", "events": []},
        {"name": "chat m", "events": ["rate.limit.invoked", "retry.attempted"]},
        {"name": "chat m", "events": []},
    ]


def test_uninstrument_before_the_import_cancels() -> None:
    assert _run("cancel") == {"early": [], "spans": []}


def test_importing_the_package_imports_no_sdk() -> None:
    assert not imports_in_fresh_interpreter("instrumentors.google_genai", "google.genai")
