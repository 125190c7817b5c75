"""``instrumentors.params``: canonical JSON, hashing, redaction, truncation, sampling."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import decimal
import enum
import fractions
import hashlib
import hmac
import json
import re
import uuid
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instrumentors import config, params, semconv

SHA_RE = re.compile(r"^sha256:[0-9a-f]{32}$")
HMAC_RE = re.compile(r"^hmac-sha256:[0-9a-f]{32}$")
HASH_RE = re.compile(r"^(sha256|hmac-sha256):[0-9a-f]{32}$")
NO_KEY = config.Settings()
KEYED = config.Settings(hash_key=b"k3y")


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def hmac_sha(key: bytes, text: str) -> str:
    return "hmac-sha256:" + hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


class Color(enum.Enum):
    RED = "red"
    BLUE = 2


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Opaque:
    """No __repr__ of its own: the default repr carries a memory address."""

    def __init__(self, value: int) -> None:
        self.value = value


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


class BadItems(dict):  # type: ignore[type-arg]
    def items(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("items exploded")

    def keys(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("keys exploded")

    def __iter__(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("iter exploded")


class BadGetattr:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name}")


class FakeModel:
    """Looks like a pydantic v2 model."""

    def __init__(self, **data: Any) -> None:
        self._data = data

    def model_dump(self, mode: str = "python", **kwargs: Any) -> dict[str, Any]:
        assert mode == "python"  # python mode keeps sets as sets (json mode lists them unsorted)
        return dict(self._data)


class EndlessModel:
    """``model_dump`` returns another model, forever (like a Mock does)."""

    def model_dump(self, mode: str = "python") -> EndlessModel:
        return EndlessModel()


class BrokenModel:
    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        raise RuntimeError("dump exploded")


def self_dict() -> dict[str, Any]:
    d: dict[str, Any] = {"a": 1}
    d["self"] = d
    return d


def self_list() -> list[Any]:
    lst: list[Any] = [1]
    lst.append(lst)
    return lst


def deep_list(depth: int = 10_000) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def deep_dict(depth: int = 10_000) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"k": value}
    return value


# --- canonical JSON -----------------------------------------------------------


def test_canonical_json_sorts_keys_and_is_compact() -> None:
    assert params.canonical_json({"b": 1, "a": [1, 2], "c": None}) == ('{"a":[1,2],"b":1,"c":null}')


def test_canonical_json_sorts_nested_keys() -> None:
    value = {"z": {"y": 1, "x": [{"b": True, "a": False}]}, "a": "é"}

    text = params.canonical_json(value)

    assert text == '{"a":"é","z":{"x":[{"a":false,"b":true}],"y":1}}'
    assert json.loads(text) == value


def test_canonical_json_ignores_insertion_order() -> None:
    one = {"a": 1, "b": {"c": 2, "d": 3}}
    two = OrderedDict([("b", OrderedDict([("d", 3), ("c", 2)])), ("a", 1)])

    assert params.canonical_json(one) == params.canonical_json(two)


def test_canonical_json_tuples_are_lists() -> None:
    assert params.canonical_json({"t": (1, "a")}) == params.canonical_json({"t": [1, "a"]})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"ab", '{"$bytes":"YWI="}'),
        (bytearray(b"ab"), '{"$bytes":"YWI="}'),
        (memoryview(b"ab"), '{"$bytes":"YWI="}'),
        ({3, 1, 2}, '{"$set":[1,2,3]}'),
        (frozenset({"b", "a"}), '{"$set":["a","b"]}'),
        (datetime.datetime(2020, 1, 2, 3, 4, 5), '{"$datetime":"2020-01-02T03:04:05"}'),
        (datetime.date(2020, 1, 2), '{"$date":"2020-01-02"}'),
        (datetime.time(3, 4), '{"$time":"03:04:00"}'),
        (Color.RED, '{"$enum":{"type":"Color","value":"red"}}'),
        (Color.BLUE, '{"$enum":{"type":"Color","value":2}}'),
        (uuid.UUID(int=1), '{"$uuid":"00000000-0000-0000-0000-000000000001"}'),
        (decimal.Decimal("1.10"), '{"$decimal":"1.10"}'),
        (fractions.Fraction(1, 3), '{"$fraction":"1/3"}'),
        (Point(1, 2), '{"x":1,"y":2}'),
        (FakeModel(b=2, a=1), '{"a":1,"b":2}'),
    ],
)
def test_stable_fallbacks(value: Any, expected: str) -> None:
    assert params.canonical_json(value) == expected
    assert params.canonical_json({"k": [value]}) == f'{{"k":[{expected}]}}'


def test_bytes_differ_from_their_text() -> None:
    assert params.hash_params({"v": b"abc"}, NO_KEY) != params.hash_params({"v": "abc"}, NO_KEY)


def test_set_order_does_not_matter() -> None:
    one = set(range(100))
    two = set(reversed(range(100)))

    assert params.canonical_json(one) == params.canonical_json(two)


def test_memory_address_is_not_part_of_the_canonical_form() -> None:
    a, b = Opaque(1), Opaque(1)
    assert repr(a) != repr(b)  # precondition: the default repr carries the address

    text = params.canonical_json({"o": a})

    assert params.canonical_json({"o": b}) == text
    assert " at 0x" not in text
    assert "Opaque" in text
    assert params.hash_params({"o": a}, NO_KEY) == params.hash_params({"o": b}, NO_KEY)


def test_plain_object_types_are_told_apart() -> None:
    assert params.canonical_json(Opaque(1)) != params.canonical_json(BadRepr())


def test_broken_model_dump_falls_back_to_repr() -> None:
    text = params.canonical_json(BrokenModel())

    assert "BrokenModel" in text
    assert " at 0x" not in text
    assert text == params.canonical_json(BrokenModel())


def test_bad_repr_does_not_raise() -> None:
    text = params.canonical_json({"x": BadRepr()})

    assert "BadRepr" in text
    assert text == params.canonical_json({"x": BadRepr()})


def test_cycle_in_dict() -> None:
    text = params.canonical_json(self_dict())

    assert text == '{"a":1,"self":"<cycle>"}'
    assert text == params.canonical_json(self_dict())


def test_cycle_in_list() -> None:
    text = params.canonical_json(self_list())

    assert text == '[1,"<cycle>"]'
    assert text == params.canonical_json(self_list())


def test_shared_but_acyclic_values_are_not_cycles() -> None:
    shared = {"k": 1}
    value = {"a": shared, "b": shared, "n": float("nan")}  # NaN forces the slow path

    assert params.canonical_json(value) == '{"a":{"k":1},"b":{"k":1},"n":{"$float":"nan"}}'


def test_nan_and_infinities() -> None:
    value = {"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf"), "ok": 1.5}

    text = params.canonical_json(value)

    assert text == (
        '{"inf":{"$float":"inf"},"nan":{"$float":"nan"},"ninf":{"$float":"-inf"},"ok":1.5}'
    )
    json.loads(text)  # strict JSON: no bare NaN/Infinity
    assert "NaN" not in text
    assert "Infinity" not in text


def test_mixed_type_keys() -> None:
    value = {1: "int", "b": "str", None: "none", (1, 2): "tuple"}

    text = params.canonical_json(value)

    assert json.loads(text) == {"1": "int", "b": "str", "null": "none", "[1,2]": "tuple"}
    assert text == params.canonical_json(dict(reversed(list(value.items()))))


def test_equal_dicts_with_colliding_mixed_keys_hash_alike() -> None:
    one = {1: "a", "1": "b"}
    two = {"1": "b", 1: "a"}
    assert one == two

    assert params.hash_params(one, NO_KEY) == params.hash_params(two, NO_KEY)


def test_equal_nested_frozensets_hash_alike() -> None:
    one = {frozenset([1, 9])}
    two = {frozenset([9, 1])}
    assert one == two

    assert params.hash_params(one, NO_KEY) == params.hash_params(two, NO_KEY)


def test_huge_ints_do_not_collapse_distinct_params() -> None:
    huge = 10**5000

    assert params.hash_params({"n": huge, "b": 1}, NO_KEY) != params.hash_params(
        {"n": huge, "b": 2}, NO_KEY
    )


@pytest.mark.parametrize("make", [deep_list, deep_dict], ids=["list", "dict"])
def test_deep_nesting_is_capped(make) -> None:  # type: ignore[no-untyped-def]
    text = params.canonical_json(make())

    assert "<max-depth>" in text
    assert text == params.canonical_json(make())
    assert params.hash_params(make(), NO_KEY) == params.hash_params(make(), NO_KEY)


@pytest.mark.parametrize(
    "value",
    [
        self_dict(),
        self_list(),
        deep_list(),
        deep_dict(),
        {"nan": float("nan")},
        {1: 1, "a": 2},
        BadRepr(),
        BadGetattr(),
        BadItems(a=1),
        BrokenModel(),
        EndlessModel(),
        object(),
        type,
        print,
        lambda: None,
        iter([1, 2]),
        10**5000,
        {"s": "\ud800"},
    ],
    ids=lambda v: type(v).__name__,
)
def test_odd_values_never_raise_and_are_deterministic(value: Any) -> None:
    text = params.canonical_json(value)
    assert isinstance(text, str)
    assert text == params.canonical_json(value)

    for cfg in (NO_KEY, KEYED):
        digest = params.hash_params(value, cfg)
        assert HASH_RE.match(digest)
        assert digest == params.hash_params(value, cfg)


# --- hashing ------------------------------------------------------------------


def test_unkeyed_hash_format_and_value() -> None:
    value = {"city": "Paris", "units": "C"}

    digest = params.hash_params(value, NO_KEY)

    assert SHA_RE.match(digest)
    assert digest.startswith(semconv.HASH_PREFIX_SHA256)
    assert digest == sha(params.canonical_json(value))
    assert digest == sha('{"city":"Paris","units":"C"}')


def test_keyed_hash_format_and_value() -> None:
    value = {"city": "Paris", "units": "C"}

    digest = params.hash_params(value, KEYED)

    assert HMAC_RE.match(digest)
    assert digest.startswith(semconv.HASH_PREFIX_HMAC)
    assert digest == hmac_sha(b"k3y", params.canonical_json(value))


def test_keyed_differs_from_unkeyed_and_keys_differ() -> None:
    value = {"city": "Paris"}

    unkeyed = params.hash_params(value, NO_KEY)
    one = params.hash_params(value, config.Settings(hash_key=b"one"))
    two = params.hash_params(value, config.Settings(hash_key=b"two"))

    assert unkeyed[-32:] != one[-32:]
    assert one != two
    assert one == hmac_sha(b"one", params.canonical_json(value))
    assert two == hmac_sha(b"two", params.canonical_json(value))


def test_hash_uses_the_process_settings_by_default(settings_env) -> None:  # type: ignore[no-untyped-def]
    value = {"q": "weather"}
    assert params.hash_params(value) == sha(params.canonical_json(value))

    settings_env(AGENT_INSTRUMENTORS_PARAMS_HASH_KEY="from-env")

    assert params.hash_params(value) == hmac_sha(b"from-env", params.canonical_json(value))


def test_different_params_hash_differently() -> None:
    assert params.hash_params({"city": "Paris"}, NO_KEY) != params.hash_params(
        {"city": "Rome"}, NO_KEY
    )
    assert params.hash_params({"a": 1}, NO_KEY) != params.hash_params({"a": "1"}, NO_KEY)


def test_key_order_does_not_change_the_hash() -> None:
    assert params.hash_params({"a": 1, "b": 2}, KEYED) == params.hash_params(
        {"b": 2, "a": 1}, KEYED
    )


def test_non_ascii_is_hashed_as_utf8() -> None:
    value = {"city": "Zürich 東京"}

    assert params.hash_params(value, NO_KEY) == sha('{"city":"Zürich 東京"}')


def test_hash_text_with_lone_surrogate() -> None:
    assert SHA_RE.match(params.hash_text("\ud800", None))
    assert HMAC_RE.match(params.hash_text("\ud800", b"k"))


# --- property test --------------------------------------------------------------

_hashable_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
    | st.binary(max_size=20)
)
_hashables = st.recursive(_hashable_scalars, lambda inner: st.tuples(inner, inner), max_leaves=5)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**30, max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
    | st.binary(max_size=30)
)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=5).map(tuple)
        | st.dictionaries(st.text(max_size=10) | st.integers(), children, max_size=5)
        | st.sets(_hashables, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_values)
def test_hash_params_property(value: Any) -> None:
    for cfg, pattern in ((NO_KEY, SHA_RE), (KEYED, HMAC_RE)):
        digest = params.hash_params(value, cfg)
        assert pattern.match(digest), digest
        assert params.hash_params(value, cfg) == digest
        assert params.hash_params(copy.deepcopy(value), cfg) == digest


# --- redaction ------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "api_key",
        "apiKey",
        "API-KEY",
        "x-api-key",
        "Authorization",
        "db_password",
        "passwd",
        "token",
        "access_token",
        "secret",
        "client_secret",
        "cookie",
        "Set-Cookie",
        "private_key",
        "credentials",
    ],
)
def test_secret_keys(key: str) -> None:
    assert params.is_secret_key(key)
    assert params.redact({key: "hunter2", "city": "Paris"}) == {
        key: params.REDACTED,
        "city": "Paris",
    }


@pytest.mark.parametrize("key", ["city", "query", "units", "model", 42, None])
def test_ordinary_keys_are_kept(key: Any) -> None:
    assert not params.is_secret_key(key)
    assert params.redact({key: "value"}) == {key: "value"}


def test_redact_nested_dicts_and_lists() -> None:
    value = {
        "headers": {"Authorization": "Basic abc", "Accept": "json"},
        "items": [{"token": "t1", "n": 1}, ({"secret": "s"},)],
        "city": "Paris",
    }

    assert params.redact(value) == {
        "headers": {"Authorization": params.REDACTED, "Accept": "json"},
        "items": [{"token": params.REDACTED, "n": 1}, [{"secret": params.REDACTED}]],
        "city": "Paris",
    }


def test_redact_secret_dict_value_whatever_its_type() -> None:
    assert params.redact({"api_key": {"nested": "x"}, "password": 1234}) == {
        "api_key": params.REDACTED,
        "password": params.REDACTED,
    }


@pytest.mark.parametrize(
    "secret",
    [
        "sk-abcdefghijklmnopqrstuvwx",
        "sk-proj-abcdefghijklmnop_1234",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
        "ghp_abcdefghijklmnopqrstuvwxyz0123",
        "AKIAABCDEFGHIJKLMNOP",
        "xoxb-1234567890-abcdef",
    ],
)
def test_secret_values_in_free_text(secret: str) -> None:
    text = f"please use {secret} for this call"

    cleaned = params.redact({"note": text, "list": [text]})

    assert secret not in json.dumps(cleaned)
    assert cleaned["note"] == f"please use {params.REDACTED} for this call"
    assert cleaned["list"] == [f"please use {params.REDACTED} for this call"]


def test_short_sk_like_words_are_not_secrets() -> None:
    assert params.redact("ask-me or sk-short") == "ask-me or sk-short"


def test_redact_leaves_the_input_unchanged() -> None:
    value = {"api_key": "k", "nested": {"token": "t"}}
    snapshot = copy.deepcopy(value)

    params.redact(value)

    assert value == snapshot


def test_redact_cycles_and_depth_do_not_raise() -> None:
    assert params.redact(self_dict()) == {"a": 1, "self": "<cycle>"}
    assert "<max-depth>" in json.dumps(params.redact(deep_list()))


# --- truncation -----------------------------------------------------------------


def test_truncate_short_text_unchanged() -> None:
    assert params.truncate("abc", 3) == "abc"
    assert params.truncate("", 16) == ""


def test_truncate_long_text_with_marker() -> None:
    text = "x" * 100

    cut = params.truncate(text, 40)

    assert len(cut) == 40
    assert cut.endswith(params.TRUNCATED_MARK)
    assert cut == "x" * (40 - len(params.TRUNCATED_MARK)) + params.TRUNCATED_MARK


# --- safe_content -----------------------------------------------------------------


def test_safe_content_redacts_and_serializes() -> None:
    value = {"city": "Paris", "api_key": "sk-abcdefghijklmnopqrstuv", "note": "Bearer abc.def"}

    text = params.safe_content(value, NO_KEY)

    assert json.loads(text) == {
        "api_key": params.REDACTED,
        "city": "Paris",
        "note": params.REDACTED,
    }
    assert "sk-abc" not in text
    assert "abc.def" not in text


def test_safe_content_string_is_redacted_not_quoted() -> None:
    assert params.safe_content("key sk-abcdefghijklmnopqrstuv", NO_KEY) == (
        f"key {params.REDACTED}"
    )


def test_safe_content_truncates_to_max_length() -> None:
    cfg = config.Settings(max_attribute_length=64)

    text = params.safe_content({"a": "y" * 1000, "b": ["z" * 1000]}, cfg)
    plain = params.safe_content("w" * 1000, cfg)

    assert len(text) == 64
    assert text.endswith(params.TRUNCATED_MARK)
    assert len(plain) == 64
    assert plain.endswith(params.TRUNCATED_MARK)


def test_safe_content_uses_process_settings(settings_env) -> None:  # type: ignore[no-untyped-def]
    settings_env(AGENT_INSTRUMENTORS_MAX_ATTRIBUTE_LENGTH="32")

    text = params.safe_content("v" * 100)

    assert len(text) == 32
    assert text.endswith(params.TRUNCATED_MARK)


def test_safe_content_bytes_are_summarized() -> None:
    assert json.loads(params.safe_content({"blob": b"\x00" * 10}, NO_KEY)) == {"blob": "<10 bytes>"}


@pytest.mark.parametrize(
    "value",
    [
        BadRepr(),
        BadGetattr(),
        BadItems(a=1),
        BrokenModel(),
        EndlessModel(),
        self_dict(),
        self_list(),
        deep_list(),
        {"n": float("nan"), 1: "mixed"},
        10**5000,
        object(),
        {"s": "\ud800"},
    ],
    ids=lambda v: type(v).__name__,
)
def test_safe_content_never_raises(value: Any) -> None:
    text = params.safe_content(value, NO_KEY)

    assert isinstance(text, str)
    assert len(text) <= NO_KEY.max_attribute_length
    assert text == params.safe_content(value, NO_KEY)


def test_safe_content_redacts_dataclass_fields() -> None:
    @dataclasses.dataclass
    class Credentials:
        user: str
        api_key: str

    text = params.safe_content({"creds": Credentials("bob", "hunter2-secret")}, NO_KEY)

    assert "hunter2-secret" not in text


def test_safe_content_redacts_secrets_inside_sets() -> None:
    secret = "sk-abcdefghijklmnopqrstuvwx"

    text = params.safe_content({"keys": {secret}}, NO_KEY)

    assert secret not in text


# --- should_capture ---------------------------------------------------------------


def test_should_capture_off_by_default() -> None:
    assert not any(params.should_capture(NO_KEY) for _ in range(1000))


def test_should_capture_rate_zero_never() -> None:
    cfg = config.Settings(capture_sample_rate=0.0)

    assert not any(params.should_capture(cfg) for _ in range(1000))


def test_should_capture_rate_one_always() -> None:
    cfg = config.Settings(capture_sample_rate=1.0)

    assert all(params.should_capture(cfg) for _ in range(1000))


def test_should_capture_rate_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config.Settings(capture_sample_rate=0.3)
    monkeypatch.setattr(params.random, "random", lambda: 0.29)
    assert params.should_capture(cfg)
    monkeypatch.setattr(params.random, "random", lambda: 0.3)
    assert not params.should_capture(cfg)


@pytest.mark.parametrize("mode", ["SPAN_ONLY", "SPAN_AND_EVENT", "EVENT_ONLY"])
def test_should_capture_when_content_capture_is_on(mode: str) -> None:
    cfg = config.Settings(capture_mode=mode, capture_sample_rate=0.0)

    assert all(params.should_capture(cfg) for _ in range(100))


def test_should_capture_reads_process_settings(settings_env) -> None:  # type: ignore[no-untyped-def]
    assert params.should_capture() is False

    settings_env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")

    assert params.should_capture() is True


# --- regressions found in review ----------------------------------------------------


def test_mock_arguments_are_cheap_and_stable() -> None:
    import time
    from unittest import mock

    start = time.perf_counter()
    first = params.hash_params({"client": mock.Mock(), "m": mock.MagicMock()})
    assert time.perf_counter() - start < 1.0
    assert first == params.hash_params({"client": mock.Mock(), "m": mock.MagicMock()})


@pytest.mark.parametrize("key", ["max_tokens", "author", "passage", "tokens_used", "authored_by"])
def test_ordinary_keys_are_not_redacted(key: str) -> None:
    assert not params.is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["api_key", "apiKey", "X-Api-Key", "Authorization", "db_password", "access_token",
            "client_secret", "Set-Cookie", "sessionId", "privateKey", "AUTH"]
)  # fmt: skip
def test_secret_keys_are_redacted(key: str) -> None:
    assert params.is_secret_key(key)


def test_lower_case_bearer_and_jwt_values_redacted() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnop"
    text = params.safe_content({"note": f"bearer abc.def-123 and {jwt}"})
    assert "abc.def-123" not in text and jwt not in text


def test_truncate_never_exceeds_the_limit() -> None:
    for limit in range(1, 40):
        assert len(params.truncate("x" * 100, limit)) <= limit
