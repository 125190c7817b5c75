"""Property tests: no corpus secret survives ``safe_content`` or ``redact``, wherever it is
nested, and ``hash_params`` depends only on the value.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instrumentors import config, params
from tests.security.corpus import SECRETS, Secret

UNCUT = config.Settings(max_attribute_length=10_000_000)

# Text around a secret: words and punctuation, never glued to it (secrets are tokens).
_filler = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=15)
_separator = st.sampled_from([" ", "\n", ", ", "; ", " (", ") ", "\t", " | "])
_neutral_key = st.sampled_from(["q", "input", "args", "data", "payload", "note", "items", "x"])


@st.composite
def _embedded(draw: st.DrawFn, secret: Secret) -> Any:
    """``secret.value`` as a string: alone, in prose, or in a JSON document."""
    how = draw(st.sampled_from(["alone", "prose", "json"]))
    if how == "alone":
        return secret.value
    if how == "prose":
        return draw(_filler) + draw(_separator) + secret.value + draw(_separator) + draw(_filler)
    return json.dumps({draw(_neutral_key): secret.value, "other": draw(_filler)})


_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _filler


def _wrap(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(_neutral_key | _filler, children, max_size=4)
        | children.map(lambda v: json.dumps(v, default=repr))  # JSON inside a string
    )


@st.composite
def _structure_with_secret(draw: st.DrawFn) -> tuple[Secret, Any]:
    secret = draw(st.sampled_from(SECRETS))
    holder = draw(st.recursive(_embedded(secret) | _leaf, _wrap, max_leaves=12))
    # Make sure the secret is in there at least once, at a random depth.
    depth = draw(st.integers(0, 4))
    value: Any = draw(_embedded(secret))
    for _ in range(depth):
        kind = draw(st.sampled_from(["list", "tuple", "dict", "json"]))
        if kind == "list":
            value = [draw(_leaf), value]
        elif kind == "tuple":
            value = (value, draw(_leaf))
        elif kind == "dict":
            value = {draw(_neutral_key): value, "other": draw(_leaf)}
        else:
            value = json.dumps({draw(_neutral_key): value}, default=repr)
    return secret, [holder, value]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_structure_with_secret())
def test_no_corpus_secret_survives(case: tuple[Secret, Any]) -> None:
    secret, value = case

    captured = params.safe_content(value, UNCUT)
    redacted = params.redact(value)

    assert secret.secret not in captured
    assert secret.secret not in json.dumps(redacted, ensure_ascii=False, default=repr)


_hashable = st.recursive(
    st.none() | st.booleans() | st.integers() | _filler | st.binary(max_size=8),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)
_values = st.recursive(
    _leaf | st.binary(max_size=8) | st.floats(allow_nan=True),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(_filler, children, max_size=4)
        | st.sets(_hashable, max_size=4)
        | st.frozensets(_hashable, max_size=4)
    ),
    max_leaves=20,
)


def _rebuilt(value: Any) -> Any:
    """An equal value built in another order: reversed dict insertion and set building."""
    if isinstance(value, dict):
        return {k: _rebuilt(v) for k, v in reversed(list(value.items()))}
    if isinstance(value, list):
        return [_rebuilt(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return type(value)(reversed(sorted(value, key=repr)))
    return value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_values)
def test_hash_is_a_function_of_the_value(value: Any) -> None:
    cfg = config.Settings()
    digest = params.hash_params(value, cfg)

    assert params.hash_params(value, cfg) == digest
    assert params.hash_params(copy.deepcopy(value), cfg) == digest
    assert params.hash_params(_rebuilt(value), cfg) == digest
