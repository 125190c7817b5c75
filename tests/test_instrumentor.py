"""The shared instrumentor lifecycle: lazy start on the framework's import, patch tables."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types

import pytest

from instrumentors import _patching
from instrumentors._patching import Patch, fixed


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_instrument_waits_for_the_framework_import_then_patches() -> None:
    out = _run(
        """
        import sys
        from instrumentors.tenacity import TenacityInstrumentor
        inst = TenacityInstrumentor()
        inst.instrument()
        print("imported-before" if "tenacity" in sys.modules else "lazy", inst.started)
        import tenacity
        print(hasattr(tenacity.BaseRetrying.iter, "__wrapped__"), inst.started)
        inst.uninstrument()
        print(hasattr(tenacity.BaseRetrying.iter, "__wrapped__"), inst.started)
        """
    )
    assert out.splitlines() == ["lazy False", "True True", "False False"]


def test_uninstrument_before_the_import_cancels_the_wait() -> None:
    out = _run(
        """
        from instrumentors.tenacity import TenacityInstrumentor
        inst = TenacityInstrumentor()
        inst.instrument()
        inst.uninstrument()
        import tenacity
        print(hasattr(tenacity.BaseRetrying.iter, "__wrapped__"), inst.started)
        """
    )
    assert out == "False False"


def test_instrumenting_twice_never_stacks_wrappers() -> None:
    out = _run(
        """
        import tenacity
        from instrumentors.tenacity import TenacityInstrumentor
        inst = TenacityInstrumentor()
        inst.instrument()
        inst.uninstrument()
        inst.instrument()
        inner = tenacity.BaseRetrying.iter.__wrapped__
        print(hasattr(inner, "__wrapped__"))
        inst.uninstrument()
        print(hasattr(tenacity.BaseRetrying.iter, "__wrapped__"))
        """
    )
    assert out.splitlines() == ["False", "False"]


def _fake_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)

    class Target:
        def method(self) -> str:
            return "original"

    module.Target = Target  # type: ignore[attr-defined]
    return module


def test_patch_table_applies_when_the_module_is_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def wrapper(wrapped, instance, args, kwargs):  # type: ignore[no-untyped-def]
        calls.append("wrapped")
        return wrapped(*args, **kwargs)

    table = [
        Patch("instrumentors_fake_lib", "Target.method", fixed(wrapper)),
        Patch("instrumentors_fake_lib", "Target.absent", fixed(wrapper)),
        Patch("instrumentors_fake_lib", "Target.method", fixed(wrapper), lambda: False),
    ]
    patches = _patching.apply(table, None)
    assert patches.applied == []  # not imported yet: waiting
    module = _fake_module("instrumentors_fake_lib")
    monkeypatch.setitem(sys.modules, "instrumentors_fake_lib", module)
    patches.on_import(module)  # what the post-import hook calls
    assert module.Target().method() == "original" and calls == ["wrapped"]
    assert len(patches.applied) == 1  # the absent target and the unavailable row are skipped
    patches.revert()
    assert module.Target().method() == "original" and calls == ["wrapped"]
    patches.on_import(module)  # a late hook after revert does nothing
    assert patches.applied == []


def test_a_failing_factory_skips_its_row_only(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _fake_module("instrumentors_fake_lib2")
    monkeypatch.setitem(sys.modules, "instrumentors_fake_lib2", module)

    def broken(_state: object):  # type: ignore[no-untyped-def]
        raise RuntimeError("bug in our factory")

    patches = _patching.apply([Patch("instrumentors_fake_lib2", "Target.method", broken)], None)
    assert patches.applied == [] and module.Target().method() == "original"
