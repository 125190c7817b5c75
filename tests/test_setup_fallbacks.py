"""One rule for a missing OTLP exporter: the tree view, and the command that installs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_setup import run_agent

INSTALL = "pip install 'agent-instrumentors[otlp]'"


@pytest.fixture
def no_otlp(tmp_path: Path) -> dict[str, str]:
    """An environment whose interpreter cannot import the OTLP exporters."""
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.startswith('opentelemetry.exporter.otlp'):\n"
        "            raise ImportError('blocked for the test')\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    return {"PYTHONPATH": str(tmp_path)}


@pytest.mark.parametrize(
    "env",
    [
        {"OTEL_TRACES_EXPORTER": "otlp"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
    ],
    ids=["OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_ENDPOINT"],
)
def test_missing_otlp_exporters_fall_back_to_the_tree_with_the_fix(
    no_otlp: dict[str, str], env: dict[str, str]
) -> None:
    result = run_agent({**no_otlp, **env})
    assert json.loads(result.stdout)["exporters"] == ["agent_tree"]
    assert "execute_tool get_weather" in result.stderr  # the trace was printed, not lost
    assert INSTALL in result.stderr
    assert result.stderr.count(INSTALL) == 1


def test_an_unknown_exporter_name_falls_back_without_an_otlp_hint() -> None:
    result = run_agent({"OTEL_TRACES_EXPORTER": "no_such_exporter"})
    assert json.loads(result.stdout)["exporters"] == ["agent_tree"]
    assert "no_such_exporter" in result.stderr and INSTALL not in result.stderr
