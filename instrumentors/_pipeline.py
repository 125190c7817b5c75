"""Exporters behind processors the agent never waits for: counted, bounded, fork-aware.

``setup()`` puts every exporter it builds or is given behind an ``ExportPipeline``:
a ``BatchSpanProcessor`` (or a ``SimpleSpanProcessor`` when asked for) that
counts the spans it was handed and the spans its exporter has finished with,
so a shutdown that runs out of time can say how many it dropped. In a forked
child, an exporter ``setup()`` built is built again: the parent's connections
(an HTTP pool, a gRPC channel) must not be shared by two processes.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from instrumentors._compat import OTLP_LOGGERS

_logger = logging.getLogger(__name__)

# The SDK's documented defaults, used when OTEL_BSP_* holds values it rejects.
_BSP_MAX_QUEUE_SIZE: Final = 2048
_BSP_SCHEDULE_DELAY_MILLIS: Final = 5000
_BSP_MAX_EXPORT_BATCH_SIZE: Final = 512


def run_bounded(work: Callable[[], object], timeout: float, name: str) -> bool:
    """Run ``work`` in a daemon thread; True when it finished within ``timeout`` seconds.

    A daemon thread still stuck in an exporter when the interpreter exits is
    abandoned, so neither ``shutdown()`` nor the exit hook can hang.
    """
    finished = threading.Event()

    def target() -> None:
        try:
            work()
        except Exception:
            _logger.debug("%s failed", name, exc_info=True)
        finally:
            finished.set()

    try:
        threading.Thread(target=target, name=name, daemon=True).start()
    except RuntimeError:  # the interpreter is shutting down (3.12+: no new threads in exit
        target()  # hooks): the work runs here, bounded only by the exporters' own timeouts
    return finished.wait(max(timeout, 0.0))


class _Counted(SpanExporter):
    """Counts the spans whose export call has returned (success or failure)."""

    def __init__(self, inner: SpanExporter, pipeline: ExportPipeline) -> None:
        self.inner = inner
        self._pipeline = pipeline

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            return self.inner.export(spans)
        finally:
            self._pipeline.count_exported(len(spans))

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class ExportPipeline(SpanProcessor):
    """One exporter behind a batch (default) or simple processor; ``pending`` spans counted."""

    def __init__(
        self,
        name: str,
        exporter: SpanExporter | None = None,
        *,
        factory: Callable[[], SpanExporter] | None = None,
        batch: bool = True,
    ) -> None:
        if exporter is None:
            if factory is None:
                raise TypeError("ExportPipeline needs an exporter or a factory")
            exporter = factory()
        self.name = name
        self.exporter = exporter
        self.batch = batch
        self._factory = factory
        self._lock = threading.Lock()
        self._ended = 0
        self._exported = 0
        self._rebuild = False
        self._inner = self._processor(exporter)
        _LIVE.add(self)

    def _processor(self, exporter: SpanExporter) -> SpanProcessor:
        counted = _Counted(exporter, self)
        if not self.batch:
            return SimpleSpanProcessor(counted)
        try:
            return BatchSpanProcessor(counted)
        except ValueError as exc:  # OTEL_BSP_* values the SDK rejects
            _logger.warning("Ignoring OTEL_BSP_* settings (%s); using the SDK's defaults.", exc)
            return BatchSpanProcessor(
                counted,
                max_queue_size=_BSP_MAX_QUEUE_SIZE,
                schedule_delay_millis=_BSP_SCHEDULE_DELAY_MILLIS,
                max_export_batch_size=_BSP_MAX_EXPORT_BATCH_SIZE,
            )

    @property
    def pending(self) -> int:
        """Spans handed to this pipeline whose export has not returned (queued or in flight)."""
        with self._lock:
            return max(self._ended - self._exported, 0)

    def count_exported(self, count: int) -> None:
        with self._lock:
            self._exported += count

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._inner.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if self._rebuild:
            self._rebuild_for_child()
        context = span.context
        if context is not None and context.trace_flags.sampled:
            with self._lock:
                self._ended += 1
        self._inner.on_end(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        if self._rebuild:  # a forked child that has not exported anything yet
            return True
        return self._inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        if self._rebuild:  # nothing of this process to send; the parent's copy is not ours
            return
        self._inner.shutdown()

    def after_fork_in_child(self) -> None:
        """Counts restart at zero; an exporter ``setup()`` built is built again, on first use."""
        self._lock = threading.Lock()
        self._ended = self._exported = 0
        # The user's exporter is kept: the SDK's batch processor restarts its own thread.
        self._rebuild = self._factory is not None

    def _rebuild_for_child(self) -> None:
        # Lazily, not in the fork hook: building a gRPC channel there is unsafe.
        with self._lock:
            if not self._rebuild or self._factory is None:
                return
            self._rebuild = False
            try:
                exporter = self._factory()
            except Exception:
                _logger.debug("could not rebuild the %s exporter", self.name, exc_info=True)
                return
            # The parent's processor is left alone here: shutting it down would
            # touch the connections (HTTP pool, gRPC channel) it shares with the parent.
            self.exporter = exporter
            self._inner = self._processor(exporter)


_LIVE: weakref.WeakSet[ExportPipeline] = weakref.WeakSet()

# The OTLP exporters log one warning per retry ("Transient error ... retrying in 2.1s"):
# ten lines when the backend is down. Their last reason is kept instead, and said once,
# in the line about dropped spans; errors (a batch given up) still get through.
_OTLP_LOGGERS: Final = OTLP_LOGGERS
_MAX_REASON: Final = 300
_ERRNO: Final = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")


class _RetryNoise(logging.Filter):
    """Drops the OTLP exporters' per-retry warnings, keeping the last reason."""

    def __init__(self) -> None:
        super().__init__()
        self.last_error: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        message = str(record.msg)
        if message.startswith("Transient error"):
            args = record.args if isinstance(record.args, tuple) else ()
            # HTTP: (reason, kind, backoff); gRPC: (code, kind, endpoint, backoff, details).
            reason = f"{args[0]}: {args[4]}" if len(args) >= 5 else (str(args[0]) if args else "")
            # requests' message nests the cause three deep: "[Errno 111] Connection refused".
            errno = _ERRNO.search(reason)
            self.last_error = (errno.group(0) if errno else reason)[:_MAX_REASON] or None
            return False
        return not message.startswith("Shutdown in progress")


_RETRY_NOISE = _RetryNoise()


def quiet_retries() -> None:
    """Keep the OTLP exporters' retry warnings off stderr (idempotent)."""
    for name in _OTLP_LOGGERS:
        logger = logging.getLogger(name)
        if _RETRY_NOISE not in logger.filters:
            logger.addFilter(_RETRY_NOISE)


def last_export_error() -> str | None:
    """Why the last OTLP export attempt failed, when one did."""
    return _RETRY_NOISE.last_error


def _after_fork_in_child() -> None:
    for pipeline in list(_LIVE):
        try:
            pipeline.after_fork_in_child()
        except Exception:
            _logger.debug("after-fork reset failed", exc_info=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
