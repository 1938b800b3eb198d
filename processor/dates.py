"""The ``date`` stage: a time in any of the given formats to UTC ISO 8601 in ``@timestamp``.

Formats are tried in order: ``ISO8601`` (also ``RFC3339``), ``UNIX`` (seconds),
``UNIX_MS``, ``UNIX_US``, ``UNIX_NS``, or a ``strptime`` pattern such as
``%d/%b/%Y:%H:%M:%S %z`` (nginx). A time without a zone is read in ``timezone`` (an IANA
name, default UTC). A value no format reads is left alone and the event tagged
``_dateparsefailure``.

Log lines of one second share their time string, so results are cached per stage: parsing
a strptime pattern costs microseconds, a dict lookup a few dozen nanoseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from logwharf.events import Event

from .fields import MISSING, FieldPath
from .stage import EventStage, add_tag
from .stage_config import BuildContext, StageConfig
from .timestamps import epoch_iso, utc_iso

__all__ = ["DATE_FAILURE", "DateConfig", "DateStage"]

DATE_FAILURE = "_dateparsefailure"
NAMED_FORMATS = ("ISO8601", "RFC3339", "UNIX", "UNIX_MS", "UNIX_US", "UNIX_NS")
_CACHE_SIZE = 4096

_ISO = re.compile(
    r"\s*(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|UTC|[+-]\d\d:?\d\d|[+-]\d\d)?\s*"
).fullmatch
_NUMBER = re.compile(r"\s*-?\d+(?:\.\d+)?\s*").fullmatch

Parser = Callable[[Any], str | None]


class DateConfig(StageConfig):
    type: Literal["date"]
    field: str = "timestamp"
    formats: list[str] = Field(default_factory=lambda: ["ISO8601"], min_length=1)
    timezone: str = "UTC"
    target: str = "@timestamp"
    remove_source: bool = False
    tag_on_failure: str = DATE_FAILURE

    @field_validator("field", "target")
    @classmethod
    def _name(cls, value: str) -> str:
        FieldPath(value)
        return value

    @field_validator("formats")
    @classmethod
    def _formats(cls, value: list[str]) -> list[str]:
        for item in value:
            if item.upper() not in NAMED_FORMATS and "%" not in item:
                raise ValueError(
                    f"unknown date format {item!r}: use one of {', '.join(NAMED_FORMATS)} "
                    "or a strptime pattern such as %d/%b/%Y:%H:%M:%S %z"
                )
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        _zone(value)
        return value

    def build(self, name: str, context: BuildContext) -> EventStage:
        return DateStage(name, self)


def _zone(name: str) -> tzinfo:
    if name.upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Paris or UTC"
        ) from None


class DateStage(EventStage):
    def __init__(self, name: str, config: DateConfig) -> None:
        super().__init__(name)
        self.source = FieldPath(config.field)
        self.target = FieldPath(config.target)
        self.remove = config.remove_source and config.field != config.target
        self.tag = config.tag_on_failure
        zone = _zone(config.timezone)
        self.parsers = [_parser(item, zone) for item in config.formats]
        self.cache: dict[Any, str | None] = {}

    def __call__(self, event: Event) -> Event:
        value = self.source.get(event)
        if value is MISSING:
            return event
        kind = type(value)
        if kind is str or kind is int:
            # Only exact str and int are cached and looked up: True and 1.0 equal 1 as keys.
            cache = self.cache
            try:
                stamp = cache[value]
            except KeyError:
                stamp = self.parse(value)
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()
                cache[value] = stamp
        else:
            stamp = self.parse(value)
        if stamp is None:
            add_tag(event, self.tag)
            return event
        if self.remove:
            self.source.pop(event)
        self.target.set(event, stamp)
        return event

    def parse(self, value: Any) -> str | None:
        for parser in self.parsers:
            stamp = parser(value)
            if stamp is not None:
                return stamp
        return None


def _parser(name: str, zone: tzinfo) -> Parser:
    upper = name.upper()
    if upper in ("ISO8601", "RFC3339"):
        return lambda value: _iso(value, zone) if type(value) is str else None
    if upper.startswith("UNIX"):
        scale = {"UNIX": 1, "UNIX_MS": 10**3, "UNIX_US": 10**6, "UNIX_NS": 10**9}[upper]
        return lambda value: _epoch(value, scale)
    return lambda value: _strptime(value, name, zone) if type(value) is str else None


def _iso(text: str, zone: tzinfo) -> str | None:
    match = _ISO(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    nanos = (fraction or "").ljust(9, "0")
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int(nanos[:6]),
        )
    except ValueError:
        return None
    if offset in ("Z", "z", "UTC"):
        aware = moment.replace(tzinfo=UTC)
    elif offset:
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
        if minutes >= 24 * 60:
            return None
        aware = moment.replace(tzinfo=timezone(sign * timedelta(minutes=minutes)))
    else:
        aware = moment.replace(tzinfo=zone)
    utc = aware.astimezone(UTC)
    if len((fraction or "").rstrip("0")) > 6:  # keep nanoseconds rather than round them
        return f"{utc:%Y-%m-%dT%H:%M:%S}.{nanos}Z"
    return utc_iso(utc)


def _epoch(value: Any, scale: int) -> str | None:
    if type(value) is str:
        if not _NUMBER(value):
            return None
        text = value.strip()
        number: int | float = float(text) if "." in text else int(text)
    elif type(value) is int or type(value) is float:
        number = value
    else:
        return None
    return epoch_iso(number, scale)


def _strptime(text: str, pattern: str, zone: tzinfo) -> str | None:
    text = text.strip()
    if "%Y" not in pattern and "%y" not in pattern:
        # syslog's "Feb 29 10:00:00" has no year: read it in the current one (parsed in
        # strptime's default year 1900, which has no Feb 29, it would fail).
        text, pattern = f"{datetime.now(UTC).year} {text}", f"%Y {pattern}"
    try:
        moment = datetime.strptime(text, pattern)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return utc_iso(moment)
