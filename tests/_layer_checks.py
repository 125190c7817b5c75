"""Checks every model-SDK layer's tests make alike (OpenAI, Anthropic, Google Gen AI).

What a layer patches and whether uninstrumenting restores it, its entry point,
whether importing it imports its SDK, scripts in a fresh interpreter (the only
place an import can be seen to happen), a stand-in for a telemetry bug, a
tracer provider of the test's own, and whether the user gets the very exception
object the SDK raised.
"""

from __future__ import annotations

import importlib
import json
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any

import wrapt
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from instrumentors._patching import attribute_exists

# The start of every run_fresh() script: json and sys imported, ``exporter`` receiving the
# spans of ``provider``.
IN_MEMORY_TRACING = textwrap.dedent(
    """
    import json, sys
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    """
)


def patched_originals(patches: Iterable[Any]) -> dict[tuple[Any, str], Any]:
    """Every (owner, attribute) a layer's ``PATCHES`` rows patch in this SDK version -> what
    the owner holds there now (the original, when uninstrumented)."""
    found = {}
    for row in patches:
        if attribute_exists(row.module, row.attribute):
            *owner_path, name = row.attribute.split(".")
            owner: Any = importlib.import_module(row.module)
            for part in owner_path:
                owner = getattr(owner, part)
            found[(owner, name)] = vars(owner)[name]
    return found


def holds(originals: Mapping[tuple[Any, str], Any]) -> bool:
    """Whether every owner holds its original again (``originals``: ``patched_originals()``)."""
    return all(vars(owner)[name] is f for (owner, name), f in originals.items())


def holds_none_of(originals: Mapping[tuple[Any, str], Any]) -> bool:
    """Whether every owner holds something else now (a wrapper)."""
    return all(vars(owner)[name] is not f for (owner, name), f in originals.items())


def registered_instrumentor(name: str) -> Any:
    """The class the ``opentelemetry_instrumentor`` entry point ``name`` loads."""
    (ep,) = [e for e in entry_points(group="opentelemetry_instrumentor") if e.name == name]
    return ep.load()


def imports_in_fresh_interpreter(module: str, package: str) -> bool:
    """Whether importing ``module`` in a fresh interpreter imports ``package`` (or a part)."""
    code = (
        f"import sys, {module}; "
        f"print(any(m == {package!r} or m.startswith({package + '.'!r}) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def run_fresh(script: str, *args: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Run ``IN_MEMORY_TRACING`` + ``script`` (``sys.argv[1:]``: ``args``) in a fresh
    interpreter; the JSON object it printed last."""
    out = subprocess.run(
        [sys.executable, "-c", IN_MEMORY_TRACING + textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=None if env is None else dict(env),
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def boom(*args: Any, **kwargs: Any) -> Any:
    """A stand-in for a telemetry bug: patched over one of ours, it raises."""
    raise RuntimeError("telemetry bug")


def own_provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    """A tracer provider of the test's own (not the global one), and its exporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def free_port() -> int:
    """A loopback port nothing listens on (for connection errors)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def exceptions_seen_inside(owner: Any, name: str) -> Iterator[list[BaseException]]:
    """Record what ``owner.name`` raises, seen from a wrapper patched before ours (so inside
    ours once the test instruments); the original is put back on exit."""
    seen: list[BaseException] = []

    def recorder(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        try:
            return wrapped(*args, **kwargs)
        except BaseException as exc:
            seen.append(exc)
            raise

    original = vars(owner)[name]
    wrapt.wrap_function_wrapper(owner, name, recorder)
    try:
        yield seen
    finally:
        setattr(owner, name, original)
