"""What ``setup()`` exports to, and the resource it describes, from arguments and OTEL_* variables.

Every value read here is checked first: a bad one logs one warning and falls
back (to the tree view, the default protocol, the SDK's defaults), because a
typo in the environment must never stop the agent. The OTLP exporters are
built by factories, so a forked child can build its own.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import IO, Any, Final
from urllib.parse import urlsplit

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from instrumentors._pipeline import ExportPipeline, quiet_retries
from instrumentors.export import TreeSpanExporter

_logger = logging.getLogger("instrumentors._bootstrap")

GRPC: Final = "grpc"
HTTP: Final = "http/protobuf"
_TRACES_ENDPOINT: Final = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_METRICS_ENDPOINT: Final = ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_PROTOCOL: Final = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
_RESOURCE_LOGGERS: Final = ("opentelemetry.sdk.resources", "opentelemetry.attributes")

_warned: set[str] = set()


def reset_warnings() -> None:
    """Each ``setup()`` warns once per bad value."""
    _warned.clear()


def _warn(key: str, message: str, *args: object) -> None:
    if key not in _warned:
        _warned.add(key)
        _logger.warning(message, *args)


def _fallback_tree(out: IO[str] | None, key: str, message: str, *args: object) -> Exporting:
    _warn(key, message + "; printing traces on stderr instead.", *args)
    return tree_view(out)


def env(*names: str) -> tuple[str, str] | None:
    """(name, value) of the first of ``names`` set to a non-blank value."""
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return name, value
    return None


def _value(*names: str) -> str | None:
    found = env(*names)
    return found[1] if found else None


@dataclass
class Exporting:
    """The processors ``setup()`` adds for export, their names, metric readers, the tree view."""

    processors: list[SpanProcessor] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    readers: list[Any] = field(default_factory=list)
    tree: TreeSpanExporter | None = None


def protocol(explicit: str | None, endpoint: str | None) -> str:
    """The OTLP protocol: the argument, else the environment, else by the endpoint's port."""
    source = ("protocol", explicit) if explicit else env(*_PROTOCOL)
    if source:
        chosen = source[1].strip().lower()
        if chosen == GRPC:
            return GRPC
        if chosen in ("http/protobuf", "http/json", "http"):
            return HTTP
        _warn(source[0], "Ignoring %s=%r (not an OTLP protocol); using %s.", *source, HTTP)
        return HTTP
    # The conventional ports say what the receiver speaks.
    try:
        port = urlsplit(endpoint).port if endpoint and "://" in endpoint else None
    except ValueError:
        port = None
    return GRPC if port == 4317 else HTTP


def endpoint_problem(url: str, proto: str) -> str | None:
    """Why ``url`` cannot be an OTLP endpoint for ``proto``, or None when it can."""
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "contains spaces or control characters"
    if "://" not in url:
        if proto != GRPC:
            return "needs http:// or https://"
        url = "//" + url  # gRPC takes host:port
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("", "http", "https"):
        return f"unsupported scheme {parts.scheme!r}"
    if not parts.hostname:
        return "no host"
    return None


def otlp_exporter(endpoint: str | None, proto: str, headers: dict[str, str] | None) -> SpanExporter:
    kwargs: dict[str, Any] = {}
    if headers:
        kwargs["headers"] = headers
    if proto == GRPC:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        if endpoint:
            kwargs["endpoint"] = endpoint
            kwargs["insecure"] = endpoint.startswith("http://") or "://" not in endpoint
        return OTLPSpanExporter(**kwargs)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HTTPSpanExporter,
    )

    if endpoint:
        kwargs["endpoint"] = _with_path(endpoint, "/v1/traces")
    return HTTPSpanExporter(**kwargs)


def _with_path(endpoint: str, path: str) -> str:
    return endpoint.rstrip("/") + path if urlsplit(endpoint).path in ("", "/") else endpoint


def otlp_metric_reader(endpoint: str | None, proto: str) -> Any:
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    kwargs: dict[str, Any] = {}
    if proto == GRPC:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        if endpoint:
            kwargs["endpoint"] = endpoint
            kwargs["insecure"] = endpoint.startswith("http://") or "://" not in endpoint
        return PeriodicExportingMetricReader(OTLPMetricExporter(**kwargs))
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HTTPMetricExporter,
    )

    if endpoint:
        kwargs["endpoint"] = _with_path(endpoint, "/v1/metrics")
    return PeriodicExportingMetricReader(HTTPMetricExporter(**kwargs))


def _named(names: str, out: IO[str] | None) -> Exporting:
    found = {ep.name: ep for ep in entry_points(group="opentelemetry_traces_exporter")}
    chosen = Exporting()
    requested = [n.strip() for n in names.split(",") if n.strip()]
    missing = [name for name in requested if name != "none" and name not in found]
    for name in requested:
        ep = found.get(name)
        if ep is None:
            continue
        if name == "agent_tree":
            chosen.tree = TreeSpanExporter(out)
            pipeline = ExportPipeline(name, chosen.tree, batch=False)
        else:
            try:
                # Local output stays synchronous and in order; the rest is batched.
                pipeline = ExportPipeline(
                    name, factory=_entry_point_factory(ep), batch=name != "console"
                )
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the agent
                _warn(name, "Could not create the %r exporter (%r).", name, exc)
                missing.append(name)
                continue
        chosen.processors.append(pipeline)
        chosen.names.append(name)
    if not missing:
        return chosen
    message = "Ignoring %r in OTEL_TRACES_EXPORTER (not installed or not usable)"
    hint = _install_hint(missing)
    # One rule with the endpoint's: nothing to export to means the tree view, not silence.
    if not chosen.names and "none" not in requested:
        return _fallback_tree(out, "OTEL_TRACES_EXPORTER", message + hint, missing)
    _warn("OTEL_TRACES_EXPORTER", message + hint + ".", missing)
    return chosen


OTLP_INSTALL: Final = "pip install 'agent-instrumentors[otlp]'"


def _install_hint(names: list[str]) -> str:
    if any(name.startswith("otlp") for name in names):
        return f" (install the OTLP exporters: {OTLP_INSTALL})"
    return ""


def _entry_point_factory(ep: Any) -> Callable[[], SpanExporter]:
    def build() -> SpanExporter:
        exporter: SpanExporter = ep.load()()
        return exporter

    return build


def tree_view(out: IO[str] | None) -> Exporting:
    tree = TreeSpanExporter(out)
    return Exporting([ExportPipeline("agent_tree", tree, batch=False)], ["agent_tree"], [], tree)


def choose(
    endpoint: str | None,
    proto_arg: str | None,
    headers: dict[str, str] | None,
    exporter: SpanExporter | None,
    out: IO[str] | None,
    *,
    explicit_only: bool,
    batch: bool,
) -> Exporting:
    """By precedence: the exporter given, OTLP, OTEL_TRACES_EXPORTER, the tree view."""
    if exporter is not None:
        name = type(exporter).__name__
        return Exporting([ExportPipeline(name, exporter, batch=batch)], [name])
    source = ("endpoint", endpoint) if endpoint else None
    if source is None and not explicit_only:
        source = env(*_TRACES_ENDPOINT)
    if source is not None:
        return _otlp(source, endpoint, proto_arg, headers, out)
    if explicit_only:
        return Exporting()
    named = _value("OTEL_TRACES_EXPORTER")
    return _named(named, out) if named else tree_view(out)


def _otlp(
    source: tuple[str, str],
    endpoint: str | None,
    proto_arg: str | None,
    headers: dict[str, str] | None,
    out: IO[str] | None,
) -> Exporting:
    proto = protocol(proto_arg, source[1])
    problem = endpoint_problem(source[1], proto)
    if problem is not None:
        return _fallback_tree(out, source[0], "Ignoring %s=%r (%s)", *source, problem)
    try:
        pipeline = ExportPipeline("otlp", factory=lambda: otlp_exporter(endpoint, proto, headers))
        quiet_retries()
        return Exporting([pipeline], ["otlp"], _metric_readers(endpoint, proto_arg))
    except ImportError:
        return _fallback_tree(
            out,
            "otlp",
            "An OTLP endpoint is configured but the OTLP exporters are not installed "
            f"(install them: {OTLP_INSTALL})",
        )
    except Exception as exc:  # noqa: BLE001 - export elsewhere rather than fail
        return _fallback_tree(out, "otlp", "Could not create the OTLP exporter (%r)", exc)


def _metric_readers(endpoint: str | None, proto_arg: str | None) -> list[Any]:
    if _value("OTEL_METRICS_EXPORTER") == "none":
        return []
    source = ("endpoint", endpoint) if endpoint else env(*_METRICS_ENDPOINT)
    proto = protocol(proto_arg, source[1] if source else None)
    if source is not None:
        problem = endpoint_problem(source[1], proto)
        if problem is not None:
            _warn(source[0], "Ignoring %s=%r (%s); not exporting metrics.", *source, problem)
            return []
    return [otlp_metric_reader(endpoint, proto)]


# --- the resource and the provider ------------------------------------------------


class _DropWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.WARNING


@contextmanager
def _quiet(active: bool) -> Iterator[None]:
    """Silence the SDK's per-entry warnings while we give one for the whole variable."""
    if not active:
        yield
        return
    drop = _DropWarnings()
    loggers = [logging.getLogger(name) for name in _RESOURCE_LOGGERS]
    for logger in loggers:
        logger.addFilter(drop)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(drop)


def _bad_resource_attributes() -> bool:
    raw = os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    if not raw:
        return False
    bad = [item for item in raw.split(",") if not item.partition("=")[0].strip() or "=" not in item]
    if bad:
        _warn(
            "OTEL_RESOURCE_ATTRIBUTES",
            "Ignoring the malformed entries %r of OTEL_RESOURCE_ATTRIBUTES (want key=value,...).",
            bad,
        )
    return bool(bad)


def _service_name_from_env() -> tuple[str | None, str | None]:
    """(raw OTEL_SERVICE_NAME, the name to use instead when the raw one is unusable)."""
    raw = os.environ.get("OTEL_SERVICE_NAME")
    if not raw:
        return raw, None
    cleaned = "".join(ch for ch in raw if ch.isprintable()).strip()
    if cleaned == raw:
        return raw, None
    if cleaned:
        _warn(
            "OTEL_SERVICE_NAME",
            "Ignoring the control characters or surrounding spaces in OTEL_SERVICE_NAME=%r; "
            "using %r.",
            raw,
            cleaned,
        )
    else:
        _warn(
            "OTEL_SERVICE_NAME",
            "Ignoring OTEL_SERVICE_NAME=%r (blank); using the service name given to setup().",
            raw,
        )
    return raw, cleaned


def resource(service_name: str | None, attributes: dict[str, Any] | None) -> Resource:
    base: dict[str, Any] = dict(attributes or {})
    raw_env, replacement = _service_name_from_env()
    usable_env = raw_env if replacement is None else replacement
    # OTEL_SERVICE_NAME (read by Resource.create) overrides the name given in code.
    if service_name and not usable_env:
        base[SERVICE_NAME] = service_name
    with _quiet(_bad_resource_attributes()):
        created = Resource.create(base)
    if replacement is not None:  # Resource.create took the raw value: put the usable one back
        name = replacement or service_name or _default_service_name()
        created = created.merge(Resource({SERVICE_NAME: name}))
    return created


def _default_service_name() -> str:
    # What the SDK and the specification use when no name is configured.
    executable = os.path.basename(sys.executable) if sys.executable else ""
    return f"unknown_service:{executable}" if executable else "unknown_service"


def tracer_provider(res: Resource) -> TracerProvider:
    """Our own provider; the exit hook of ``setup()`` (bounded) shuts it down, not the SDK's.

    Span-limit variables the SDK would raise on were removed by ``config`` at import.
    """
    return TracerProvider(resource=res, shutdown_on_exit=False)
