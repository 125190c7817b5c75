"""Run every benchmark, print the results, and write them with the machine description.

Each benchmark runs in its own interpreter (Simple and Batch span processors
where the script supports both); those whose framework is not installed are
listed as skipped. The combined output goes to stdout and to
``benchmarks/results/<date>-<host>.md``.

    python benchmarks/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (script, module that must be importable, extra args for --quick, supports --batch)
BENCHMARKS = [
    ("overhead.py", None, ["--rounds", "10"], True),
    ("footprint.py", None, ["--calls", "20000"], False),
    ("openai_overhead.py", "openai", ["--rounds", "10"], True),
    ("langchain_overhead.py", "langgraph", ["--rounds", "5"], True),
    ("llama_index_overhead.py", "llama_index.core", ["--rounds", "5"], True),
    ("mcp_overhead.py", "mcp", ["--rounds", "5"], False),
    ("jobs_overhead.py", None, ["--rounds", "10"], False),
]


def machine() -> str:
    """One paragraph describing where the numbers were taken."""
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.platform()}; Python {platform.python_version()}; {os.cpu_count()} CPUs ({cpu});"
        f" load average {load}"
    )


def run(script: str, args: list[str]) -> str:
    result = subprocess.run(
        [sys.executable, str(HERE / script), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    text = result.stdout.strip()
    if result.returncode != 0:
        text += f"\n(exit {result.returncode})\n{result.stderr.strip()[-2000:]}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args()
    sections = [
        f"# Benchmarks {dt.datetime.now().isoformat(timespec='seconds')}",
        "",
        machine(),
        "",
    ]
    for script, module, quick, batch in BENCHMARKS:
        if module is not None and importlib.util.find_spec(module.split(".")[0]) is None:
            sections += [f"## {script}", "", f"skipped: {module} is not installed", ""]
            continue
        extra = quick if args.quick else []
        variants = [extra, [*extra, "--batch"]] if batch else [extra]
        for variant in variants:
            title = f"{script} {' '.join(variant)}".strip()
            print(f"running {title} ...", file=sys.stderr, flush=True)
            sections += [f"## {title}", "", "```", run(script, variant), "```", ""]
    report = "\n".join(sections)
    print(report)
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    name = f"{dt.date.today().isoformat()}-{platform.node() or 'host'}.md"
    (out_dir / name).write_text(report)
    print(f"written to {out_dir / name}", file=sys.stderr)


if __name__ == "__main__":
    main()
