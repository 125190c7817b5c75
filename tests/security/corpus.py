"""The security corpus: secrets in every shape we know, and hostile inputs.

Reuse it to drive any code path that may export content (every instrumentor, every
capture mode): put each ``SECRETS[i].value`` where a user or a model could put it,
and assert that ``SECRETS[i].secret`` appears in no exported attribute or event.

- ``SECRETS``: ``Secret(name, value, secret)`` triples. ``value`` is the text as it
  would appear (a key, a header, a URL, an assignment); ``secret`` is the part of it
  that must never appear in any output. Every ``secret`` survives JSON escaping
  unchanged (letters, digits, ``-_.+/=``), so it can be searched in serialized output.
  Key-shaped values are assembled from pieces, so that no scanner mistakes this file
  for a leak.
- ``NON_SECRETS``: text that looks a little like a secret but is not one; redaction
  must leave each of them intact.
- ``HOSTILE``: name -> zero-argument factory of a hostile value (huge, deeply nested,
  cyclic, non-UTF-8, control characters, objects whose dunder methods raise, a
  Mapping whose ``items()`` raises, a huge int). Call the factory for a fresh value.
- ``CONTROL``: a harmless value to place next to a secret; it must come out intact.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple


class Secret(NamedTuple):
    name: str
    value: str
    secret: str


CONTROL = "control-value-4242"


def _body(seed: str, length: int, alphabet: str = "") -> str:
    """A deterministic token of ``length`` characters that no real service issued."""
    chars = alphabet or "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    out, state = [], sum(map(ord, seed)) or 1
    for _ in range(length):
        state = (state * 1103515245 + 12345) % 2**31
        out.append(chars[state % len(chars)])
    return "".join(out)


def _keyed(name: str, prefix: str, length: int, alphabet: str = "") -> Secret:
    body = _body(name, length, alphabet)
    return Secret(name, prefix + body, body)


_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_PEM_LINES = [_body(f"pem{i}", 64, _B64) for i in range(4)]


def _pem(kind: str, headers: str = "") -> Secret:
    body = "\n".join(_PEM_LINES)
    block = f"-----BEGIN {kind}PRIVATE KEY-----\n{headers}{body}\n-----END {kind}PRIVATE KEY-----"
    return Secret(f"pem_{kind.strip().lower() or 'pkcs8'}", block, _PEM_LINES[1])


def _jwt() -> Secret:
    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    header = part({"alg": "HS256", "typ": "JWT"})
    payload = part({"sub": "user-8812", "scope": "admin", "iat": 1700000000})
    signature = _body("jwt-sig", 43, _B64[:62] + "-_")
    return Secret("jwt", f"{header}.{payload}.{signature}", f"{payload}.{signature}")


_BASIC = base64.b64encode(b"alice:Basic-pass-91x").decode()
_AWS_SECRET = _body("aws-secret", 40, _B64)
_OPAQUE = _body("bearer", 32)

SECRETS: list[Secret] = [
    _keyed("openai_project", "sk-" + "proj-", 48, _B64[:62] + "-_"),
    _keyed("openai_legacy", "sk-", 48),
    _keyed("openai_service_account", "sk-" + "svcacct-", 40),
    _keyed("anthropic", "sk-" + "ant-" + "api03-", 80, _B64[:62] + "-_"),
    _keyed("stripe_secret_live", "sk_" + "live_", 40),
    _keyed("stripe_secret_test", "sk_" + "test_", 40),
    _keyed("stripe_restricted", "rk_" + "live_", 40),
    _keyed("stripe_publishable", "pk_" + "live_", 40),
    _keyed("stripe_webhook", "whsec" + "_", 32),
    _keyed("google_api_key", "AI" + "za", 35, _B64[:62] + "-_"),
    *(_keyed(f"github_{p}", p + "_", 36) for p in ("ghp", "gho", "ghu", "ghs", "ghr")),
    _keyed("github_fine_grained", "github" + "_pat_", 82, _B64[:62] + "_"),
    *(_keyed(f"slack_{p}", p + "-", 40, "0123456789abcdefghij-") for p in ("xoxb", "xoxp")),
    _keyed("slack_user", "xox" + "a-2-", 30),
    Secret("aws_access_key_id", "AK" + "IA" + _body("aws-id", 16, _UPPER), ""),
    Secret("aws_session_key_id", "AS" + "IA" + _body("aws-sts", 16, _UPPER), ""),
    Secret("aws_secret_env", f"AWS_SECRET_ACCESS_KEY={_AWS_SECRET}", _AWS_SECRET),
    Secret("aws_secret_ini", f"aws_secret_access_key = {_AWS_SECRET}", _AWS_SECRET),
    Secret("aws_secret_json", f'"SecretAccessKey": "{_AWS_SECRET}"', _AWS_SECRET),
    _pem(""),
    _pem("RSA "),
    _pem("EC "),
    _pem("OPENSSH "),
    _pem("RSA ", "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0A1B2C3D4E5F\n\n"),
    _jwt(),
    Secret("bearer_opaque", f"Bearer {_OPAQUE}", _OPAQUE),
    Secret("bearer_header", f"Authorization: Bearer {_OPAQUE}x", f"{_OPAQUE}x"),
    Secret("basic_auth", f"Authorization: Basic {_BASIC}", _BASIC),
    Secret(
        "postgres_url", "postgres://app_user:Pg-pass-8d7f6e@db.internal:5432/app", "Pg-pass-8d7f6e"
    ),
    Secret(
        "https_userinfo", "https://deploy:Gh-pass-1a2b3c@git.example.com/r.git", "Gh-pass-1a2b3c"
    ),
    Secret("redis_password_only", "redis://:Redis-pass-77aa@cache:6379/0", "Redis-pass-77aa"),
    Secret(
        "mongodb_srv", "mongodb+srv://u:Mongo-pass-5e6f@cluster0.example.net/db", "Mongo-pass-5e6f"
    ),
    Secret(
        "url_token_as_user",
        "https://oauth2:Tok-user-9z8y7x@gitlab.example.com/x",
        "Tok-user-9z8y7x",
    ),
    Secret(
        "url_query_api_key", "https://api.example.com/v1?q=paris&api_key=Qk-3e4r5t6y", "Qk-3e4r5t6y"
    ),
    Secret(
        "url_query_access_token",
        "https://x.example.com/cb?access_token=At-55aa66bb&s=1",
        "At-55aa66bb",
    ),
    Secret(
        "url_query_signature",
        "https://b.s3.example.com/o?X-Amz-Signature=5ig-0f9e8d7c",
        "5ig-0f9e8d7c",
    ),
    Secret(
        "url_query_client_secret",
        "https://idp.example.com/token?client_secret=Cs-1q2w3e",
        "Cs-1q2w3e",
    ),
    Secret(
        "assignment_password",
        "password=correct-horse-battery-staple",
        "correct-horse-battery-staple",
    ),
    Secret("assignment_env", "DB_PASSWORD: Env-pass-0p9o8i", "Env-pass-0p9o8i"),
    Secret("assignment_quoted", "api_key = 'Kv-secret-9f8e7d'", "Kv-secret-9f8e7d"),
    Secret("assignment_pwd", "mysql -u root --pwd=My-pwd-33cc44", "My-pwd-33cc44"),
    Secret("assignment_credentials", "credentials: Cred-value-81ab", "Cred-value-81ab"),
    Secret("assignment_jwt", "jwt=Jwt-opaque-5d4c3b", "Jwt-opaque-5d4c3b"),
    Secret("assignment_otp", "otp: Otp-7391-zq", "Otp-7391-zq"),
    Secret("header_api_key", "X-Api-Key: Xk-6c5b4a3928", "Xk-6c5b4a3928"),
    Secret("cookie_header", "Set-Cookie: sessionid=Ck-77ee88ff99", "Ck-77ee88ff99"),
    Secret("json_text_api_key", '{"api_key": "Tool-arg-secret-1234"}', "Tool-arg-secret-1234"),
    Secret("json_text_token", '{"query": "x", "token": "Abc-tok-777"}', "Abc-tok-777"),
    Secret(
        "python_repr_password", "{'password': 'Repr-pass-42z', 'city': 'Paris'}", "Repr-pass-42z"
    ),
]
# Whole-value secrets (the id is the secret itself).
SECRETS = [s if s.secret else s._replace(secret=s.value) for s in SECRETS]

NON_SECRETS: list[str] = [
    "max_tokens=256",
    "tokens: 512",
    "the author wrote a passage about keyboards",
    "123e4567-e89b-12d3-a456-426614174000",
    "https://example.com/search?q=paris&page=2",
    "ssh://github.com/org/repo.git",
    "contact bob@example.com at 10:30",
    "task-management-system-overview",
    "ask-me-anything",
    "sk-short",
    "Basic usage of the API",
    "bearer of good news",
    "monkey: banana",
    "commit 3f2c1e9b8a7d6c5b4a39281706f5e4d3c2b1a098",
    "AKIA is how AWS key ids start",
    "eyJ is how base64 JSON starts",
    "-----BEGIN CERTIFICATE-----",
    "temperature=0.2, top_p=0.9",
]


# --- hostile inputs -------------------------------------------------------------------


class Raising:
    """Every dunder a serializer might call raises."""

    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")

    def __str__(self) -> str:
        raise RuntimeError("str exploded")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq exploded")

    def __hash__(self) -> int:
        raise RuntimeError("hash exploded")

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"getattr {name} exploded")


class RaisingMapping(Mapping[str, Any]):
    """A Mapping whose every accessor raises."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("getitem exploded")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("iter exploded")

    def __len__(self) -> int:
        raise RuntimeError("len exploded")

    def items(self) -> Any:
        raise RuntimeError("items exploded")


class RaisingDict(dict):  # type: ignore[type-arg]
    """A dict subclass (taken by json's C encoder) whose items() raises."""

    def items(self) -> Any:
        raise RuntimeError("items exploded")


class RaisingModel:
    """Looks like a pydantic model; dumping it raises."""

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("dump exploded")


def _nested(depth: int, make: Callable[[Any], Any]) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = make(value)
    return value


def _cyclic_dict() -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    value["self"] = value
    value["again"] = value  # two back-edges: a naive walk is exponential
    return value


def _cyclic_list() -> list[Any]:
    value: list[Any] = [1]
    value.extend([value, value])
    return value


def _mutual_cycle() -> dict[str, Any]:
    a: dict[str, Any] = {}
    b: dict[str, Any] = {"a": a}
    a["b"] = b
    return a


HOSTILE: dict[str, Callable[[], Any]] = {
    "huge_string_5mb": lambda: "x" * 5_000_000,
    "huge_adversarial_string_5mb": lambda: "eyJ-" * 1_250_000,
    "huge_list_of_secrets": lambda: ["sk-" + "a" * 40] * 100_000,
    "dense_secrets_string": lambda: " ".join(["sk-" + "b" * 20] * 40_000),
    "deep_list_10000": lambda: _nested(10_000, lambda v: [v]),
    "deep_dict_10000": lambda: _nested(10_000, lambda v: {"k": v}),
    "deep_tuple_10000": lambda: _nested(10_000, lambda v: (v,)),
    "cyclic_dict": _cyclic_dict,
    "cyclic_list": _cyclic_list,
    "mutual_cycle": _mutual_cycle,
    "non_utf8_bytes": lambda: b"\xff\xfe\x00\x80\xc3" * 1000,
    "lone_surrogates": lambda: {"s": "\ud800abc\udfff", "\udc80key": "v"},
    "control_characters": lambda: "line1\nline2\r\n\x00\x1b[31mred\x1b[0m\x7f\u2028\u202e",
    "raising_object": Raising,
    "raising_mapping": RaisingMapping,
    "raising_dict_subclass": lambda: RaisingDict(a=1),
    "raising_model": RaisingModel,
    "raising_inside_containers": lambda: {"o": [Raising(), RaisingMapping(), RaisingDict(a=1)]},
    "huge_int": lambda: 10**100_000,
    "nan_and_infinities": lambda: {"n": float("nan"), "i": float("inf"), "-i": float("-inf")},
    "mixed_keys": lambda: {1: "a", "1": "b", None: 2, (1, 2): 3, 1.5: 4},
    "big_json_string": lambda: json.dumps(list(range(300_000))),
    "deep_json_string": lambda: "[" * 100_000 + "]" * 100_000,
    "unclosed_json_string": lambda: '{"api_key": "' + "z" * 1_000_000,
}
