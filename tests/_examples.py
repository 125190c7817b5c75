"""Running an example script the way a new user would: its own process, no OTEL_ settings
and no API keys in its environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Settings, and the API keys that would make an example talk to a real API.
_KEYS = ("OTEL_", "OPENAI_", "GOOGLE_API_KEY", "GEMINI_API_KEY")


def run_example(
    *path: str, timeout: float = 180, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<path>`` offline (plus ``env``); fail on a non-zero exit or a traceback."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(_KEYS)}, **(env or {})}
    result = subprocess.run(
        [sys.executable, str(ROOT.joinpath("examples", *path))],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result
