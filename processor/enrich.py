"""Enrich stages: fields set, moved, removed and normalised.

``set``, ``rename``, ``copy``, ``remove``, ``lowercase``, ``uppercase``, ``add_tags``,
``level``, ``http`` and ``default`` (the default processor as a stage). ``date`` lives in
``dates.py``. Every field name is a dotted path compiled when the configuration loads.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import orjson
from pydantic import Field, field_validator

from logwharf.events import Event

from .default import DefaultProcessor
from .fields import MISSING, FieldPath
from .levels import normalize_level
from .stage import BatchStage, EventStage, add_tag
from .stage_config import BuildContext, StageConfig

__all__ = [
    "AddTagsConfig",
    "CaseConfig",
    "CopyConfig",
    "DefaultConfig",
    "HttpConfig",
    "LevelConfig",
    "RemoveConfig",
    "RenameConfig",
    "SetConfig",
    "Template",
]


def _field_names(names: list[str]) -> list[str]:
    for name in names:
        FieldPath(name)
    return names


def _field_map(mapping: dict[str, str]) -> dict[str, str]:
    for source, target in mapping.items():
        FieldPath(source)
        FieldPath(target)
    return mapping


_REFERENCE = re.compile(r"%\{([^}]*)\}")


class Template:
    """A string with ``%{field}`` references (Logstash's sprintf form), compiled once.

    A reference to a missing field leaves the text as written, the way Logstash does, so
    that a wrong name shows in the document instead of vanishing."""

    def __init__(self, text: str) -> None:
        self.text = text
        # A reference keeps its text as written, to stand in for a missing field.
        self.parts: list[str | tuple[FieldPath, str]] = []
        position = 0
        for match in _REFERENCE.finditer(text):
            self.parts.append(text[position : match.start()])
            self.parts.append((FieldPath(match.group(1).strip()), match.group(0)))
            position = match.end()
        self.parts.append(text[position:])
        self.constant = len(self.parts) == 1

    def render(self, event: Event) -> str:
        if self.constant:
            return self.text
        out = []
        for part in self.parts:
            if type(part) is str:
                out.append(part)
                continue
            assert isinstance(part, tuple)
            path, written = part
            value = path.get(event)
            out.append(written if value is MISSING else _as_text(value))
        return "".join(out)


def _as_text(value: Any) -> str:
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if value is None:
        return ""
    if type(value) is dict or type(value) is list:
        return orjson.dumps(value, default=str).decode()  # JSON, not Python's repr
    return str(value)


class SetConfig(StageConfig):
    """``fields: {name: value}``; string values may refer to fields as ``%{name}``."""

    type: Literal["set"]
    fields: dict[str, Any] = Field(min_length=1)
    overwrite: bool = True

    @field_validator("fields")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, item in value.items():
            FieldPath(name)
            if isinstance(item, str):
                Template(item)
        return value

    def build(self, name: str, context: BuildContext) -> EventStage:
        return SetStage(name, self.fields, self.overwrite)


class SetStage(EventStage):
    def __init__(self, name: str, fields: dict[str, Any], overwrite: bool) -> None:
        super().__init__(name)
        self.overwrite = overwrite
        self.fields = [
            (FieldPath(key), Template(value) if isinstance(value, str) else value)
            for key, value in fields.items()
        ]

    def __call__(self, event: Event) -> Event:
        for path, value in self.fields:
            if not self.overwrite and path.exists(event):
                continue
            if isinstance(value, Template):
                path.set(event, value.render(event))
            else:
                # A fresh copy per event: lists and objects must not be shared between events.
                path.set(event, _copy(value))
        return event


def _copy(value: Any) -> Any:
    if type(value) is dict:
        return {key: _copy(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy(item) for item in value]
    return value


class RenameConfig(StageConfig):
    """``fields: {old: new}``; a missing source is skipped, an existing target replaced."""

    type: Literal["rename"]
    fields: dict[str, str] = Field(min_length=1)

    _check = field_validator("fields")(_field_map)

    def build(self, name: str, context: BuildContext) -> EventStage:
        return MoveStage(name, self.fields, keep_source=False)


class CopyConfig(StageConfig):
    """``fields: {source: target}``; objects and lists are copied, not shared."""

    type: Literal["copy"]
    fields: dict[str, str] = Field(min_length=1)

    _check = field_validator("fields")(_field_map)

    def build(self, name: str, context: BuildContext) -> EventStage:
        return MoveStage(name, self.fields, keep_source=True)


class MoveStage(EventStage):
    def __init__(self, name: str, fields: dict[str, str], keep_source: bool) -> None:
        super().__init__(name)
        self.moves = [(FieldPath(source), FieldPath(target)) for source, target in fields.items()]
        self.keep_source = keep_source

    def __call__(self, event: Event) -> Event:
        for source, target in self.moves:
            if self.keep_source:
                value = source.get(event)
                if value is not MISSING:
                    target.set(event, _copy(value))
            else:
                value = source.pop(event)
                if value is not MISSING:
                    target.set(event, value)
        return event


class RemoveConfig(StageConfig):
    type: Literal["remove"]
    fields: list[str] = Field(min_length=1)

    _check = field_validator("fields")(_field_names)

    def build(self, name: str, context: BuildContext) -> EventStage:
        return RemoveStage(name, self.fields)


class RemoveStage(EventStage):
    def __init__(self, name: str, fields: list[str]) -> None:
        super().__init__(name)
        self.paths = [FieldPath(field) for field in fields]

    def __call__(self, event: Event) -> Event:
        for path in self.paths:
            path.pop(event)
        return event


class CaseConfig(StageConfig):
    """``lowercase`` / ``uppercase`` of string fields (lists of strings too)."""

    type: Literal["lowercase", "uppercase"]
    fields: list[str] = Field(min_length=1)

    _check = field_validator("fields")(_field_names)

    def build(self, name: str, context: BuildContext) -> EventStage:
        return CaseStage(name, self.fields, upper=self.type == "uppercase")


class CaseStage(EventStage):
    def __init__(self, name: str, fields: list[str], upper: bool) -> None:
        super().__init__(name)
        self.paths = [FieldPath(field) for field in fields]
        self.change = str.upper if upper else str.lower

    def __call__(self, event: Event) -> Event:
        change = self.change
        for path in self.paths:
            value = path.get(event)
            if type(value) is str:
                path.set(event, change(value))
            elif type(value) is list:
                path.set(event, [change(v) if type(v) is str else v for v in value])
        return event


class AddTagsConfig(StageConfig):
    """``tags: [...]``; each may refer to fields as ``%{name}``."""

    type: Literal["add_tags"]
    tags: list[str] = Field(min_length=1)

    def build(self, name: str, context: BuildContext) -> EventStage:
        return AddTagsStage(name, self.tags)


class AddTagsStage(EventStage):
    def __init__(self, name: str, tags: list[str]) -> None:
        super().__init__(name)
        self.tags = [Template(tag) for tag in tags]

    def __call__(self, event: Event) -> Event:
        for tag in self.tags:
            add_tag(event, tag.render(event))
        return event


class LevelConfig(StageConfig):
    """The replay default's level normalisation as a stage: ``field`` (default ``log.level``)
    to ``trace|debug|info|warn|error|fatal`` in ``target`` (default ``log.level``)."""

    type: Literal["level"]
    field: str = "log.level"
    target: str = "log.level"
    remove_source: bool = Field(default=False, description="when field and target differ")

    @field_validator("field", "target")
    @classmethod
    def _name(cls, value: str) -> str:
        FieldPath(value)
        return value

    def build(self, name: str, context: BuildContext) -> EventStage:
        return LevelStage(name, self)


class LevelStage(EventStage):
    def __init__(self, name: str, config: LevelConfig) -> None:
        super().__init__(name)
        self.source = FieldPath(config.field)
        self.target = FieldPath(config.target)
        self.remove = config.remove_source and config.field != config.target

    def __call__(self, event: Event) -> Event:
        value = self.source.get(event)
        if value is MISSING:
            return event
        level = normalize_level(value)
        if level is None:
            return event  # an unknown level stays as written
        if self.remove:
            self.source.pop(event)
        self.target.set(event, level)
        return event


class HttpConfig(StageConfig):
    """An HTTP status (``field``, default ``http.response.status_code``) made a number, and
    ``event.outcome``: ``success`` below 400, ``failure`` from 400 (as Filebeat's modules)."""

    type: Literal["http"]
    field: str = "http.response.status_code"
    outcome: bool = True

    @field_validator("field")
    @classmethod
    def _name(cls, value: str) -> str:
        FieldPath(value)
        return value

    def build(self, name: str, context: BuildContext) -> EventStage:
        return HttpStage(name, self.field, self.outcome)


HTTP_FAILURE = "_httpstatusfailure"
_STATUS = FieldPath("http.response.status_code")
_OUTCOME = FieldPath("event.outcome")


class HttpStage(EventStage):
    def __init__(self, name: str, field: str, outcome: bool) -> None:
        super().__init__(name)
        self.source = FieldPath(field)
        self.outcome = outcome

    def __call__(self, event: Event) -> Event:
        value = self.source.get(event)
        if value is MISSING:
            return event
        status = _status(value)
        if status is None:
            add_tag(event, HTTP_FAILURE)
            return event
        if self.source != _STATUS:
            self.source.pop(event)
        _STATUS.set(event, status)
        if self.outcome:
            _OUTCOME.set(event, "failure" if status >= 400 else "success")
        return event


def _status(value: Any) -> int | None:
    if type(value) is int:
        number = value
    elif type(value) is str and value.strip().isdigit():
        number = int(value.strip())
    elif type(value) is float and value.is_integer():
        number = int(value)
    else:
        return None
    return number if 100 <= number <= 599 else None


class DefaultConfig(StageConfig):
    """The default processor (JSON lines, ECS fields, levels, timestamps) as a stage."""

    type: Literal["default"]

    def build(self, name: str, context: BuildContext) -> BatchStage:
        processor = DefaultProcessor(context.read_time)
        processor.name = name
        return processor
