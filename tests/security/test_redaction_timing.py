"""Every redaction pattern runs in linear time: at most 50 ms on 1 MB of adversarial text.

This is a complexity bound, not a speed benchmark: each pattern of the table gets
the inputs that make a backtracking regex blow up (long runs of its own alphabet,
its prefix repeated, a near-match that fails at the very end). Time is the thread's
CPU time, the best of three runs, so other processes on the machine do not count;
doubling the input must at most about double the time, which catches quadratic
behaviour even where 1 MB alone would still pass.

A pattern added to the table without adversarial inputs here fails ``test_every_
pattern_has_adversarial_inputs``.
"""

from __future__ import annotations

import time

import pytest

from instrumentors import _redact
from instrumentors._patterns import PATTERNS, SecretPattern, scrub_with

MB = 1_000_000
LIMIT_S = 0.050

# Per pattern: units repeated to fill the input. Each targets the pattern's structure.
ADVERSARIAL: dict[str, list[str]] = {
    "pem_private_key": [
        "-----BEGIN PRIVATE KEY-----",  # headers without a footer
        "-----BEGIN PRIVATE KEY-----\n" + "A" * 64 + "\n-",  # bodies cut by single dashes
        "-----BEGIN " + "A " * 40,  # a header that never says PRIVATE KEY
        "-",
        "----",
    ],
    "url_userinfo": ["://", "://@", "://a@", "a://", "://" + "@" * 2000 + "/", "://a:b", ":/"],
    "bearer": ["Bearer ", "Bearer", "bearer x ", "Bearer       !", "BEARER " + "a" * 20 + " "],
    "basic_auth": ["Basic ", "Basic dXNlcjpwYXNz ", "basic aaaaaaaa!", "Basic Authentication "],
    "anthropic": ["sk-ant-", "sk-ant-" + "a" * 15 + " ", "xsk-ant-", "sk-ant"],
    "openai": ["sk-", "sk-" + "a" * 15 + " ", "ask-", "sk-ant-", "sk"],
    "stripe": ["sk_live_", "k_", "sk_live_" + "a" * 9 + "!", "ask_test_", "sk_"],
    "stripe_webhook": ["whsec_", "whsec_" + "a" * 15 + "!", "whsec"],
    "google_api_key": ["AIza", "AIza" + "a" * 29 + "!", "AI"],
    "github_token": ["ghp_", "gh", "ghp_" + "a" * 19 + "!", "ghx_"],
    "github_pat": ["github_pat_", "github_pat_" + "a" * 19 + "!", "github_"],
    "slack_token": ["xoxb-", "xox", "xoxb-" + "a" * 9 + "!", "xoxz-"],
    "aws_access_key_id": ["AKIA", "A", "AKIA" + "A" * 16 + " ", "ASIA" + "A" * 17],
    "jwt": [
        "eyJ",  # every start inside one run
        "eyJ-",
        "eyJaaaaaaaa.",  # segments that chain
        "eyJaaaaaaaa.aaaaaaa!",  # two segments, the second one short
        "eyJ" + "a" * (MB - 4) + ".",  # the input: one huge first segment
    ],
}
_ASSIGNMENT_WORDS = {
    "assignment_password": "password",
    "assignment_pwd": "pwd",
    "assignment_secret": "secret",
    "assignment_token": "token",
    "assignment_auth": "authorization",
    "assignment_cookie": "cookies",
    "assignment_credential": "credentials",
    "assignment_key": "key",
    "assignment_signature": "signature",
    "assignment_jwt": "jwt",
    "assignment_otp": "otp",
    "assignment_session_id": "session_id",
}
for _name, _word in _ASSIGNMENT_WORDS.items():
    ADVERSARIAL[_name] = [
        _word,  # the key word back to back
        _word + '" :',  # dense assignments without values
        _word + ": x ",  # dense real assignments (hits the match cap)
        "a" + _word + "=b ",  # near misses: the key is not secret
        _word + "=" + "a" * 1000,  # long values
        _word.upper() + "\u0130",  # non-ASCII next to it (the case fold keeps lengths)
    ]


def fill(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def cpu_time(pattern: SecretPattern, text: str) -> float:
    start = time.thread_time()
    scrub_with(pattern, text)
    return time.thread_time() - start


def times(pattern: SecretPattern, unit: str) -> tuple[float, float]:
    """Best CPU time on 1 MB and on 2 MB: up to three rounds of three runs, interleaved.

    Further rounds run only while the bounds are not met, so a busy machine gets a
    second chance and a quadratic pattern (which fails every round) does not.
    """
    one, two = fill(unit, MB), fill(unit, 2 * MB)
    best_one = best_two = float("inf")
    for _ in range(3):
        for _ in range(3):
            best_one = min(best_one, cpu_time(pattern, one))
            best_two = min(best_two, cpu_time(pattern, two))
        if best_one < LIMIT_S and best_two < 3 * best_one + 0.005:
            break
    return best_one, best_two


def test_every_pattern_has_adversarial_inputs() -> None:
    names = [pattern.name for pattern in PATTERNS]

    assert len(names) == len(set(names))
    assert set(names) <= set(ADVERSARIAL), set(names) - set(ADVERSARIAL)
    assert set(ADVERSARIAL) <= set(names), set(ADVERSARIAL) - set(names)


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.name)
def test_pattern_is_linear(pattern: SecretPattern) -> None:
    for unit in ADVERSARIAL[pattern.name]:
        one, two = times(pattern, unit)

        assert one < LIMIT_S, f"{pattern.name}: {one * 1000:.1f} ms on 1 MB of {unit[:30]!r}"
        # Twice the input, about twice the time (slack for timer granularity).
        assert two < 3 * one + 0.005, f"{pattern.name}: {one:.4f}s -> {two:.4f}s on {unit[:30]!r}"


@pytest.mark.parametrize(
    "text",
    [
        "[" * MB,  # no closing bracket: never parsed
        "[" * 100_000 + "]" * 100_000,  # nested past the recursion limit
        '{"a":' * 40_000 + "1" + "}" * 40_000,
        "[" + "1," * (MB // 2) + "1]",  # valid, but past the size cap: scanned as text
        " " * MB + "{}",
    ],
    ids=["unclosed", "deep-array", "deep-object", "huge-array", "leading-space"],
)
def test_json_in_string_is_bounded(text: str) -> None:
    best = float("inf")
    for _ in range(3):
        start = time.thread_time()
        _redact._parse_json(text)
        best = min(best, time.thread_time() - start)

    assert best < LIMIT_S
