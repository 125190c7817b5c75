"""Where one call of an icount driver's mode goes: bytecodes executed, by package and function.

Runs the driver (``benchmarks/icount/<driver>.py``) in this process with its usual
imports, setup and warm-up, then traces ONE call with ``sys.settrace`` and opcode
events, and prints the bytecodes executed per package and the functions that
execute the most (own bytecodes, calls). Deterministic and load-independent like
callgrind, and finer: callgrind sees the interpreter, this sees Python functions.
Bytecodes are not instructions (a call or a C builtin costs more than an add), so
use it to find the hot functions and callgrind (``run.py``) to measure a change::

    PYTHONPATH=/path/to/tree python benchmarks/icount/opcodes.py DRIVER MODE [--top N]
        [--only instrumentors]

Compare two modes (``bare`` and ``ours``) to see what our layer adds.
"""

from __future__ import annotations

import argparse
import collections
import runpy
import sys
import sysconfig
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _icount  # noqa: E402  (the drivers' shared module, patched below)

Key = tuple[str, str, int]
_PREFIXES = sorted(
    {sysconfig.get_paths()[name] + "/" for name in ("purelib", "platlib", "stdlib")}
    | {str(HERE.parents[1]) + "/"},
    key=len,
    reverse=True,
)


class Counter:
    """Opcode and call counts per code object while tracing is on."""

    def __init__(self) -> None:
        self.opcodes: collections.Counter[Key] = collections.Counter()
        self.calls: collections.Counter[Key] = collections.Counter()

    def trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        code = frame.f_code
        key = (code.co_filename, code.co_name, code.co_firstlineno)
        if event == "call":
            self.calls[key] += 1
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
        elif event == "opcode":
            self.opcodes[key] += 1
        return self.trace


def short(filename: str) -> str:
    for prefix in _PREFIXES:
        if filename.startswith(prefix):
            return filename[len(prefix) :]
    return filename


def package(filename: str) -> str:
    parts = short(filename).split("/")
    return "/".join(parts[:2]) if parts[0] in ("opentelemetry", "instrumentors") else parts[0]


def report(counter: Counter, top: int, only: str | None) -> None:
    by_package: collections.Counter[str] = collections.Counter()
    for (filename, _, _), count in counter.opcodes.items():
        by_package[package(filename)] += count
    total, calls = sum(counter.opcodes.values()), sum(counter.calls.values())
    print(f"one call: {total:,} bytecodes in {calls:,} Python calls")
    for name, count in by_package.most_common(25):
        print(f"  {count:8,}  {name}")
    print("functions (own bytecodes, calls):")
    shown = 0
    for (filename, name, line), count in counter.opcodes.most_common():
        where = short(filename)
        if only and not where.startswith(only):
            continue
        print(f"  {count:6,} {counter.calls[(filename, name, line)]:5}  {where}:{line} {name}")
        shown += 1
        if shown >= top:
            break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("driver", help="a driver in benchmarks/icount, without .py")
    parser.add_argument("mode")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--only", help="show only functions under this path prefix")
    args = parser.parse_args()
    counter = Counter()

    def measure(
        mode: str, fn: Callable[[], object], calls: int, warmup: int, exporter: Any
    ) -> None:
        for _ in range(warmup):
            fn()
        sys.settrace(counter.trace)
        try:
            fn()
        finally:
            sys.settrace(None)
        report(counter, args.top, args.only)

    async def measure_async(
        mode: str, fn: Callable[[], Awaitable[object]], calls: int, warmup: int, exporter: Any
    ) -> None:
        for _ in range(warmup):
            await fn()
        sys.settrace(counter.trace)
        try:
            await fn()
        finally:
            sys.settrace(None)
        report(counter, args.top, args.only)

    _icount.measure = measure  # type: ignore[assignment]
    _icount.measure_async = measure_async  # type: ignore[assignment]
    sys.argv = [args.driver, args.mode, "1"]
    runpy.run_path(str(HERE / f"{args.driver}.py"), run_name="__main__")


if __name__ == "__main__":
    main()
