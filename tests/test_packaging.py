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
    # In a subprocess: instrumenting is process-wide and would leak into other tests.
    code = (
        "import instrumentors\n"
        "from instrumentors.discovery import available\n"
        "names = instrumentors.instrument_all()\n"
        "assert set(names) <= set(available()), names\n"
        "assert instrumentors.instrument_all() == names\n"
        "print(','.join(names))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "agent_tenacity" in out.stdout.strip().split(",")


def test_instrument_all_defers_until_the_framework_is_imported() -> None:
    code = (
        "import sys, instrumentors\n"
        "names = instrumentors.instrument_all()\n"
        "assert 'agent_tenacity' in names, names\n"
        "assert 'tenacity' not in sys.modules\n"
        "import tenacity\n"
        "from instrumentors.tenacity import TenacityInstrumentor\n"
        "assert TenacityInstrumentor().is_instrumented_by_opentelemetry\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


def test_disabled_instrumentations_are_skipped() -> None:
    import os

    code = "import instrumentors; print(','.join(instrumentors.instrument_all()))"
    env = dict(os.environ, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="agent_tenacity")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    names = out.stdout.strip().split(",")
    assert "agent_tenacity" not in names and "agent_pybreaker" in names


def test_import_stays_light() -> None:
    heavy = ("opentelemetry.util.genai", "opentelemetry.sdk.metrics", "wrapt", "importlib.metadata")
    code = f"import sys, instrumentors\nprint(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
