"""Tool parameters: canonical serialization, keyed hashing, redaction, truncation, sampling.

Nothing here raises: parameters come from models and users, and a strange
value must cost at worst a less useful hash, never the user's call.

The pieces live in private modules, re-exported here:

- ``instrumentors._canonical``: the canonical JSON form hashes are computed over
  (its module docstring defines the form for every kind of value);
- ``instrumentors._patterns``: the table of secret formats found in free text,
  each linear-time, and ``is_secret_key``;
- ``instrumentors._redact``: the walk that redacts every container and string,
  including JSON inside strings.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
from typing import Any

from instrumentors import semconv
from instrumentors._canonical import MAX_DEPTH, canonical_json, type_name
from instrumentors._patterns import REDACTED, is_secret_key
from instrumentors._redact import TRUNCATED_MARK, redact, redact_text, truncate, walk
from instrumentors.config import Settings, settings

__all__ = [
    "MAX_DEPTH",
    "REDACTED",
    "TRUNCATED_MARK",
    "canonical_json",
    "hash_params",
    "hash_text",
    "is_secret_key",
    "redact",
    "safe_content",
    "should_capture",
    "truncate",
]

_logger = logging.getLogger(__name__)

_HEX_CHARS = 32


def hash_text(text: str, key: bytes | None) -> str:
    """``hmac-sha256:<32 hex>`` with a key, else ``sha256:<32 hex>``."""
    data = text.encode("utf-8", "surrogatepass")
    if key:
        digest = hmac.digest(key, data, "sha256").hex()  # one-shot, in C
        return semconv.HASH_PREFIX_HMAC + digest[:_HEX_CHARS]
    return semconv.HASH_PREFIX_SHA256 + hashlib.sha256(data).hexdigest()[:_HEX_CHARS]


def hash_params(params: Any, config: Settings | None = None) -> str:
    """The ``request.parameters.hash`` value of ``params``; never raises."""
    cfg = config or settings()
    try:
        return hash_text(canonical_json(params), cfg.hash_key)
    except Exception:
        _logger.debug("hash_params failed", exc_info=True)
        return hash_text(f"<unhashable {type_name(type(params))}>", cfg.hash_key)


def safe_content(value: Any, config: Settings | None = None) -> str:
    """Redacted, truncated JSON text of captured content (arguments or results); never raises.

    A string comes back as text (redacted, and re-serialized when it holds JSON).
    """
    cfg = config or settings()
    limit = cfg.max_attribute_length
    try:
        if isinstance(value, str):
            text = redact_text(value, limit)
        else:
            text = truncate(canonical_json(walk(value, limit)), limit)
        return _valid_unicode(text)
    except Exception:
        _logger.debug("safe_content failed", exc_info=True)
        return f"<unserializable {type_name(type(value))}>"


def _valid_unicode(text: str) -> str:
    # A lone surrogate would make the exporter's UTF-8 encoding fail for the whole batch.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def should_capture(config: Settings | None = None) -> bool:
    """Whether this call's parameters are captured: content capture on, or sampled in."""
    cfg = config or settings()
    if cfg.capture_content:
        return True
    rate = cfg.capture_sample_rate
    return rate > 0.0 and random.random() < rate
