"""End to end across a process boundary: an agent process configured only by environment
(``OTEL_PROPAGATORS``, ``instrumentors.setup()``) calls an HTTP API in this process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.propagation._recorder import HeaderRecorder

ROOT = str(Path(__file__).resolve().parents[2])

AGENT = """
import sys
import httpx2
import instrumentors
from opentelemetry import trace

handle = instrumentors.setup(service_name="b3-agent", sli=False)
assert "agent_httpx2" in handle.instrumented, handle.instrumented
with instrumentors.session("sess-env"):
    with trace.get_tracer("agent").start_as_current_span("agent") as span:
        httpx2.get(sys.argv[1])
        print(format(span.get_span_context().trace_id, "032x"))
handle.shutdown()
"""


@pytest.mark.parametrize(
    ("propagators", "expected"),
    [
        ("b3", {"b3"}),
        ("b3multi,baggage", {"x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "baggage"}),
        ("tracecontext,baggage", {"traceparent", "baggage"}),
    ],
)
def test_otel_propagators_from_the_environment(
    propagators: str, expected: set[str], api: HeaderRecorder
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": ROOT,
        "OTEL_PROPAGATORS": propagators,
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        # importing the frameworks would only slow the process down
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "agent_mcp,agent_openai,agent_langchain,"
        "agent_llama_index",
    }
    done = subprocess.run(
        [sys.executable, "-c", AGENT, f"{api.url}/env"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    trace_id = done.stdout.strip()
    headers = api.trace_headers()
    assert set(headers) == expected
    if "b3" in headers:
        assert headers["b3"].startswith(trace_id)
    elif "x-b3-traceid" in headers:
        assert headers["x-b3-traceid"] == trace_id
    else:
        assert headers["traceparent"].split("-")[1] == trace_id
    if "baggage" in headers:
        assert headers["baggage"] == "agent.session_id=sess-env"
