"""``AgentInstrumentor``: the one lifecycle every instrumentor of ours shares.

``instrument()`` never imports the framework. When the framework's ``trigger``
module is not loaded yet, starting waits for it in a post-import hook, on every
path (``setup()``, ``instrument_all()``, ``opentelemetry-instrument`` and a direct
``.instrument()``); ``uninstrument()`` before then cancels the wait. Instrumenting
twice never stacks wrappers. A subclass names its versions, trigger and scope,
and either lists a patch table (``_patches``) or overrides ``_start``/``_stop``.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from instrumentors._patching import Patch, Patches, apply

if TYPE_CHECKING:
    from instrumentors.telemetry import Telemetry

_logger = logging.getLogger(__name__)


class AgentInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Base of our instrumentors: lazy start on the framework's import, idempotent stop."""

    _instruments: ClassVar[tuple[str, ...]] = ()
    trigger: ClassVar[str] = ""  # the module whose import lets this instrumentor start
    scope: ClassVar[str] = "instrumentors"
    # Model-call layers: loading the price database (about 0.5 s) starts in the background
    # when they start, so the first priced call does not pay it.
    prices_calls: ClassVar[bool] = False

    # BaseInstrumentor is a singleton per class: this state lives on its one instance.
    _state: Any = None
    _generation: int = 0
    _start_lock: ClassVar[threading.RLock] = threading.RLock()

    def instrumentation_dependencies(self) -> Collection[str]:
        """The framework versions this instrumentor supports (pip requirement strings)."""
        return self._instruments

    @property
    def started(self) -> bool:
        """True once the framework was imported and the instrumentation is in place."""
        return self._state is not None

    def _instrument(self, **kwargs: Any) -> None:
        self._stop_now()  # instrumenting again must not stack a second layer
        self._generation += 1
        generation, options = self._generation, dict(kwargs)
        if not self.trigger or self.trigger in sys.modules:
            self._start_now(generation, options)
            return
        from wrapt import register_post_import_hook

        register_post_import_hook(
            lambda _module: self._start_now(generation, options), self.trigger
        )

    def _uninstrument(self, **kwargs: Any) -> None:
        self._generation += 1  # a start still waiting for the import is cancelled
        self._stop_now()

    def _start_now(self, generation: int, options: dict[str, Any]) -> None:
        with self._start_lock:
            if generation != self._generation or self._state is not None:
                return
            try:
                self._state = self._start(options)
                if self.prices_calls:
                    from instrumentors import cost

                    cost.warm()
            except Exception:
                _logger.debug("instrumenting with %s failed", type(self).__name__, exc_info=True)

    def _stop_now(self) -> None:
        state, self._state = self._state, None
        if state is None:
            return
        try:
            self._stop(state)
        except Exception:
            _logger.debug("uninstrumenting %s failed", type(self).__name__, exc_info=True)

    def telemetry(self, options: dict[str, Any]) -> Telemetry:
        """The core for this instrumentor's spans and metrics, on the providers it was given."""
        from instrumentors.telemetry import Telemetry

        return Telemetry(
            scope=self.scope,
            tracer_provider=options.get("tracer_provider"),
            meter_provider=options.get("meter_provider"),
        )

    # ------------------------------------------------------------ what subclasses define

    def _patches(self) -> Sequence[Patch[Any]]:
        """The patch table (from the package's ``_wrappers``); imported only at start."""
        return ()

    def _start(self, options: dict[str, Any]) -> Any:
        """Put the instrumentation in place; the returned state is handed to ``_stop``."""
        return apply(self._patches(), self.telemetry(options))

    def _stop(self, state: Any) -> None:
        """Undo ``_start``."""
        if isinstance(state, Patches):
            state.revert()
