"""Packaging: lazy framework imports, public API names, entry points."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import instrumentors

FRAMEWORKS = (
    "openai",
    "langchain_core",
    "langgraph",
    "llama_index",
    "mcp",
    "httpx2",
    "tenacity",
    "pybreaker",
)


def test_import_loads_no_framework() -> None:
    code = (
        f"import sys, instrumentors\nprint(','.join(m for m in {FRAMEWORKS!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_names() -> None:
    for name in (
        "setup",
        "instrument_all",
        "session",
        "tool",
        "agent_step",
        "tool_call_id",
        "record_cache",
        "record_retry",
        "SessionSpanProcessor",
    ):
        assert name in instrumentors.__all__
        assert callable(getattr(instrumentors, name))


def test_tree_exporter_entry_point() -> None:
    (ep,) = [
        e for e in entry_points(group="opentelemetry_traces_exporter") if e.name == "agent_tree"
    ]
    from instrumentors.export import TreeSpanExporter

    assert ep.load() is TreeSpanExporter


def test_instrumentor_entry_points_load() -> None:
    ours = [
        e for e in entry_points(group="opentelemetry_instrumentor") if e.name.startswith("agent_")
    ]
    for ep in ours:
        cls = ep.load()
        assert hasattr(cls, "instrument") and hasattr(cls, "uninstrument")


def test_instrument_all_returns_names_of_installed_frameworks() -> None:
    from instrumentors.discovery import available

    names = instrumentors.instrument_all()
    assert set(names) <= set(available())
    assert instrumentors.instrument_all() == names  # idempotent
