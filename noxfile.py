"""Sessions: tests (default), lint, types, compat (framework-version matrix), bench, e2e."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests", "lint", "types", "compat", "e2e"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"

# (name, pip requirements, test paths). The newest release of each framework runs
# in the default `tests` session; compat adds the other supported lines.
# Integrations the tests drive (scripted or local-server backed), beyond our extras.
TEST_INTEGRATIONS = ["langchain>=1", "langchain-openai>=1", "llama-index-llms-openai>=0.5"]

COMPAT: list[tuple[str, list[str], list[str]]] = [
    (
        "langchain-0.3-oldest",
        ["langchain-core==0.3.0", "langgraph==0.2.17", "langchain==0.3.0",
         "langchain-openai==0.2.0", "openai>=1.40,<2"],
        ["tests/langchain"],
    ),
    (
        "langchain-0.3-latest",
        ["langchain-core>=0.3.80,<0.4", "langgraph>=0.6,<0.7", "langchain>=0.3,<0.4",
         "langchain-openai>=0.3,<0.4", "openai>=2,<3"],
        ["tests/langchain"],
    ),
    (
        "llama-index-0.12",
        ["llama-index-core>=0.12.52,<0.13", "llama-index-llms-openai>=0.4,<0.5"],
        ["tests/llama_index"],
    ),
    ("mcp-1", ["mcp>=1.30,<2"], ["tests/mcp", "tests/propagation"]),
    ("openai-1", ["openai>=1.100,<2"], ["tests/openai"]),
    ("openai-2", ["openai>=2,<3"], ["tests/openai"]),
    # The framework integrations in `tests` hold openai below 3: test 3.x on its own.
    ("openai-3", ["openai>=3,<4"], ["tests/openai", "tests/reliability"]),
    ("tenacity-8", ["tenacity>=8.2,<9"], ["tests/test_resilience.py"]),
]  # fmt: skip


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole unit and integration suite with the newest framework releases."""
    session.install("-e", ".[test,all]", *TEST_INTEGRATIONS)
    session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and format check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def types(session: nox.Session) -> None:
    """mypy (strict) on the package."""
    session.install("-e", ".[all]", "mypy>=1.10")
    session.run("mypy", "instrumentors")


@nox.session(python=PYTHON)
@nox.parametrize("target", [name for name, _, _ in COMPAT], ids=[name for name, _, _ in COMPAT])
def compat(session: nox.Session, target: str) -> None:
    """One framework line per run: its own virtualenv, its own tests."""
    _, requirements, paths = next(entry for entry in COMPAT if entry[0] == target)
    session.install("-e", ".[test]", *requirements)
    session.run("pytest", "-q", "-p", "no:cacheprovider", *paths, *session.posargs)


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """End to end: the examples export to a real Phoenix server on loopback (tests/e2e)."""
    session.install("-e", ".[test,all]", *TEST_INTEGRATIONS, "uv")
    session.env["AGENT_INSTRUMENTORS_E2E"] = "1"
    session.run("pytest", "-q", "-p", "no:cacheprovider", "tests/e2e", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Overhead benchmarks (prints numbers; never a pass/fail timing)."""
    session.install("-e", ".[test,all]", *TEST_INTEGRATIONS)
    session.run("python", "benchmarks/run_all.py", *session.posargs)
