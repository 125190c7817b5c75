"""Tool parameters: canonical serialization, keyed hashing, redaction, truncation, sampling.

Nothing here raises: parameters come from models and users, and a strange
value must cost at worst a less useful hash, never the user's call.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import hashlib
import hmac
import itertools
import json
import json.encoder as json_encoder
import logging
import math
import random
import re
from collections.abc import Mapping
from typing import Any, Final

from instrumentors import semconv
from instrumentors.config import Settings, settings

_logger = logging.getLogger(__name__)

MAX_DEPTH: Final = 64
REDACTED: Final = "[REDACTED]"
TRUNCATED_MARK: Final = "...[truncated]"
_HEX_CHARS: Final = 32
# Python refuses to print ints past ~4300 digits; such ints are hashed by their hex form.
_MAX_INT_BITS: Final = 14_000

# Key words that mark a secret, matched against a key's words (``db_password``,
# ``apiKey``, ``X-Api-Key``), so ``max_tokens``, ``author`` or ``passage`` stay visible.
_SECRET_WORDS: Final = frozenset(
    {
        "password", "passwd", "passphrase", "pwd", "secret", "token", "auth", "authorization",
        "cookie", "cookies", "credential", "credentials", "bearer", "signature", "jwt",
        "apikey", "privatekey", "accesskey", "sessionkey", "secretkey", "sessionid", "otp",
    }
)  # fmt: skip
_SECRET_PAIRS: Final = frozenset(
    {("api", "key"), ("private", "key"), ("access", "key"), ("session", "key"),
     ("secret", "key"), ("session", "id"), ("client", "secret"), ("set", "cookie")}
)  # fmt: skip
_KEY_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# Values that are secrets whatever their key is called.
_SECRET_VALUE = re.compile(
    r"\b(sk|rk|pk)-[A-Za-z0-9_\-]{16,}|\b[Bb]earer\s+[A-Za-z0-9._~+/\-]+=*"
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}|\bAKIA[0-9A-Z]{16}\b|\bxox[abpr]-[A-Za-z0-9-]{10,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    re.IGNORECASE,
)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+|0x[0-9a-fA-F]{6,}| id='\d+'")


def _fallback(value: Any) -> Any:
    """``json`` default hook: a stable JSON-able stand-in for a non-JSON value."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(canonical_json(v) for v in value)
    if isinstance(value, int):  # past the int->str digit limit
        return {"$int": hex(value)}
    as_dict = _object_fields(value)
    if as_dict is not None:
        return as_dict
    kind = type(value)
    # Looked up on the type: a Mock instance would invent these methods (and be slow).
    if callable(getattr(kind, "isoformat", None)):  # date, datetime, time
        return str(value.isoformat())
    if kind.__module__ in ("uuid", "decimal", "pathlib", "fractions", "ipaddress"):
        return str(value)
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - telemetry must never raise
        text = ""
    # Memory addresses differ between runs; the hash must not.
    return f"<{kind.__module__}.{kind.__qualname__}>{_ADDRESS.sub('', text)}"


def _object_fields(value: Any) -> dict[str, Any] | None:
    """A dataclass's or pydantic model's fields as a dict (else None)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
    if callable(getattr(type(value), "model_dump", None)):  # pydantic v2
        try:
            dumped = value.model_dump(mode="json")
            return dumped if isinstance(dumped, dict) else None
        except Exception:
            _logger.debug("model_dump failed for %s", type(value), exc_info=True)
    return None


def _normalize(value: Any, depth: int, seen: set[int]) -> Any:
    """Slow path: a JSON-safe copy for what the C encoder rejects (cycles, NaN, odd keys, depth)."""
    if depth > MAX_DEPTH:
        return "<max-depth>"
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value if value.bit_length() < _MAX_INT_BITS else {"$int": hex(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        ident = id(value)
        if ident in seen:
            return "<cycle>"
        seen.add(ident)
        try:
            if isinstance(value, Mapping):
                items = sorted(
                    ((_key(k), _normalize(v, depth + 1, seen)) for k, v in value.items()),
                    key=lambda kv: (kv[0], canonical_json(kv[1])),
                )
                merged: dict[str, Any] = {}
                for key, item in items:  # keys equal as text (1 and "1") are kept apart
                    slot, n = key, 1
                    while slot in merged:
                        n += 1
                        slot = f"{key}#{n}"
                    merged[slot] = item
                return merged
            normalized = [_normalize(v, depth + 1, seen) for v in value]
            if isinstance(value, (set, frozenset)):
                return sorted(normalized, key=canonical_json)
            return normalized
        finally:
            seen.discard(ident)
    return _normalize(_fallback(value), depth + 1, seen)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    text = canonical_json(key)
    return text[1:-1] if text.startswith('"') and text.endswith('"') else text


# One encoder, built once: ``json.dumps`` with options builds a new one per call.
_ENCODER: Final = json.JSONEncoder(
    sort_keys=True,
    separators=(",", ":"),
    ensure_ascii=False,
    allow_nan=False,
    default=_fallback,
)
# CPython's C encoder, made once. Without cycle markers a cycle ends in RecursionError,
# which sends that (rare) value down the slow path; the common case costs half.
_c_make_encoder = getattr(json_encoder, "c_make_encoder", None)
_c_encode_basestring = getattr(json_encoder, "c_encode_basestring", None)
_C_ENCODER: Final = (
    _c_make_encoder(None, _fallback, _c_encode_basestring, None, ":", ",", True, False, False)
    if _c_make_encoder is not None and _c_encode_basestring is not None
    else None
)


def canonical_json(value: Any) -> str:
    """Canonical JSON text of ``value``: sorted keys, compact, stable fallbacks; never raises."""
    try:
        if _C_ENCODER is not None:
            return "".join(_C_ENCODER(value, 0))
        return _ENCODER.encode(value)
    except (ValueError, TypeError, RecursionError):
        pass  # cycle, NaN, mixed-type keys or very deep nesting: take the slow path
    except Exception:
        _logger.debug("canonical_json fast path failed", exc_info=True)
    try:
        return json.dumps(
            _normalize(value, 0, set()),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            default=str,
        )
    except Exception:
        _logger.debug("canonical_json slow path failed", exc_info=True)
        return json.dumps(f"<unserializable {type(value).__qualname__}>")


def hash_text(text: str, key: bytes | None) -> str:
    """``hmac-sha256:<32 hex>`` with a key, else ``sha256:<32 hex>``."""
    data = text.encode("utf-8", "surrogatepass")
    if key:
        digest = hmac.new(key, data, hashlib.sha256).hexdigest()
        return semconv.HASH_PREFIX_HMAC + digest[:_HEX_CHARS]
    return semconv.HASH_PREFIX_SHA256 + hashlib.sha256(data).hexdigest()[:_HEX_CHARS]


def hash_params(params: Any, config: Settings | None = None) -> str:
    """The ``request.parameters.hash`` value of ``params``; never raises."""
    cfg = config or settings()
    try:
        return hash_text(canonical_json(params), cfg.hash_key)
    except Exception:
        _logger.debug("hash_params failed", exc_info=True)
        return hash_text(f"<unhashable {type(params).__qualname__}>", cfg.hash_key)


def is_secret_key(key: object) -> bool:
    """True for keys like ``api_key``, ``Authorization``, ``X-Api-Key`` or ``db_password``."""
    if not isinstance(key, str):
        return False
    words = [w.lower() for w in _KEY_WORDS.findall(key)]
    if not words:
        return False
    if "".join(words) in _SECRET_WORDS or not _SECRET_WORDS.isdisjoint(words):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


def redact(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with secret-looking keys' values and secret-looking strings replaced.

    Walks mappings, lists, tuples, sets, dataclasses and pydantic models.
    """
    if depth > MAX_DEPTH:
        return "<max-depth>"
    if isinstance(value, str):
        return _SECRET_VALUE.sub(REDACTED, value)
    if value is None or isinstance(value, (bool, int, float, bytes, bytearray)):
        return value
    if isinstance(value, Mapping):
        return {k: REDACTED if is_secret_key(k) else redact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact(v, depth + 1) for v in value]
    fields = _object_fields(value)
    if fields is not None:
        return redact(fields, depth + 1)
    return value


def truncate(text: str, max_length: int) -> str:
    """``text`` cut to ``max_length`` characters, marked when cut."""
    if len(text) <= max_length:
        return text
    if max_length <= len(TRUNCATED_MARK):
        return text[:max_length]
    return text[: max_length - len(TRUNCATED_MARK)] + TRUNCATED_MARK


def _truncate_values(value: Any, max_length: int, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        return "<max-depth>"
    if isinstance(value, str):
        return truncate(value, max_length)
    if isinstance(value, (bytes, bytearray)):
        return truncate(f"<{len(value)} bytes>", max_length)
    if isinstance(value, Mapping):
        return {k: _truncate_values(v, max_length, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_truncate_values(v, max_length, depth + 1) for v in value]
    return value


def safe_content(value: Any, config: Settings | None = None) -> str:
    """Redacted, truncated JSON text of captured content (arguments or results); never raises."""
    cfg = config or settings()
    try:
        if isinstance(value, str):
            return truncate(_SECRET_VALUE.sub(REDACTED, value), cfg.max_attribute_length)
        cleaned = _truncate_values(redact(value), cfg.max_attribute_length)
        return truncate(canonical_json(cleaned), cfg.max_attribute_length)
    except Exception:
        _logger.debug("safe_content failed", exc_info=True)
        return f"<unserializable {type(value).__qualname__}>"


def should_capture(config: Settings | None = None) -> bool:
    """Whether this call's parameters are captured: content capture on, or sampled in."""
    cfg = config or settings()
    if cfg.capture_content:
        return True
    rate = cfg.capture_sample_rate
    return rate > 0.0 and random.random() < rate
