"""``setup()``: providers, exporters, processors and ``instrument_all()`` in one call."""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import IO, Any
from urllib.parse import urlsplit

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from instrumentors import config, telemetry
from instrumentors.discovery import instrument_all
from instrumentors.export import TreeSpanExporter
from instrumentors.session import SessionSpanProcessor

_logger = logging.getLogger(__name__)

_GRPC = "grpc"
_HTTP = "http/protobuf"


@dataclass
class SetupHandle:
    """What ``setup()`` built; ``shutdown()`` flushes every pending span and metric."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider | None
    instrumented: list[str]
    exporters: list[str]
    sli: Any = None
    print_sli: bool = False
    out: IO[str] | None = None
    owns_providers: bool = True
    _done: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything pending now."""
        ok = self.tracer_provider.force_flush(timeout_millis)
        if self.meter_provider is not None:
            ok = self.meter_provider.force_flush(timeout_millis) and ok
        return ok

    def shutdown(self) -> None:
        """Flush and shut the providers down (idempotent; also runs at interpreter exit)."""
        with self._lock:
            if self._done:
                return
            self._done = True
        try:
            self.tracer_provider.force_flush()
            if self.print_sli and self.sli is not None:
                table = self.sli.render()
                if table:
                    stream = self.out if self.out is not None else sys.stderr
                    stream.write(table + "\n")
            if self.meter_provider is not None:
                self.meter_provider.force_flush()
            if self.owns_providers:  # never shut down providers someone else set up
                self.tracer_provider.shutdown()
                if self.meter_provider is not None:
                    self.meter_provider.shutdown()
        except Exception:
            _logger.debug("shutdown failed", exc_info=True)


_handle: SetupHandle | None = None
_handle_lock = threading.Lock()


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def _protocol(explicit: str | None, endpoint: str | None) -> str:
    chosen = explicit or _env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
    if chosen:
        chosen = chosen.lower()
        if chosen == _GRPC or chosen.startswith("http"):
            return _GRPC if chosen == _GRPC else _HTTP
        _logger.warning("Unknown OTLP protocol %r; using %s.", chosen, _HTTP)
        return _HTTP
    # The conventional ports say what the receiver speaks.
    port = urlsplit(endpoint).port if endpoint and "://" in endpoint else None
    return _GRPC if port == 4317 else _HTTP


def _otlp_exporter(
    endpoint: str | None, protocol: str | None, headers: dict[str, str] | None
) -> SpanExporter:
    env_endpoint = _env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    proto = _protocol(protocol, endpoint or env_endpoint)
    kwargs: dict[str, Any] = {}
    if headers:
        kwargs["headers"] = headers
    if proto == _GRPC:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        if endpoint:
            kwargs["endpoint"] = endpoint
            kwargs["insecure"] = endpoint.startswith("http://") or "://" not in endpoint
        return OTLPSpanExporter(**kwargs)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HTTPSpanExporter,
    )

    if endpoint:
        parts = urlsplit(endpoint)
        kwargs["endpoint"] = (
            endpoint.rstrip("/") + "/v1/traces" if parts.path in ("", "/") else endpoint
        )
    return HTTPSpanExporter(**kwargs)


def _otlp_metric_reader(endpoint: str | None, protocol: str | None) -> Any:
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    env_endpoint = _env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    proto = _protocol(protocol, endpoint or env_endpoint)
    kwargs: dict[str, Any] = {}
    if proto == _GRPC:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        if endpoint:
            kwargs["endpoint"] = endpoint
            kwargs["insecure"] = endpoint.startswith("http://") or "://" not in endpoint
        return PeriodicExportingMetricReader(OTLPMetricExporter(**kwargs))
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HTTPMetricExporter,
    )

    if endpoint:
        parts = urlsplit(endpoint)
        kwargs["endpoint"] = (
            endpoint.rstrip("/") + "/v1/metrics" if parts.path in ("", "/") else endpoint
        )
    return PeriodicExportingMetricReader(HTTPMetricExporter(**kwargs))


def _named_exporters(names: str) -> list[tuple[str, SpanExporter]]:
    found = {ep.name: ep for ep in entry_points(group="opentelemetry_traces_exporter")}
    exporters = []
    for name in (n.strip() for n in names.split(",")):
        if not name or name == "none":
            continue
        ep = found.get(name)
        if ep is None:
            _logger.warning("OTEL_TRACES_EXPORTER names %r, which is not installed.", name)
            continue
        try:
            exporters.append((name, ep.load()()))
        except Exception:
            _logger.warning("Could not create the %r exporter.", name, exc_info=True)
    return exporters


def _exporting(
    endpoint: str | None,
    protocol: str | None,
    headers: dict[str, str] | None,
    exporter: SpanExporter | None,
    out: IO[str] | None,
    explicit_only: bool,
) -> tuple[list[SpanProcessor], list[str], list[Any]]:
    """Span processors with exporters, their names, and metric readers, by precedence."""
    if exporter is not None:
        return [SimpleSpanProcessor(exporter)], [type(exporter).__name__], []
    otlp = endpoint or (
        None
        if explicit_only
        else _env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    if otlp:
        try:
            processor = BatchSpanProcessor(_otlp_exporter(endpoint, protocol, headers))
            readers = []
            if _env("OTEL_METRICS_EXPORTER") != "none":
                readers.append(_otlp_metric_reader(endpoint, protocol))
            return [processor], ["otlp"], readers
        except ImportError:
            _logger.warning(
                "An OTLP endpoint is configured but the OTLP exporters are not installed "
                "(pip install 'agent-instrumentors[otlp]'); printing traces on stderr instead."
            )
            return [SimpleSpanProcessor(TreeSpanExporter(out))], ["agent_tree"], []
        except Exception:
            _logger.warning(
                "Could not create the OTLP exporter; printing traces instead.", exc_info=True
            )
            return [SimpleSpanProcessor(TreeSpanExporter(out))], ["agent_tree"], []
    if explicit_only:
        return [], [], []
    named = _env("OTEL_TRACES_EXPORTER")
    if named:
        processors: list[SpanProcessor] = []
        names = []
        for name, named_exporter in _named_exporters(named):
            simple = name in ("console", "agent_tree")
            processors.append(
                SimpleSpanProcessor(named_exporter)
                if simple
                else BatchSpanProcessor(named_exporter)
            )
            names.append(name)
        return processors, names, []
    return [SimpleSpanProcessor(TreeSpanExporter(out))], ["agent_tree"], []


def _resource(service_name: str | None, attributes: dict[str, Any] | None) -> Resource:
    base: dict[str, Any] = dict(attributes or {})
    # OTEL_SERVICE_NAME (read by Resource.create) overrides the name given in code.
    if service_name and not os.environ.get("OTEL_SERVICE_NAME"):
        base[SERVICE_NAME] = service_name
    return Resource.create(base)


def setup(
    service_name: str | None = None,
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: dict[str, str] | None = None,
    exporter: SpanExporter | None = None,
    resource_attributes: dict[str, Any] | None = None,
    instrument: bool = True,
    sli: bool = True,
    out: IO[str] | None = None,
) -> SetupHandle:
    """Set global providers with exporters, install our processors, instrument every framework.

    OTLP when ``endpoint`` or ``OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`` is set; the
    exporters named by ``OTEL_TRACES_EXPORTER`` when set; else the tree view on stderr.
    """
    global _handle
    with _handle_lock:
        if _handle is not None and not _handle._done:
            return _handle
        config.reload()
        telemetry.reset_default()
        existing = trace.get_tracer_provider()
        # Already configured (opentelemetry-instrument, or the app): add what is ours to
        # that provider instead of failing to replace it; export only when asked to.
        adopt = isinstance(existing, TracerProvider)
        provider = (
            existing
            if isinstance(existing, TracerProvider)
            else TracerProvider(resource=_resource(service_name, resource_attributes))
        )
        processors: list[SpanProcessor] = [SessionSpanProcessor()]
        sli_processor = _make_sli() if sli else None
        if sli_processor is not None:
            processors.append(sli_processor)
        exporting, names, meter_readers = _exporting(
            endpoint, protocol, headers, exporter, out, explicit_only=adopt
        )
        for processor in processors + exporting:
            provider.add_span_processor(processor)
        existing_meters = metrics.get_meter_provider()
        meter_provider = (
            existing_meters
            if isinstance(existing_meters, MeterProvider)
            else MeterProvider(resource=provider.resource, metric_readers=meter_readers)
        )
        if not adopt:
            trace.set_tracer_provider(provider)
        if meter_provider is not existing_meters:
            metrics.set_meter_provider(meter_provider)
        instrumented = instrument_all() if instrument else []
        _handle = SetupHandle(
            tracer_provider=provider,
            meter_provider=meter_provider,
            instrumented=instrumented,
            exporters=names,
            sli=sli_processor,
            print_sli=names == ["agent_tree"],
            out=out,
            owns_providers=not adopt,
        )
        atexit.register(_handle.shutdown)
        return _handle


def _make_sli() -> SpanProcessor:
    from instrumentors.sli import Objective, SLIProcessor

    # A default objective so the embedded table says whether calls are healthy.
    return SLIProcessor(default=Objective(latency_p95=2.0, success_rate=0.95))
