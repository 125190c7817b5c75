"""``HTTPX2Instrumentor``: HTTP client spans, trace headers and the tool roll-up for httpx2.

httpx2 is the httpx fork that openai 3.x and mcp 2.x talk HTTP through; no
OpenTelemetry instrumentation covers it. One CLIENT span per ``send`` (sync and
async), named after the method, per the HTTP semantic conventions, and the
``http.client.request.duration`` histogram; trace
headers go only to hosts that ``AGENT_INSTRUMENTORS_PROPAGATE_HOSTS`` allows, redirect
targets included.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from instrumentors.httpx2._wrappers import async_send, redirect_headers, send
from instrumentors.version import __version__

__all__ = ["HTTPX2Instrumentor"]

SCOPE: Final = "instrumentors.httpx2"
_instruments: Final = ("httpx2 >= 2.10",)
HTTP_CLIENT_REQUEST_DURATION: Final = "http.client.request.duration"
# The HTTP semantic conventions' advised boundaries for request durations (seconds).
_DURATION_BUCKETS: Final = [
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1,
    2.5,
    5,
    7.5,
    10,
]


class HTTPX2Instrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instrument ``httpx2.Client.send`` and ``httpx2.AsyncClient.send``."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        tracer = trace.get_tracer(SCOPE, __version__, kwargs.get("tracer_provider"))
        meter = metrics.get_meter(SCOPE, __version__, kwargs.get("meter_provider"))
        duration = meter.create_histogram(
            name=HTTP_CLIENT_REQUEST_DURATION,
            unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        wrap_function_wrapper("httpx2", "Client.send", send(tracer, duration))
        wrap_function_wrapper("httpx2", "AsyncClient.send", async_send(tracer, duration))
        wrap_function_wrapper("httpx2._client", "BaseClient._redirect_headers", redirect_headers)

    def _uninstrument(self, **kwargs: Any) -> None:
        import httpx2._client

        unwrap(httpx2.Client, "send")
        unwrap(httpx2.AsyncClient, "send")
        unwrap(httpx2._client.BaseClient, "_redirect_headers")
