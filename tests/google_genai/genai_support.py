"""Small helpers shared by the Google Gen AI instrumentor tests (a unique module name, on
purpose)."""

# No ``from __future__ import annotations``: google-genai 1.x reads the tool functions'
# annotations at run time (``isinstance``) and fails on strings.

import json
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from tests._spans import events  # noqa: F401 - re-exported to the tests

MODEL = "gemini-2.5-flash"
PROMPT = "What is the weather in Paris?"


def attrs(span: ReadableSpan) -> dict[str, Any]:
    """The span's attributes as a plain dict."""
    return dict(span.attributes or {})


def messages(span: ReadableSpan, key: str) -> Any:
    """A captured content attribute (JSON text) parsed."""
    return json.loads(str((span.attributes or {})[key]))


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"{city}: 21 C"


def get_forecast(city: str, days: int = 2) -> str:
    """A forecast of a few days for a city."""
    return " | ".join(f"{city} day {d + 1}: mild" for d in range(days))
