"""The secrets the ``redact`` stage finds in text, and the key names whose values are secret.

Built in, in the order they run: private key blocks (the body), AWS access key ids and a
40-character secret key next to one, JWTs, passwords in URLs, ``key=value`` and JSON
``"key": "value"`` pairs and ``--key value`` flags whose key is a sensitive name,
``Bearer``/``Basic`` credentials, and card numbers (Luhn and a card network's prefix).

:class:`SecretFinder` works in two steps. ``hints(text)`` is a cheap test: a few substring
checks and regex searches that have a literal first character. Python's ``re`` only
searches fast from such a character; a case-insensitive alternation costs about 100x more
per character. ``hints`` returns a bit mask of the finders that may match, and ``redact``
then runs only those. ``hints`` always finds at least what ``redact`` would find, so one
call on all of an event's strings, joined, tells whether any of them needs work.

Key=value pairs are found from the separator backwards: ``=`` or ``:`` is a literal start
for a regex on the lowercased, reversed text, followed by the key names spelled backwards
as a trie. A forward regex cannot start at the separator, because the key comes first.
Key names are matched case-insensitively at the END of a key (``DB_PASSWORD``,
``x-api-key``, ``clientSecret``). The long names (``password``, ``token``, ``secret``...)
may follow any prefix (``csrftoken``). The short ones (``pass``, ``pwd``, ``auth``,
``cvv``) must follow a non-alphanumeric character or a camelCase hump, so ``bypass``,
``compass`` and ``oauth`` are left alone. ``token_count`` and ``tokenizer`` do not end
with a name, and a name needs a separator after it, so "password reset" is left alone;
but "auth: ok" and "pass: 10" lose their values (a redactor errs on the safe side).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "EVERY_FINDER",
    "LONG_KEY_NAMES",
    "SHORT_KEY_NAMES",
    "KeyNames",
    "PatternRule",
    "SecretFinder",
    "card_number_ok",
    "luhn_ok",
]

Mask = Callable[[str], str]  # secret -> what replaces it

# A space in a name stands for "", "_", "-" or "." in a key: "api key" is apikey, api_key...
LONG_KEY_NAMES: Final = (
    "password", "passwords", "passwd", "passphrase", "secret", "secrets", "token",
    "credential", "credentials", "authorization", "api key", "api keys", "secret key",
    "private key", "access key", "signing key", "encryption key", "master key",
)  # fmt: skip
SHORT_KEY_NAMES: Final = ("pass", "pwd", "auth", "cvv", "cvc")

# The scheme word before a credential in an Authorization value: it stays visible.
_SCHEME = r"(?:(?i:bearer|basic|token|digest|negotiate|ntlm|apikey)[ \t]+)?"
# What follows a key and its separator. The secret is the inside of a quoted value, or a
# bare value up to the next space, quote, & or angle bracket (less any trailing , ; ) ] },
# cut in Python: a lookahead for them at every character would be quadratic).
_VALUE = re.compile(
    r">?[ \t]*(?:\\?[\"'])?" + _SCHEME + r"(?P<secret>"
    r'(?<=\\")(?:[^"\\]|\\[^"])*'  # \"...\": JSON inside a JSON string
    r'|(?<=")(?:[^"\\]|\\.)*'
    r"|(?<=')[^']*"
    r"|(?P<bare>(?![\[{(<])[^\s\"'&<>]+)"
    r")"
)
_BARE_TRAILER = ",;)]}"

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _card_shape_byte(byte: int) -> int:
    char = chr(byte)
    if char in "23456":  # the first digit of a card number (see card_number_ok)
        return ord("c")
    if "0" <= char <= "9":
        return ord("0")
    if char == "-":
        return byte
    # What may not come just before a card number: letters, _ . + (any non-ASCII byte may
    # be part of a character that may: "€4111...").
    return ord("a") if byte < 128 and (char.isalpha() or char in "_.+") else ord(" ")


# Text -> its shape for the card number hint: "c" for 2-6, "0" for other digits, " " or
# "-" where a card number may start or be split, "a" where it may not start.
_CARD_SHAPE = bytes(_card_shape_byte(i) for i in range(256))

PEM, AWS, JWT, URL, KEY_VALUE, FLAG, AUTH_SCHEME, CARD = (1 << i for i in range(8))
EVERY_FINDER: Final = (1 << 8) - 1


def _spellings(name: str) -> set[str]:
    parts = name.split(" ")
    return {joiner.join(parts) for joiner in ("", "_", "-", ".")}


_Trie = dict[str, "_Trie"]  # "" marks the end of a word


def _trie(words: Iterable[str]) -> str:
    """One regex for many words, branching on one character at a time: ``re`` tries
    one branch per position instead of every word."""
    root: _Trie = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_node(root)


def _trie_node(node: _Trie) -> str:
    branches = [re.escape(char) + _trie_node(node[char]) for char in sorted(node) if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if "" in node:
        return f"(?:{body})?"
    return body


def _short_name_ok(text: str, start: int) -> bool:
    """A short name starts a key, a word after a separator, or a camelCase hump."""
    if start == 0:
        return True
    before = text[start - 1]
    if not (before.isascii() and before.isalnum()):
        return True
    return text[start].isupper() and not before.isupper()


def _ascii_lower(text: str) -> str:
    """Lowercase for the finders that need offsets in ``text``: only A-Z change, so that
    the length stays (U+0130 lowercases to two characters). ``hints`` uses ``str.lower``,
    which changes those letters too, so it finds what this finds."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


class KeyNames:
    """The sensitive key names, for keys of structured events and for key=value text."""

    def __init__(self, long_names: Iterable[str], short_names: Iterable[str]) -> None:
        longs = {s for name in long_names for s in _spellings(name.lower())}
        shorts = {s for name in short_names for s in _spellings(name.lower())} - longs
        # Every spelling of a name holds its last word: a cheap first test.
        words = {name.lower().split(" ")[-1] for name in (*long_names, *short_names)}
        self._words = tuple(sorted(w for w in words if not any(o in w for o in words - {w})))
        never = "(?!)"
        long_reversed = _trie(w[::-1] for w in longs) if longs else never
        short_reversed = _trie(w[::-1] for w in shorts) if shorts else never
        reversed_name = f"(?:(?P<long>{long_reversed})|(?P<short>{short_reversed}))"
        self._reversed_name = re.compile(reversed_name)
        tail = r"[ \t]*(?:[\"']\\?)?" + reversed_name
        # Read on the reversed text: "=" also starts ":=" and "=>"; ":" starts ": ".
        self._after_equals = re.compile("=:?" + tail)
        self._after_colon = re.compile(":" + tail)
        long_forward = _trie(longs) if longs else never
        short_forward = _trie(shorts) if shorts else never
        # --password value: the flag name must end with a key name.
        self._flag = re.compile(
            rf"--[a-z0-9_.-]{{0,40}}?(?:{long_forward}|(?<![a-z0-9]){short_forward})"
            r"[ \t]+(?=[^\s-])"
        )

    def is_secret_key(self, key: str) -> bool:
        """Whether a structured event's key names a secret (``app.password``)."""
        match = self._reversed_name.match(_ascii_lower(key)[::-1])
        if match is None or match.end() == 0:
            return False
        start = len(key) - match.end()
        return match.group("long") is not None or _short_name_ok(key, start)

    def mentioned(self, lowered: str) -> bool:
        """Whether a key name may be in the text: needed by :meth:`hint` and
        :meth:`flag_hint`, and a few substring tests are cheaper than their regexes."""
        for word in self._words:  # a loop: any() and its generator cost 50% more here
            if word in lowered:
                break
        else:
            return False
        return True

    def hint(self, lowered: str) -> bool:
        backwards = lowered[::-1]
        return (
            self._after_equals.search(backwards) is not None
            or self._after_colon.search(backwards) is not None
        )

    def flag_hint(self, lowered: str) -> bool:
        return "--" in lowered and self._flag.search(lowered) is not None

    def value_starts(self, text: str) -> list[int]:
        """Where the values of ``key=value`` / ``"key": "value"`` pairs start, in order."""
        backwards = _ascii_lower(text)[::-1]
        size = len(text)
        starts: dict[int, int] = {}  # key start -> value start
        for finder in (self._after_equals, self._after_colon):
            for match in finder.finditer(backwards):
                key_start = size - match.end()
                if match.group("long") is None and not _short_name_ok(text, key_start):
                    continue
                # ":=" is seen from "=" and from ":"; the value starts after both.
                starts[key_start] = max(starts.get(key_start, 0), size - match.start())
        return sorted(starts.values())

    def flag_value_starts(self, text: str) -> list[int]:
        return [match.end() for match in self._flag.finditer(_ascii_lower(text))]


@dataclass(frozen=True, slots=True)
class PatternRule:
    """A regex whose group ``group`` is a secret, kept only when ``check`` accepts it."""

    name: str
    regex: re.Pattern[str]
    group: int | str = 0
    check: Callable[[str], bool] | None = None

    def apply(self, text: str, mask: Mask) -> str:
        group, check = self.group, self.check

        def replace(match: re.Match[str]) -> str:
            whole = match.group(0)
            secret = match.group(group)
            if not secret or (check is not None and not check(secret)):
                return whole
            offset = match.start()
            head = whole[: match.start(group) - offset]
            return head + mask(secret) + whole[match.end(group) - offset :]

        return self.regex.sub(replace, text)


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position & 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_number_ok(text: str) -> bool:
    """Luhn-valid, with the prefix (IIN) and length of a major card network.

    The prefix check keeps epoch times (1..., 13-19 digits), decimal trace ids
    starting with 1 and most order numbers from being taken for cards.
    """
    digits = text.replace(" ", "").replace("-", "")
    size = len(digits)
    first, two = digits[0], int(digits[:2])
    if first == "4":  # Visa
        network_ok = size in (13, 16, 19)
    elif first == "5":  # Mastercard 51-55, Maestro
        network_ok = size >= 16
    elif first == "2":  # Mastercard 2221-2720
        network_ok = size == 16 and 2221 <= int(digits[:4]) <= 2720
    elif first == "3":  # Amex 34/37 (15), Diners 30/36/38, JCB 35
        network_ok = size == 15 if two in (34, 37) else two in (30, 35, 36, 38) and size >= 14
    elif first == "6":  # Discover, UnionPay, Maestro
        network_ok = size >= 16
    else:
        network_ok = False
    return network_ok and luhn_ok(digits)


def _is_basic_credential(token: str) -> bool:
    """``Basic <base64>`` outside an Authorization header: only when it decodes to user:pass."""
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
        text = decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return ":" in text and text.isprintable()


_BASE64_40 = r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
_KEY_ID = r"A(?<![A-Z0-9]A)(?:KIA|SIA)[A-Z0-9]{16}(?![A-Z0-9])"  # the lookbehind after "A": fast

_PEM_RULE = PatternRule(
    "private_key",
    re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ ){0,4}PRIVATE KEY(?: BLOCK)?-----(?P<secret>.*?)(?=-----END |\Z)",
        re.S,
    ),
    "secret",
)
_AWS_RULES = (
    # A 40-character secret access key is told from a SHA-1 only by an access key id next to it.
    PatternRule(
        "aws_secret_access_key",
        re.compile(
            _KEY_ID + r"[^A-Za-z0-9/+\n]{1,4}(?:[A-Za-z][A-Za-z_ -]{0,39}[^A-Za-z0-9/+\n]{1,4})?"
            r"(?P<secret>" + _BASE64_40 + ")"
        ),
        "secret",
    ),
    PatternRule("aws_access_key_id", re.compile(_KEY_ID)),
)
_JWT_RULE = PatternRule(
    "jwt",
    re.compile(r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
)
_URL_RULE = PatternRule(
    "url_password", re.compile(r"://[^\s/?#@:\"']*:(?P<secret>[^\s/?#\"'<>]+)@"), "secret"
)
# The word after "Bearer" must not be a plain word: "Bearer authentication failed".
_AUTH_SCHEME_RULES = (
    PatternRule(
        "bearer",
        re.compile(
            r"[Bb](?<![A-Za-z0-9][Bb])(?i:earer)[ \t]+"
            r"(?![A-Za-z][a-z]*(?![A-Za-z0-9._~+/-]))(?P<secret>[A-Za-z0-9._~+/-]{8,}=*)"
        ),
        "secret",
    ),
    PatternRule(
        "basic",
        re.compile(
            r"[Bb](?<![A-Za-z0-9][Bb])(?i:asic)[ \t]+"
            r"(?P<secret>[A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])"
        ),
        "secret",
        _is_basic_credential,
    ),
)
# 13-19 digits, alone or in groups of 4 (or Amex's 4-6-5) split by one space or dash,
# not inside a longer run of digits, letters or dots. [0-9] first: a fast search.
_CARD_RULE = PatternRule(
    "card_number",
    re.compile(
        r"(?P<secret>[0-9](?<![\w.+-][0-9])[0-9]{3}"
        r"(?:(?P<sep>[ -]?)[0-9]{4}(?P=sep)[0-9]{4}(?P=sep)[0-9]{1,7}"
        r"|(?P<amex>[ -])[0-9]{6}(?P=amex)[0-9]{4,5}))(?![\w-]|\.[0-9])"
    ),
    "secret",
    card_number_ok,
)
_AWS_HINT = re.compile(r"A[KS]IA").search
# On " " + the shape: " c" first, a fast literal search.
_CARD_HINT = re.compile(rb" c[0c][0c][0c][ -]?[0c][0c][0c][0c]").search


class SecretFinder:
    """The built-in finders (unless ``builtin`` is false), key=value pairs for the key
    names, and extra patterns, which are searched in every string."""

    def __init__(
        self, names: KeyNames, *, builtin: bool = True, extra: Sequence[PatternRule] = ()
    ) -> None:
        self.names = names
        self.builtin = builtin
        self.extra = tuple(extra)
        # In this order: a key block or a JWT is masked whole before key=value sees it.
        self._rules = (
            (PEM, _PEM_RULE),
            *((AWS, rule) for rule in _AWS_RULES),
            (JWT, _JWT_RULE),
            (URL, _URL_RULE),
        )
        self._late_rules = (
            *((AUTH_SCHEME, rule) for rule in _AUTH_SCHEME_RULES),
            (CARD, _CARD_RULE),
        )

    def hints(self, text: str) -> int:
        """Bits of the finders that may match in ``text``; 0: nothing to find but what the
        extra patterns find. Several strings may be tested at once, joined by newlines."""
        lowered = text.lower()
        bits = 0
        names = self.names
        if names.mentioned(lowered):
            if names.hint(lowered):
                bits |= KEY_VALUE
            if names.flag_hint(lowered):
                bits |= FLAG
        if not self.builtin:
            return bits
        if "PRIVATE KEY" in text:
            bits |= PEM
        if _AWS_HINT(text) is not None:
            bits |= AWS
        if "eyJ" in text:
            bits |= JWT
        if "@" in text and "://" in text:
            bits |= URL
        if "bearer" in lowered or "basic" in lowered:
            bits |= AUTH_SCHEME
        try:
            data = (" " + text).encode()
        except UnicodeEncodeError:  # a lone surrogate
            data = (" " + text).encode("utf-8", "surrogatepass")
        if _CARD_HINT(data.translate(_CARD_SHAPE)):
            bits |= CARD
        return bits

    def extra_match(self, texts: Iterable[str]) -> bool:
        """Whether an extra pattern matches one of ``texts`` (each searched alone: a
        pattern may be anchored)."""
        return any(rule.regex.search(text) is not None for text in texts for rule in self.extra)

    def redact(self, text: str, mask: Mask, bits: int | None = None) -> str:
        """``text`` with every secret found replaced by ``mask(secret)``; ``bits``: the
        finders to run (default: those ``hints`` names; EVERY_FINDER skips the test)."""
        if bits is None:
            bits = self.hints(text)
        if bits:
            for bit, rule in self._rules:
                if bits & bit:
                    text = rule.apply(text, mask)
            if bits & KEY_VALUE:
                text = _mask_values(text, self.names.value_starts(text), mask)
            if bits & FLAG:
                text = _mask_values(text, self.names.flag_value_starts(text), mask)
            for bit, rule in self._late_rules:
                if bits & bit:
                    text = rule.apply(text, mask)
        for rule in self.extra:
            text = rule.apply(text, mask)
        return text


def _mask_values(text: str, starts: list[int], mask: Mask) -> str:
    if not starts:
        return text
    pieces: list[str] = []
    done = 0
    for start in starts:
        if start < done:
            continue  # inside the value masked before: password="token=..."
        match = _VALUE.match(text, start)
        if match is None:
            continue
        secret = match.group("secret")
        if match.group("bare") is not None:
            secret = secret.rstrip(_BARE_TRAILER)
        if not secret:
            continue
        pieces.append(text[done : match.start("secret")])
        pieces.append(mask(secret))
        done = match.start("secret") + len(secret)
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)
