"""Settings read from environment variables once, validated.

An invalid value logs one warning and falls back to the default: a typo in an
environment variable must never stop the user's agent from starting.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Final

_logger = logging.getLogger(__name__)

CAPTURE_MESSAGE_CONTENT: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
PARAMS_HASH_KEY: Final = "AGENT_INSTRUMENTORS_PARAMS_HASH_KEY"
CAPTURE_SAMPLE_RATE: Final = "AGENT_INSTRUMENTORS_CAPTURE_SAMPLE_RATE"
MAX_ATTRIBUTE_LENGTH: Final = "AGENT_INSTRUMENTORS_MAX_ATTRIBUTE_LENGTH"
PROPAGATE_HOSTS: Final = "AGENT_INSTRUMENTORS_PROPAGATE_HOSTS"

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


def load(env: os._Environ[str] | dict[str, str] | None = None) -> Settings:
    """Build Settings from ``env`` (default: ``os.environ``) without caching."""
    source = os.environ if env is None else env
    key = source.get(PARAMS_HASH_KEY, "")
    return Settings(
        capture_mode=_read_capture_mode(source),
        hash_key=key.encode("utf-8") if key else None,
        capture_sample_rate=_read_rate(source),
        max_attribute_length=_read_max_length(source),
        propagate_hosts=_read_hosts(source),
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
