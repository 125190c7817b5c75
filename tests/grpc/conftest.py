"""Fixtures for the gRPC tests: the official instrumentation as ``instrument_all()`` enables it,
and a real grpcio server on 127.0.0.1 in this process."""

from __future__ import annotations

import importlib.util

from tests.propagation._propagators import use_propagators  # noqa: F401 - a fixture
from tests.propagation._shadow import hide_test_dir_shadow

hide_test_dir_shadow("grpc")  # tests/grpc is not the library


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


if _installed("grpc") and _installed("opentelemetry.instrumentation.grpc"):
    from tests.grpc._service import grpc_enabled, weather  # noqa: F401 - fixtures
else:  # the `grpc` extra is not installed here (a compat virtualenv)
    collect_ignore_glob = ["test_*.py"]
