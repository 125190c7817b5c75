"""Fork safety: tool calls made in forked children are exported, not lost.

A real ``multiprocessing`` pool (start method ``fork``) runs tool calls in its
workers; the spans go over OTLP/HTTP to a receiver in the test process, or to
the tree view on stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from tests.fakes.otlp_receiver import HTTPReceiver

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")

AGENT = textwrap.dedent(
    """
    import json, multiprocessing, os, sys
    import instrumentors

    options = json.loads(sys.argv[1])
    handle = instrumentors.setup(service_name="forking", instrument=False, **options["setup"])

    @instrumentors.tool
    def work(i: int) -> int:
        return i * 2

    @instrumentors.tool
    def warm_up() -> int:
        return os.getpid()

    # The parent exports before it forks: its HTTP connection is open and pooled.
    warm_up()
    handle.force_flush()
    with instrumentors.agent_step("fan-out"):
        # Forked inside the step: the workers' spans are children of a span that never
        # ends in their process, so the tree view buffers them until the worker exits.
        pool = multiprocessing.get_context("fork").Pool(4, maxtasksperchild=options["per_child"])
        results = pool.map(work, range(40), chunksize=1)
        pool.close()
        pool.join()  # workers leave through os._exit: no atexit hook runs there
    handle.shutdown()
    print(json.dumps({"sum": sum(results)}))
    """
)


def run(setup: dict[str, object], env: dict[str, str], per_child: int | None) -> str:
    full = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_INSTRUMENTORS_"))
    }
    full.update(env)
    result = subprocess.run(
        [sys.executable, "-c", AGENT, json.dumps({"setup": setup, "per_child": per_child})],
        capture_output=True,
        text=True,
        env=full,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"sum": 2 * sum(range(40))}
    return result.stderr


@pytest.mark.parametrize("per_child", [None, 3], ids=["long-lived-workers", "maxtasksperchild"])
def test_every_span_from_pool_workers_arrives_over_otlp(per_child: int | None) -> None:
    with HTTPReceiver() as receiver:
        run({"endpoint": receiver.endpoint}, {"OTEL_METRICS_EXPORTER": "none"}, per_child)
    names = Counter(span["name"] for span in receiver.spans)
    assert names == {"execute_tool work": 40, "execute_tool warm_up": 1, "fan-out": 1}
    work = [s for s in receiver.spans if s["name"] == "execute_tool work"]
    assert len({s["span_id"] for s in work}) == 40  # each exported once, by its own worker


def test_every_span_from_pool_workers_reaches_the_tree_view() -> None:
    stderr = run({}, {}, None)
    # Each worker prints its own calls at exit; the parent prints its trace once.
    assert stderr.count("execute_tool work") == 40
    assert stderr.count("execute_tool warm_up") == 1
    assert stderr.count("─ fan-out") == 1
    assert stderr.count("SLIs") == 1  # the table is the parent's, not once per worker
