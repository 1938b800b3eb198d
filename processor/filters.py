"""Filter stages: ``drop``, ``sample`` and ``route``.

Drops are deliberate and counted per stage (the pipeline's ``dropped_by``), never silent.
``sample`` is deterministic, so that a replay of the same file keeps the same events:
with ``key`` an event is kept when a hash of that field's value falls in 1 of ``rate``
buckets (all events of one trace or one user are kept or dropped together, as Vector's
``key_field``); without it, the hash of the event's ``_id`` decides (the id comes from the
event's origin); an event with neither is kept every ``rate``-th time.
"""

from __future__ import annotations

import re
import zlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from logwharf.events import INDEX, Event

from .conditions import ConditionSpec, compile_condition
from .fields import MISSING, FieldPath
from .stage import EventStage
from .stage_config import BuildContext, StageConfig

__all__ = ["DropConfig", "RouteConfig", "RouteRule", "SampleConfig"]


class DropConfig(StageConfig):
    """Drops every event it applies to: give it an ``if``."""

    type: Literal["drop"]

    def build(self, name: str, context: BuildContext) -> EventStage:
        return DropStage(name)


class DropStage(EventStage):
    def __call__(self, event: Event) -> None:
        return None

    def process_batch(self, events: list[Event]) -> list[Event]:
        return []


class SampleConfig(StageConfig):
    type: Literal["sample"]
    rate: int = Field(ge=1, description="keep 1 event in rate")
    key: str | None = None

    @field_validator("key")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None:
            FieldPath(value)
        return value

    def build(self, name: str, context: BuildContext) -> EventStage:
        return SampleStage(name, self.rate, self.key)


class SampleStage(EventStage):
    def __init__(self, name: str, rate: int, key: str | None) -> None:
        super().__init__(name)
        self.rate = rate
        self.key = FieldPath(key) if key else None
        self.count = 0

    def __call__(self, event: Event) -> Event | None:
        rate = self.rate
        if rate == 1:
            return event
        if self.key is not None:
            value = self.key.get(event)
            if value is not MISSING:
                return event if _bucket(value, rate) == 0 else None
        doc_id = event.get("_id")
        if type(doc_id) is str:
            return event if _bucket(doc_id, rate) == 0 else None
        self.count += 1
        return event if self.count % rate == 1 % rate else None


def _bucket(value: object, rate: int) -> int:
    # crc32, not hash(): str hashes differ from process to process (PYTHONHASHSEED), and
    # replay's workers and a restarted shipper must decide alike.
    text = value if type(value) is str else repr(value)
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) % rate


# Elasticsearch's rules for index names: lowercase, none of \ / * ? " < > | space , #,
# not starting with - _ +, not . or .., at most 255 bytes.
_BAD_INDEX = re.compile(r'[\\/*?"<>| ,#:A-Z]')


def check_index_name(name: str) -> str:
    if not name or name in (".", "..") or name[0] in "-_+" or _BAD_INDEX.search(name):
        raise ValueError(
            f"{name!r} is not a valid index name: lowercase, no spaces or any of "
            '\\ / * ? " < > | , # :, not starting with - _ +'
        )
    if len(name.encode()) > 255:
        raise ValueError(f"index name {name[:40]!r}... is longer than 255 bytes")
    return name


class RouteRule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    if_: ConditionSpec = Field(alias="if")
    index: str

    _index = field_validator("index")(check_index_name)


class RouteConfig(StageConfig):
    """The first rule whose condition holds sets the event's index; else ``default``, if
    given; else the index stays the run's (``--index`` or the daily default)."""

    type: Literal["route"]
    rules: list[RouteRule] = Field(min_length=1)
    default: str | None = None

    @field_validator("default")
    @classmethod
    def _default(cls, value: str | None) -> str | None:
        return None if value is None else check_index_name(value)

    def build(self, name: str, context: BuildContext) -> EventStage:
        return RouteStage(name, self)


class RouteStage(EventStage):
    def __init__(self, name: str, config: RouteConfig) -> None:
        super().__init__(name)
        self.rules = [(compile_condition(rule.if_), rule.index) for rule in config.rules]
        self.default = config.default

    def __call__(self, event: Event) -> Event:
        for test, index in self.rules:
            if test(event):
                event[INDEX] = index
                return event
        if self.default is not None:
            event[INDEX] = self.default
        return event
