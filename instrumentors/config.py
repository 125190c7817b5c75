"""Settings read from environment variables once, validated.

An invalid value logs one warning and falls back to the default: a typo in an
environment variable must never stop the user's agent from starting.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Final

_logger = logging.getLogger(__name__)

CAPTURE_MESSAGE_CONTENT: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
PARAMS_HASH_KEY: Final = "AGENT_INSTRUMENTORS_PARAMS_HASH_KEY"
CAPTURE_SAMPLE_RATE: Final = "AGENT_INSTRUMENTORS_CAPTURE_SAMPLE_RATE"
MAX_ATTRIBUTE_LENGTH: Final = "AGENT_INSTRUMENTORS_MAX_ATTRIBUTE_LENGTH"
PROPAGATE_HOSTS: Final = "AGENT_INSTRUMENTORS_PROPAGATE_HOSTS"
TRUST_INCOMING_BAGGAGE: Final = "AGENT_INSTRUMENTORS_TRUST_INCOMING_BAGGAGE"
# The baggage keys a server takes from its callers unless told otherwise.
DEFAULT_TRUSTED_BAGGAGE: Final = ("agent.session_id",)
SHUTDOWN_TIMEOUT: Final = "AGENT_INSTRUMENTORS_SHUTDOWN_TIMEOUT"
PROPAGATORS: Final = "OTEL_PROPAGATORS"
REPORT: Final = "AGENT_INSTRUMENTORS_REPORT"
PRICES: Final = "AGENT_INSTRUMENTORS_PRICES"
JSONL: Final = "AGENT_INSTRUMENTORS_JSONL"
DEFAULT_JSONL: Final = "traces.jsonl"
SLI_MIN_CALLS: Final = "AGENT_INSTRUMENTORS_SLI_MIN_CALLS"
# Fewer calls than this and an error budget or burn rate means nothing yet.
DEFAULT_SLI_MIN_CALLS: Final = 20

DEFAULT_SHUTDOWN_TIMEOUT: Final = 5.0
DEFAULT_PROPAGATORS: Final = "tracecontext,baggage"
# Shipped with opentelemetry-api itself: no entry-point scan needed to know they exist.
_BUILTIN_PROPAGATORS: Final = frozenset({"tracecontext", "baggage"})

DEFAULT_MAX_ATTRIBUTE_LENGTH: Final = 4096
# Below this a truncated value is useless and the marker would not fit.
MIN_MAX_ATTRIBUTE_LENGTH: Final = 16

# util-genai's ContentCapturingMode names, plus the boolean spellings that the
# older OpenAI instrumentation (and most users) write.
_CAPTURE_MODES: Final = {
    "NO_CONTENT": "NO_CONTENT",
    "SPAN_ONLY": "SPAN_ONLY",
    "EVENT_ONLY": "EVENT_ONLY",
    "SPAN_AND_EVENT": "SPAN_AND_EVENT",
    "TRUE": "SPAN_ONLY",
    "FALSE": "NO_CONTENT",
}


@dataclass(frozen=True)
class Settings:
    """Validated configuration; one immutable instance per process (see ``settings()``)."""

    capture_mode: str = "NO_CONTENT"
    hash_key: bytes | None = None
    capture_sample_rate: float = 0.0
    max_attribute_length: int = DEFAULT_MAX_ATTRIBUTE_LENGTH
    propagate_hosts: tuple[str, ...] | None = None
    # Baggage keys a server takes from its callers; None = every key.
    trusted_baggage: tuple[str, ...] | None = DEFAULT_TRUSTED_BAGGAGE
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
    # Path of the offline HTML report written at exit (None: no report).
    report: str | None = None
    # Where the agent_jsonl exporter appends OTLP JSON lines.
    jsonl: str = DEFAULT_JSONL
    sli_min_calls: int = DEFAULT_SLI_MIN_CALLS
    # JSON or TOML file of price overrides per model (instrumentors.cost).
    prices_file: str | None = None

    @property
    def capture_content(self) -> bool:
        """True when message/tool content may be recorded at all."""
        return self.capture_mode != "NO_CONTENT"

    @property
    def capture_content_on_span(self) -> bool:
        """True when content goes into span attributes."""
        return self.capture_mode in ("SPAN_ONLY", "SPAN_AND_EVENT")


_warned: set[str] = set()
_lock = threading.Lock()
_current: Settings | None = None


def _warn_once(name: str, raw: str, fallback: object, why: str) -> None:
    if name in _warned:
        return
    _warned.add(name)
    _logger.warning("Ignoring %s=%r (%s); using %r.", name, raw, why, fallback)


def _read_capture_mode(env: os._Environ[str] | dict[str, str]) -> str:
    raw = env.get(CAPTURE_MESSAGE_CONTENT, "").strip()
    if not raw:
        return "NO_CONTENT"
    mode = _CAPTURE_MODES.get(raw.upper())
    if mode is None:
        _warn_once(CAPTURE_MESSAGE_CONTENT, raw, "NO_CONTENT", "not a content capturing mode")
        return "NO_CONTENT"
    return mode


def _read_rate(env: os._Environ[str] | dict[str, str]) -> float:
    raw = env.get(CAPTURE_SAMPLE_RATE, "").strip()
    if not raw:
        return 0.0
    try:
        rate = float(raw)
    except ValueError:
        _warn_once(CAPTURE_SAMPLE_RATE, raw, 0.0, "not a number")
        return 0.0
    if not 0.0 <= rate <= 1.0:  # also rejects NaN
        _warn_once(CAPTURE_SAMPLE_RATE, raw, 0.0, "must be between 0 and 1")
        return 0.0
    return rate


def _read_max_length(env: os._Environ[str] | dict[str, str]) -> int:
    raw = env.get(MAX_ATTRIBUTE_LENGTH, "").strip()
    if not raw:
        return DEFAULT_MAX_ATTRIBUTE_LENGTH
    try:
        value = int(raw)
    except ValueError:
        _warn_once(MAX_ATTRIBUTE_LENGTH, raw, DEFAULT_MAX_ATTRIBUTE_LENGTH, "not an integer")
        return DEFAULT_MAX_ATTRIBUTE_LENGTH
    if value < MIN_MAX_ATTRIBUTE_LENGTH:
        _warn_once(
            MAX_ATTRIBUTE_LENGTH,
            raw,
            DEFAULT_MAX_ATTRIBUTE_LENGTH,
            f"must be at least {MIN_MAX_ATTRIBUTE_LENGTH}",
        )
        return DEFAULT_MAX_ATTRIBUTE_LENGTH
    return value


def _read_hosts(env: os._Environ[str] | dict[str, str]) -> tuple[str, ...] | None:
    raw = env.get(PROPAGATE_HOSTS, "").strip()
    if not raw or raw == "*":
        return None
    hosts = tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    return hosts or None


def _read_hash_key(env: os._Environ[str] | dict[str, str]) -> bytes | None:
    key = env.get(PARAMS_HASH_KEY, "")
    if not key:
        return None
    try:
        return key.encode("utf-8")
    except UnicodeEncodeError:
        pass
    # Not valid UTF-8 in the environment (os.environ holds such bytes as lone
    # surrogates): key with the raw bytes, as the OS gave them. Never log the key.
    if PARAMS_HASH_KEY not in _warned:
        _warned.add(PARAMS_HASH_KEY)
        _logger.warning(
            "Ignoring the encoding of %s (not valid UTF-8); using its raw bytes as the key.",
            PARAMS_HASH_KEY,
        )
    try:
        return key.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that did not come from undecodable bytes
        return key.encode("utf-8", "surrogatepass")


def _read_shutdown_timeout(env: os._Environ[str] | dict[str, str]) -> float:
    raw = env.get(SHUTDOWN_TIMEOUT, "").strip()
    if not raw:
        return DEFAULT_SHUTDOWN_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        _warn_once(SHUTDOWN_TIMEOUT, raw, DEFAULT_SHUTDOWN_TIMEOUT, "not a number of seconds")
        return DEFAULT_SHUTDOWN_TIMEOUT
    if not (value > 0 and math.isfinite(value)):  # also rejects NaN
        _warn_once(SHUTDOWN_TIMEOUT, raw, DEFAULT_SHUTDOWN_TIMEOUT, "must be a positive number")
        return DEFAULT_SHUTDOWN_TIMEOUT
    return value


def _read_report(env: os._Environ[str] | dict[str, str]) -> str | None:
    raw = env.get(REPORT, "").strip()
    return raw or None


def _read_min_calls(env: os._Environ[str] | dict[str, str]) -> int:
    raw = env.get(SLI_MIN_CALLS, "").strip()
    if not raw:
        return DEFAULT_SLI_MIN_CALLS
    try:
        value = int(raw)
    except ValueError:
        _warn_once(SLI_MIN_CALLS, raw, DEFAULT_SLI_MIN_CALLS, "not an integer")
        return DEFAULT_SLI_MIN_CALLS
    if value < 1:
        _warn_once(SLI_MIN_CALLS, raw, DEFAULT_SLI_MIN_CALLS, "must be at least 1")
        return DEFAULT_SLI_MIN_CALLS
    return value


def _read_trusted_baggage(env: os._Environ[str] | dict[str, str]) -> tuple[str, ...] | None:
    raw = env.get(TRUST_INCOMING_BAGGAGE)
    if raw is None:
        return DEFAULT_TRUSTED_BAGGAGE
    raw = raw.strip()
    if raw == "*":  # every key (still capped and cleaned)
        return None
    if not raw or raw.lower() == "none":
        return ()
    return tuple(dict.fromkeys(k.strip() for k in raw.split(",") if k.strip()))


def load(env: os._Environ[str] | dict[str, str] | None = None) -> Settings:
    """Build Settings from ``env`` (default: ``os.environ``) without caching."""
    source = os.environ if env is None else env
    return Settings(
        capture_mode=_read_capture_mode(source),
        hash_key=_read_hash_key(source),
        shutdown_timeout=_read_shutdown_timeout(source),
        capture_sample_rate=_read_rate(source),
        max_attribute_length=_read_max_length(source),
        propagate_hosts=_read_hosts(source),
        trusted_baggage=_read_trusted_baggage(source),
        report=_read_report(source),
        jsonl=source.get(JSONL, "").strip() or DEFAULT_JSONL,
        sli_min_calls=_read_min_calls(source),
        prices_file=source.get(PRICES, "").strip() or None,
    )


def settings() -> Settings:
    """The process-wide Settings, read from the environment on first use."""
    current = _current
    if current is not None:
        return current
    return reload()


def reload() -> Settings:
    """Re-read the environment (for tests and for ``setup()``); returns the new Settings."""
    global _current
    with _lock:
        _warned.clear()
        _current = load()
        return _current


def _installed_propagators() -> frozenset[str]:
    from importlib.metadata import entry_points

    return frozenset(ep.name for ep in entry_points(group="opentelemetry_propagator"))


def check_propagators(env: MutableMapping[str, str] | None = None) -> bool:
    """Replace an ``OTEL_PROPAGATORS`` that names a propagator not installed by the default.

    ``opentelemetry.propagate`` raises at import on such a name, which would stop
    the agent (and every instrumentation that imports it) from starting. The
    variable is rewritten in the process environment, so every later importer
    and every child process gets working propagators. True when it was rewritten.
    """
    source = os.environ if env is None else env
    raw = source.get(PROPAGATORS)
    if raw is None or not raw.strip() or (env is None and "opentelemetry.propagate" in sys.modules):
        return False  # unset (the API's default), or already loaded without error
    names = []
    for name in (part.strip() for part in raw.split(",")):
        if name.lower() == "none":
            break  # the API loads the names before "none", then stops with no propagator
        names.append(name)
    unknown = [name for name in names if name not in _BUILTIN_PROPAGATORS]
    if unknown:
        installed = _installed_propagators()
        unknown = [name for name in unknown if name not in installed]
    if not unknown:
        return False
    _logger.warning(
        "Ignoring %s=%r (%s: not installed); using %r.",
        PROPAGATORS,
        raw,
        ", ".join(repr(name) if name else "an empty name" for name in unknown),
        DEFAULT_PROPAGATORS,
    )
    source[PROPAGATORS] = DEFAULT_PROPAGATORS
    return True


# The SDK's span limits: OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT is parsed when
# opentelemetry.sdk.trace is imported, the others when a TracerProvider is made;
# a value it rejects raises there.
SPAN_LIMITS: Final = (
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT",
    "OTEL_SPAN_LINK_COUNT_LIMIT",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
)


def _non_negative_int(value: str) -> bool:
    try:
        return int(value) >= 0  # as the SDK parses it
    except ValueError:
        return False


def check_span_limits(env: MutableMapping[str, str] | None = None) -> list[str]:
    """Remove span-limit variables the SDK would raise on; returns their names.

    Removed from the process environment, so the SDK uses its default for each.
    """
    source = os.environ if env is None else env
    removed = []
    for name in SPAN_LIMITS:
        raw = source.get(name)
        if raw is None:
            continue
        value = raw.strip().lower()
        if value == "unset" or _non_negative_int(value):
            continue
        _logger.warning(
            "Ignoring %s=%r (must be a non-negative integer or 'unset'); using the SDK's default.",
            name,
            raw,
        )
        del source[name]
        removed.append(name)
    return removed


# Before anything of ours imports opentelemetry.propagate or opentelemetry.sdk.trace.
for _check in (check_propagators, check_span_limits):
    try:
        _check()
    except Exception:
        _logger.debug("could not check the environment", exc_info=True)
