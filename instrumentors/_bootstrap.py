"""``setup()``: providers, exporters, processors and ``instrument_all()`` in one call.

The agent never waits for telemetry: exporters run behind batch processors
(``_pipeline``), ``shutdown()`` and the exit hook give up after a bounded time
and say how many spans they dropped, and a forked child exports its own spans
(``multiprocessing`` workers flush when they exit).
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import select
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Final

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from instrumentors import _exporters, config, cost, telemetry
from instrumentors._pipeline import ExportPipeline, last_export_error, run_bounded
from instrumentors.discovery import instrument_all
from instrumentors.export import TreeSpanExporter
from instrumentors.session import SessionSpanProcessor

_logger = logging.getLogger(__name__)

SPAN_PROCESSORS: Final = ("batch", "simple")


@dataclass
class SetupHandle:
    """What ``setup()`` built; ``shutdown()`` flushes every pending span and metric, bounded."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider | None
    instrumented: list[str]
    exporters: list[str]
    sli: Any = None
    print_sli: bool = False
    out: IO[str] | None = None
    owns_providers: bool = True
    shutdown_timeout: float = config.DEFAULT_SHUTDOWN_TIMEOUT
    pipelines: list[ExportPipeline] = field(default_factory=list)
    tree: TreeSpanExporter | None = None
    # setup(report=...): the spans of the run, written as an HTML report at shutdown.
    report: Any = None
    # Spans not exported because shutdown ran out of time (set by shutdown()).
    dropped_spans: int = 0
    arguments: dict[str, Any] = field(default_factory=dict, repr=False)
    forked: bool = field(default=False, repr=False)
    _done: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything pending now; gives up after ``timeout_millis``."""
        return run_bounded(self._flush_now, timeout_millis / 1000, "instrumentors-flush")

    def _flush_now(self) -> None:
        self.tracer_provider.force_flush()
        if self.meter_provider is not None and not self.forked:
            self.meter_provider.force_flush()

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush and shut the providers down, within ``timeout`` seconds (default: the setup's).

        Idempotent; also runs at interpreter exit, and when a ``multiprocessing``
        worker forked after ``setup()`` exits. Spans still queued when the time
        runs out are dropped and counted in one warning.
        """
        with self._lock:
            if self._done:
                return
            self._done = True
        budget = self.shutdown_timeout if timeout is None else timeout
        try:
            deadline = time.monotonic() + budget
            if run_bounded(lambda: self._shutdown_now(deadline), budget, "instrumentors-shutdown"):
                return
            self.dropped_spans = sum(p.pending for p in self.pipelines)
            if _stderr_can_take_a_line():
                reason = last_export_error()
                _logger.warning(
                    "instrumentors: gave up waiting for the exporter after %g s (raise it with "
                    "setup(shutdown_timeout=...) or %s); %d spans were dropped (still queued "
                    "or being exported)%s.",
                    budget,
                    config.SHUTDOWN_TIMEOUT,
                    self.dropped_spans,
                    f"; the last export attempt failed: {reason}" if reason else "",
                )
        except Exception:
            _logger.debug("shutdown failed", exc_info=True)

    def _shutdown_now(self, deadline: float) -> None:
        self.tracer_provider.force_flush()
        written = self.report.write(self.sli) if self.report is not None else None
        if self.tree is not None:
            if written is not None:
                self.tree.write_text(f"report: {self.report.path} ({written} spans)")
            if self.print_sli and self.sli is not None:
                table = self.sli.render()
                if table:
                    self.tree.write_text(table)
            self.tree.close(max(deadline - time.monotonic(), 0.0))
        if self.meter_provider is not None and not self.forked:
            # A forked child holds a copy of the parent's cumulative metrics: not its own to send.
            self.meter_provider.force_flush()
        if self.owns_providers:  # never shut down providers someone else set up
            self.tracer_provider.shutdown()
            if self.meter_provider is not None and not self.forked:
                self.meter_provider.shutdown()

    def after_fork_in_child(self) -> None:
        """This process's copy: fresh locks; the SLI table stays the parent's to print."""
        self._lock = threading.Lock()
        self.forked = True
        self.print_sli = False


def _stderr_can_take_a_line() -> bool:
    """False when stderr is a pipe that is full (nobody reads it): a warning would block."""
    stream = sys.stderr
    if stream is None:
        return False
    try:
        fd = stream.fileno()
        return bool(select.select([], [fd], [], 0)[1])
    except Exception:  # noqa: BLE001 - in memory or not selectable: writing does not block
        return True


_handle: SetupHandle | None = None
_handle_lock = threading.Lock()


def _resolve_timeout(value: float | None) -> float:
    if value is None:
        return config.settings().shutdown_timeout
    if isinstance(value, int | float) and value > 0 and math.isfinite(value):
        return float(value)
    _logger.warning(
        "Ignoring setup(shutdown_timeout=%r) (must be a positive number of seconds); using %g.",
        value,
        config.settings().shutdown_timeout,
    )
    return config.settings().shutdown_timeout


def _resolve_batch(span_processor: str) -> bool:
    if span_processor in SPAN_PROCESSORS:
        return span_processor == "batch"
    _logger.warning(
        "Ignoring setup(span_processor=%r) (want 'batch' or 'simple'); using 'batch'.",
        span_processor,
    )
    return True


def _same(a: object, b: object) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:  # noqa: BLE001 - an argument whose == raises is just "different"
        return False


def _warn_ignored(handle: SetupHandle, arguments: dict[str, Any]) -> None:
    changed = [
        name for name, value in arguments.items() if not _same(value, handle.arguments.get(name))
    ]
    if changed:
        _logger.warning(
            "instrumentors.setup() was already called: this call's %s ignored; the first "
            "setup() stays in effect. Configure everything in one setup() call.",
            ", ".join(f"{name}=" for name in changed) + (" is" if len(changed) == 1 else " are"),
        )


def setup(
    service_name: str | None = None,
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: dict[str, str] | None = None,
    exporter: SpanExporter | None = None,
    span_processor: str = "batch",
    shutdown_timeout: float | None = None,
    resource_attributes: dict[str, Any] | None = None,
    instrument: bool = True,
    sli: bool = True,
    out: IO[str] | None = None,
    report: str | os.PathLike[str] | None = None,
    prices: Mapping[str, Mapping[str, float]] | None = None,
) -> SetupHandle:
    """Set global providers with exporters, install our processors, instrument every framework.

    OTLP when ``endpoint`` or ``OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`` is set; the
    exporters named by ``OTEL_TRACES_EXPORTER`` when set; else the tree view on stderr.
    ``exporter`` runs behind a ``BatchSpanProcessor`` (``span_processor="simple"``
    exports on the calling thread instead). ``shutdown()`` and the exit hook wait at
    most ``shutdown_timeout`` seconds (default ``AGENT_INSTRUMENTORS_SHUTDOWN_TIMEOUT``, 5).
    ``report`` (or ``AGENT_INSTRUMENTORS_REPORT``): write every trace of the run to
    this self-contained HTML file at exit. ``prices``: USD per million tokens per model,
    over ``genai-prices`` and the ``AGENT_INSTRUMENTORS_PRICES`` file
    (``{"my-model": {"input_mtok": 3, "output_mtok": 15}}``).
    A second call returns the first handle and warns about arguments it ignores.
    """
    global _handle
    arguments = dict(locals())
    with _handle_lock:
        if _handle is not None and not _handle._done:
            _warn_ignored(_handle, arguments)
            return _handle
        config.reload()
        _exporters.reset_warnings()
        telemetry.reset_default()
        cost.configure(prices)
        handle = _build(arguments)
        handle.arguments = arguments
        _handle = handle
        atexit.register(handle.shutdown)
        return handle


def _build(arguments: dict[str, Any]) -> SetupHandle:
    timeout = _resolve_timeout(arguments["shutdown_timeout"])
    batch = _resolve_batch(arguments["span_processor"])
    existing = trace.get_tracer_provider()
    # Already configured (opentelemetry-instrument, or the app): add what is ours to
    # that provider instead of failing to replace it; export only when asked to.
    adopt = isinstance(existing, TracerProvider)
    provider = (
        existing
        if isinstance(existing, TracerProvider)
        else _exporters.tracer_provider(
            _exporters.resource(arguments["service_name"], arguments["resource_attributes"])
        )
    )
    processors: list[SpanProcessor] = [SessionSpanProcessor()]
    sli_processor = _make_sli() if arguments["sli"] else None
    if sli_processor is not None:
        processors.append(sli_processor)
    report = _make_report(arguments["report"])
    if report is not None:
        processors.append(report)
    chosen = _exporters.choose(
        arguments["endpoint"],
        arguments["protocol"],
        arguments["headers"],
        arguments["exporter"],
        arguments["out"],
        explicit_only=adopt,
        batch=batch,
    )
    for processor in processors + chosen.processors:
        provider.add_span_processor(processor)
    existing_meters = metrics.get_meter_provider()
    meter_provider = (
        existing_meters
        if isinstance(existing_meters, MeterProvider)
        else MeterProvider(
            resource=provider.resource, metric_readers=chosen.readers, shutdown_on_exit=False
        )
    )
    if not adopt:
        trace.set_tracer_provider(provider)
    if meter_provider is not existing_meters:
        metrics.set_meter_provider(meter_provider)
    return SetupHandle(
        tracer_provider=provider,
        meter_provider=meter_provider,
        instrumented=instrument_all() if arguments["instrument"] else [],
        exporters=chosen.names,
        sli=sli_processor,
        print_sli=chosen.names == ["agent_tree"],
        out=arguments["out"],
        owns_providers=not adopt,
        shutdown_timeout=timeout,
        pipelines=[p for p in chosen.processors if isinstance(p, ExportPipeline)],
        tree=chosen.tree,
        report=report,
    )


def _make_sli() -> SpanProcessor:
    from instrumentors.sli import Objective, SLIProcessor

    # A default objective so the embedded table says whether calls are healthy.
    return SLIProcessor(
        default=Objective(latency_p95=2.0, success_rate=0.95),
        min_calls=config.settings().sli_min_calls,
    )


def _make_report(path: str | os.PathLike[str] | None) -> SpanProcessor | None:
    chosen = path if path else config.settings().report
    if not chosen:
        return None
    from instrumentors.report import ReportProcessor

    return ReportProcessor(chosen)


# --- fork ---------------------------------------------------------------------------


def _after_fork_in_child() -> None:
    """Runs in every forked child: our locks are fresh, and a multiprocessing worker flushes."""
    global _handle_lock
    _handle_lock = threading.Lock()
    handle = _handle
    if handle is None or handle._done:
        return
    handle.after_fork_in_child()
    # multiprocessing workers leave through os._exit: atexit hooks never run there, but
    # multiprocessing's finalizers do. The process object clears its finalizers after
    # this hook, then calls its after-fork callbacks: register there.
    util = sys.modules.get("multiprocessing.util")
    if util is None:
        return
    try:
        util.register_after_fork(handle, _finalize_on_worker_exit)
    except Exception:
        _logger.debug("could not register the worker-exit flush", exc_info=True)


def _finalize_on_worker_exit(handle: SetupHandle) -> None:
    import multiprocessing.util

    # exitpriority: run with the "atexit" finalizers, before the process's own teardown.
    multiprocessing.util.Finalize(handle, handle.shutdown, exitpriority=10)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
