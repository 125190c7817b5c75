"""Small helpers shared by the Anthropic instrumentor tests (a unique module name on purpose)."""

from __future__ import annotations

from typing import Any

from tests._spans import all_strings, chat_spans, events  # noqa: F401 - re-exported to the tests

MODEL = "claude-sonnet-test"
MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]
SECRET_PROMPT = "prompt-sentinel-7d1e"
SDK_SCOPE = "com.anthropic.sdk.python"  # the scope of the SDK's own spans (1.x, 2.x)


def create(client: Any, **kwargs: Any) -> Any:
    """``client.messages.create`` with the usual arguments (overridable)."""
    arguments = {"model": MODEL, "max_tokens": 64, "messages": MESSAGES, **kwargs}
    return client.messages.create(**arguments)
