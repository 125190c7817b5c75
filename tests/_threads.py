"""Running test work in several threads at once."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable


def run_in_threads(
    work: Callable[[int], object], count: int, copy_context: bool = False
) -> list[BaseException]:
    """``work(0..count-1)``, each in its own thread, all released together; what they raised.

    ``copy_context``: each thread runs in a copy of the caller's context (what a
    ``ThreadPoolExecutor`` under ``contextvars.copy_context().run`` gives).
    """
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            barrier.wait()
            work(n)
        except BaseException as exc:  # reported to the test, which asserts on it
            errors.append(exc)

    threads = [
        threading.Thread(
            target=contextvars.copy_context().run if copy_context else run,
            args=(run, n) if copy_context else (n,),
        )
        for n in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
