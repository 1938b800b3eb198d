"""Parse stages: a text field into structured fields (``json``, ``grok``, ``kv``, ``csv``;
``dissect`` is in ``dissect.py``).

All of them read ``field`` (default ``message``). A missing (or null) field leaves the event
as it is, as the ``date`` stage does; a value that does not parse tags the event with the
stage's ``on_failure`` tag (``tag_on_failure`` is accepted too; ``null`` tags nothing) and
counts it in ``unparsed``. Values are written with :class:`FieldPath`, so a field that runs
through a non-object (``message.text`` while ``message`` is a string) is a per-event failure
(``_processorfailure``), never an exception out of the stage.

Keys taken from the data itself (JSON objects and kv pairs merged at the root) are never
``_id`` or ``_index``: a log line must not choose its own document id or index. A ``tags``
value joins the event's tags when it is a list of strings, else it is kept under ``_tags``
and the event tagged ``_tagsparsefailure``, as Logstash does.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Sequence
from typing import Any, Literal

import orjson
from pydantic import AliasChoices, Field, ValidationInfo, field_validator, model_validator

from logwharf.events import ID, INDEX, Event

from .default import JSON_FAILURE
from .fields import MISSING, FieldConflict, FieldPath
from .grok import CONVERSIONS, Grok, GrokError, compile_grok, compile_writer, field_name
from .stage import EventStage, add_tag, mark_failure
from .stage_config import BuildContext, StageConfig

__all__ = [
    "CSV_FAILURE",
    "GROK_FAILURE",
    "KV_FAILURE",
    "TAGS_FAILURE",
    "CsvConfig",
    "GrokConfig",
    "JsonConfig",
    "KvConfig",
    "ParseConfig",
    "ParseStage",
    "failure_tag",
    "merge_into",
    "object_at",
]

GROK_FAILURE = "_grokparsefailure"
KV_FAILURE = "_kvparsefailure"
CSV_FAILURE = "_csvparsefailure"
TAGS_FAILURE = "_tagsparsefailure"
_RESERVED = frozenset((ID, INDEX))


def failure_tag(default: str) -> Any:
    return Field(
        default=default,
        validation_alias=AliasChoices("on_failure", "tag_on_failure"),
        description="tag for events whose field does not parse; null for none",
    )


class ParseConfig(StageConfig):
    """What every parse stage has: the field it reads and the tag for what does not parse."""

    field: str = "message"
    on_failure: str | None = failure_tag("_parsefailure")

    @field_validator("field")
    @classmethod
    def _field_name(cls, value: str) -> str:
        return field_name(value)

    @field_validator("on_failure")
    @classmethod
    def _tag(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("the failure tag must not be empty (null tags nothing)")
        return value


class ParseStage(EventStage):
    """Reads the source field; tags and counts what does not parse."""

    def __init__(self, name: str, config: ParseConfig) -> None:
        super().__init__(name)
        self.source = FieldPath(config.field)
        self.tag = config.on_failure
        self.unparsed = 0

    def failed(self, event: Event) -> Event:
        self.unparsed += 1
        if self.tag is not None:
            add_tag(event, self.tag)
        return event

    def skip_or_fail(self, event: Event, value: Any) -> Event:
        """For a source value that is not a string: nothing to do, or a failure."""
        return event if value is MISSING or value is None else self.failed(event)


def merge_into(node: dict[str, Any], values: dict[str, Any], root: bool) -> None:
    """Merges parsed ``values`` into ``node``: objects met on both sides merge, anything
    else is replaced. At the root, reserved keys are left out and ``tags`` joins the tags."""
    for key, value in values.items():
        if root and key in _RESERVED:
            continue
        if root and key == "tags":
            _merge_tags(node, value)
            continue
        old = node.get(key)
        if type(old) is dict and type(value) is dict:
            merge_into(old, value, root=False)
        else:
            node[key] = value


def object_at(event: Event, path: FieldPath) -> dict[str, Any]:
    """The object at ``path``, made when missing; a value of another kind is a conflict."""
    node = path.get(event)
    if node is MISSING or node is None:
        node = {}
        path.set(event, node)
    elif type(node) is not dict:
        raise FieldConflict(f"cannot add fields to {path.name}: it holds a {type(node).__name__}")
    return node


def _merge_tags(event: Event, value: Any) -> None:
    if type(value) is list and all(type(tag) is str for tag in value):
        for tag in value:
            add_tag(event, tag)
    else:
        event["_tags"] = value
        add_tag(event, TAGS_FAILURE)


class JsonConfig(ParseConfig):
    """``field`` holding JSON text into ``target`` (default: merged into the event)."""

    type: Literal["json"]
    target: str | None = None
    remove_source: bool = False
    on_failure: str | None = failure_tag(JSON_FAILURE)

    @field_validator("target")
    @classmethod
    def _target_name(cls, value: str | None) -> str | None:
        return None if value is None else field_name(value)

    def build(self, name: str, context: BuildContext) -> EventStage:
        return JsonStage(name, self)


class JsonStage(ParseStage):
    def __init__(self, name: str, config: JsonConfig) -> None:
        super().__init__(name, config)
        self.target = None if config.target is None else FieldPath(config.target)
        self.remove = config.remove_source and config.target != config.field

    def __call__(self, event: Event) -> Event:
        text = self.source.get(event)
        if type(text) is not str:
            return self.skip_or_fail(event, text)
        try:
            value = orjson.loads(text)  # too deep, invalid UTF-8, NaN: all JSONDecodeError
        except orjson.JSONDecodeError:
            return self.failed(event)
        if self.target is None:
            if type(value) is not dict:
                return self.failed(event)  # an array or a number has no field names
            if self.remove:
                self.source.pop(event)
            merge_into(event, value, root=True)
            return event
        if self.remove:
            self.source.pop(event)
        try:
            self.target.set(event, value)
        except FieldConflict:
            if self.remove:
                self.source.set(event, text)  # a failed event keeps its text
            raise
        return event


@functools.lru_cache(maxsize=256)
def _grok(pattern: str, definitions: tuple[tuple[str, str], ...]) -> Grok:
    # Checking a configuration and building it compile the same expressions: once will do.
    return compile_grok(pattern, dict(definitions))


class GrokConfig(ParseConfig):
    """``patterns`` tried in order on ``field``; the first that matches sets its captures."""

    type: Literal["grok"]
    pattern_definitions: dict[str, str] = Field(default_factory=dict)
    patterns: list[str] = Field(min_length=1)
    overwrite: bool = Field(default=True, description="false: captures keep existing values")
    keep_empty_captures: bool = False
    on_failure: str | None = failure_tag(GROK_FAILURE)

    @field_validator("pattern_definitions")
    @classmethod
    def _definitions(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            try:
                _grok(f"%{{{name}}}", tuple(value.items()))
            except GrokError as error:
                raise ValueError(str(error)) from None
        return value

    @field_validator("patterns", mode="before")
    @classmethod
    def _one_pattern(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if "pattern_definitions" not in info.data:
            return value  # the definitions are wrong, and reported
        for position, pattern in enumerate(value, start=1):
            try:
                _grok(pattern, tuple(info.data["pattern_definitions"].items()))
            except GrokError as error:
                raise ValueError(f"pattern {position} ({pattern!r}): {error}") from None
        return value

    def build(self, name: str, context: BuildContext) -> EventStage:
        return GrokStage(name, self)


class GrokStage(ParseStage):
    def __init__(self, name: str, config: GrokConfig) -> None:
        super().__init__(name, config)
        definitions = tuple(config.pattern_definitions.items())
        self.groks = [_grok(pattern, definitions) for pattern in config.patterns]
        self.matchers = [
            (
                grok.match,
                compile_writer(
                    [(capture.path, capture.convert) for capture in grok.captures],
                    overwrite=config.overwrite,
                    keep_empty=config.keep_empty_captures,
                ),
            )
            for grok in self.groks
        ]

    def __call__(self, event: Event) -> Event:
        text = self.source.get(event)
        if type(text) is not str:
            return self.skip_or_fail(event, text)
        return self._parse(event, text, 0)

    def _parse(self, event: Event, text: str, first: int) -> Event:
        for match, write in self.matchers[first:]:
            found = match(text)
            if found is not None:
                # A capture that does not convert ("12abc" into an int field) is left out.
                return event if write(event, found.groups()) else self.failed(event)
        return self.failed(event)

    def process_batch(self, events: list[Event]) -> list[Event]:
        # The base loop with the usual case, a string the first pattern matches, inlined:
        # grok is the costliest stage of a pipeline, and a call per event shows.
        get = self.source.get
        match, write = self.matchers[0]
        for event in events:
            try:
                text = get(event)
                if type(text) is not str:
                    self.skip_or_fail(event, text)
                    continue
                found = match(text)
                if found is None:
                    self._parse(event, text, 1)
                elif not write(event, found.groups()):
                    self.failed(event)
            except Exception as error:
                mark_failure(event, self.name, error)
                self.failures += 1
        return events


class KvConfig(ParseConfig):
    """``key=value`` pairs into ``target`` (default: the event root).

    ``field_split`` and ``value_split`` are sets of characters, as in Logstash (default:
    whitespace and ``=``); values may be quoted with ``"`` or ``'``. ``logfmt: true`` reads
    logfmt instead: whitespace-separated, ``"`` quotes with backslash escapes, a bare key is
    ``true``. Keys are used as they are (a key with dots is one key, not a path).
    """

    type: Literal["kv"]
    target: str | None = None
    field_split: str | None = Field(default=None, min_length=1)
    value_split: str = Field(default="=", min_length=1)
    logfmt: bool = False
    include_keys: list[str] = Field(default_factory=list)
    exclude_keys: list[str] = Field(default_factory=list)
    trim_key: str = ""
    trim_value: str = ""
    on_failure: str | None = failure_tag(KV_FAILURE)

    @field_validator("target")
    @classmethod
    def _target_name(cls, value: str | None) -> str | None:
        return None if value is None else field_name(value)

    @model_validator(mode="after")
    def _separators(self) -> KvConfig:
        if self.logfmt and {"field_split", "value_split"} & self.model_fields_set:
            raise ValueError("logfmt fixes the separators: leave out field_split and value_split")
        shared = set(self.field_split or " \t") & set(self.value_split)
        if shared:
            raise ValueError(f"field_split and value_split share {''.join(sorted(shared))!r}")
        if set(self.value_split) & set("\"'"):
            raise ValueError("quotes cannot separate keys from values")
        return self

    def build(self, name: str, context: BuildContext) -> EventStage:
        return KvStage(name, self)


# logfmt: key, "=" (absent for a bare key), a quoted value or a plain one.
_LOGFMT = re.compile(r'([^\s="]+)(?:(=)(?:"((?:[^"\\]|\\.)*)"|(\S*)))?')


def _kv_regex(field_split: str | None, value_split: str) -> re.Pattern[str]:
    fields = r"\s" if field_split is None else re.escape(field_split)
    values = re.escape(value_split)
    return re.compile(
        rf"([^{fields}{values}]+)[{values}]" rf"(?:\"([^\"]*)\"|'([^']*)'|([^{fields}]*))"
    )


def _unescape(text: str) -> str:
    try:
        value = orjson.loads(f'"{text}"')  # JSON's escapes are logfmt's in practice
    except orjson.JSONDecodeError:
        return text.replace('\\"', '"').replace("\\\\", "\\")
    return value if type(value) is str else text


class KvStage(ParseStage):
    def __init__(self, name: str, config: KvConfig) -> None:
        super().__init__(name, config)
        self.target = None if config.target is None else FieldPath(config.target)
        self.logfmt = config.logfmt
        self.findall = (
            _LOGFMT if config.logfmt else _kv_regex(config.field_split, config.value_split)
        ).findall
        self.include = frozenset(config.include_keys)
        self.exclude = frozenset(config.exclude_keys)
        self.trim_key = config.trim_key or None
        self.trim_value = config.trim_value or None
        self.filtered = bool(self.include or self.exclude or self.trim_key or self.trim_value)

    def __call__(self, event: Event) -> Event:
        text = self.source.get(event)
        if type(text) is not str:
            return self.skip_or_fail(event, text)
        pairs = self.pairs(text)
        if pairs is None:
            return self.failed(event)
        if not pairs:
            return event  # pairs, but none of the keys wanted
        if self.target is not None:
            object_at(event, self.target).update(pairs)  # values are never objects
        elif "tags" in pairs or not _RESERVED.isdisjoint(pairs):
            merge_into(event, pairs, root=True)
        else:
            event.update(pairs)
        return event

    def pairs(self, text: str) -> dict[str, Any] | None:
        """The pairs of ``text`` that pass the key filters; ``None`` when it has none at all."""
        found = self.findall(text)
        if not found:
            return None
        # findall gives "" for the alternatives that did not match: only one did.
        if self.logfmt:
            items: list[tuple[str, Any]] = [
                (
                    key,
                    (_unescape(quoted) if "\\" in quoted else quoted or plain) if equals else True,
                )
                for key, equals, quoted, plain in found
            ]
        else:
            items = [(key, double or single or plain) for key, double, single, plain in found]
        if not self.filtered:
            return dict(items)
        pairs: dict[str, Any] = {}
        for key, value in items:
            if self.trim_key:
                key = key.strip(self.trim_key)
            if not key or (self.include and key not in self.include) or key in self.exclude:
                continue
            pairs[key] = (
                value.strip(self.trim_value) if self.trim_value and value is not True else value
            )
        return pairs


_TRUE = frozenset(("true", "t", "yes", "y", "1"))
_FALSE = frozenset(("false", "f", "no", "n", "0"))


def _to_bool(text: str) -> bool:
    folded = text.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueError(f"not a boolean: {text!r}")


_CSV_CONVERSIONS = {**CONVERSIONS, "bool": _to_bool}


class CsvConfig(ParseConfig):
    """One line of CSV in ``field`` into ``columns`` (names, dotted allowed). Values beyond
    the last column are ignored; a line with fewer values sets the columns it has."""

    type: Literal["csv"]
    columns: list[str] = Field(min_length=1)
    separator: str = Field(default=",", min_length=1, max_length=1)
    quote: str = Field(default='"', min_length=1, max_length=1)
    convert: dict[str, Literal["int", "float", "bool"]] = Field(default_factory=dict)
    skip_empty_columns: bool = False
    on_failure: str | None = failure_tag(CSV_FAILURE)

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: list[str]) -> list[str]:
        names = [field_name(name) for name in value]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"columns named twice: {', '.join(repeated)}")
        return names

    @model_validator(mode="after")
    def _known_columns(self) -> CsvConfig:
        unknown = [name for name in self.convert if field_name(name) not in self.columns]
        if unknown:
            raise ValueError(f"convert names columns that are not in columns: {unknown}")
        if self.separator == self.quote:
            raise ValueError("separator and quote must differ")
        return self

    def build(self, name: str, context: BuildContext) -> EventStage:
        return CsvStage(name, self)


class CsvStage(ParseStage):
    def __init__(self, name: str, config: CsvConfig) -> None:
        super().__init__(name, config)
        converts = {field_name(key): _CSV_CONVERSIONS[kind] for key, kind in config.convert.items()}
        columns = [(FieldPath(name), converts.get(name)) for name in config.columns]
        # An empty value is written as "" unless skip_empty_columns; never converted.
        self.write = compile_writer(columns, keep_empty=not config.skip_empty_columns)
        self.width = len(columns)
        self.separator = config.separator
        self.quote = config.quote

    def __call__(self, event: Event) -> Event:
        text = self.source.get(event)
        if type(text) is not str:
            return self.skip_or_fail(event, text)
        reader = csv.reader((text,), delimiter=self.separator, quotechar=self.quote, strict=True)
        try:
            row = next(reader)
        except (csv.Error, StopIteration):
            return self.failed(event)
        if not row:
            return self.failed(event)
        missing = self.width - len(row)
        values: Sequence[str | None] = (
            row[: self.width] if missing <= 0 else [*row, *[None] * missing]
        )
        return event if self.write(event, values) else self.failed(event)
