"""Zero code: ``opentelemetry-instrument`` traces an unmodified agent, to the console and to
Phoenix over OTLP; ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` turns ours off by entry-point name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import PhoenixServer
from tests.e2e.phoenix_client import PhoenixClient, named

pytest.importorskip("openai")
pytest.importorskip("opentelemetry.distro")

AGENT = Path(__file__).with_name("zero_code_agent.py")
INSTRUMENT = str(Path(sys.executable).with_name("opentelemetry-instrument"))


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    clean.update({"OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none", **env})
    clean["NO_PROXY"] = clean["no_proxy"] = "127.0.0.1,localhost"
    return subprocess.run(
        [INSTRUMENT, sys.executable, str(AGENT)],
        capture_output=True,
        text=True,
        env=clean,
        timeout=120,
        check=True,
    )


def test_console_tree_without_code_changes() -> None:
    result = run({"OTEL_TRACES_EXPORTER": "agent_tree"})
    err = result.stderr
    assert err.count("chat gpt-4o-mini") == 2
    assert "provider=openai" in err and "in=" in err


def test_otlp_to_phoenix_without_code_changes(
    phoenix: PhoenixServer, phoenix_client: PhoenixClient
) -> None:
    project = "zero-code"
    run(
        {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_ENDPOINT": phoenix.otlp_endpoint("http"),
            "OTEL_SERVICE_NAME": project,
            "OTEL_RESOURCE_ATTRIBUTES": f"openinference.project.name={project}",
        }
    )
    spans = phoenix_client.wait_for_spans(project, 2)
    chats = named(spans, "chat gpt-4o-mini")
    assert len(chats) == 2
    for span in chats:
        assert span["attributes"]["gen_ai.provider.name"] == "openai"
        assert span["attributes"]["gen_ai.usage.input_tokens"] > 0
    assert "call_1" in str(chats[0]["attributes"].get("gen_ai.response.tool_call.ids"))


def test_disabled_by_entry_point_name() -> None:
    result = run(
        {
            "OTEL_TRACES_EXPORTER": "agent_tree",
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "agent_openai",
        }
    )
    assert "chat gpt-4o-mini" not in result.stderr
