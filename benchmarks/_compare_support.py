"""Support code for ``compare_existing.py``: the instrumentations it can measure, and
process hygiene around them.

- ``LIBRARIES``: per library, the instrumentor of each workload and the environment
  that turns its content capture off; ``SETTING_PREFIXES``, the settings any of them
  read; ``FRAMEWORK_DISTS``, the framework versions reported with each result;
- ``LogRecords``: the warnings and swallowed errors an instrumentation logs;
- ``Patches``: what ``uninstrument()`` left wrapped in the framework modules, put back.

Not a benchmark of its own; imported by ``compare_existing.py`` (run as a script, so
this directory is on ``sys.path``).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# The workloads of compare_existing.py, by which LIBRARIES names each instrumentor.
OPENAI = "openai chat"
LANGCHAIN = "langchain step"
ANTHROPIC = "anthropic chat"
GENAI = "gemini chat"


@dataclass(frozen=True)
class Target:
    """One instrumentor of a library: the distribution that ships it, module and class."""

    dist: str
    module: str
    cls: str
    # Keyword arguments for instrument() beside tracer_provider, read when it is called
    # (OpenLIT's instrumentors take there what openlit.init() would pass them).
    options: Callable[[], dict[str, Any]] = dict


@dataclass(frozen=True)
class Library:
    targets: dict[str, Target]
    # Environment that turns content capture off, for libraries that capture it by default.
    content_off: dict[str, str] = field(default_factory=dict)


# The environment variable openlit.init() reads for content capture (default on).
OPENLIT_CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def _openlit_options() -> dict[str, Any]:
    """What ``openlit.init()`` sets up for its instrumentors, at its defaults.

    Its global config and the keyword arguments its ``instrument()`` calls pass: content
    captured unless ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` turns it off,
    events on. Unlike ``init()``: no price table (``init()`` downloads one; with no
    network it too ends with none), metrics off (``init()`` would make a MeterProvider and
    exporter of its own), and no LoggerProvider or span exporter installed (``init()``
    would add a console or OTLP exporter): the instrumentors use the global tracer
    provider, ours, and emit their events to the global no-op logger provider.
    """
    from openlit._config import OpenlitConfig

    value = os.environ.get(OPENLIT_CAPTURE)
    capture = value.lower() in {"true", "1", "yes"} if value else True
    options = {
        "environment": "default",
        "application_name": "default",
        "pricing_info": {},
        "capture_message_content": capture,
        "disable_metrics": True,
        "disable_events": False,
        "capture_db_parameters": False,
    }
    OpenlitConfig.reset_to_defaults()
    OpenlitConfig.update_config(
        options["environment"],
        options["application_name"],
        None,  # otlp_endpoint
        None,  # otlp_headers
        False,  # disable_batch
        capture,
        None,  # metrics_dict
        True,  # disable_metrics
        {},  # pricing_info
    )
    return options


def _openlit(module: str, cls: str) -> Target:
    return Target("openlit", f"openlit.instrumentation.{module}", cls, options=_openlit_options)


LIBRARIES: dict[str, Library] = {
    "ours": Library(
        {
            OPENAI: Target("agent-instrumentors", "instrumentors.openai", "OpenAIInstrumentor"),
            LANGCHAIN: Target(
                "agent-instrumentors", "instrumentors.langchain", "LangChainInstrumentor"
            ),
            ANTHROPIC: Target(
                "agent-instrumentors", "instrumentors.anthropic", "AnthropicInstrumentor"
            ),
            GENAI: Target(
                "agent-instrumentors", "instrumentors.google_genai", "GoogleGenAIInstrumentor"
            ),
        }
    ),
    # The official Google Gen AI instrumentation declares google-genai<3: instrumented with
    # its dependency check skipped (it then patches google-genai 3.x as it does 2.x).
    "otel-google-genai": Library(
        {
            GENAI: Target(
                "opentelemetry-instrumentation-google-genai",
                "opentelemetry.instrumentation.google_genai",
                "GoogleGenAiSdkInstrumentor",
                options=lambda: {"skip_dep_check": True},
            )
        }
    ),
    "otel-openai-v2": Library(
        {
            OPENAI: Target(
                "opentelemetry-instrumentation-openai-v2",
                "opentelemetry.instrumentation.openai_v2",
                "OpenAIInstrumentor",
            )
        }
    ),
    "openinference": Library(
        {
            OPENAI: Target(
                "openinference-instrumentation-openai",
                "openinference.instrumentation.openai",
                "OpenAIInstrumentor",
            ),
            LANGCHAIN: Target(
                "openinference-instrumentation-langchain",
                "openinference.instrumentation.langchain",
                "LangChainInstrumentor",
            ),
            ANTHROPIC: Target(
                "openinference-instrumentation-anthropic",
                "openinference.instrumentation.anthropic",
                "AnthropicInstrumentor",
            ),
            GENAI: Target(
                "openinference-instrumentation-google-genai",
                "openinference.instrumentation.google_genai",
                "GoogleGenAIInstrumentor",
            ),
        },
        content_off={"OPENINFERENCE_HIDE_INPUTS": "true", "OPENINFERENCE_HIDE_OUTPUTS": "true"},
    ),
    "openllmetry": Library(
        {
            OPENAI: Target(
                "opentelemetry-instrumentation-openai",
                "opentelemetry.instrumentation.openai",
                "OpenAIInstrumentor",
            ),
            LANGCHAIN: Target(
                "opentelemetry-instrumentation-langchain",
                "opentelemetry.instrumentation.langchain",
                "LangchainInstrumentor",
            ),
            ANTHROPIC: Target(
                "opentelemetry-instrumentation-anthropic",
                "opentelemetry.instrumentation.anthropic",
                "AnthropicInstrumentor",
            ),
            GENAI: Target(
                "opentelemetry-instrumentation-google-generativeai",
                "opentelemetry.instrumentation.google_generativeai",
                "GoogleGenerativeAiInstrumentor",
            ),
        },
        content_off={"TRACELOOP_TRACE_CONTENT": "false"},
    ),
    # OpenLIT pins openai<3 and anthropic<1: nox installs it without its dependency check
    # (--no-deps). Its per-framework instrumentors, called as openlit.init() calls them;
    # not init() itself, which would also turn on the official HTTP-client instrumentations
    # (httpx, requests, ...) and so add an HTTP span to each SDK call.
    "openlit": Library(
        {
            OPENAI: _openlit("openai", "OpenAIInstrumentor"),
            LANGCHAIN: _openlit("langchain", "LangChainInstrumentor"),
            ANTHROPIC: _openlit("anthropic", "AnthropicInstrumentor"),
            GENAI: _openlit("google_ai_studio", "GoogleAIStudioInstrumentor"),
        },
        content_off={OPENLIT_CAPTURE: "false"},
    ),
}

# Settings any of the libraries read; cleared so that "default" means default.
SETTING_PREFIXES = (
    "OTEL_INSTRUMENTATION_GENAI_",
    "OTEL_SEMCONV_STABILITY_OPT_IN",
    "OPENINFERENCE_",
    "TRACELOOP_",
    "AGENT_INSTRUMENTORS_",
    "OPENLIT_",
    "ANTHROPIC_",
)

FRAMEWORK_DISTS = (
    "openai",
    "anthropic",
    "google-genai",
    "langchain-core",
    "langchain",
    "langgraph",
    "opentelemetry-sdk",
    "wrapt",
)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


class LogRecords(logging.Handler):
    """Warnings and swallowed errors the instrumentation logs while the spans are checked."""

    QUIET = (
        "openai", "anthropic", "google_genai", "httpx", "httpx2", "httpcore", "asyncio", "urllib3",
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in self.QUIET:
            return
        text = record.getMessage()
        if record.levelno >= logging.WARNING or any(
            word in text.lower() for word in ("traceback", "error", "fail")
        ):
            first = text.strip().splitlines()
            last = first[-1] if len(first) > 1 else ""
            self.messages.append(f"{record.levelname} {record.name}: {first[0][:100]} {last[:100]}")

    def __enter__(self) -> LogRecords:
        root = logging.getLogger()
        self._level = root.level
        root.addHandler(self)
        root.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        root.setLevel(self._level)


class Patches:
    """What the framework modules looked like before instrumenting, to check uninstrument().

    A library whose ``uninstrument()`` leaves its wrappers in place would make every
    "plain" batch an instrumented one; those wrappers are reported and put back to the
    originals, so the interleaved comparison stays valid.
    """

    PREFIXES = ("openai", "anthropic", "google", "langchain_core", "langchain", "langgraph")

    def __init__(self) -> None:
        import wrapt

        self._proxy: type = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)
        self._before = {label: (owner, dict(vars(owner))) for label, owner in self._owners()}
        self.leaked: set[str] = set()

    def _owners(self) -> list[tuple[str, Any]]:
        owners = []
        for name, module in list(sys.modules.items()):
            if module is None or name.split(".")[0] not in self.PREFIXES:
                continue
            owners.append((name, module))
            for value in list(vars(module).values()):
                if isinstance(value, type) and value.__module__ == name:
                    owners.append((f"{name}.{value.__qualname__}", value))
        return owners

    def restore(self) -> None:
        """Put back what an uninstrumented library left wrapped; remember where."""
        for label, (owner, before) in self._before.items():
            for key, value in list(vars(owner).items()):
                if not isinstance(value, self._proxy) or before.get(key) is value:
                    continue
                self.leaked.add(f"{label}.{key}")
                if key in before:
                    setattr(owner, key, before[key])
                else:
                    delattr(owner, key)
