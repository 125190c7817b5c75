"""Instructions per call of each icount driver, by mode, counted with valgrind's callgrind.

Each (driver, mode) runs twice under ``valgrind --tool=callgrind``, with N measured
calls and with none (same imports, setup and warm-up); the difference divided by N
is the count per call, which the load of a shared machine does not change
(``PYTHONHASHSEED=0`` makes the runs repeat exactly; drivers with a server thread
can still differ by a few hundredths of a percent, which ``--repeat`` shows).
Ratios compare our cost per span emitted with a bare SDK span started in the same
place with the same attributes. ``instrumentors`` comes from ``PYTHONPATH``::

    PYTHONPATH=/path/to/tree python benchmarks/icount/run.py [WORKLOAD ...]
        [--calls N] [--repeat R] [--jobs J] [--no-helper]

With a C compiler and valgrind's headers, ``_client_requests.c`` is built once (into
the temp directory) so that only the measured loop is instrumented (``--no-helper``:
count the whole process, slower, same result). One JSON line per workload is
printed after its table (lines starting with ``{``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Ratio:
    """Ours against a bare reference, per span emitted, both above ``base``."""

    label: str
    ours: str
    bare: str
    base: str
    ours_base: str | None = None  # ours' own base when it differs (new-args cases)


@dataclass(frozen=True)
class Workload:
    script: str
    modes: tuple[str, ...]
    calls: int
    ratios: tuple[Ratio, ...]


def _framework(script: str, calls: int, what: str, handler: str = "handler") -> Workload:
    """A framework workload: ours against a bare-span {handler} at the same hooks, above
    plain and above a no-op {handler} (the floor the issue names: the framework's own
    callback work cancels out)."""
    return Workload(
        script,
        ("plain", "noop", "bare", "ours"),
        calls,
        (
            Ratio(f"{what} vs bare-span {handler}", "ours", "bare", "plain"),
            Ratio(f"{what} vs bare-span {handler}, above a no-op one", "ours", "bare", "noop"),
        ),
    )


WORKLOADS = {
    "tool": Workload(
        "tool.py",
        ("plain", "bare", "ours", "plain-new", "ours-new"),
        2000,
        (
            Ratio("@tool vs bare span (same args)", "ours", "bare", "plain"),
            Ratio("@tool vs bare span (new args)", "ours-new", "bare", "plain", "plain-new"),
        ),
    ),
    "openai": Workload(
        "openai_chat.py",
        ("plain", "bare5", "bare", "ours"),
        200,
        (
            Ratio("chat vs bare span, same attributes", "ours", "bare", "plain"),
            Ratio("chat vs bare span, 5 attributes", "ours", "bare5", "plain"),
        ),
    ),
    "anthropic": Workload(
        "anthropic_chat.py",
        ("plain", "bare", "ours"),
        200,
        (Ratio("messages.create vs bare span, same attributes", "ours", "bare", "plain"),),
    ),
    "gemini": Workload(
        "gemini_chat.py",
        ("plain", "bare5", "bare", "ours"),
        200,
        (
            Ratio("generate_content vs bare span, same attributes", "ours", "bare", "plain"),
            Ratio("generate_content vs bare span, 5 attributes", "ours", "bare5", "plain"),
        ),
    ),
    "langchain": _framework("langchain_step.py", 300, "step"),
    "langgraph": _framework("langgraph_run.py", 100, "ReAct agent run"),
    "llama_index": _framework("llama_index_step.py", 300, "chat + tool"),
    "llama_index_agent": _framework("llama_index_agent.py", 20, "FunctionAgent run"),
    "agents": _framework("agents_run.py", 50, "Runner.run", handler="processor"),
    "mcp": Workload(
        "mcp_call.py",
        ("plain", "bare", "ours"),
        200,
        (Ratio("call_tool vs bare span, same attributes", "ours", "bare", "plain"),),
    ),
}


def build_helper() -> str | None:
    """The compiled client-request helper, built once per source version; None without cc."""
    source = HERE / "_client_requests.c"
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    target = Path(tempfile.gettempdir()) / f"instrumentors-icount-{digest}.so"
    if not target.exists():
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        built = subprocess.run(
            [compiler, "-O2", "-shared", "-fPIC", "-o", str(partial), str(source)],
            capture_output=True,
            check=False,
            text=True,
        )
        if built.returncode != 0:
            print(f"(no client-request helper: {built.stderr.strip()[:200]})", file=sys.stderr)
            return None
        partial.replace(target)
    return str(target)


def count(script: str, mode: str, calls: int, helper: str | None) -> tuple[int, dict[str, int]]:
    """Instructions of one driver run, and the driver's JSON report."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    if helper:
        env["ICOUNT_HELPER"] = helper
        command.append("--instr-atstart=no")
    else:
        env.pop("ICOUNT_HELPER", None)
    command += [sys.executable, str(HERE / script), mode, str(calls)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    found = re.search(r"Collected : (\d+)", result.stderr)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or found is None or not lines:
        raise RuntimeError(f"{script} {mode} {calls} failed:\n{result.stderr[-3000:]}")
    return int(found.group(1)), json.loads(lines[-1])


@dataclass
class Measured:
    per_call: list[float]  # one value per repetition
    spans: float  # spans exported per measured call
    ours: float  # spans of our scopes per measured call

    @property
    def value(self) -> float:
        return statistics.median(self.per_call)


def measure(
    workload: Workload, calls: int, repeat: int, jobs: int, helper: str | None
) -> dict[str, Measured]:
    """Per-call instructions of every mode (N and 0 runs, ``repeat`` times)."""
    tasks = [(mode, n, rep) for rep in range(repeat) for mode in workload.modes for n in (calls, 0)]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            task: pool.submit(count, workload.script, task[0], task[1], helper) for task in tasks
        }
        results = {task: future.result() for task, future in futures.items()}
    measured: dict[str, Measured] = {}
    for mode in workload.modes:
        per_call = [
            (results[(mode, calls, rep)][0] - results[(mode, 0, rep)][0]) / calls
            for rep in range(repeat)
        ]
        report = results[(mode, calls, 0)][1]
        measured[mode] = Measured(per_call, report["spans"] / calls, report["ours"] / calls)
    return measured


def show(name: str, workload: Workload, measured: dict[str, Measured], helper: bool) -> None:
    plain = measured[workload.modes[0]].value
    print(f"{name}: instructions per call ({'measured loop only' if helper else 'whole process'})")
    print(f"  {'mode':<10}{'instr/call':>14}{'above plain':>14}{'spans/call':>12}  spread")
    for mode, m in measured.items():
        spread = max(m.per_call) - min(m.per_call)
        print(
            f"  {mode:<10}{m.value:14,.0f}{m.value - plain:14,.0f}{m.spans:12.2f}"
            f"  {spread:,.0f} over {len(m.per_call)} run(s)"
        )
    ratios = {}
    for r in workload.ratios:
        ours, bare = measured[r.ours], measured[r.bare]
        base = measured[r.base]
        ours_base = measured[r.ours_base or r.base]
        ours_spans = ours.ours or 1.0
        bare_spans = (bare.spans - base.spans) or 1.0
        per_span = (ours.value - ours_base.value) / ours_spans
        bare_per_span = (bare.value - base.value) / bare_spans
        ratios[r.label] = per_span / bare_per_span
        print(
            f"  {r.label}: ours {per_span:,.0f} per span ({ours_spans:g} span(s)),"
            f" bare {bare_per_span:,.0f} per span ({bare_spans:g}): {ratios[r.label]:.2f}x"
        )
    record = {
        "workload": name,
        "instructions": {mode: round(m.value, 1) for mode, m in measured.items()},
        "spread": {mode: max(m.per_call) - min(m.per_call) for mode, m in measured.items()},
        "spans": {mode: m.spans for mode, m in measured.items()},
        "ours_spans": {mode: m.ours for mode, m in measured.items()},
        "ratios": {label: round(value, 3) for label, value in ratios.items()},
        "helper": helper,
    }
    print(json.dumps(record), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workloads", nargs="*", help=f"some of {', '.join(WORKLOADS)}")
    parser.add_argument("--calls", type=int, help="measured calls (default: per workload)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each mode")
    parser.add_argument("--jobs", type=int, default=1, help="valgrind processes at once")
    parser.add_argument("--no-helper", action="store_true", help="count the whole process")
    args = parser.parse_args()
    unknown = set(args.workloads) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")
    helper = None if args.no_helper else build_helper()
    import instrumentors

    print(f"instrumentors from {os.path.dirname(instrumentors.__file__)}")
    for name in args.workloads or list(WORKLOADS):
        workload = WORKLOADS[name]
        calls = args.calls or workload.calls
        measured = measure(workload, calls, args.repeat, args.jobs, helper)
        show(name, workload, measured, helper is not None)


if __name__ == "__main__":
    main()
