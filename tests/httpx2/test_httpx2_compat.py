"""Every httpx2 internal our layer relies on (``instrumentors/httpx2/_compat.py``), by name,
and what happens without it; the public patch targets; the lazy start."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentors._patching import attribute_exists
from instrumentors.httpx2 import HTTPX2Instrumentor, _compat, _wrappers
from tests.propagation._recorder import HeaderRecorder

ROOT = str(Path(__file__).resolve().parents[2])


def test_redirect_headers_exists() -> None:
    module, attribute = _compat.REDIRECT_HEADERS
    assert attribute_exists(module, attribute)


def test_every_patch_target_exists() -> None:
    missing = [
        f"{row.module}.{row.attribute}"
        for row in _wrappers.PATCHES
        if not attribute_exists(row.module, row.attribute)
    ]
    assert missing == []
    assert len(_wrappers.PATCHES) == 3


def test_without_the_internal_requests_still_get_their_span(
    exporter: InMemorySpanExporter, api: HeaderRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, attribute = _compat.REDIRECT_HEADERS
    owner_name, name = attribute.split(".")
    monkeypatch.delattr(getattr(importlib.import_module(module), owner_name), name)
    instrumentor = HTTPX2Instrumentor()
    instrumentor.instrument()
    try:
        with httpx2.Client() as client:
            assert client.get(api.url).status_code == 200
    finally:
        instrumentor.uninstrument()
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET"
    assert "traceparent" in api.trace_headers()


LAZY = """
import sys
from instrumentors.httpx2 import HTTPX2Instrumentor

HTTPX2Instrumentor().instrument()
assert "httpx2" not in sys.modules, "instrumenting imported httpx2"
import httpx2
assert hasattr(httpx2.Client.send, "__wrapped__"), "not patched on import"
assert hasattr(httpx2.AsyncClient.send, "__wrapped__")
print("ok")
"""


def test_instrumenting_waits_for_the_import() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LAZY],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
