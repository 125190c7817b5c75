"""The shipped collector configuration is consistent: every pipeline names defined components."""

from __future__ import annotations

from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

CONFIG = Path(__file__).resolve().parent.parent / "examples" / "collector" / "otel-collector.yaml"


def test_pipelines_reference_defined_components() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    defined = {
        kind: set(config.get(kind, {}))
        for kind in ("receivers", "processors", "exporters", "connectors")
    }
    for name, pipeline in config["service"]["pipelines"].items():
        for receiver in pipeline["receivers"]:
            assert receiver in defined["receivers"] | defined["connectors"], (name, receiver)
        for processor in pipeline.get("processors", []):
            assert processor in defined["processors"], (name, processor)
        for exporter in pipeline["exporters"]:
            assert exporter in defined["exporters"] | defined["connectors"], (name, exporter)


def test_tail_sampling_keeps_errors_and_slow_traces_and_spanmetrics_sees_everything() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    policies = {p["type"]: p for p in config["processors"]["tail_sampling"]["policies"]}
    assert policies["status_code"]["status_code"]["status_codes"] == ["ERROR"]
    assert policies["latency"]["latency"]["threshold_ms"] > 0
    pipelines = config["service"]["pipelines"]
    unsampled = [p for p in pipelines.values() if "spanmetrics" in p["exporters"]]
    assert unsampled and all("tail_sampling" not in p.get("processors", []) for p in unsampled)
    assert "spanmetrics" in pipelines["metrics"]["receivers"]
    dims = {d["name"] for d in config["connectors"]["spanmetrics"]["dimensions"]}
    assert {"gen_ai.tool.name", "error.type"} <= dims
