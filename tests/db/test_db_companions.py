"""``instrument_all()`` and the official gRPC, Celery, Redis, SQLAlchemy companions and sqlite3:
nothing imported before the program does, each enabled once its library is imported."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# The instrumentations, not the libraries: tests/grpc could pose as ``grpc`` on sys.path.
for _name in ("grpc", "celery", "redis", "dbapi"):
    pytest.importorskip(f"opentelemetry.instrumentation.{_name}")

LIBRARIES = ("grpc", "celery", "redis", "sqlalchemy", "sqlite3")


def run(code: str, **env: str) -> str:
    """``code`` in a fresh interpreter (instrumenting is process-wide); its stdout."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environment.update(env)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.rstrip("\n")


CHECK = """
import sys, instrumentors
names = instrumentors.instrument_all()
print(",".join(m for m in {libraries!r} if m in sys.modules))
import grpc, celery, redis, sqlite3
from opentelemetry.instrumentation.grpc import GrpcInstrumentorClient, GrpcInstrumentorServer
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from instrumentors import _grpc_hooks
print(GrpcInstrumentorClient().is_instrumented_by_opentelemetry,
      GrpcInstrumentorServer().is_instrumented_by_opentelemetry,
      CeleryInstrumentor().is_instrumented_by_opentelemetry,
      RedisInstrumentor().is_instrumented_by_opentelemetry,
      _grpc_hooks._state["client"],
      type(sqlite3.connect(":memory:")).__name__)
"""


def test_enabled_once_imported_and_not_before() -> None:
    before, after = run(CHECK.format(libraries=LIBRARIES)).splitlines()
    assert before == ""
    assert after == "True True True True True TracedConnection"


def test_disabled_by_entry_point_name() -> None:
    disabled = "grpc_client,celery,agent_sqlite3"
    _, after = run(
        CHECK.format(libraries=LIBRARIES), OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=disabled
    ).splitlines()
    assert after == "False True False True False Connection"


def test_the_programs_own_instrumentation_stays_as_it_is() -> None:
    code = (
        "import grpc\n"
        "from opentelemetry.instrumentation.grpc import GrpcInstrumentorClient\n"
        "GrpcInstrumentorClient().instrument()\n" + CHECK.format(libraries=())
    )
    _, after = run(code).splitlines()
    assert after.split()[:2] == ["True", "True"]
    assert after.split()[4] == "False"  # no gate of ours under the program's own wrapper
