"""Small helpers shared by the OpenAI instrumentor tests (a unique module name on purpose)."""

from __future__ import annotations

from tests._spans import all_strings, chat_spans, events  # noqa: F401 - re-exported to the tests

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]
SECRET_PROMPT = "prompt-sentinel-7d1e"
