"""The one patch-table helper every instrumentor's ``_wrappers.py`` is built from.

A table is a list of ``Patch(module, attribute, factory, available)`` rows. ``apply``
wraps each row's target with ``wrapt`` when its module is imported: at once for a
module already loaded, else from a post-import hook, so instrumenting never
imports a framework module the program does not. ``Patches.revert`` unwraps what
was applied and disarms the hooks still waiting.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Generic, TypeVar

_logger = logging.getLogger(__name__)

S = TypeVar("S")
Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Patch(Generic[S]):
    """One row of a patch table.

    ``attribute`` is dotted inside ``module`` (``"Class.method"`` or ``"function"``);
    ``factory`` turns the instrumentor's state (usually its ``Telemetry``) into the
    wrapt wrapper; ``available`` is an extra check run when the module is loaded
    (a version test); a row whose target is missing is skipped with a DEBUG log.
    """

    module: str
    attribute: str
    factory: Callable[[S], Wrapper]
    available: Callable[[], bool] | None = None


def fixed(wrapper: Wrapper) -> Callable[[Any], Wrapper]:
    """A factory for a wrapper that needs no state."""
    return lambda _state: wrapper


def attribute_exists(module: str, path: str) -> bool:
    """Whether ``module`` imports and has the dotted attribute ``path`` (``Class.method``)."""
    return _resolve(module, path) is not None


def _resolve(module: str, path: str) -> tuple[Any, str] | None:
    """(owner object, attribute name) of ``module.path``, or None when it is missing."""
    try:
        target: Any = importlib.import_module(module)
    except ImportError:
        return None
    *owners, name = path.split(".")
    for part in owners:
        target = getattr(target, part, None)
        if target is None:
            return None
    if getattr(target, name, None) is None:
        return None
    return target, name


class Patches(Generic[S]):
    """What ``apply`` did and still waits to do; ``revert()`` undoes it (idempotent)."""

    def __init__(self, table: Sequence[Patch[S]], state: S) -> None:
        self._state = state
        self._pending: dict[str, list[Patch[S]]] = {}
        for row in table:
            self._pending.setdefault(row.module, []).append(row)
        self._applied: list[tuple[Any, str]] = []
        self._active = True
        self._lock = threading.Lock()

    @property
    def applied(self) -> list[tuple[Any, str]]:
        """(owner, attribute) of every wrapped target, in order (for tests and ``revert``)."""
        return list(self._applied)

    def _arm(self) -> None:
        for module in list(self._pending):
            if module in sys.modules:
                self._apply_module(module)
            else:
                _register_hook(self, module)

    def on_import(self, module: ModuleType) -> None:
        """Post-import hook: patch what ``module`` holds, unless reverted meanwhile."""
        self._apply_module(module.__name__)

    def _apply_module(self, module: str) -> None:
        import wrapt

        with self._lock:
            rows = self._pending.pop(module, []) if self._active else []
            for row in rows:
                try:
                    if row.available is not None and not row.available():
                        continue
                    resolved = _resolve(row.module, row.attribute)
                    if resolved is None:
                        _logger.debug("not patching %s.%s: absent", row.module, row.attribute)
                        continue
                    owner, name = resolved
                    wrapt.wrap_function_wrapper(owner, name, row.factory(self._state))
                    self._applied.append((owner, name))
                except Exception:
                    _logger.debug("patching %s.%s failed", row.module, row.attribute, exc_info=True)

    def revert(self) -> None:
        """Unwrap every applied target and disarm the hooks still waiting."""
        from opentelemetry.instrumentation.utils import unwrap

        with self._lock:
            self._active = False
            self._pending.clear()
            applied, self._applied = self._applied, []
        for owner, name in reversed(applied):
            try:
                unwrap(owner, name)
            except Exception:
                _logger.debug("unwrapping %r.%s failed", owner, name, exc_info=True)


def _register_hook(patches: Patches[Any], module: str) -> None:
    from wrapt import register_post_import_hook

    register_post_import_hook(patches.on_import, module)


def apply(table: Iterable[Patch[S]], state: S) -> Patches[S]:
    """Patch every row whose module is loaded now; the others when they are imported."""
    patches = Patches(list(table), state)
    patches._arm()
    return patches
