"""Every secret of the corpus, in every container shape, never survives redaction.

``safe_content`` (what captured content goes through) and ``redact`` are both driven
with each secret placed in each shape a tool argument, a result or a message can
take; a harmless control value placed beside it must come out intact. Hostile
inputs never make ``safe_content``, ``hash_params`` or ``canonical_json`` raise.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from instrumentors import config, params
from instrumentors._patterns import PATTERNS, SecretPattern, fold
from tests.security.corpus import CONTROL, HOSTILE, NON_SECRETS, SECRETS, Secret

# Large enough that truncation never hides a leak: only redaction may remove a secret.
UNCUT = config.Settings(max_attribute_length=1_000_000)
DEFAULT = config.Settings()

Pair = collections.namedtuple("Pair", "arg control")


@dataclasses.dataclass
class Args:
    arg: Any
    control: str


class Model(pydantic.BaseModel):
    arg: Any
    control: str


def _tool_call(value: str) -> dict[str, Any]:
    arguments = json.dumps({"q": value, "control": CONTROL})
    return {
        "role": "assistant",
        "tool_calls": [{"function": {"name": "f", "arguments": arguments}}],
    }


SHAPES: dict[str, Callable[[str], Any]] = {
    "plain_string": lambda v: v,
    "free_text": lambda v: f"please use {v} for the call ({CONTROL})",
    "multiline_text": lambda v: f"log line one\n{v}\nlog line three {CONTROL}",
    "json_in_string": lambda v: json.dumps({"arg": v, "control": CONTROL}),
    "dict_value": lambda v: {"arg": v, "control": CONTROL},
    "nested_list": lambda v: [[v], [CONTROL]],
    "tuple": lambda v: (v, CONTROL),
    "set": lambda v: {v, CONTROL},
    "frozenset_in_dict": lambda v: {"s": frozenset({v}), "control": CONTROL},
    "namedtuple": lambda v: Pair(v, CONTROL),
    "dataclass": lambda v: Args(v, CONTROL),
    "pydantic_model": lambda v: Model(arg=v, control=CONTROL),
    "json_in_string_in_list": lambda v: [json.dumps({"outer": {"arg": v}, "control": CONTROL})],
    "tool_call_arguments": _tool_call,
    "bytes_in_dict": lambda v: {"raw": v.encode(), "control": CONTROL},
}


def serialized(value: Any) -> str:
    return json.dumps(value, default=repr, ensure_ascii=False) + repr(value)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("secret", SECRETS, ids=lambda s: s.name)
def test_secret_never_survives(secret: Secret, shape: str) -> None:
    value = SHAPES[shape](secret.value)

    captured = params.safe_content(value, UNCUT)
    redacted = serialized(params.redact(value))

    assert secret.secret not in captured
    assert secret.secret not in redacted
    if shape != "plain_string":
        assert CONTROL in captured
        assert CONTROL in redacted


@pytest.mark.parametrize("visible", [6, 20, 60])
@pytest.mark.parametrize("secret", SECRETS, ids=lambda s: s.name)
def test_secret_cut_by_truncation_is_not_shown(secret: Secret, visible: int) -> None:
    # The cut falls inside the secret: the part left of it must not be shown either.
    shown = DEFAULT.max_attribute_length - len(params.TRUNCATED_MARK)
    pad = shown - visible - 1 - secret.value.index(secret.secret)
    text = "p" * pad + " " + secret.value + " tail"

    captured = params.safe_content(text, DEFAULT)

    assert len(captured) <= DEFAULT.max_attribute_length
    assert secret.secret[:visible] not in captured


@pytest.mark.parametrize("text", NON_SECRETS)
def test_non_secrets_are_kept(text: str) -> None:
    assert params.redact(text) == text
    assert json.loads(params.safe_content({"v": text}, UNCUT)) == {"v": text}


def test_tool_call_arguments_stay_a_json_string() -> None:
    arguments = '{"query": "x", "token": "abc"}'
    message = {"tool_calls": [{"function": {"name": "search", "arguments": arguments}}]}

    redacted = params.redact(message)

    out = redacted["tool_calls"][0]["function"]["arguments"]
    assert isinstance(out, str)
    assert json.loads(out) == {"query": "x", "token": params.REDACTED}


def test_api_key_in_arguments_is_redacted_by_key() -> None:
    arguments = '{"api_key": "plain-words-no-format"}'

    assert json.loads(params.safe_content(arguments, DEFAULT)) == {"api_key": params.REDACTED}
    assert json.loads(params.redact(arguments)) == {"api_key": params.REDACTED}


def test_unchanged_json_string_keeps_its_formatting() -> None:
    text = '{ "city" :"Paris",\n  "days": 3 }'

    assert params.redact(text) == text


def test_mapping_subclasses_and_namedtuples_redact_by_key() -> None:
    creds = collections.namedtuple("creds", "user password")
    value = collections.OrderedDict(login=creds("bob", "hunter2-plain"))

    redacted = params.redact(value)

    assert redacted == {"login": {"user": "bob", "password": params.REDACTED}}


def test_object_attributes_are_redacted() -> None:
    class Client:  # default repr: its public attributes are what the capture shows
        def __init__(self) -> None:
            self.base_url = "https://api.example.com"
            self.api_key = "attr-secret-123"

    text = params.safe_content({"client": Client()}, DEFAULT)

    assert "attr-secret-123" not in text
    assert "https://api.example.com" in text


def test_pydantic_secret_fields_are_not_revealed() -> None:
    class Login(pydantic.BaseModel):
        user: str
        password: pydantic.SecretStr

    text = params.safe_content(Login(user="bob", password="pw-hidden-9"), DEFAULT)

    assert "pw-hidden-9" not in text
    assert "bob" in text


@pytest.mark.parametrize(
    "wrap",
    [
        lambda v: repr(f"first line\n{v}\nlast line"),  # a repr: newlines become \\n
        lambda v: json.dumps(f"first line\n{v}"),  # a JSON string scalar
        lambda v: json.dumps(json.dumps({"arg": v})),  # JSON text encoded twice
        lambda v: json.dumps(json.dumps({"arg": v}))[:-2],  # ... and cut: not parseable
        lambda v: repr({"note": f"a\tb\n{v}"}),
    ],
    ids=["repr", "json-scalar", "json-twice", "json-twice-cut", "dict-repr"],
)
@pytest.mark.parametrize("secret", SECRETS, ids=lambda s: s.name)
def test_secrets_in_escaped_text(secret: Secret, wrap: Callable[[str], str]) -> None:
    text = wrap(secret.value)

    assert secret.secret not in params.safe_content(text, UNCUT)
    assert secret.secret not in params.redact(text)


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.name)
def test_every_pattern_finds_a_corpus_secret_and_its_trigger_covers_it(
    pattern: SecretPattern,
) -> None:
    # A pattern runs only where one of its triggers is in the text: a match without
    # one would be skipped, so every match must contain one.
    found = 0
    for secret in SECRETS:
        text = f"use {secret.value} now"
        source = fold(text) if pattern.folded else text
        for match in pattern.regex.finditer(source):
            found += 1
            assert any(t in fold(text)[match.start() : match.end()] for t in pattern.triggers)
    assert found, f"no corpus secret exercises {pattern.name}"


def test_secret_in_dict_key_is_redacted() -> None:
    key = SECRETS[0].value

    assert SECRETS[0].secret not in serialized(params.redact({key: 1}))


def test_redaction_is_idempotent() -> None:
    for secret in SECRETS:
        once = params.redact(f"use {secret.value} now")
        assert params.redact(once) == once


# --- hostile inputs ----------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_inputs_never_raise(name: str) -> None:
    value = HOSTILE[name]()
    start = time.thread_time()

    captured = params.safe_content(value, DEFAULT)
    digest = params.hash_params(value, DEFAULT)
    text = params.canonical_json(value)

    # A bound against hangs and quadratic blow-ups, far above the real cost.
    assert time.thread_time() - start < 10.0
    assert isinstance(captured, str)
    assert len(captured) <= DEFAULT.max_attribute_length
    captured.encode("utf-8")  # exportable: no lone surrogate left
    assert digest.startswith("sha256:")
    assert isinstance(text, str)
    assert params.hash_params(HOSTILE[name](), DEFAULT) == digest
    assert params.safe_content(HOSTILE[name](), DEFAULT) == captured


@pytest.mark.parametrize("name", ["cyclic_dict", "cyclic_list", "mutual_cycle"])
def test_cycles_are_marked_not_expanded(name: str) -> None:
    redacted = params.redact(HOSTILE[name]())

    assert "<cycle>" in serialized(redacted)
    assert len(serialized(redacted)) < 200


def test_shared_acyclic_values_are_not_cycles() -> None:
    shared = {"token": "t"}

    assert params.redact({"a": shared, "b": shared}) == {
        "a": {"token": params.REDACTED},
        "b": {"token": params.REDACTED},
    }


def test_dense_secrets_are_cut_not_leaked() -> None:
    text = HOSTILE["dense_secrets_string"]()

    redacted = params.redact(text)

    assert "sk-bbbb" not in redacted
    assert len(redacted) < len(text)


def test_huge_list_capture_stops_early() -> None:
    value = ["word"] * 1_000_000
    start = time.thread_time()

    text = params.safe_content(value, DEFAULT)

    assert time.thread_time() - start < 1.0
    assert len(text) == DEFAULT.max_attribute_length
    assert text.endswith(params.TRUNCATED_MARK)


@pytest.mark.parametrize(
    "text",
    [
        "assignment_credentials: credentials: Cred-value-81ab",
        "password: otp: Cred-value-81ab",
        "X: X-Api-Key: Cred-value-81ab",
    ],
)
def test_a_key_whose_value_is_another_key_loses_both_values(text: str) -> None:
    assert "Cred-value-81ab" not in params.safe_content(text)
