"""The ``redact`` stage: secrets in events are masked before they leave the host.

Configuration::

    - type: redact
      fields: [message, app]          # default: every string field, nested and in lists
      exclude_fields: [_id, trace.id] # default: @timestamp, _id, _index (never scanned)
      keys: [ssn, vault token]        # extra key names; a space: "", _, - or .
      patterns:                       # extra patterns; group: the part to mask (default all)
        - {name: ticket, regex: "TKT-(\\d{6})", group: 1}
      replacement: "[REDACTED]"
      hash_key: ${REDACT_KEY}         # mask as [REDACTED:<12 hex of HMAC-SHA256>]
      builtin: true                   # false: only the keys and patterns given here

What is masked (the finders are in :mod:`.secrets`):

- Only the secret itself: ``https://user:[REDACTED]@host/``, ``password=[REDACTED]``,
  ``"api_key": "[REDACTED]"``, ``Authorization: Bearer [REDACTED]``, the body of a
  private key block, a whole JWT, an AWS access key id, a Luhn-valid card number.
- A field whose KEY is a sensitive name (``app.password``, ``headers.Authorization``):
  its whole value, whatever its type (a dict becomes the replacement string). None,
  booleans and "" are kept: they cannot hold a secret.
- A 40-character AWS secret key looks like a SHA-1 in base64: it is masked only after a
  secret key name or next to an access key id, never alone.
- With ``hash_key`` equal secrets get equal masks, to correlate them; the hash reveals
  nothing without the key. ``${NAME}``: the key is read from the environment at build.
- Masking twice changes nothing: a value that is already a mask is kept.
- Not masked: a bare 40-character base64 or hex string, base64 in ``data:`` URIs, values
  split from their key by a line break. A bare value ends at a space, a quote or ``&``:
  a password holding one is masked only up to it, unless it is quoted.

Speed: the event is walked once. Keys seen before cost one set lookup, and so do short
strings found clean before (container names, images, hosts repeat; the set is bounded
and never holds a secret). The remaining strings, mostly the message, are joined and
tested once with :meth:`SecretFinder.hints`: an event without a secret costs that test.

Fail closed: if redacting an event raises, the event may be half redacted. Only its
``@timestamp``, ``_id``, ``_index`` and ``tags`` are kept, ``message`` becomes the
replacement, and the failure is marked, with the error's type but not its text.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from logwharf.events import Event

from .secret_finders import LONG_KEY_NAMES, SHORT_KEY_NAMES, KeyNames, PatternRule, SecretFinder
from .stage import EventStage, mark_failure
from .stage_config import BuildContext, StageConfig, check_field_name

__all__ = ["RedactConfig", "RedactPattern", "Redactor"]

DEFAULT_EXCLUDED = ("@timestamp", "_id", "_index")
_KEPT_ON_FAILURE = frozenset({"@timestamp", "_id", "_index", "tags"})
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_KEY_NAME = re.compile(r"[A-Za-z0-9_. -]+")
_MIN_HASH_KEY = 16
_KEY_CACHE_SIZE = 4096
# Strings found clean, up to this length (container names, hosts, levels repeat).
_CLEAN_CACHE_SIZE = 16384
_CLEAN_CACHE_LENGTH = 128

_PathTree = dict[str, "_PathTree | Literal[True]"]  # True: this key and all below it


class RedactPattern(BaseModel):
    """An extra pattern: ``group`` (a number or a name) is the part masked, default all."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    regex: str
    group: int | str | None = None

    @model_validator(mode="after")
    def _compiles(self) -> RedactPattern:
        if not self.name.strip():
            raise ValueError("a pattern needs a name")
        compiled = self.compile()  # the config's own regex: safe to quote in errors
        if compiled.fullmatch("") is not None:
            raise ValueError(f"pattern {self.name!r}: the regex matches the empty string")
        group = self.group
        if isinstance(group, int) and not 0 <= group <= compiled.groups:
            raise ValueError(
                f"pattern {self.name!r}: group {group} does not exist "
                f"(the regex has {compiled.groups} groups)"
            )
        if isinstance(group, str) and group not in compiled.groupindex:
            raise ValueError(f"pattern {self.name!r}: the regex has no group named {group!r}")
        return self

    def compile(self) -> re.Pattern[str]:
        try:
            return re.compile(self.regex)
        except re.error as error:
            raise ValueError(
                f"pattern {self.name!r}: not a valid regular expression: {error}"
            ) from None

    def rule(self) -> PatternRule:
        return PatternRule(self.name, self.compile(), 0 if self.group is None else self.group)


class RedactConfig(StageConfig):
    """Masks passwords, tokens, keys and card numbers in every string field."""

    # An error must not quote a hash_key given in the file.
    model_config = ConfigDict(hide_input_in_errors=True)

    type: Literal["redact"] = "redact"
    fields: tuple[str, ...] | None = None
    exclude_fields: tuple[str, ...] = DEFAULT_EXCLUDED
    patterns: tuple[RedactPattern, ...] = ()
    keys: tuple[str, ...] = ()
    replacement: str = "[REDACTED]"
    hash_key: SecretStr | None = None
    builtin: bool = True

    @field_validator("fields", "exclude_fields")
    @classmethod
    def _field_names(
        cls, value: tuple[str, ...] | None, info: ValidationInfo
    ) -> tuple[str, ...] | None:
        if info.field_name == "fields" and value is not None and not value:
            raise ValueError("name at least one field, or leave fields out for every field")
        for name in value or ():
            check_field_name(name)
        return value

    @field_validator("keys")
    @classmethod
    def _keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for key in value:
            if not _KEY_NAME.fullmatch(key) or not key.strip():
                raise ValueError(
                    f"key {key!r}: use letters, digits, _ - . (a space stands for any of them)"
                )
        return tuple(key.strip() for key in value)

    @field_validator("replacement")
    @classmethod
    def _replacement(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("replacement must not be empty")
        return value

    @model_validator(mode="after")
    def _something_to_find(self) -> RedactConfig:
        if not (self.builtin or self.patterns or self.keys):
            raise ValueError("builtin is false and no patterns or keys are given: nothing to find")
        return self

    def build(self, name: str, context: BuildContext) -> Redactor:
        longs = LONG_KEY_NAMES if self.builtin else ()
        shorts = (*SHORT_KEY_NAMES, *self.keys) if self.builtin else self.keys
        finder = SecretFinder(
            KeyNames(longs, shorts),
            builtin=self.builtin,
            extra=[pattern.rule() for pattern in self.patterns],
        )
        return Redactor(
            name,
            finder,
            fields=self.fields,
            exclude_fields=self.exclude_fields,
            replacement=self.replacement,
            hash_key=None if self.hash_key is None else _resolve_key(self.hash_key),
        )


def _resolve_key(value: SecretStr) -> bytes:
    """The key itself, or the environment variable ``${NAME}`` names, checked when the stage
    is built (the environment may differ at load time); errors never quote the key."""
    text = value.get_secret_value()
    reference = _ENV_REFERENCE.fullmatch(text)
    where = "hash_key"
    if reference is not None:
        where = f"hash_key: {reference.group(1)}"
        text = os.environ.get(reference.group(1), "")
        if not text:
            raise ValueError(f"hash_key: the environment variable {reference.group(1)} is not set")
    if len(text) < _MIN_HASH_KEY:
        raise ValueError(
            f"{where} must hold at least {_MIN_HASH_KEY} characters (give it as ${{NAME}} "
            "to read it from the environment)"
        )
    return text.encode("utf-8", "surrogatepass")


def _path_tree(names: Sequence[str]) -> _PathTree:
    """The fields as a tree of keys, with every reading of their dots: ``a.b.c`` is also
    found as ``a`` → ``"b.c"`` and as ``"a.b"`` → ``c``, like :class:`FieldPath` finds it."""
    tree: _PathTree = {}
    for name in names:
        for segments in _splits(tuple(name.split("."))):
            node = tree
            for segment in segments[:-1]:
                child = node.setdefault(segment, {})
                if child is True:
                    break  # a shorter name already takes everything below
                assert isinstance(child, dict)
                node = child
            else:
                node[segments[-1]] = True
    return tree


def _splits(keys: tuple[str, ...]) -> Iterator[list[str]]:
    for cut in range(1, len(keys) + 1):
        head = ".".join(keys[:cut])
        if cut == len(keys):
            yield [head]
        else:
            for rest in _splits(keys[cut:]):
                yield [head, *rest]


class _RedactionFailed(Exception):
    """Carries only the type of the real error: its text might quote a secret."""


class Redactor(EventStage):
    """The runtime stage: masks secrets in place, drops nothing. ``masked`` counts masks."""

    name = "redact"

    def __init__(
        self,
        name: str | None,
        finder: SecretFinder,
        *,
        fields: Sequence[str] | None = None,
        exclude_fields: Sequence[str] = DEFAULT_EXCLUDED,
        replacement: str = "[REDACTED]",
        hash_key: bytes | None = None,
    ) -> None:
        super().__init__(name)
        self.finder = finder
        self.masked = 0
        self._include = None if fields is None else _path_tree(fields)
        self._exclude = _path_tree(exclude_fields) or None
        self._replacement = replacement
        self._hash_key = hash_key
        # "[REDACTED]" is hashed as "[REDACTED:<hex>]"; both start with the marker.
        bracketed = replacement.endswith("]") and len(replacement) > 1
        self._marker = replacement[:-1] if bracketed else replacement
        self._hash_tail = "]" if bracketed else ""
        self._hashed_form = re.compile(
            re.escape(self._marker) + ":[0-9a-f]{12}" + re.escape(self._hash_tail)
        )
        self._plain_keys: set[Any] = set()
        self._secret_keys: set[Any] = set()
        self._clean: set[str] = set()  # never holds a secret: only strings found clean

    def __call__(self, event: Event) -> Event:
        try:
            self._redact(event)
        except Exception as error:
            self._strip(event, error)
        return event

    def process_batch(self, events: list[Event]) -> list[Event]:
        redact = self._redact
        for event in events:
            try:
                redact(event)
            except Exception as error:
                self._strip(event, error)
        return events

    def _strip(self, event: Event, error: Exception) -> None:
        """Fail closed: keep only what cannot be a secret, and say what went wrong."""
        for key in [key for key in event if key not in _KEPT_ON_FAILURE]:
            del event[key]
        event["message"] = self._replacement
        mark_failure(event, self.name, _RedactionFailed(type(error).__name__))
        self.failures += 1

    def _redact(self, event: Event) -> None:
        texts: list[str] = []
        places: list[tuple[Any, Any]] = []
        if self._include is None:
            self._collect(event, self._exclude, texts, places)
        else:
            self._collect_selected(event, self._include, self._exclude, texts, places)
        if not texts:
            return
        finder = self.finder
        alone = len(texts) == 1  # the usual case: all but the message are known clean
        bits = finder.hints(texts[0] if alone else "\n".join(texts))
        if not bits and not (finder.extra and finder.extra_match(texts)):
            self._remember_clean(texts)
            return
        redact, mask = finder.redact, self._mask
        clean = []
        for index, text in enumerate(texts):
            own = bits if alone else finder.hints(text)
            if not own and not finder.extra:
                clean.append(text)  # then the next events' same strings cost nothing
                continue
            redacted = redact(text, mask, own)
            if redacted is not text:
                container, key = places[index]
                container[key] = redacted
        self._remember_clean(clean)

    def _remember_clean(self, texts: list[str]) -> None:
        clean = self._clean
        if len(clean) > _CLEAN_CACHE_SIZE:
            clean.clear()
        for text in texts:
            if len(text) <= _CLEAN_CACHE_LENGTH:
                clean.add(text)

    def _collect(
        self,
        node: dict[Any, Any],
        skip: _PathTree | None,
        texts: list[str],
        places: list[tuple[Any, Any]],
        only: list[Any] | None = None,
    ) -> None:
        """Masks the values of secret keys, and gathers the strings not known clean."""
        plain_keys, clean = self._plain_keys, self._clean
        for key, value in node.items() if only is None else [(key, node[key]) for key in only]:
            below: Any = None
            if skip is not None:
                below = skip.get(key)
                if below is True:
                    continue
            if key not in plain_keys and self._masked_as_secret_key(node, key, value):
                continue
            kind = type(value)
            if kind is str:
                if value not in clean:
                    texts.append(value)
                    places.append((node, key))
            elif kind is dict:
                self._collect(value, below, texts, places)
            elif kind is list:
                self._collect_list(value, below, texts, places)

    def _collect_list(
        self,
        items: list[Any],
        skip: _PathTree | None,
        texts: list[str],
        places: list[tuple[Any, Any]],
    ) -> None:
        clean = self._clean
        for index, value in enumerate(items):
            kind = type(value)
            if kind is str:
                if value not in clean:
                    texts.append(value)
                    places.append((items, index))
            elif kind is dict:
                self._collect(value, skip, texts, places)
            elif kind is list:
                self._collect_list(value, skip, texts, places)

    def _collect_selected(
        self,
        node: dict[Any, Any],
        include: _PathTree,
        skip: _PathTree | None,
        texts: list[str],
        places: list[tuple[Any, Any]],
    ) -> None:
        """Like :meth:`_collect`, for the fields named in ``include`` only."""
        whole = [key for key, wanted in include.items() if wanted is True and key in node]
        if whole:
            self._collect(node, skip, texts, places, whole)
        for key, wanted in include.items():
            if wanted is True or key not in node:
                continue
            below = None if skip is None else skip.get(key)
            if below is True:
                continue
            assert isinstance(wanted, dict)
            value = node[key]
            # A list of objects: the rest of the name is looked for in each of them.
            for child in value if type(value) is list else (value,):
                if type(child) is dict:
                    self._collect_selected(child, wanted, below, texts, places)

    def _masked_as_secret_key(self, node: dict[Any, Any], key: Any, value: Any) -> bool:
        """Whether ``key`` names a secret; its value is masked then. Other keys are
        remembered, so that the next event's same keys cost one set lookup."""
        if key not in self._secret_keys:
            if not (type(key) is str and self.finder.names.is_secret_key(key)):
                if len(self._plain_keys) >= _KEY_CACHE_SIZE:
                    self._plain_keys.clear()  # keys made of data (ids as keys) must not grow it
                self._plain_keys.add(key)
                return False
            if len(self._secret_keys) >= _KEY_CACHE_SIZE:
                self._secret_keys.clear()
            self._secret_keys.add(key)
        if value is not None and value != "" and type(value) is not bool:
            node[key] = self._mask_whole(value)
        return True

    def _mask(self, secret: str) -> str:
        if secret.startswith(self._marker) and (
            secret == self._replacement or self._hashed_form.fullmatch(secret) is not None
        ):
            return secret  # masked already, by this stage or one like it
        self.masked += 1
        if self._hash_key is None:
            return self._replacement
        return self._hashed(secret.encode("utf-8", "surrogatepass"))

    def _mask_whole(self, value: Any) -> Any:
        if type(value) is str:
            return self._mask(value)
        self.masked += 1
        if self._hash_key is None:
            return self._replacement
        try:
            data = orjson.dumps(
                value, default=repr, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
            )
        except orjson.JSONEncodeError:  # integers beyond 64 bits
            data = repr(value).encode("utf-8", "surrogatepass")
        return self._hashed(data)

    def _hashed(self, data: bytes) -> str:
        assert self._hash_key is not None
        digest = hmac.new(self._hash_key, data, hashlib.sha256).hexdigest()[:12]
        return f"{self._marker}:{digest}{self._hash_tail}"
