"""A fault injected into each core hot path: the user's call still returns the same result."""

from __future__ import annotations

import asyncio
import importlib
import threading

import pytest
import tenacity

import instrumentors
from instrumentors import params, telemetry
from instrumentors.telemetry import _tool
from instrumentors.tenacity import TenacityInstrumentor

session = importlib.import_module("instrumentors.session")  # the module, not the class


def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
    raise RuntimeError("injected telemetry fault")


FAULTS = [
    (telemetry.Telemetry, "tool"),
    (telemetry.Telemetry, "tool_template"),
    (telemetry.Telemetry, "will_record"),
    (_tool, "hash_params"),
    (_tool.ToolRun, "param_attributes"),
    (_tool.ToolRun, "_finish"),
    (params, "canonical_json"),
    (session, "current_session_id"),
    (telemetry, "current_session_id"),
    (telemetry.Telemetry, "step"),
]


@pytest.mark.parametrize(("owner", "name"), FAULTS, ids=[f"{o.__name__}.{n}" for o, n in FAULTS])
def test_fault_in_core_keeps_the_result(exporter, monkeypatch, owner, name) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(owner, name, boom)

    @instrumentors.tool
    def add(a: int, b: int = 2) -> int:
        return a + b

    @instrumentors.tool
    async def aadd(a: int) -> int:
        return a + 1

    @instrumentors.tool
    def gen(n: int):  # type: ignore[no-untyped-def]
        yield from range(n)

    with instrumentors.agent_step("run"), instrumentors.session("s"):
        assert add(1) == 3
        assert asyncio.run(aadd(1)) == 2
        assert list(gen(3)) == [0, 1, 2]
    error = ValueError("user error")

    @instrumentors.tool
    def fails() -> None:
        raise error

    with pytest.raises(ValueError) as caught:
        fails()
    assert caught.value is error


def test_instrument_and_uninstrument_while_calls_run(exporter) -> None:
    stop = threading.Event()
    failures: list[BaseException] = []

    def worker() -> None:
        retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_none())
        calls = {"n": 0}

        def flaky() -> str:
            calls["n"] += 1
            if calls["n"] % 2:
                raise TimeoutError
            return "ok"

        while not stop.is_set():
            try:
                assert retrying(flaky) == "ok"
            except BaseException as exc:  # pragma: no cover - reported below
                failures.append(exc)
                return

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(50):
        TenacityInstrumentor().instrument()
        TenacityInstrumentor().uninstrument()
    stop.set()
    for t in threads:
        t.join()
    assert not failures
    assert not TenacityInstrumentor().is_instrumented_by_opentelemetry
