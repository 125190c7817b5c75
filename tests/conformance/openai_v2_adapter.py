"""pytest plugin: the official OpenAI instrumentation's own tests, run against ours.

``nox -s conformance`` unpacks the ``opentelemetry-instrumentation-openai-v2``
sdist (tests and VCR cassettes) in a temporary directory and runs its ``tests/``
with ``-p openai_v2_adapter``. The official package is not installed: this plugin
puts a module ``opentelemetry.instrumentation.openai_v2`` in its place whose
``OpenAIInstrumentor`` is ours, so every scenario (its conftest's fixtures, its
cassettes, its assertions) exercises our spans, metrics and logs.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import NoOpCounter

from instrumentors import config, semconv
from instrumentors.openai import OpenAIInstrumentor as _OpenAIInstrumentor

_MODULE = "opentelemetry.instrumentation.openai_v2"

# Test modules of the official package's internals (its request/response extractors,
# choice buffer, stream wrappers) and of util-genai's completion hook: nothing in them
# observes spans, metrics or logs of an instrumented call, so they do not apply to us.
NOT_APPLICABLE = frozenset(
    {
        "test_choice_buffer.py",
        "test_completion_hook.py",
        "test_request_attributes.py",
        "test_response_extractors.py",
        "test_response_wrappers.py",
    }
)


class OpenAIInstrumentor(_OpenAIInstrumentor):
    """Ours, re-reading the environment at each ``instrument()``.

    We read our settings once per process (and at ``setup()``); the official tests
    set the content-capture variable before each ``instrument()`` and reset their
    own cached settings (``_OpenTelemetrySemanticConventionStability``) the same way.
    """

    def instrument(self, **kwargs: Any) -> None:
        config.reload()
        provider = kwargs.get("meter_provider") or metrics.get_meter_provider()
        kwargs["meter_provider"] = _WithoutOurExtras(provider)
        super().instrument(**kwargs)


# Instruments we record that the official instrumentation does not: its metric tests
# count the metrics exactly, so ours go to a no-op instrument here and every other
# metric is still checked (docs/conformance.md).
OURS_ONLY = frozenset({semconv.GEN_AI_CLIENT_OPERATION_COST})


class _WithoutOurExtras:
    """A MeterProvider whose meters hand out no-op instruments for ``OURS_ONLY``."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def get_meter(self, *args: Any, **kwargs: Any) -> Any:
        return _Meter(self._inner.get_meter(*args, **kwargs))


class _Meter:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_counter(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if name in OURS_ONLY:
            return NoOpCounter(name)
        return self._inner.create_counter(name, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _install() -> None:
    module = types.ModuleType(_MODULE)
    module.OpenAIInstrumentor = OpenAIInstrumentor  # type: ignore[attr-defined]
    module.__doc__ = "agent-instrumentors' OpenAIInstrumentor in place of the official one."
    sys.modules[_MODULE] = module


_install()


def pytest_ignore_collect(collection_path, config):  # type: ignore[no-untyped-def]
    """Skip the official package's unit tests of its own internals (see NOT_APPLICABLE)."""
    return True if collection_path.name in NOT_APPLICABLE else None
