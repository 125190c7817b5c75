"""``examples/job_queue_agent.py`` runs offline and prints one trace across both processes."""

from __future__ import annotations

import re

import pytest

from tests._examples import run_example

pytest.importorskip("openai")


def test_job_queue_example_one_trace_across_processes() -> None:
    err = run_example("job_queue_agent.py").stderr
    lines = err.splitlines()
    (summary,) = [line for line in lines if line.startswith("one trace ")]
    assert re.fullmatch(
        r"one trace [0-9a-f]{32}: \d+ spans from research-agent, 3 from summariser-worker", summary
    )
    tree = "\n".join(lines)
    # The worker's spans hang under the agent's tool call: tool -> send -> process -> chat.
    tool = next(i for i, line in enumerate(lines) if "execute_tool summarise_later" in line)
    send, process, chat = (
        next(i for i, line in enumerate(lines) if name in line and i > tool)
        for name in ("send summarise", "process summarise", "chat gpt-4o-mini")
    )
    assert tool < send < process < chat
    indent = [len(lines[i]) - len(lines[i].lstrip("│ ├└─")) for i in (tool, send, process, chat)]
    assert indent == sorted(indent) and len(set(indent)) == 4
    spans = [line for line in lines if "─ " in line]
    assert len(spans) >= 12 and all("session=research-7" in line for line in spans)
    assert "SELECT" in tree and "INSERT" in tree  # the tool's cache queries
