"""Canonical JSON form of parameters: the text ``request.parameters.hash`` is computed over.

The form depends only on the value, never on the process: no memory addresses, no
set iteration order (which ``PYTHONHASHSEED`` changes), no elided reprs. Text is
compact JSON with sorted keys (``ensure_ascii=False``); values map as follows:

- ``dict`` and any ``Mapping``: an object with sorted keys. Keys that are not text
  are written as their canonical JSON; when two keys read alike (``1`` and ``"1"``)
  the later ones get a ``#2``, ``#3`` suffix. ``list``, ``tuple`` (and namedtuple,
  ``deque``): an array. ``str``, ``bool``, ``None``, finite ``int``/``float``: as JSON;
  subclasses (``IntEnum``, ``StrEnum``, ``numpy.float64``) as their plain value,
  since they compare equal to it.
- ``set``/``frozenset``: ``{"$set": [...]}``, members sorted by their canonical JSON.
- ``bytes``/``bytearray``/``memoryview``: ``{"$bytes": "<base64>"}``.
- NaN and infinities: ``{"$float": "nan" | "inf" | "-inf"}``; ints past Python's
  int-to-text limit: ``{"$int": "0x..."}``; ``complex``: ``{"$complex": [re, im]}``.
- ``enum.Enum``: ``{"$enum": {"type": "<qualname>", "value": <value>}}``.
- ``datetime``/``date``/``time``: ``{"$datetime" | "$date" | "$time": "<isoformat>"}``
  (with the UTC offset when aware); ``timedelta``: ``{"$timedelta": [days, s, us]}``.
- ``Decimal``, ``UUID``, paths, ``Fraction``, IP addresses: ``{"$decimal" | "$uuid" |
  "$path" | "$fraction" | "$ip": "<str>"}``.
- dataclasses and pydantic models (v2 ``model_dump(mode="python")``, v1 ``dict()``):
  their fields as a plain object, canonicalized recursively (so a set field stays
  sorted). A model hashes like the dict it validates from.
- numpy arrays: ``{"$ndarray": {"dtype", "shape", "data_sha256"}}`` over the full
  C-order data (object arrays: ``"data"``, the nested list); numpy scalars: their
  Python value (``.item()``).
- pandas ``Index``/``Series``/``DataFrame``: ``{"$pandas.Index" | "$pandas.Series" |
  "$pandas.DataFrame": {...}}`` with dtypes, index, names and every value (as arrays).
- anything else: ``{"$object": {"type": "<module.qualname>", "repr": ...}}`` with memory
  addresses stripped from the repr; when the repr carried an address, also
  ``"attrs"``: the object's public instance attributes, canonicalized.
- cycles: ``"<cycle>"``; containers nested deeper than ``MAX_DEPTH`` (on the slow
  path): ``"<max-depth>"``; a value that cannot be read: ``{"$unreadable": "<type>"}``.

numpy and pandas are recognised by their class names, never imported here.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime
import decimal
import enum
import fractions
import hashlib
import ipaddress
import json
import json.encoder as json_encoder
import logging
import math
import pathlib
import re
import threading
import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any, Final

_logger = logging.getLogger(__name__)

MAX_DEPTH: Final = 64
_MAX_INT_BITS: Final = 14_000  # past this, decimal is slow (and may be refused): hex
# Sets nested in sets sort by their members' canonical text: cap that recursion.
_MAX_SET_NESTING: Final = 16
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+|0x[0-9a-fA-F]{6,}| id='\d+'")
_TAGGED_STR: Final[tuple[tuple[tuple[type, ...], str], ...]] = (
    ((decimal.Decimal,), "$decimal"),
    ((uuid.UUID,), "$uuid"),
    ((pathlib.PurePath,), "$path"),
    ((fractions.Fraction,), "$fraction"),
    ((ipaddress.IPv4Address, ipaddress.IPv6Address), "$ip"),  # interfaces included
    ((ipaddress.IPv4Network, ipaddress.IPv6Network), "$ip"),
)
_local = threading.local()


def type_name(kind: type) -> str:
    """``module.qualname`` of a type, never raising."""
    try:
        return f"{kind.__module__}.{kind.__qualname__}"
    except Exception:  # noqa: BLE001 - a hostile metaclass must not break hashing
        return "<unknown type>"


def stand_in(value: Any) -> Any:
    """A JSON-able stand-in for a value JSON cannot encode (see the module docs); never raises.

    The stand-in may hold further non-JSON values: callers canonicalize it recursively.
    """
    try:
        return _stand_in(value)
    except Exception:  # telemetry must never raise
        _logger.debug("no canonical form for %s", type(value), exc_info=True)
        return {"$unreadable": type_name(type(value))}


def _stand_in(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, int):  # only past the int-to-text limit
        return {"$int": hex(value)}
    if isinstance(value, float):  # only NaN and infinities
        return {"$float": repr(float(value))}
    if isinstance(value, enum.Enum):
        return {"$enum": {"type": type(value).__qualname__, "value": value.value}}
    if isinstance(value, (set, frozenset)):
        return {"$set": _sorted_members(value)}
    if isinstance(value, Mapping):
        return dict(value.items())
    if isinstance(value, deque):
        return list(value)
    timely = _time_form(value)
    if timely is not None:
        return timely
    for kinds, tag in _TAGGED_STR:
        if isinstance(value, kinds):
            return {tag: str(value)}
    if isinstance(value, complex):
        return {"$complex": [value.real, value.imag]}
    fields = object_fields(value)
    if fields is not None:
        return fields
    special = _special_form(value)
    if special is not None:
        return special
    return _object_form(value)


def _time_form(value: Any) -> dict[str, Any] | None:
    if isinstance(value, datetime.datetime):  # before date: a datetime is a date
        return {"$datetime": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"$date": value.isoformat()}
    if isinstance(value, datetime.time):
        return {"$time": value.isoformat()}
    if isinstance(value, datetime.timedelta):
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    return None


def _sorted_members(members: set[Any] | frozenset[Any]) -> list[Any]:
    nesting = getattr(_local, "set_nesting", 0)
    if nesting >= _MAX_SET_NESTING:
        return ["<max-depth>"]
    _local.set_nesting = nesting + 1
    try:
        return sorted(members, key=canonical_json)
    finally:
        _local.set_nesting = nesting


def object_fields(value: Any) -> dict[str, Any] | None:
    """A dataclass's or pydantic model's fields as a dict (else None); never raises."""
    kind = type(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
    try:
        # Looked up on the type: a Mock instance would invent the method.
        if callable(getattr(kind, "model_dump", None)):  # pydantic v2
            try:
                dumped = value.model_dump(mode="python", warnings=False)
            except TypeError:  # a model_dump without pydantic's keywords
                dumped = value.model_dump(mode="python")
            return dumped if isinstance(dumped, dict) else None
        if _kind_of(kind) == "pydantic":  # v1: no model_dump
            dumped = value.dict()
            return dumped if isinstance(dumped, dict) else None
    except Exception:  # a broken model falls back to its repr
        _logger.debug("model dump failed for %s", kind, exc_info=True)
    return None


_KINDS: dict[type, str] = {}
_PANDAS: Final = {"DataFrame": "pandas-frame", "Series": "pandas-series", "Index": "pandas-index"}


def _kind_of(kind: type) -> str:
    """Which special family a type belongs to, by the names in its MRO (cached)."""
    try:
        return _KINDS[kind]
    except (KeyError, TypeError):
        pass
    found = "object"
    for base in getattr(kind, "__mro__", ()):
        module, name = getattr(base, "__module__", ""), getattr(base, "__qualname__", "")
        if not isinstance(module, str) or not isinstance(name, str):
            continue
        if module == "numpy" and name in ("ndarray", "generic"):
            found = "numpy-array" if name == "ndarray" else "numpy-scalar"
        elif (module == "pandas" or module.startswith("pandas.")) and name in _PANDAS:
            found = _PANDAS[name]
        elif module.startswith("pydantic") and name == "BaseModel":
            found = "pydantic"
        else:
            continue
        break
    if len(_KINDS) > 4096:  # Mock makes a class per instance: keep the cache bounded
        _KINDS.clear()
    with contextlib.suppress(TypeError):  # an unhashable metaclass
        _KINDS[kind] = found
    return found


def _special_form(value: Any) -> Any:
    """numpy and pandas values by their full content (their reprs elide), else None."""
    kind = _kind_of(type(value))
    if kind == "numpy-array":
        return _ndarray_form(value)
    if kind == "numpy-scalar":
        item = value.item()
        # longdouble and friends have no Python equivalent: .item() gives them back.
        return _ndarray_form(value) if type(item) is type(value) else item
    if kind == "pandas-index":
        names = list(value.names)
        body = {"type": type(value).__qualname__, "names": names, "dtype": str(value.dtype)}
        return {"$pandas.Index": {**body, "values": value.to_numpy()}}
    if kind == "pandas-series":
        body = {"name": value.name, "dtype": str(value.dtype), "index": value.index}
        return {"$pandas.Series": {**body, "values": value.to_numpy()}}
    if kind == "pandas-frame":
        columns = [value.iloc[:, i].to_numpy() for i in range(value.shape[1])]
        dtypes = [str(dtype) for dtype in value.dtypes]
        body = {"index": value.index, "columns": value.columns, "dtypes": dtypes}
        return {"$pandas.DataFrame": {**body, "data": columns}}
    return None


def _ndarray_form(value: Any) -> dict[str, Any]:
    dtype = value.dtype
    body: dict[str, Any] = {"dtype": str(dtype), "shape": [int(n) for n in value.shape]}
    if dtype.hasobject:  # the buffer holds pointers: hash the objects instead
        body["data"] = value.tolist()
    else:
        try:
            digest = hashlib.sha256(value)  # C-contiguous: no copy
        except (BufferError, TypeError, ValueError):
            digest = hashlib.sha256(value.tobytes())  # tobytes is always C order
        body["data_sha256"] = digest.hexdigest()
    mask = getattr(value, "mask", None) if type(value).__module__.startswith("numpy.ma") else None
    if mask is not None:
        body["mask"] = mask
    return {"$ndarray": body}


def _object_form(value: Any) -> dict[str, Any]:
    kind = type(value)
    try:
        text: str | None = repr(value)
    except Exception:  # noqa: BLE001 - a hostile __repr__ must not break hashing
        text = None
    body: dict[str, Any] = {"type": type_name(kind)}
    if text is None or _ADDRESS.search(text):
        # The default repr says nothing but the address: the public state tells objects apart.
        body["repr"] = None if text is None else _ADDRESS.sub("", text)
        try:
            attrs = getattr(value, "__dict__", None)
        except Exception:  # noqa: BLE001 - a __getattr__ that raises
            attrs = None
        if isinstance(attrs, dict):
            body["attrs"] = {
                k: v for k, v in attrs.items() if isinstance(k, str) and not k.startswith("_")
            }
    else:
        body["repr"] = text
    return {"$object": body}


def _normalize(value: Any, depth: int, seen: set[int]) -> Any:
    """Slow path: a JSON-safe copy for what the C encoder rejects (cycles, NaN, odd keys, depth)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value) if _decimal_ok(value) else stand_in(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else stand_in(value)
    if depth > MAX_DEPTH:
        return "<max-depth>"
    ident = id(value)
    if ident in seen:
        return "<cycle>"
    seen.add(ident)
    try:
        if isinstance(value, Mapping):
            return _normalize_mapping(value, depth, seen)
        if isinstance(value, (list, tuple)):
            return [_normalize(v, depth + 1, seen) for v in value]
        return _normalize(stand_in(value), depth + 1, seen)
    except Exception:  # e.g. a Mapping whose items() raises
        _logger.debug("cannot read %s", type(value), exc_info=True)
        return {"$unreadable": type_name(type(value))}
    finally:
        seen.discard(ident)


def _decimal_ok(value: int) -> bool:
    """Whether json writes ``value`` in decimal (as the C encoder does) rather than failing."""
    if value.bit_length() < _MAX_INT_BITS:
        return True
    try:
        int.__repr__(value)  # past sys.get_int_max_str_digits() this raises
    except ValueError:
        return False
    return True


def _normalize_mapping(value: Mapping[Any, Any], depth: int, seen: set[int]) -> dict[str, Any]:
    items = list(value.items())
    natural = _natural_keys(items)
    if natural is not None:  # the order and key text the C encoder would give
        return {
            key: _normalize(v, depth + 1, seen) for key, (_, v) in zip(natural, items, strict=True)
        }
    pairs = [(_key_text(k), _normalize(v, depth + 1, seen)) for k, v in items]
    if len({key for key, _ in pairs}) == len(pairs):
        pairs.sort(key=lambda kv: kv[0])
    else:  # keys equal as text (1 and "1"): their values decide the order
        pairs.sort(key=lambda kv: (kv[0], _dumps(kv[1])))
    merged: dict[str, Any] = {}
    for key, item in pairs:
        slot, n = key, 1
        while slot in merged:
            n += 1
            slot = f"{key}#{n}"
        merged[slot] = item
    return merged


def _natural_keys(items: list[tuple[Any, Any]]) -> list[str] | None:
    """Sorts ``items`` in place by key and returns the keys' text, as json's encoder does.

    None when the keys are not all text or all finite numbers (the encoder rejects those).
    """
    keys = [k for k, _ in items]
    if all(isinstance(k, str) for k in keys):
        items.sort(key=lambda kv: kv[0])
        return [str(k) for k, _ in items]
    if not all(isinstance(k, (int, float)) for k in keys):
        return None
    try:
        if any(isinstance(k, float) and not math.isfinite(k) for k in keys):
            return None
        items.sort(key=lambda kv: kv[0])
        return [_number_key(k) for k, _ in items]
    except (TypeError, ValueError):
        return None


def _number_key(key: int | float) -> str:
    if key is True or key is False:
        return "true" if key else "false"
    return float.__repr__(key) if isinstance(key, float) else int.__repr__(key)


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return str(key)
    text = canonical_json(key)
    return text[1:-1] if text.startswith('"') and text.endswith('"') else text


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, check_circular=False)


# CPython's C encoder, made once (``json.dumps`` with options builds one per call).
# Without cycle markers a cycle ends in RecursionError, which sends that (rare) value
# down the slow path; the common case costs half.
_c_make_encoder = getattr(json_encoder, "c_make_encoder", None)
_c_encode_basestring = getattr(json_encoder, "c_encode_basestring", None)
_C_ENCODER: Final = (
    _c_make_encoder(None, stand_in, _c_encode_basestring, None, ":", ",", True, False, False)
    if _c_make_encoder is not None and _c_encode_basestring is not None
    else None
)
_ENCODER: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=stand_in
)


def canonical_json(value: Any) -> str:
    """Canonical JSON text of ``value`` (see the module docs); never raises."""
    try:
        if _C_ENCODER is not None:
            return "".join(_C_ENCODER(value, 0))
        return _ENCODER.encode(value)
    except (ValueError, TypeError, RecursionError):
        pass  # cycle, NaN, huge int, mixed-type keys or deep nesting: take the slow path
    except Exception:  # e.g. a dict subclass whose items() raises
        _logger.debug("canonical_json fast path failed", exc_info=True)
    try:
        return _dumps(_normalize(value, 0, set()))
    except Exception:  # telemetry must never raise
        _logger.debug("canonical_json slow path failed", exc_info=True)
        return json.dumps(f"<unserializable {type_name(type(value))}>")
