"""Hostile configuration: every bad value gets exactly one warning and a safe fallback.

Each case runs ``import instrumentors`` and ``setup()`` in a fresh interpreter
with one hostile environment, makes a tool call, and reports every WARNING
record logged (by any logger), the spans the tool call produced, and what was
exported. The agent must exit 0 with its span, whatever the environment says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.otlp_receiver import HTTPReceiver

ROOT = Path(__file__).resolve().parents[2]

RUNNER = textwrap.dedent(
    """
    import json, logging, sys

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append({"logger": record.name, "message": record.getMessage()})

    logging.getLogger().addHandler(Keep(logging.WARNING))
    logging.captureWarnings(True)

    import instrumentors
    from opentelemetry import propagate, trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    handle = instrumentors.setup(service_name="svc-from-code", instrument=False)
    memory = InMemorySpanExporter()
    handle.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))

    @instrumentors.tool
    def ping(city: str) -> str:
        return city

    ping("Paris")
    carrier = {}
    with trace.get_tracer("hostile").start_as_current_span("outgoing"):
        propagate.inject(carrier)
    warned = list(records)  # the SDK warns about every attribute dropped below
    # What the span limits allow, seen from outside: 200 attributes and events offered.
    with trace.get_tracer("hostile").start_as_current_span("crowded") as crowded:
        for i in range(200):
            crowded.set_attribute(f"a{i}", i)
            crowded.add_event(f"e{i}")
    handle.shutdown()
    (span,) = [s for s in memory.get_finished_spans() if s.name == "execute_tool ping"]
    (full,) = [s for s in memory.get_finished_spans() if s.name == "crowded"]
    print(json.dumps({
        "warnings": warned,
        "attributes": {k: str(v) for k, v in span.attributes.items()},
        "resource": {k: str(v) for k, v in span.resource.attributes.items()},
        "exporters": handle.exporters,
        "carrier": sorted(carrier),
        "shutdown_timeout": getattr(handle, "shutdown_timeout", None),
        "kept": {"attributes": len(full.attributes), "events": len(full.events)},
    }))
    """
)


def run(env: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Run the agent with ``env`` on top of a clean environment; (report, stderr)."""
    full: dict[Any, Any] = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_INSTRUMENTORS_"))
    }
    full.update(env)
    result = subprocess.run(
        [sys.executable, "-c", RUNNER],
        capture_output=True,
        text=True,
        env=full,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def only_warning(report: dict[str, Any], variable: str) -> str:
    """The one warning logged; it names ``variable``."""
    messages = [w["message"] for w in report["warnings"]]
    assert len(messages) == 1, messages
    assert variable in messages[0], messages
    return messages[0]


# variable, value, what the fallback must look like
TREE_FALLBACKS = [
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://[::1"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:99999"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector:4318"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://exa mple:4318/v1/traces"),
    ("OTEL_TRACES_EXPORTER", "consol"),
]


@pytest.mark.parametrize(("variable", "value"), TREE_FALLBACKS)
def test_unusable_exporter_settings_fall_back_to_the_tree_view(variable: str, value: str) -> None:
    report, stderr = run({variable: value})
    message = only_warning(report, variable)
    assert "printing traces on stderr instead" in message
    assert report["exporters"] == ["agent_tree"]
    assert "execute_tool ping" in stderr  # the tree view printed the span


def test_non_utf8_hash_key_keys_with_its_raw_bytes() -> None:
    report, _ = run({"AGENT_INSTRUMENTORS_PARAMS_HASH_KEY": b"k\xff\xfey"})
    message = only_warning(report, "AGENT_INSTRUMENTORS_PARAMS_HASH_KEY")
    assert "\\xff" not in message and "k\udcff" not in message  # the key itself is never logged
    assert report["attributes"]["request.parameters.hash"].startswith("hmac-sha256:")


@pytest.mark.parametrize("value", ["tracecontxt", "tracecontext,", "tracecontext,bagage", "x,none"])
def test_unknown_propagator_falls_back_to_tracecontext_and_baggage(value: str) -> None:
    report, _ = run({"OTEL_PROPAGATORS": value})
    only_warning(report, "OTEL_PROPAGATORS")
    assert report["carrier"] == ["traceparent"]  # propagation still works


def test_unknown_otlp_protocol_falls_back_to_http() -> None:
    with HTTPReceiver() as receiver:
        report, _ = run(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grcp",
                "OTEL_METRICS_EXPORTER": "none",
            }
        )
    only_warning(report, "OTEL_EXPORTER_OTLP_PROTOCOL")
    assert "execute_tool ping" in {s["name"] for s in receiver.spans}


def test_rejected_batch_settings_fall_back_to_the_sdk_defaults() -> None:
    with HTTPReceiver() as receiver:
        report, _ = run(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                "OTEL_BSP_MAX_QUEUE_SIZE": "-1",
                "OTEL_METRICS_EXPORTER": "none",
            }
        )
    only_warning(report, "OTEL_BSP_")
    assert "execute_tool ping" in {s["name"] for s in receiver.spans}


def test_one_unknown_exporter_among_good_ones_is_skipped() -> None:
    report, _ = run({"OTEL_TRACES_EXPORTER": "console,consol"})
    assert "'consol'" in only_warning(report, "OTEL_TRACES_EXPORTER")
    assert report["exporters"] == ["console"]


def test_malformed_resource_attributes_keep_the_good_entries() -> None:
    report, _ = run({"OTEL_RESOURCE_ATTRIBUTES": "team=agents,,=x,noequals"})
    only_warning(report, "OTEL_RESOURCE_ATTRIBUTES")
    assert report["resource"]["team"] == "agents"
    assert "" not in report["resource"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("   ", "svc-from-code"), ("svc\n[fake] line", "svc[fake] line"), ("svc\x1b[31m", "svc[31m")],
)
def test_weird_service_name_is_cleaned(value: str, expected: str) -> None:
    report, _ = run({"OTEL_SERVICE_NAME": value})
    only_warning(report, "OTEL_SERVICE_NAME")
    assert report["resource"]["service.name"] == expected


@pytest.mark.parametrize("value", ["abc", "-1", "0", "nan", "inf"])
def test_bad_shutdown_timeout_falls_back_to_five_seconds(value: str) -> None:
    report, _ = run({"AGENT_INSTRUMENTORS_SHUTDOWN_TIMEOUT": value})
    only_warning(report, "AGENT_INSTRUMENTORS_SHUTDOWN_TIMEOUT")
    assert report["shutdown_timeout"] == 5.0


@pytest.mark.parametrize(
    "variable", ["OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_EVENT_COUNT_LIMIT"]
)
def test_rejected_span_limits_fall_back_to_the_sdk_defaults(variable: str) -> None:
    report, _ = run({variable: "-5"})
    only_warning(report, variable)
    # The SDK's defaults: 128 attributes and 128 events per span (the session attribute
    # our processor adds counts among the attributes).
    assert report["kept"] == {"attributes": 128, "events": 128}
    default, _ = run({})
    assert default["kept"] == report["kept"]


def test_every_bad_value_at_once_gets_one_warning_each() -> None:
    bad: dict[str, Any] = {
        "AGENT_INSTRUMENTORS_PARAMS_HASH_KEY": b"\xff",
        "OTEL_PROPAGATORS": "tracecontxt",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://[::1",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grcp",
        "OTEL_RESOURCE_ATTRIBUTES": "noequals",
        "OTEL_SERVICE_NAME": "svc\n",
        "OTEL_SPAN_LINK_COUNT_LIMIT": "many",
        "AGENT_INSTRUMENTORS_SHUTDOWN_TIMEOUT": "soon",
        "AGENT_INSTRUMENTORS_CAPTURE_SAMPLE_RATE": "half",
        "AGENT_INSTRUMENTORS_MAX_ATTRIBUTE_LENGTH": "big",
    }
    report, stderr = run(bad)
    messages = [w["message"] for w in report["warnings"]]
    assert len(messages) == len(bad), messages
    for variable in bad:
        assert sum(variable in m for m in messages) == 1, (variable, messages)
    assert report["attributes"]["request.parameters.hash"].startswith("hmac-sha256:")
    assert "execute_tool ping" in stderr
