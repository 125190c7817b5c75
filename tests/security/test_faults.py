"""The agent never waits for telemetry: slow and hung exporters, a stderr nobody reads.

Each agent runs in a fresh interpreter (``setup()`` sets process globals), with
real SDK processors and, where it matters, the real OTLP/HTTP exporter.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXPORTERS = textwrap.dedent(
    """
    import json, sys, threading, time
    import instrumentors
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Slow(SpanExporter):
        '''One second per export, as a far-away backend.'''
        def __init__(self):
            self.exported, self.threads = 0, set()
        def export(self, spans):
            self.threads.add(threading.current_thread().name)
            time.sleep(1.0)
            self.exported += len(spans)
            return SpanExportResult.SUCCESS

    class Hung(SpanExporter):
        '''Never returns: a backend that accepted the connection and went silent.'''
        def export(self, spans):
            threading.Event().wait()

    @instrumentors.tool
    def ping(x: int) -> int:
        return x

    def timed_calls(n):
        slowest = 0.0
        for i in range(n):
            start = time.perf_counter()
            ping(i)
            slowest = max(slowest, time.perf_counter() - start)
        return slowest
    """
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_INSTRUMENTORS_"))
    }
    env.update(extra)
    return env


def run(body: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", EXPORTERS + textwrap.dedent(body)],
        capture_output=True,
        text=True,
        env=env or clean_env(),
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def last_json(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode == 0, result.stderr
    loaded: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_a_slow_exporter_adds_nothing_to_a_tool_call() -> None:
    result = run(
        """
        slow = Slow()
        handle = instrumentors.setup(exporter=slow, instrument=False)
        slowest = timed_calls(5)
        handle.shutdown()
        print(json.dumps({"slowest": slowest, "exported": slow.exported,
                          "threads": sorted(slow.threads)}))
        """
    )
    report = last_json(result)
    assert report["slowest"] < 0.3  # each export takes 1 s: none of it on the agent's thread
    assert report["exported"] == 5  # and every span still got out, at shutdown
    assert "MainThread" not in report["threads"]  # type: ignore[operator]


def test_a_simple_processor_when_asked_for_exports_on_the_calling_thread() -> None:
    result = run(
        """
        slow = Slow()
        handle = instrumentors.setup(exporter=slow, span_processor="simple", instrument=False)
        slowest = timed_calls(2)
        print(json.dumps({"slowest": slowest, "exported": slow.exported,
                          "threads": sorted(slow.threads)}))
        """
    )
    report = last_json(result)
    assert report["exported"] == 2 and report["threads"] == ["MainThread"]
    assert report["slowest"] >= 1.0


def test_shutdown_with_a_hung_exporter_is_bounded_and_counts_what_it_dropped() -> None:
    result = run(
        """
        handle = instrumentors.setup(exporter=Hung(), shutdown_timeout=1.0, instrument=False)
        slowest = timed_calls(7)
        start = time.perf_counter()
        handle.shutdown()
        took = time.perf_counter() - start
        print(json.dumps({"slowest": slowest, "took": took, "dropped": handle.dropped_spans}))
        """
    )
    report = last_json(result)
    assert report["slowest"] < 0.3
    assert 0.9 <= report["took"] < 2.0  # type: ignore[operator]
    assert report["dropped"] == 7
    (line,) = [line for line in result.stderr.splitlines() if "dropped" in line]
    assert "7 spans were dropped" in line and "1 s" in line


@pytest.fixture
def silent_collector() -> Iterator[str]:
    """An OTLP/HTTP endpoint that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_the_exit_hook_is_bounded_by_the_environment_setting(silent_collector: str) -> None:
    env = clean_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=silent_collector,
        OTEL_METRICS_EXPORTER="none",
        AGENT_INSTRUMENTORS_SHUTDOWN_TIMEOUT="1",
    )
    start = time.perf_counter()
    result = run(
        """
        handle = instrumentors.setup(instrument=False)
        timed_calls(3)
        print(json.dumps({"exporters": handle.exporters, "timeout": handle.shutdown_timeout}))
        """,  # no shutdown(): the exit hook runs it
        env,
    )
    took = time.perf_counter() - start
    assert last_json(result) == {"exporters": ["otlp"], "timeout": 1.0}
    # The OTLP exporter alone would wait 10 s per attempt for this collector.
    assert took < 6.0, took
    assert "3 spans were dropped" in result.stderr


def test_the_tree_view_never_blocks_on_a_stderr_nobody_reads() -> None:
    code = EXPORTERS + textwrap.dedent(
        """
        handle = instrumentors.setup(service_name="unread", instrument=False)
        slowest = timed_calls(5000)
        print(json.dumps({"slowest": slowest, "dropped": handle.tree.dropped_lines}), flush=True)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,  # never read: fills after about 500 trees
        env=clean_env(AGENT_INSTRUMENTORS_SHUTDOWN_TIMEOUT="1"),
        cwd=ROOT,
    )
    try:
        returncode = process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail("the agent blocked writing the tree view to a full stderr pipe")
    assert process.stdout is not None and process.stderr is not None
    out = process.stdout.read().decode()
    process.stdout.close()
    process.stderr.close()
    assert returncode == 0
    report = json.loads(out.strip().splitlines()[-1])
    assert report["dropped"] > 0  # lines were dropped, and counted
    assert report["slowest"] < 1.0
