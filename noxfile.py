"""Sessions: tests (default), lint, types, compat (framework-version matrix), bench, e2e.

Not default (.ci/run runs them): servers, browser (the HTML report in headless Chromium),
pythons (the core suite on Python 3.10 and 3.12), conformance (the official OpenAI
instrumentation's own tests against our instrumentor).

Also bench_compare (not default): our overhead next to other instrumentations."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path
from typing import Any

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests", "lint", "types", "compat", "e2e"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
# The test tools: a dependency group of pyproject.toml, not an extra users could install.
TEST = ("--group", "test")

# (name, pip requirements, test paths). The newest release of each framework runs
# in the default `tests` session; compat adds the other supported lines.
# Integrations the tests drive (scripted or local-server backed), beyond our extras.
TEST_INTEGRATIONS = [
    "langchain>=1", "langchain-openai>=1", "llama-index-llms-openai>=0.5",
    # ChatAnthropic / LlamaIndex Anthropic over the fake Messages server (tests/anthropic);
    # llama-index-llms-anthropic brings boto3 and google-auth (the Bedrock / Vertex clients).
    "langchain-anthropic>=1", "llama-index-llms-anthropic>=0.8",
    # ChatGoogleGenerativeAI over the fake Gemini server (tests/google_genai).
    "langchain-google-genai>=4",
]  # fmt: skip

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
    # llama-index-llms-anthropic runs on anthropic 0.x only (it calls MessageParam(), a Union
    # in 2.x, and passes messages.create a temperature, gone in 1.x): its tests run there.
    ("anthropic-2", ["anthropic>=2,<3"], ["tests/anthropic"]),
    ("anthropic-1", ["anthropic>=1,<2", "langchain>=1", "langchain-anthropic>=1"],
     ["tests/anthropic"]),
    ("anthropic-0", ["anthropic>=0.50,<1", "langchain>=1", "langchain-anthropic>=1",
                     "llama-index-llms-anthropic>=0.8"], ["tests/anthropic"]),
    ("openai-1", ["openai>=1.100,<2"], ["tests/openai"]),
    ("openai-2", ["openai>=2,<3"], ["tests/openai"]),
    # The framework integrations in `tests` hold openai below 3: test 3.x on its own.
    ("openai-3", ["openai>=3,<4"], ["tests/openai", "tests/reliability"]),
    ("tenacity-8", ["tenacity>=8.2,<9"], ["tests/test_resilience.py"]),
    # google-genai: the newest 3.x also runs in `tests`; llama-index-llms-google-genai holds
    # google-genai below 3, so LlamaIndex's GoogleGenAI is tested on the 2.x line.
    ("google-genai-3", ["google-genai>=3,<4"], ["tests/google_genai"]),
    ("google-genai-2", ["google-genai>=2,<3", "llama-index-llms-google-genai>=0.9"],
     ["tests/google_genai"]),
    ("google-genai-1", ["google-genai>=1.0,<2"], ["tests/google_genai"]),
    # openai-agents: `tests` gets the newest release next to openai 2.x (0.20); 0.21 and
    # later need openai 3. 0.4 is the oldest that installs next to openai 2.x, and runs
    # only below openai 2.45 (whose usage types it can no longer build).
    ("openai-agents-newest", ["openai-agents>=0.24", "openai>=3,<4"], ["tests/openai_agents"]),
    ("openai-agents-0.4", ["openai-agents==0.4.0", "openai>=2.2,<2.45"], ["tests/openai_agents"]),
    # The official SQLAlchemy instrumentation declares sqlalchemy < 2.1: its spans, sanitized.
    ("sqlalchemy-2.0", ["sqlalchemy>=2.0,<2.1",
                        "opentelemetry-instrumentation-sqlalchemy>=0.60b0,<1",
                        "opentelemetry-instrumentation-dbapi>=0.60b0,<1"],
     ["tests/db/test_db_sqlite.py"]),
]  # fmt: skip


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole unit and integration suite with the newest framework releases."""
    session.install("-e", ".[all]", *TEST, *TEST_INTEGRATIONS)
    session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


# The suites that talk to real servers: gRPC (in process), a Celery worker with a Redis
# broker, Redis as a cache. They skip without a Redis in `tests`; here they fail instead.
SERVER_SUITES = ["tests/jobs", "tests/grpc", "tests/db"]
REDIS_PORT_VAR = "AGENT_INSTRUMENTORS_TEST_REDIS_PORT"


@nox.session(python=PYTHON)
def servers(session: nox.Session) -> None:
    """gRPC, Celery + Redis and Redis-cache tests against real servers (never skipped).

    Uses the Redis named by AGENT_INSTRUMENTORS_TEST_REDIS_PORT (.ci/run starts one), else
    starts `redis-server` (Debian package) on 127.0.0.1 itself.
    """
    import shutil
    import socket
    import subprocess

    session.install("-e", ".[all]", *TEST)
    session.env["AGENT_INSTRUMENTORS_REQUIRE_SERVERS"] = "1"
    proc = None
    if not os.environ.get(REDIS_PORT_VAR) and shutil.which("redis-server"):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL,
        )  # fmt: skip
        session.env[REDIS_PORT_VAR] = str(port)
    try:
        session.run("pytest", "-q", "-p", "no:cacheprovider", *SERVER_SUITES, *session.posargs)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


def _interpreter(version: str) -> str:
    """``version``'s interpreter: a pyenv build when there is one (CI's image keeps 3.10 and
    3.12 there, behind shims that fail), else the version for nox to find on PATH."""
    import glob

    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    builds = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    return builds[-1] if builds else version


OTHER_PYTHONS = ("3.10", "3.12")


@nox.session
@nox.parametrize(
    "python", [_interpreter(v) for v in OTHER_PYTHONS], ids=list(OTHER_PYTHONS)
)  # fmt: skip
def pythons(session: nox.Session) -> None:
    """The core suite (no framework) on the other Pythons the classifiers claim."""
    session.install("-e", ".[otlp,b3,tenacity,pybreaker]", *TEST)
    core = sorted(str(path) for path in Path("tests").glob("test_*.py"))
    session.run("pytest", "-q", "-p", "no:cacheprovider", *core, "tests/report", *session.posargs)


@nox.session(python=PYTHON)
def browser(session: nox.Session) -> None:
    """The HTML trace report in a real headless Chromium (tests/report/test_report_browser.py).

    Needs Debian's ``chromium``: installed here with apt-get when running as root.
    Screenshots and the 5,000-span measurement go to build/test-artifacts/.
    """
    import shutil

    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        if os.geteuid() != 0:
            session.error("install Debian's chromium first: sudo apt-get install chromium")
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", "-qq", external=True, env=env)
        session.run("apt-get", "install", "-y", "-qq", "chromium", external=True, env=env)
    session.install("-e", ".[examples-openai]", *TEST)
    session.env["AGENT_INSTRUMENTORS_BROWSER"] = "1"
    session.env["AGENT_INSTRUMENTORS_ARTIFACTS"] = str(Path("build/test-artifacts").resolve())
    session.run(
        "pytest", "-q", "-p", "no:cacheprovider", "tests/report/test_report_browser.py",
        *session.posargs,
    )  # fmt: skip


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
    session.install("-e", ".", *TEST, *requirements)
    session.run("pytest", "-q", "-p", "no:cacheprovider", *paths, *session.posargs)


# conformance: the official OpenAI instrumentation's own tests and VCR cassettes, from its
# sdist on the package index, run against our OpenAIInstrumentor through
# tests/conformance/openai_v2_adapter.py (docs/conformance.md). The official package itself
# is not installed: 2.4b0 imports opentelemetry.util.genai.instruments, which no released
# util-genai ships; its tests need util-genai only for two names 1.3b0 has.
CONFORMANCE_SDIST = "opentelemetry-instrumentation-openai-v2==2.4b0"
CONFORMANCE_TOOLS = [
    "pytest>=8", "pytest-asyncio>=0.23", "pytest-vcr>=1.0.2", "vcrpy>=7", "pyyaml>=6",
    "opentelemetry-util-genai==1.3b0", "pip",
]  # fmt: skip
CONFORMANCE_OPENAI = {"openai-1": "openai>=1.100,<2", "openai-2": "openai>=2,<3",
                      "openai-3": "openai>=3,<4"}  # fmt: skip


@nox.session(python=PYTHON)
@nox.parametrize("line", list(CONFORMANCE_OPENAI), ids=list(CONFORMANCE_OPENAI))
def conformance(session: nox.Session, line: str) -> None:
    """The official OpenAI instrumentation's tests and cassettes against ours (not default)."""
    import shutil
    import tarfile

    session.install("-e", ".[openai]", CONFORMANCE_OPENAI[line], *CONFORMANCE_TOOLS)
    adapter = Path("tests/conformance").resolve()
    work = Path(session.create_tmp()).resolve() / "openai-v2"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    session.run(
        "python", "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
        "--dest", str(work), CONFORMANCE_SDIST,
    )  # fmt: skip
    (sdist,) = work.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(work, filter="data")
    (root,) = (path for path in work.iterdir() if path.is_dir())
    session.chdir(root)
    session.env["PYTHONPATH"] = str(adapter)
    session.run(
        "pytest", "-q", "-p", "no:cacheprovider", "-p", "openai_v2_adapter", "tests",
        *session.posargs,
    )  # fmt: skip


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """End to end: the examples export to a real Phoenix server on loopback (tests/e2e)."""
    session.install("-e", ".[all]", *TEST, *TEST_INTEGRATIONS, "uv")
    session.env["AGENT_INSTRUMENTORS_E2E"] = "1"
    session.run("pytest", "-q", "-p", "no:cacheprovider", "tests/e2e", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Overhead benchmarks (prints numbers; never a pass/fail timing)."""
    session.install("-e", ".[all]", *TEST, *TEST_INTEGRATIONS, "pyinstrument")
    session.run("python", "benchmarks/run_all.py", *session.posargs)


# bench_compare: our overhead next to other OpenAI / LangChain / Anthropic instrumentations,
# one virtualenv each (built with uv), on the workloads of benchmarks/openai_overhead.py,
# benchmarks/langchain_overhead.py and benchmarks/anthropic_overhead.py (see
# benchmarks/compare_existing.py).
COMPARE_BASE = ["-e", ".[openai,anthropic,langchain,google-genai]", "langchain>=1", "langgraph"]
COMPARE: dict[str, list[str]] = {
    "ours": [],
    # 2.4b0 imports opentelemetry.util.genai.instruments, which no released util-genai
    # (we pin <1.4) ships; 2.3b0 calls wrap_function_wrapper(module=...), a wrapt 1.x keyword.
    "otel-openai-v2": ["opentelemetry-instrumentation-openai-v2<2.4", "wrapt<2"],
    # Declares google-genai<3 in its instrumentation dependencies (not its requirements):
    # compare_existing.py instruments it with skip_dep_check.
    "otel-google-genai": ["opentelemetry-instrumentation-google-genai"],
    "openinference": [
        "openinference-instrumentation-openai",
        "openinference-instrumentation-langchain",
        "openinference-instrumentation-anthropic",
        "openinference-instrumentation-google-genai",
    ],
    "openllmetry": [
        "opentelemetry-instrumentation-openai",
        "opentelemetry-instrumentation-langchain",
        "opentelemetry-instrumentation-anthropic",
        "opentelemetry-instrumentation-google-generativeai",
    ],
    # OpenLIT pins openai<3 and anthropic<1, which the pinned SDKs are past: openlit itself
    # goes in after the rest without its dependency check (COMPARE_NO_DEPS). Here, its other
    # requirements (openlit 1.45 metadata) but for the HTTP instrumentations below, and
    # what those need in turn.
    "openlit": [
        "boto3", "botocore", "opentelemetry-api", "opentelemetry-exporter-otlp",
        "opentelemetry-instrumentation", "opentelemetry-sdk",
        "opentelemetry-semantic-conventions", "pydantic", "requests", "schedule", "xmltodict",
        "asgiref", "opentelemetry-instrumentation-wsgi", "opentelemetry-util-http",
    ],
}  # fmt: skip
# Installed after COMPARE[name], with --no-deps. OpenLIT also requires 13 HTTP-framework
# instrumentations from opentelemetry-python-contrib; each pins opentelemetry-instrumentation
# and -semantic-conventions exactly, and contrib does not release all of them for every core
# version (for the 0.66b2 held from "ours", aiohttp-client, falcon, flask, pyramid,
# starlette, tornado, urllib and urllib3 stop at 0.66b1), so resolving them fails ("could not
# be installed"). Only openlit.init() loads them, for HTTP frameworks; compare_existing.py
# calls OpenLIT's LLM instrumentors directly and never imports them.
COMPARE_NO_DEPS: dict[str, list[str]] = {
    "openlit": [
        "openlit",
        *(f"opentelemetry-instrumentation-{name}" for name in (
            "aiohttp-client", "asgi", "django", "falcon", "fastapi", "flask", "httpx",
            "pyramid", "requests", "starlette", "tornado", "urllib", "urllib3",
        )),
    ]
}  # fmt: skip
# Held in every virtualenv at the versions resolved for "ours": the plain cost compares.
COMPARE_PINNED = [
    "openai", "anthropic", "httpx", "httpx2", "pydantic", "pydantic-core", "langchain-core",
    "langchain", "langgraph", "langgraph-prebuilt", "opentelemetry-api", "opentelemetry-sdk",
    "opentelemetry-instrumentation", "opentelemetry-semantic-conventions",
    "opentelemetry-util-genai", "google-genai", "tenacity",
]  # fmt: skip
COMPARE_RESULTS = Path("benchmarks/results/compare-existing.md")


def _compare_table(
    lines: list[dict[str, Any]], failed: dict[str, str], posargs: list[str], commit: str
) -> str:
    """The markdown section for one bench_compare run."""
    ok = [line for line in lines if line["status"] == "ok"]
    ours = {line["workload"]: line["added_us"] for line in ok if line["name"] == "ours"}
    first = lines[0] if lines else {}
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    frameworks: dict[str, list[str]] = {}
    for line in lines:
        names = frameworks.setdefault(json.dumps(line["framework"], sort_keys=True), [])
        names += [] if line["name"] in names else [line["name"]]
    instrumentations = sorted(
        {f"{dist} {version}" for line in lines for dist, version in line["instrumentation"].items()}
    )
    out = [
        f"## {dt.datetime.now().isoformat(timespec='seconds')}",
        "",
        f"`uname -m` {platform.machine()}; Python {first.get('python', '?')};"
        f" {os.cpu_count()} CPUs; load average {load}; this package at {commit}."
        f" Arguments: {' '.join(posargs) or '-'}"
        f" ({first.get('rounds', '?')} interleaved rounds; thread CPU time; medians per call;"
        " SimpleSpanProcessor to memory).",
        "",
        "Frameworks: "
        + " | ".join(
            ", ".join(f"{k} {v}" for k, v in json.loads(key).items()) + f" ({', '.join(names)})"
            for key, names in frameworks.items()
        ),
        "",
        "Instrumentations: " + ", ".join(instrumentations) + ".",
        "",
        "| workload | instrumentation | plain µs | added µs | added / ours |",
        "|---|---|---:|---:|---:|",
    ]
    notes = []
    for line in sorted(lines, key=lambda x: (x["workload"], x["name"] != "ours", x["name"])):
        label = line["name"] + (" (content off)" if line["capture"] == "off" else "")
        if line["status"] != "ok":
            out.append(f"| {line['workload']} | {label} | - | - | {line['status']} |")
            notes.append(f"- {line['workload']}, {label}: {line['status']}: {line['reason']}")
            continue
        base = ours.get(line["workload"])
        ratio = f"{line['added_us'] / base:.2f}" if base else "-"
        out.append(
            f"| {line['workload']} | {label} | {line['plain_us']:.1f} | {line['added_us']:.1f}"
            f" | {ratio} |"
        )
        content = "yes" if line["content_in_spans"] else "no"
        note = (
            f"- {line['workload']}, {label}: {line['spans_per_call']:g} span(s) per call"
            f" {line['span_names']}; content in spans: {content};"
            f" {line['bare_spans']} bare SDK span(s) around the plain call:"
            f" {line['bare_span_us']:.1f} µs; added in process CPU time:"
            f" {line['added_process_us']:.1f} µs"
        )
        if line["log_records"]:
            note += f"; logged per call ({line['log_records_per_call']:g}): {line['log_records']}"
        if line["left_wrapped_by_uninstrument"]:
            note += (
                "; uninstrument() left these wrapped (restored between rounds):"
                f" {line['left_wrapped_by_uninstrument']}"
            )
        notes.append(note)
    notes += [f"- {name}: {reason}" for name, reason in failed.items()]
    return "\n".join([*out, "", *notes, "", ""])


@nox.session(python=PYTHON)
def bench_compare(session: nox.Session) -> None:
    """Our per-call overhead next to other instrumentations (one virtualenv each; not default).

    Arguments after ``--`` go to benchmarks/compare_existing.py (e.g. ``--rounds 10``).
    Appends the table to benchmarks/results/compare-existing.md.
    """
    session.install("uv")
    python = str(Path(session.bin) / "python")
    root = Path(session.create_tmp()) / "compare"
    pins = root / "pins.txt"
    lines: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    pins.unlink(missing_ok=True)  # written below from the "ours" virtualenv
    for name, requirements in COMPARE.items():
        venv = root / name
        venv_python = str(venv / "bin" / "python")
        try:
            session.run("uv", "venv", "-q", "--clear", "--python", python, str(venv))
            constraints = ["--constraint", str(pins)] if pins.exists() else []
            session.run(
                "uv", "pip", "install", "-q", "--python", venv_python,
                *COMPARE_BASE, *requirements, *constraints,
            )  # fmt: skip
            if name in COMPARE_NO_DEPS:
                session.run(
                    "uv", "pip", "install", "-q", "--python", venv_python, "--no-deps",
                    *COMPARE_NO_DEPS[name],
                )  # fmt: skip
        except nox.command.CommandFailed as error:
            failed[name] = f"could not be installed ({error.reason}); see the nox log"
            continue
        if name == "ours":
            frozen = session.run(
                "uv", "pip", "freeze", "--python", venv_python, silent=True
            )  # fmt: skip
            wanted = {package.lower() for package in COMPARE_PINNED}
            pinned = [
                entry for entry in str(frozen).splitlines()
                if entry.split("==")[0].lower() in wanted
            ]  # fmt: skip
            pins.write_text("\n".join(pinned) + "\n")
            session.log("pinned for every virtualenv: " + ", ".join(pinned))
        try:
            output = session.run(
                venv_python, "benchmarks/compare_existing.py", "--which", name,
                *session.posargs, external=True, silent=True,
            )  # fmt: skip
        except nox.command.CommandFailed as error:
            failed[name] = f"benchmark failed ({error.reason}); see the nox log"
            continue
        for text in str(output).splitlines():
            if text.startswith("{"):
                lines.append(json.loads(text))
            else:
                session.log(text)
    commit = session.run(
        "git", "describe", "--always", "--dirty", external=True, silent=True, success_codes=[0, 128]
    )
    section = _compare_table(lines, failed, list(session.posargs), str(commit).strip())
    if not COMPARE_RESULTS.exists():
        COMPARE_RESULTS.write_text(
            "# Overhead next to other instrumentations (`nox -s bench_compare`)\n\n"
            "Added thread CPU time per call of each instrumentation with its default settings"
            " (and with content capture off where the default captures it), on the workloads"
            " of benchmarks/openai_overhead.py (non-streaming chat with a tool call, mock"
            " transport) and benchmarks/langchain_overhead.py (fake chat model + tool);"
            " see benchmarks/compare_existing.py.\n\n"
        )
    with COMPARE_RESULTS.open("a") as results:
        results.write(section)
    session.log(f"appended to {COMPARE_RESULTS}:\n{section}")
