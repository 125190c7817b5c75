"""Every shell command the README shows, run exactly as written, in a fresh virtualenv.

The module walks the README like a new user on a clean machine: one new virtualenv
(its ``bin`` first on ``PATH``, so ``python3`` and ``pip`` are the virtualenv's), the
"Try it" command, each example's install command followed by that example, the
zero-code command, the report commands. ``test_every_command_is_checked`` fails when
the README gains a command nobody runs. Commands that install the published
distribution (``pip install "agent-instrumentors[...]"``) find it in a directory
holding a wheel built from this clone (``PIP_FIND_LINKS``), in place of the index.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TIMEOUT = 900  # a fresh install of an example's dependencies from the index

# Commands checked elsewhere: .ci/run itself, and the Phoenix commands, which
# tests/e2e/harness.py runs (a virtualenv with arize-phoenix, `phoenix serve` bound to
# loopback) and tests/e2e/test_backend.py exports basic_agent.py to over OTLP/HTTP.
ELSEWHERE = {
    "python3 -m pip install nox uv && python3 -m nox": ".ci/run",
    "python3 -m venv phoenix-venv && phoenix-venv/bin/pip install arize-phoenix": "harness.py",
    "phoenix-venv/bin/phoenix serve": "harness.py",
    "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:6006 python3 examples/basic_agent.py": (
        "test_backend.py"
    ),
}
TRY_IT = "python3 -m pip install -e . && python3 examples/basic_agent.py"
DISTRO = "pip install opentelemetry-distro"
ZERO_CODE = (
    "OTEL_TRACES_EXPORTER=agent_tree OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none "
    "opentelemetry-instrument python agent.py"
)
REPORT_RUN = "AGENT_INSTRUMENTORS_REPORT=run.html python3 examples/basic_agent.py"
REPORT_FILE = "python3 -m instrumentors report traces.jsonl -o run.html"
# Example -> its install command, in the order of the README's table.
EXAMPLE_INSTALL = re.compile(r"\| `(examples/[\w/]+\.py)` \| `(python3 -m pip install [^`]+)` \|")
DISTRIBUTION_INSTALL = re.compile(r'`?(pip install "agent-instrumentors\[[\w,-]+\]")`?')


def bash_commands() -> list[str]:
    """Every line of every ```bash block."""
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def examples() -> list[tuple[str, str]]:
    return EXAMPLE_INSTALL.findall(README)


def test_every_command_is_checked() -> None:
    checked = {TRY_IT, DISTRO, ZERO_CODE, REPORT_RUN, REPORT_FILE, *ELSEWHERE}
    checked |= set(DISTRIBUTION_INSTALL.findall(README))
    unchecked = [c for c in bash_commands() if c not in checked]
    assert unchecked == [], "README commands no test runs"
    assert len(examples()) >= 7  # every example in the table has its install command


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[User]:
    yield User(tmp_path_factory.mktemp("readme"))


class User:
    """A shell in a fresh virtualenv: ``run(command)`` as the README's reader types it."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.venv = home / "venv"
        uv = shutil.which("uv")
        assert uv, "uv is needed to make the fresh virtualenv"
        subprocess.run([uv, "venv", "--seed", "--python", sys.executable, str(self.venv)],
                       check=True, capture_output=True)  # fmt: skip
        # A working directory outside the clone (files the commands write land here),
        # with the clone's examples where the commands expect them.
        self.work = home / "work"
        self.work.mkdir()
        (self.work / "examples").symlink_to(ROOT / "examples")
        self.wheels = home / "wheels"

    def env(self) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items()
                 if not k.startswith(("OTEL_", "AGENT_INSTRUMENTORS_", "OPENAI_", "ANTHROPIC_",
                                      "GOOGLE_", "GEMINI_", "VIRTUAL_ENV", "PYTHON"))}  # fmt: skip
        clean["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{clean.get('PATH', '')}"
        clean["VIRTUAL_ENV"] = str(self.venv)
        clean["NO_PROXY"] = clean["no_proxy"] = "127.0.0.1,localhost"
        return clean

    def run(
        self, command: str, cwd: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=cwd or self.work,
            env={**self.env(), **env},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        assert result.returncode == 0, f"{command!r} failed:\n{output}"
        return result


def test_try_it(user: User) -> None:
    result = user.run(TRY_IT, cwd=ROOT)  # `pip install -e .` needs the clone
    assert "invoke_agent weather-agent" in result.stderr
    assert "SLIs" in result.stderr and "Traceback" not in result.stderr


def test_the_report_of_a_run_and_of_a_file(user: User) -> None:
    user.run(REPORT_RUN)
    page = (user.work / "run.html").read_text(encoding="utf-8")
    assert "invoke_agent weather-agent" in page and "<script" in page
    (user.work / "run.html").unlink()
    user.run("python3 examples/basic_agent.py", OTEL_TRACES_EXPORTER="agent_jsonl")
    assert (user.work / "traces.jsonl").stat().st_size > 0
    user.run(REPORT_FILE)
    assert "execute_tool get_weather" in (user.work / "run.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(("example", "install"), examples(), ids=[e for e, _ in examples()])
def test_each_example_after_its_install_command(user: User, example: str, install: str) -> None:
    user.run(install, cwd=ROOT)
    result = user.run(f"python3 {example}")
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "trace " in result.stderr and "SLIs" in result.stderr


def test_zero_code(user: User) -> None:
    user.run(DISTRO)
    agent = user.work / "agent.py"
    if not agent.exists():
        agent.symlink_to(ROOT / "tests" / "e2e" / "zero_code_agent.py")
    result = user.run(ZERO_CODE)
    assert result.stderr.count("chat gpt-4o-mini") == 2
    # Quiet: no exporter errors, no retry warnings, nothing but the tree.
    for noise in ("Transient error", "Traceback", "Failed to export", "UNAVAILABLE"):
        assert noise not in result.stderr


def test_installing_the_distribution_with_extras(user: User) -> None:
    user.wheels.mkdir(exist_ok=True)
    user.run(f"python3 -m pip wheel --no-deps -q -w {user.wheels} {ROOT}", cwd=ROOT)
    (wheel,) = user.wheels.glob("agent_instrumentors-*.whl")
    with zipfile.ZipFile(wheel) as archive:  # the license travels with the wheel
        assert any(name.endswith("licenses/LICENSE") for name in archive.namelist())
    for command in sorted(set(DISTRIBUTION_INSTALL.findall(README))):
        user.run(command, PIP_FIND_LINKS=f"{user.wheels} {os.environ.get('PIP_FIND_LINKS', '')}")
    check = "import instrumentors, grpc, celery, redis, sqlalchemy; print('ok')"
    assert user.run(f'python3 -c "{check}"').stdout.strip() == "ok"
