"""The ``dissect`` stage: split a field at literal delimiters, no regular expressions to write.

``%{clientip} %{ident} [%{ts}] "%{request}"`` takes the text up to the first ``" "`` as
``clientip``, and so on; the last key without a delimiter after it takes the rest of the
line; text after a trailing delimiter is ignored (as Elasticsearch does). Keys:

- ``%{name}``: the value into ``name`` (a dotted field, under ``target_prefix`` if given);
- ``%{}`` or ``%{?name}``: skipped;
- ``%{+name}``: appended to ``name`` with ``append_separator``; ``%{+name/2}`` sets the
  order (unnumbered parts come first, in the order of the pattern);
- ``%{*name}`` and ``%{&name}``: a pair, the first value is the key, the second its value;
- ``%{name->}``: right padding, repeats of the delimiter after the key are skipped.

A line in which a delimiter is missing does not fit and is tagged ``_dissectfailure``.
The pattern is compiled once into one regular expression, with possessive runs that find
each delimiter's first occurrence and never back up, which is dissect's semantics.
"""

from __future__ import annotations

import re
from typing import Any, Literal, NamedTuple

from pydantic import field_validator

from logwharf.events import Event

from .fields import FieldPath
from .grok import compile_writer, field_name
from .parse import ParseConfig, ParseStage, failure_tag, merge_into, object_at
from .stage import EventStage
from .stage_config import BuildContext

__all__ = ["DISSECT_FAILURE", "DissectConfig", "DissectKey", "DissectStage", "Dissector"]

DISSECT_FAILURE = "_dissectfailure"

Kind = Literal["set", "skip", "append", "key", "value"]
_KINDS: dict[str, Kind] = {"+": "append", "?": "skip", "*": "key", "&": "value"}
_KEY = re.compile(r"%\{([^{}]*)\}")
_ORDER = re.compile(r"/([0-9]+)\Z")


class DissectKey(NamedTuple):
    name: str
    kind: Kind
    order: int = 0
    padded: bool = False


def parse_key(body: str) -> DissectKey:
    text = body.strip()
    padded = text.endswith("->")
    if padded:
        text = text[:-2]
    kind: Kind = "set"
    if text[:1] in _KINDS:
        kind = _KINDS[text[0]]
        text = text[1:]
    order = 0
    found = _ORDER.search(text)
    if found:
        if kind != "append":
            raise ValueError(f"%{{{body}}}: /N orders appended keys only (%{{+name/N}})")
        order = int(found[1])
        text = text[: found.start()]
    if not text:
        if kind in ("set", "skip"):
            return DissectKey("", "skip", padded=padded)
        raise ValueError(f"%{{{body}}}: the key needs a name")
    if any(char in text for char in "+?*&/%{}") or text.endswith("->"):
        raise ValueError(f"%{{{body}}}: a key name cannot hold + ? * & / or a second ->")
    if kind in ("set", "append"):
        try:
            text = field_name(text)
        except ValueError as error:
            raise ValueError(f"%{{{body}}}: {error}") from None
    return DissectKey(text, kind, order, padded)


def _first(delimiter: str) -> str:
    """Up to the first occurrence of ``delimiter``, possessively: runs without its first
    character, and that character only where the delimiter does not start."""
    head, escaped = re.escape(delimiter[0]), re.escape(delimiter)
    if len(delimiter) == 1:
        return f"[^{head}]*+"
    return f"[^{head}]*+(?:(?!{escaped}){head}[^{head}]*+)*+"


class Dissector:
    """A compiled pattern: ``match(text)`` gives the values of ``keys`` (skips excluded)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        bodies = _KEY.findall(pattern)
        if not bodies:
            raise ValueError("a dissect pattern needs at least one %{key}")
        delimiters = _KEY.split(pattern)[::2]  # the texts around the keys
        keys = [parse_key(body) for body in bodies]
        for position, delimiter in enumerate(delimiters[1:-1]):
            if not delimiter:
                raise ValueError(
                    f"%{{{bodies[position]}}}%{{{bodies[position + 1]}}}: "
                    "two keys need a delimiter between them"
                )
        parts = [re.escape(delimiters[0])]
        self.keys: list[DissectKey] = []
        for key, delimiter in zip(keys, delimiters[1:], strict=True):
            value = _first(delimiter) if delimiter else ".*"
            if key.kind != "skip":
                value = f"({value})"
                self.keys.append(key)
            parts.append(value + re.escape(delimiter))
            if delimiter and key.padded:
                parts.append(f"(?:{re.escape(delimiter)})*+")
        _check_names(self.keys)
        # %{a} %{+a}: the plain key is the first part of what is appended.
        appended = {key.name for key in self.keys if key.kind == "append"}
        self.keys = [
            key._replace(kind="append") if key.kind == "set" and key.name in appended else key
            for key in self.keys
        ]
        self.regex = re.compile("".join(parts), re.DOTALL)
        self.match = self.regex.match


def _check_names(keys: list[DissectKey]) -> None:
    names: dict[str, list[Kind]] = {}
    for key in keys:
        names.setdefault(key.name, []).append(key.kind)
    for name, kinds in names.items():
        if kinds.count("set") > 1:
            raise ValueError(f"%{{{name}}} is used twice: append with %{{+{name}}}")
        paired = "key" in kinds or "value" in kinds
        if paired and (kinds.count("key") != 1 or kinds.count("value") != 1 or len(kinds) != 2):
            raise ValueError(f"%{{*{name}}} and %{{&{name}}} go in pairs, once each")


class DissectConfig(ParseConfig):
    """``pattern`` applied to ``field``; keys go under ``target_prefix`` when given."""

    type: Literal["dissect"]
    pattern: str
    append_separator: str = ""
    target_prefix: str | None = None
    on_failure: str | None = failure_tag(DISSECT_FAILURE)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        Dissector(value)
        return value

    @field_validator("target_prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        return None if value is None else field_name(value)

    def build(self, name: str, context: BuildContext) -> EventStage:
        return DissectStage(name, self)


class DissectStage(ParseStage):
    def __init__(self, name: str, config: DissectConfig) -> None:
        super().__init__(name, config)
        dissector = Dissector(config.pattern)
        self.match = dissector.match
        prefix = f"{config.target_prefix}." if config.target_prefix else ""
        self.prefix = FieldPath(config.target_prefix) if config.target_prefix else None
        self.separator = config.append_separator
        keys = dissector.keys
        self.direct = [index for index, key in enumerate(keys) if key.kind == "set"]
        appended: dict[str, list[tuple[int, int]]] = {}
        for index, key in enumerate(keys):
            if key.kind == "append":
                appended.setdefault(key.name, []).append((key.order, index))
        # By (order, position): the unnumbered parts (order 0) first, in the pattern's order.
        self.appends = [[index for _, index in sorted(parts)] for parts in appended.values()]
        names = [keys[index].name for index in self.direct] + list(appended)
        self.write = compile_writer(
            [(FieldPath(prefix + name), None) for name in names], keep_empty=True
        )
        pairs: dict[str, list[int]] = {}
        for index, key in enumerate(keys):
            if key.kind in ("key", "value"):
                pairs.setdefault(key.name, [0, 0])[key.kind == "value"] = index
        self.pairs = list(pairs.values())

    def __call__(self, event: Event) -> Event:
        text = self.source.get(event)
        if type(text) is not str:
            return self.skip_or_fail(event, text)
        found = self.match(text)
        if found is None:
            return self.failed(event)
        values = found.groups()
        row: list[str | None] = [values[index] for index in self.direct]
        if self.appends:
            join = self.separator.join
            row += [join([values[index] for index in parts]) for parts in self.appends]
        self.write(event, row)
        if self.pairs:
            named: dict[str, Any] = {values[key]: values[value] for key, value in self.pairs}
            if "" in named:
                return self.failed(event)  # a pair without a key name
            if self.prefix is None:
                merge_into(event, named, root=True)
            else:
                merge_into(object_at(event, self.prefix), named, root=False)
        return event
