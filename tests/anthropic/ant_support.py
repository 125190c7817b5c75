"""Small helpers shared by the Anthropic instrumentor tests (a unique module name on purpose)."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

MODEL = "claude-sonnet-test"
MESSAGES = [{"role": "user", "content": "What is the weather in Paris?"}]
SECRET_PROMPT = "prompt-sentinel-7d1e"
SDK_SCOPE = "com.anthropic.sdk.python"  # the scope of the SDK's own spans (1.x, 2.x)


def create(client: Any, **kwargs: Any) -> Any:
    """``client.messages.create`` with the usual arguments (overridable)."""
    arguments = {"model": MODEL, "max_tokens": 64, "messages": MESSAGES, **kwargs}
    return client.messages.create(**arguments)


def events(span: ReadableSpan, name: str) -> list[dict[str, Any]]:
    """Attributes of the span's events called ``name``, in order."""
    return [dict(e.attributes or {}) for e in span.events if e.name == name]


def all_strings(span: ReadableSpan) -> str:
    """Every attribute and event value of the span, as one string (for leak checks)."""
    values = [str(v) for v in (span.attributes or {}).values()]
    for event in span.events:
        values.extend(str(v) for v in (event.attributes or {}).values())
    return "\n".join(values)


def chat_spans(spans: Any) -> list[ReadableSpan]:
    """The ``chat`` spans among ``spans`` (ours, the SDK's or a framework's)."""
    return [s for s in spans if (s.attributes or {}).get("gen_ai.operation.name") == "chat"]
