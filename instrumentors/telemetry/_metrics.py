"""The GenAI metric instruments (names, units and advised buckets from the conventions)."""

from __future__ import annotations

from typing import Final

from opentelemetry.metrics import Counter, Histogram, MeterProvider, NoOpHistogram, get_meter
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics

from instrumentors import semconv
from instrumentors._compat import proxy_target
from instrumentors.version import __version__

# Seconds: the conventions' advised boundaries for operation durations.
DURATION_BUCKETS: Final = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
]  # fmt: skip
TOKEN_BUCKETS: Final = [
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
]  # fmt: skip
AGENT_BUCKETS: Final = [
    0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6,
]  # fmt: skip
EXECUTE_TOOL_DURATION: Final = "gen_ai.execute_tool.duration"
INVOKE_AGENT_DURATION: Final = "gen_ai.invoke_agent.duration"


class Instruments:
    """The histograms one ``Telemetry`` records into (created once, at its start)."""

    __slots__ = (
        "cost",
        "invoke_agent_duration",
        "operation_duration",
        "time_to_first_chunk",
        "token_usage",
        "tool_duration",
    )

    def __init__(self, scope: str, meter_provider: MeterProvider | None) -> None:
        meter = get_meter(scope, __version__, meter_provider)
        self.operation_duration: Histogram = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION,
            unit="s",
            description="Duration of GenAI client operation",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.token_usage: Histogram = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used by GenAI clients",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.time_to_first_chunk: Histogram = meter.create_histogram(
            gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time from the request to the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.tool_duration: Histogram = meter.create_histogram(
            EXECUTE_TOOL_DURATION,
            unit="s",
            description="Measures the duration of a tool execution.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        # Sums in a metrics backend (cost per model, service, day); same attributes as
        # the token usage, a bounded set.
        self.cost: Counter = meter.create_counter(
            semconv.GEN_AI_CLIENT_OPERATION_COST,
            unit="{USD}",
            description="Estimated cost of GenAI client operations, in US dollars",
        )
        self.invoke_agent_duration: Histogram = meter.create_histogram(
            INVOKE_AGENT_DURATION,
            unit="s",
            description="Measures the duration of an in-process agent invocation.",
            explicit_bucket_boundaries_advisory=AGENT_BUCKETS,
        )


def metrics_recorded(instrument: object) -> bool:
    """False for an instrument that records nowhere: the API's no-op one, or its proxy
    while no MeterProvider is set (it starts recording as soon as one is)."""
    if isinstance(instrument, NoOpHistogram):
        return False
    return proxy_target(instrument) is not None
