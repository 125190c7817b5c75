"""Secrets in free text: the pattern table and the scan that replaces what it finds.

Found anywhere in a string: PEM private key blocks, credentials in URLs of any
scheme (``postgres://user:pw@host``), ``Bearer`` and ``Basic`` authorization values,
OpenAI, Anthropic, Stripe, Google, GitHub and Slack keys, AWS access key ids, JWTs,
and the value in ``key=value``, ``key: value`` or ``"key": "value"`` (URL query
strings, headers, logs, Python reprs, JSON text) when the key is secret-looking
(``is_secret_key``) and ends in a secret word (``api_key``, ``AWS_SECRET_ACCESS_KEY``,
``X-Amz-Signature``, ``password``). Secrets are recognised as whole tokens: a key
glued to the end of a word (``xsk-...``) is not one.

Every pattern runs in linear time on any input (``tests/security`` holds each to
50 ms on 1 MB of adversarial text). The rules that keep it so:

- a pattern starts with a literal (``sk-``, ``eyJ``, ``://``), so the regex engine
  jumps between occurrences instead of trying every position; boundary checks
  come after the literal, as fixed-width lookbehinds;
- an open-ended quantifier is either last (nothing after it can fail, so nothing
  backtracks) or followed by a character it cannot match (one way to split), and a
  lookbehind keeps a match from starting inside a run an earlier start has scanned;
- a scan handles at most ``MAX_MATCHES`` matches per pattern and string; past that
  the rest of the string is replaced whole (a string dense with secrets is hostile).

Case-insensitive patterns (``Bearer``, key names) run on an ASCII-lower-cased copy
of the same length: ``re.IGNORECASE`` would defeat the literal-prefix search.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import itertools
import re
from collections.abc import Callable
from typing import Final

REDACTED: Final = "[REDACTED]"

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
MAX_MATCHES: Final = 1024
# How far back from a key word the full key name is looked for (``aws_secret_access_key``).
_KEY_REACH: Final = 64

# A replacement: (start, end, text) in the original string, or None to keep the match.
Replace = Callable[[re.Match[str], str], "tuple[int, int, str] | None"]


@dataclasses.dataclass(frozen=True)
class SecretPattern:
    """One entry of the pattern table."""

    name: str
    regex: re.Pattern[str]
    # Every match holds one of these (lower case): where none is in the text, the
    # pattern does not run. Cheap substring tests keep short strings cheap.
    triggers: tuple[str, ...]
    replace: Replace | None = None  # None: the whole match becomes REDACTED
    folded: bool = False  # matched against the ASCII-lower-cased text


def is_secret_key(key: object) -> bool:
    """True for keys like ``api_key``, ``Authorization``, ``X-Api-Key`` or ``db_password``."""
    return isinstance(key, str) and _is_secret_name(key)


@functools.lru_cache(maxsize=4096)
def _is_secret_name(key: str) -> bool:
    words = [w.lower() for w in _KEY_WORDS.findall(key)]
    if not words:
        return False
    if "".join(words) in _SECRET_WORDS or not _SECRET_WORDS.isdisjoint(words):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


def _whole(match: re.Match[str], text: str) -> tuple[int, int, str]:
    return match.start(), match.end(), REDACTED


def _stripe(match: re.Match[str], text: str) -> tuple[int, int, str]:
    # The literal the pattern starts with is ``k_``: take in the ``s``/``r``/``p`` before it.
    return match.start() - 1, match.end(), REDACTED


def _bearer(match: re.Match[str], text: str) -> tuple[int, int, str] | None:
    token = text[match.start("token") : match.end()]
    # "bearer of bad news": a short, all-lower-case word is prose, not a token.
    if len(token) < 16 and token.isalpha() and token.islower():
        return None
    return match.start(), match.end(), REDACTED


def _basic(match: re.Match[str], text: str) -> tuple[int, int, str] | None:
    token = text[match.start("token") : match.end()]
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    # Basic credentials are base64 of "user:password"; "Basic usage" is not.
    return (match.start(), match.end(), REDACTED) if b":" in decoded else None


def _userinfo(match: re.Match[str], text: str) -> tuple[int, int, str]:
    return match.start() + 3, match.end() - 1, REDACTED  # keep "://" and "@"


# A value after ``key=`` / ``key: ``: quoted (escapes allowed, closing quote optional,
# so an unclosed value is redacted to the end of the line), quoted with escaped quotes
# (JSON text inside a JSON string: ``\"key\": \"value\"``), or a bare word.
_VALUE = re.compile(
    r"""[ \t]{0,3}(?P<v>"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?"""
    r"""|(?P<q>\\{1,7}["'])(?:[^\\\n]|\\+[^\\"'\n])*(?:\\+["'])?"""
    r"""|[^\s"'&,;<>()\[\]{}]+)"""
)
_KEY_CHARS = re.compile(r"[A-Za-z0-9_.\-]*")
_CHAINED_KEYS: Final = 3  # "a: b: c: value" at most: bounded work per match


def _assignment(match: re.Match[str], text: str) -> tuple[int, int, str] | None:
    start = match.start()
    before = text[max(0, start - _KEY_REACH) : start][::-1]
    prefix = _KEY_CHARS.match(before)
    head = prefix.group()[::-1] if prefix else ""
    if (
        head[:1] in ("n", "r", "t", "b", "f")
        and text[start - len(head) - 1 : start - len(head)] == "\\"
    ):
        head = head[1:]  # "\npassword=" in JSON or repr text: the n belongs to the escape
    key = head + text[start : match.start("sep")]
    if not is_secret_key(key.strip("\"'")):
        return None
    value = _VALUE.match(text, match.end())
    if value is None:
        return None
    body, start, end = value.group("v"), value.start("v"), value.end()
    quote = value.group("q") or (body[0] if body[:1] in ('"', "'") else "")
    for _ in range(_CHAINED_KEYS):
        # "credentials: otp: 123456": the bare word is another key; its value goes too.
        if quote or body[-1:] not in (":", "="):
            break
        chained = _VALUE.match(text, end)
        if chained is None or not chained.group("v"):
            break
        body, end = chained.group("v"), chained.end()
    return start, end, f"{quote}{REDACTED}{quote}"


def _assign(name: str, word: str, trigger: str) -> SecretPattern:
    """``<key> = value`` / ``"<key>": "value"`` where the key's name ends in ``word``."""
    # The lookahead only repeats the separator's first character: a cheap early exit.
    regex = re.compile(rf"{word}(?=[\\\"' \t=:])(?P<sep>(?:\\{{0,7}}[\"'])?[ \t]{{0,3}}[=:])")
    return SecretPattern(f"assignment_{name}", regex, (trigger,), _assignment, folded=True)


_TOKEN = r"[A-Za-z0-9_\-]"
_ALNUM = "[A-Za-z0-9]"
_LOWER_ALNUM = "[a-z0-9]"


def _starts(length: int, before: str = _TOKEN) -> str:
    """Asserts that the ``length`` characters just matched start a token: the character
    before them is not a ``before`` character, or ends an escape (``\\n`` in JSON or repr
    text, where the ``n`` is no part of the token)."""
    return rf"(?:(?<!{before}.{{{length}}})|(?<=\\[nrtbf].{{{length}}}))"


PATTERNS: Final[tuple[SecretPattern, ...]] = (
    # PEM private key, header to footer; the body stops at the next "-----", so a
    # header without a footer is redacted up to the next one (or to the end).
    SecretPattern(
        "pem_private_key",
        re.compile(
            r"-----BEGIN[ A-Z0-9]{0,48}PRIVATE KEY(?: BLOCK)?-----[^-]*(?:-(?!----)[^-]*)*"
            r"(?:-----END[ A-Z0-9]{0,48}PRIVATE KEY(?: BLOCK)?-----)?"
        ),
        ("-----begin",),
    ),
    # user:password@ in a URL of any scheme; the last "@" before the path ends it.
    SecretPattern("url_userinfo", re.compile(r"://[^\s/?#\"'<>\\]{1,1024}@"), ("://",), _userinfo),
    SecretPattern(
        "bearer",
        re.compile(
            rf"bearer(?=[ \t]){_starts(6, _LOWER_ALNUM)}[ \t]{{1,8}}(?P<token>[a-z0-9._~+/\-]+)=*"
        ),
        ("bearer",),
        _bearer,
        folded=True,
    ),
    SecretPattern(
        "basic_auth",
        re.compile(
            rf"basic(?=[ \t]){_starts(5, _LOWER_ALNUM)}"
            r"[ \t]{1,8}(?P<token>[a-z0-9+/]{8,})={0,2}"
        ),
        ("basic",),
        _basic,
        folded=True,
    ),
    SecretPattern("anthropic", re.compile(rf"sk-ant-{_starts(7)}{_TOKEN}{{16,}}"), ("sk-ant-",)),
    SecretPattern("openai", re.compile(rf"sk-{_starts(3)}(?!ant-){_TOKEN}{{16,}}"), ("sk-",)),
    SecretPattern(
        "stripe",
        re.compile(rf"k_(?<=[spr]k_){_starts(3, _ALNUM)}(?:live|test)_[A-Za-z0-9]{{10,}}"),
        ("k_live_", "k_test_"),
        _stripe,
    ),
    SecretPattern("stripe_webhook", re.compile(r"whsec_[A-Za-z0-9]{16,}"), ("whsec_",)),
    SecretPattern("google_api_key", re.compile(r"AIza[A-Za-z0-9_\-]{30,}"), ("aiza",)),
    SecretPattern(
        "github_token",
        re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    SecretPattern("github_pat", re.compile(r"github_pat_[A-Za-z0-9_]{20,}"), ("github_pat_",)),
    SecretPattern("slack_token", re.compile(r"xox[abceoprs]-[A-Za-z0-9\-]{10,}"), ("xox",)),
    SecretPattern(
        "aws_access_key_id",
        re.compile(rf"A[KS]IA{_starts(4, _ALNUM)}[A-Z0-9]{{16}}(?![A-Za-z0-9])"),
        ("akia", "asia"),
    ),
    SecretPattern(
        "jwt",
        re.compile(rf"eyJ{_starts(3)}{_TOKEN}{{8,}}\.{_TOKEN}{{8,}}(?:\.{_TOKEN}*)?"),
        ("eyj",),
    ),
    _assign("password", r"pass(?:word|wd|phrase)?", "pass"),
    _assign("pwd", "pwd", "pwd"),
    _assign("secret", "secret", "secret"),
    _assign("token", "token", "token"),
    _assign("auth", r"auth(?:orization)?", "auth"),
    _assign("cookie", r"cookies?", "cookie"),
    _assign("credential", r"credentials?", "credential"),
    _assign("key", "key", "key"),
    _assign("signature", "signature", "signature"),
    _assign("jwt", "jwt", "jwt"),
    _assign("otp", "otp", "otp"),
    _assign("session_id", r"session[_\-]?id", "session"),
)


# An alternation costs the regex engine time per character: only for short text.
_SHORT: Final = 128
_ANY_TRIGGER: Final = re.compile("|".join(re.escape(t) for p in PATTERNS for t in p.triggers))


def fold(text: str) -> str:
    """``text`` lower-cased in ASCII only, one character for one (indexes stay valid)."""
    return text.encode("ascii", "replace").decode("ascii").lower()


def scrub_with(pattern: SecretPattern, text: str, folded: str | None = None) -> str:
    """``text`` with what ``pattern`` finds replaced (at most MAX_MATCHES, then the rest)."""
    source = (folded if folded is not None else fold(text)) if pattern.folded else text
    replace = pattern.replace or _whole
    search = pattern.regex.search
    out: list[str] = []
    last = pos = 0
    for _ in range(MAX_MATCHES):
        match = search(source, pos)
        if match is None:
            break
        pos = match.end()
        found = replace(match, text)
        if found is None:
            continue
        start, end, replacement = found
        start = max(start, last)
        out += (text[last:start], replacement)
        last, pos = end, max(end, pos)
    else:
        if search(source, pos) is not None:  # dense with secrets: hostile, drop the rest
            out.append(text[last:pos] + REDACTED)
            last = len(text)
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def scrub_text(text: str) -> str:
    """``text`` with every known secret format replaced by REDACTED."""
    folded = fold(text)
    # Short text (most arguments, every key): one search says whether anything can match.
    if len(folded) <= _SHORT and _ANY_TRIGGER.search(folded) is None:
        return text
    for pattern in PATTERNS:
        for trigger in pattern.triggers:
            if trigger in folded:
                break
        else:
            continue
        scrubbed = scrub_with(pattern, text, folded)
        if scrubbed is not text:
            text, folded = scrubbed, fold(scrubbed)
    return text
