"""Every Agents SDK private name ``instrumentors/openai_agents/_compat.py`` relies on, checked
here, and the public tracing API the bridge stands on.

A failure here means the SDK renamed or dropped a name: restoring its processors on
``uninstrument()`` falls back on public ground (one DEBUG log), and this test tells the
compat matrix first.
"""

from __future__ import annotations

import importlib

import pytest

pytest.importorskip("agents")

from agents import tracing
from oa_support import Recorder

from instrumentors.openai_agents import _compat


def test_the_names_listed_are_the_names_checked() -> None:
    assert [name for _, name in _compat.PRIVATE_NAMES] == [
        "DefaultTraceProvider._multi_processor",
        "SynchronousMultiTracingProcessor._processors",
    ]


def test_the_default_provider_keeps_its_processors_where_we_read_them() -> None:
    module = importlib.import_module(_compat.PRIVATE_NAMES[0][0])
    provider = module.DefaultTraceProvider()  # instance attributes: made in __init__
    multi = provider._multi_processor
    assert isinstance(multi, module.SynchronousMultiTracingProcessor)
    assert multi._processors == ()
    recorder = Recorder()
    provider.set_processors([recorder])
    assert _compat.current_processors(provider) == [recorder]


def test_a_provider_without_them_reads_as_none(caplog) -> None:
    assert _compat.current_processors(object()) is None


def test_the_public_tracing_api() -> None:
    for name in (
        "TracingProcessor",
        "add_trace_processor",
        "set_trace_processors",
        "get_trace_provider",
        "AgentSpanData",
        "FunctionSpanData",
        "GenerationSpanData",
        "ResponseSpanData",
        "HandoffSpanData",
        "GuardrailSpanData",
        "CustomSpanData",
    ):
        assert hasattr(tracing, name), name
    from agents.tracing.processors import default_processor

    assert callable(default_processor)
    from agents.run import Runner

    for method in ("run", "run_sync", "run_streamed"):
        assert callable(getattr(Runner, method))
