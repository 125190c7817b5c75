"""Keep test directories from posing as libraries.

``tests/`` is on ``sys.path`` (its conftest has no package), so where a library
is not installed, ``tests/httpx2`` or ``tests/mcp`` would import as an empty
namespace package under the library's name, and code probing for the library
(``opentelemetry-instrumentation-httpx`` looks for ``httpx2``) would break.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def hide_test_dir_shadow(name: str) -> bool:
    """Make ``import name`` fail when all it would find is a directory under ``tests/``."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None or spec.origin is not None:
        return False
    locations = [Path(p).resolve() for p in spec.submodule_search_locations or []]
    if locations and all(p.parent == TESTS for p in locations):
        sys.modules[name] = None  # type: ignore[assignment]
        return True
    return False


def mcp_installed() -> bool:
    """The MCP SDK itself, not the ``tests/mcp`` directory."""
    try:
        return importlib.util.find_spec("mcp.client.session") is not None
    except (ImportError, ValueError):
        return False
