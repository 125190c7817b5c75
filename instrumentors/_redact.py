"""Redaction of captured content: every container, every string, and JSON inside strings.

A value is walked whatever its shape: mappings, lists, tuples, namedtuples, sets,
deques, dataclasses, pydantic models, and any other object through its canonical
stand-in (so its repr and public attributes are redacted too). A secret-looking key
hides its whole value; every string is scanned for known secret formats; a string
that holds a JSON object or array is parsed, redacted by structure and written back.
The walk stops at cycles and at ``MAX_DEPTH`` and never raises.
"""

from __future__ import annotations

import json
import logging
import re
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Final

from instrumentors._canonical import MAX_DEPTH, canonical_json, stand_in, type_name
from instrumentors._patterns import REDACTED, is_secret_key, scrub_text

_logger = logging.getLogger(__name__)

TRUNCATED_MARK: Final = "...[truncated]"
# JSON inside a string is parsed up to this size; larger text is scanned as text.
_JSON_MAX: Final = 256 * 1024
# A long string about to be cut is scanned this far past the cut: a secret that
# straddles the cut is then still recognised whole, and its visible part hidden.
_SCAN_MARGIN: Final = 8192
_JSON_START = re.compile(r"[ \t\r\n]{0,64}[\[{\"]")
_NOT_JSON: Final = object()


def truncate(text: str, max_length: int) -> str:
    """``text`` cut to ``max_length`` characters, marked when cut."""
    if len(text) <= max_length:
        return text
    if max_length <= len(TRUNCATED_MARK):
        return text[:max_length]
    return text[: max_length - len(TRUNCATED_MARK)] + TRUNCATED_MARK


def redact(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with secret-looking keys' values and secrets in strings replaced."""
    return _Walker(None).walk(value, depth)


def walk(value: Any, limit: int | None) -> Any:
    """``redact``; with ``limit``, strings are also cut to it, bytes summarised, and the
    walk stops once it has produced more text than could be shown."""
    return _Walker(limit).walk(value, 0)


def redact_text(text: str, limit: int | None = None) -> str:
    """``text`` redacted (structurally when it holds JSON), cut to ``limit`` if given."""
    return _Walker(limit).text(text, 0)


class _Walker:
    """One walk: the containers on the current path (cycles) and the text budget left."""

    __slots__ = ("budget", "limit", "seen")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.seen: set[int] = set()
        # Past this much text the result is cut anyway: stop walking (bounds a huge list).
        self.budget = None if limit is None else limit + _SCAN_MARGIN

    def walk(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return self.text(value, depth)
        if value is None or isinstance(value, (bool, int, float)):
            if self.budget is not None:
                self.budget -= 1
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.binary(value)
        if depth > MAX_DEPTH:
            return "<max-depth>"
        ident = id(value)
        if ident in self.seen:
            return "<cycle>"
        self.seen.add(ident)
        try:
            return self.container(value, depth)
        except Exception:  # e.g. a Mapping whose items() raises
            _logger.debug("cannot redact %s", type(value), exc_info=True)
            return f"<unreadable {type_name(type(value))}>"
        finally:
            self.seen.discard(ident)

    def exhausted(self) -> bool:
        return self.budget is not None and self.budget <= 0

    def container(self, value: Any, depth: int) -> Any:
        if isinstance(value, Mapping):
            return self.items(value.items(), depth)
        if isinstance(value, tuple):
            fields = _namedtuple_fields(value)
            if fields is not None:
                return self.items(zip(fields, value, strict=True), depth)
        if isinstance(value, (list, tuple, deque, set, frozenset)):
            out: list[Any] = []
            for item in value:
                if self.exhausted():
                    break
                out.append(self.walk(item, depth + 1))
            # A set's order differs between processes: sort it as the canonical form does.
            return sorted(out, key=canonical_json) if isinstance(value, (set, frozenset)) else out
        return self.walk(stand_in(value), depth + 1)

    def items(self, items: Iterable[tuple[Any, Any]], depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key, item in items:
            if self.exhausted():
                break
            # Keys are scanned too: a dict keyed by API key is not unheard of.
            clean_key = scrub_text(key) if isinstance(key, str) else key
            out[clean_key] = REDACTED if is_secret_key(key) else self.walk(item, depth + 1)
        return out

    def text(self, text: str, depth: int) -> str:
        parsed = _parse_json(text) if depth < MAX_DEPTH else _NOT_JSON
        if parsed is not _NOT_JSON:
            cleaned = _Walker(None).walk(parsed, depth + 1)
            if cleaned != parsed:
                text = json.dumps(cleaned, ensure_ascii=False)
        else:
            if self.limit is not None and len(text) > self.limit + _SCAN_MARGIN:
                text = text[: self.limit + _SCAN_MARGIN]  # what is cut away need not be scanned
            text = scrub_text(str(text))
        if self.limit is None:
            return text
        text = truncate(text, self.limit)
        self.budget = (self.budget or 0) - len(text)
        return text

    def binary(self, value: bytes | bytearray | memoryview) -> Any:
        if self.limit is not None:  # captured content shows the size, never the bytes
            size = value.nbytes if isinstance(value, memoryview) else len(value)
            return truncate(f"<{size} bytes>", self.limit)
        raw = bytes(value)
        text = raw.decode("utf-8", "surrogateescape")
        scrubbed = scrub_text(text)
        return raw if scrubbed is text else scrubbed.encode("utf-8", "surrogateescape")


def _namedtuple_fields(value: tuple[Any, ...]) -> tuple[str, ...] | None:
    kind: Any = type(value)
    try:
        fields = kind._fields  # namedtuple's documented API (the underscore avoids clashes)
    except AttributeError:
        return None
    if isinstance(fields, tuple) and len(fields) == len(value):
        return fields
    return None


def _parse_json(text: str) -> Any:
    """The JSON object or array ``text`` holds, else ``_NOT_JSON`` (bounded in size and depth)."""
    if len(text) > _JSON_MAX or not _JSON_START.match(text):
        return _NOT_JSON
    tail = text[-64:].rstrip()
    if not tail or tail[-1] not in ']}"':
        return _NOT_JSON
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past the recursion limit
        return _NOT_JSON
    # A JSON string is unwrapped too: JSON text encoded twice is redacted by structure.
    return parsed if isinstance(parsed, (dict, list, str)) else _NOT_JSON
