"""Reading the objects of the model SDKs: request items given as dicts (TypedDicts) or
SDK models (pydantic), and the plain values in them. Never raises for an odd type:
what is not what it should be reads as None."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

_NUMBER: Final = (int, float)
_ABSENT: Final = object()


def number(value: Any) -> float | None:
    """An int or a float (also rejects the SDKs' NOT_GIVEN / Omit sentinels and bools)."""
    return value if type(value) in _NUMBER else None


def integer(value: Any) -> int | None:
    """An int (not a bool)."""
    return value if type(value) is int else None


def text(value: Any) -> str | None:
    """A non-empty string."""
    return value if isinstance(value, str) and value else None


def field(obj: Any, name: str) -> Any:
    """A field of a request item: a TypedDict (plain dict) or an SDK model.

    SDK models keep their fields in ``__dict__`` and extras in ``__pydantic_extra__``
    (pydantic 2): reading those skips pydantic's ``__getattr__``, which costs
    microseconds for every absent name (``call_id`` on a chat tool call, say).
    """
    if isinstance(obj, dict):
        return obj.get(name)
    fields = getattr(obj, "__dict__", None)
    if fields is not None and name in fields:
        return fields[name]
    if isinstance(obj, Mapping):
        return obj.get(name)
    extra = getattr(obj, "__pydantic_extra__", _ABSENT)
    if extra is not _ABSENT:
        return extra.get(name) if isinstance(extra, dict) else None
    return getattr(obj, name, None)
