"""The default processor: what every event gets with no configuration.

- A message that is a JSON object is parsed: its time (``@timestamp``, ``timestamp``,
  ``time``, ``ts``) becomes ``@timestamp``, its ``message``/``msg`` becomes ``message``, its
  level becomes ``log.level``; the remaining fields go under ``app`` (see the README: an
  application's ``host`` or ``error`` must not collide with the ECS fields of the same name).
- A line that starts like JSON but does not parse keeps its text and is tagged
  ``_jsonparsefailure``; a time that cannot be read stays in ``app`` and the event is tagged
  ``_timestampparsefailure``.
- A plain text line gets ``log.level`` from a level word at its start, and ``@timestamp``
  from a leading ISO 8601 time when the source gave none.
- Whatever is still without ``@timestamp`` gets the read time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import orjson

from logwharf.events import Event

from .levels import LEVEL_WORDS, level_from_text_line, normalize_level
from .stage import add_tag, mark_failure
from .timestamps import is_utc_iso, normalize_timestamp, utc_iso

__all__ = [
    "APP_FIELD",
    "JSON_FAILURE",
    "LEVEL_KEYS",
    "MESSAGE_KEYS",
    "TIMESTAMP_FAILURE",
    "TIME_KEYS",
    "DefaultProcessor",
]

APP_FIELD = "app"
JSON_FAILURE = "_jsonparsefailure"
TIMESTAMP_FAILURE = "_timestampparsefailure"
TIME_KEYS = ("@timestamp", "timestamp", "time", "ts")
MESSAGE_KEYS = ("message", "msg")
LEVEL_KEYS = ("level", "log.level", "lvl", "severity", "levelname", "loglevel")

_LEADING_TIME = re.compile(
    r"\[?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?)"
).match
_MISSING = object()
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


class DefaultProcessor:
    """Parses JSON application lines and fills the ECS fields; one fused loop per batch."""

    name = "default"

    def __init__(self, read_time: str | None = None) -> None:
        self.read_time = read_time or utc_iso(datetime.now(UTC))
        self.json_parsed = 0
        self.json_failures = 0
        self.json_other = 0  # valid JSON but not an object: kept as text
        self.failures = 0

    def process_batch(self, events: list[Event]) -> list[Event]:
        read_time = self.read_time
        take_fields = self.take_fields
        parsed = 0
        for event in events:
            try:
                message = event["message"]
                if message[:1] == "{":
                    try:
                        app = _loads(message)
                    except _JSONDecodeError:
                        add_tag(event, JSON_FAILURE)
                        self.json_failures += 1
                    else:
                        if type(app) is dict:
                            parsed += 1
                            take_fields(event, app)
                        else:
                            self.json_other += 1
                elif message:
                    self.read_text(event, message)
                if "@timestamp" not in event:
                    event["@timestamp"] = read_time
            except Exception as error:  # a bug must cost one event's fields, not the run
                mark_failure(event, self.name, error)
                self.failures += 1
        self.json_parsed += parsed
        return events

    def take_fields(self, event: Event, app: dict[str, object]) -> None:
        """The ECS fields out of an application's JSON object, the rest under ``app``."""
        # pop() finds and removes in one step; a value that cannot be used is put back.
        for key in TIME_KEYS:
            value = app.pop(key, _MISSING)
            if value is not _MISSING:
                # Most applications already write UTC with Z: skip the call for them.
                if type(value) is str and is_utc_iso(value):
                    event["@timestamp"] = value
                else:
                    stamp = normalize_timestamp(value)
                    if stamp is None:
                        app[key] = value
                        add_tag(event, TIMESTAMP_FAILURE)
                    else:
                        event["@timestamp"] = stamp
                break
        for key in MESSAGE_KEYS:
            value = app.pop(key, _MISSING)
            if value is not _MISSING:
                if type(value) is str:
                    event["message"] = value
                    break
                app[key] = value
        for key in LEVEL_KEYS:
            value = app.pop(key, _MISSING)
            if value is not _MISSING:
                level = LEVEL_WORDS.get(value) if type(value) is str else None
                if level is None:
                    level = normalize_level(value)
                if level is None:
                    app[key] = value
                else:
                    log = event.get("log")
                    if type(log) is dict:
                        log["level"] = level
                    else:
                        event["log"] = {"level": level}
                break
        if app:
            event[APP_FIELD] = app

    def read_text(self, event: Event, message: str) -> None:
        """``log.level`` and, when the event has none, ``@timestamp`` from a text line."""
        level = level_from_text_line(message)
        if level is not None:
            _set_level(event, level)
        if "@timestamp" not in event and message[:1] in "0123456789[":
            match = _LEADING_TIME(message)
            if match is not None:
                stamp = normalize_timestamp(match.group(1))
                if stamp is not None:
                    event["@timestamp"] = stamp


def _set_level(event: Event, level: str) -> None:
    log = event.get("log")
    if type(log) is dict:
        log["level"] = level
    else:
        event["log"] = {"level": level}
