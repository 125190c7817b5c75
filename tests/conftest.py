"""Real SDK providers with in-memory exporters, installed once as the globals.

The global TracerProvider can be set only once per process, so it forwards to
the exporter and sampler of the running test (function-scoped fixtures).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler, SamplingResult

from instrumentors import config, telemetry
from instrumentors.links import registry
from tests.conformance import span_rules


class _SwitchableSampler(Sampler):
    def __init__(self) -> None:
        self.delegate: Sampler = ALWAYS_ON

    def should_sample(self, *args, **kwargs) -> SamplingResult:  # type: ignore[no-untyped-def]
        return self.delegate.should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return "switchable"


class _Forward(SpanProcessor):
    def __init__(self) -> None:
        self.exporter: InMemorySpanExporter | None = None
        self.extra: list[SpanProcessor] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for processor in self.extra:
            processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in self.extra:
            processor.on_end(span)
        if self.exporter is not None:
            self.exporter.export((span,))


SAMPLER = _SwitchableSampler()
FORWARD = _Forward()
PROVIDER = TracerProvider(sampler=SAMPLER)
PROVIDER.add_span_processor(FORWARD)
# Every span of ours, in every test, is checked against docs/attributes.md and the span rules.
PROVIDER.add_span_processor(span_rules.CHECKER)
trace.set_tracer_provider(PROVIDER)
METRICS = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[METRICS]))
# GenAI content events are log records (EVENT_ONLY / SPAN_AND_EVENT capture modes).
LOGS = InMemoryLogRecordExporter()
_LOGGER_PROVIDER = LoggerProvider()
_LOGGER_PROVIDER.add_log_record_processor(SimpleLogRecordProcessor(LOGS))
_LOGGER_PROVIDER.add_log_record_processor(span_rules.LOG_CHECKER)
set_logger_provider(_LOGGER_PROVIDER)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "nonconforming(reason): the test makes spans that break the span rules on purpose",
    )


@pytest.fixture(autouse=True)
def _span_rules(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test is a conformance test: what our code emitted must follow the span rules."""
    span_rules.VIOLATIONS.take()  # what ended between tests is nobody's
    yield
    found = span_rules.VIOLATIONS.take()
    marker = request.node.get_closest_marker("nonconforming")
    if marker is not None:
        assert marker.args and marker.args[0], "@pytest.mark.nonconforming needs a reason"
        return
    if found:
        pytest.fail(
            "spans that break the span rules (tests/conformance/span_rules.py):\n- "
            + "\n- ".join(found),
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from default settings and an empty link registry."""
    for name in (
        config.CAPTURE_MESSAGE_CONTENT,
        config.PARAMS_HASH_KEY,
        config.CAPTURE_SAMPLE_RATE,
        config.MAX_ATTRIBUTE_LENGTH,
        config.PROPAGATE_HOSTS,
        config.TRUST_INCOMING_BAGGAGE,
        config.SHUTDOWN_TIMEOUT,
        config.REPORT,
        config.JSONL,
        config.SLI_MIN_CALLS,
        "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT",
    ):
        monkeypatch.delenv(name, raising=False)
    config.reload()
    telemetry.reset_default()
    registry.clear()
    yield
    leaked = trace.get_current_span()
    SAMPLER.delegate = ALWAYS_ON
    FORWARD.extra.clear()
    config.reload()
    telemetry.reset_default()
    # A span still current after a test means a context attach was never undone.
    assert leaked is trace.INVALID_SPAN or not leaked.get_span_context().is_valid, (
        f"span left current after the test: {leaked}"
    )


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """The in-memory exporter receiving this test's spans from the global provider."""
    exp = InMemorySpanExporter()
    FORWARD.exporter = exp
    yield exp
    FORWARD.exporter = None


@pytest.fixture
def log_exporter() -> Iterator[InMemoryLogRecordExporter]:
    """The in-memory exporter of the global LoggerProvider (content events), cleared."""
    LOGS.clear()
    yield LOGS
    LOGS.clear()


@pytest.fixture
def unsampled() -> Iterator[None]:
    """Make the global provider drop every span (ALWAYS_OFF)."""
    SAMPLER.delegate = ALWAYS_OFF
    yield
    SAMPLER.delegate = ALWAYS_ON


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Set environment variables and re-read settings: ``settings_env(NAME="value")``."""

    def apply(**values: str) -> config.Settings:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        current = config.reload()
        telemetry.reset_default()
        return current

    return apply


@pytest.fixture
def metric_reader() -> InMemoryMetricReader:
    """The global MeterProvider's in-memory reader."""
    return METRICS


@pytest.fixture
def provider() -> TracerProvider:
    """The global TracerProvider."""
    return PROVIDER
