"""Events to a ``_bulk`` body: one ``create`` action line and one source line each.

``create`` with the event's deterministic ``_id`` makes a re-sent event a harmless 409.
The index is the event's ``_index`` if a stage set one, else the configured index, else the
daily ``logs-docker-YYYY.MM.DD`` of the event's ``@timestamp`` (the event's own day, so
that a replay on another day finds the copy it made before).

Each source is one orjson call and each action line a concatenation of bytes made once per
index: for a bulk body that measured about twice as fast as one call over
``[action, 0, source, 0, ...]`` with the ``},0,{`` between objects replaced by newlines (the
replace, the count of lines and the one growing buffer cost more than the calls saved).
``dump_lines`` keeps that way for bodies of sources only (NDJSON).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from logwharf.events import ID, INDEX, Event

__all__ = [
    "DEFAULT_INDEX_PATTERN",
    "ENCODING_FAILURE",
    "BulkEncoder",
    "EncodedBatch",
    "EncodingError",
    "dump_lines",
    "encode_document",
    "entries_of",
    "split_body",
]

DEFAULT_INDEX_PATTERN = "logs-docker-%Y.%m.%d"

_dumps = orjson.dumps
# Between two objects of the list [object, 0, object, 0, ...] orjson writes "},0,{", which
# a document holds only in an array that mixes objects and zeros; five bytes is also short
# enough for CPython's plain search (longer patterns pay a set-up on every match).
_SEPARATOR = b"},0,{"
_END = b",0]"
_DATE = re.compile(r"\d{4}-\d\d-\d\d").match


def dump_lines(items: list[dict[str, Any]]) -> bytes | None:
    """``items`` (objects) as JSON lines from one orjson call, or ``None`` if they must go
    one by one: a value it cannot write, or a document that holds the separator itself (then
    the count of lines is off; orjson never writes a raw newline inside a value)."""
    interleaved: list[Any] = [0] * (2 * len(items))
    interleaved[0::2] = items
    try:
        blob = _dumps(interleaved)
    except TypeError:
        return None
    body = blob[1 : -len(_END)].replace(_SEPARATOR, b"}\n{") + b"\n"
    return body if body.count(b"\n") == len(items) else None


class EncodedBatch:
    """A ready ``_bulk`` body for ``count`` events, and the events that could not be encoded."""

    __slots__ = ("body", "count", "gzipped", "rejected")

    def __init__(self, body: bytes, count: int, rejected: list[tuple[Event, str]]) -> None:
        self.body = body
        self.count = count
        self.rejected = rejected
        self.gzipped: bytes | None = None  # the body gzipped, when a worker did it already


def split_body(body: bytes, max_events: int, max_bytes: int) -> list[tuple[bytes, int]]:
    """A body cut into bodies of at most ``max_events`` entries and, but for an entry that is
    larger on its own, ``max_bytes`` bytes; with the entries each holds."""
    lines = body.split(b"\n")
    parts: list[tuple[bytes, int]] = []
    start, size = 0, 0
    for entry in range(len(lines) // 2):
        length = len(lines[2 * entry]) + len(lines[2 * entry + 1]) + 2
        count = entry - start
        if count and (count >= max_events or size + length > max_bytes):
            parts.append((b"\n".join(lines[2 * start : 2 * entry]) + b"\n", count))
            start, size = entry, 0
        size += length
    if len(lines) // 2 > start:
        parts.append((b"\n".join(lines[2 * start : -1]) + b"\n", len(lines) // 2 - start))
    return parts


def entries_of(body: bytes) -> list[bytes]:
    """A body's entries (action line + source line each), to re-send or dead-letter some."""
    lines = body.split(b"\n")
    return [lines[i] + b"\n" + lines[i + 1] + b"\n" for i in range(0, len(lines) - 1, 2)]


class BulkEncoder:
    def __init__(self, index: str | None = None, pattern: str = DEFAULT_INDEX_PATTERN) -> None:
        self.index = index
        self.pattern = pattern
        self._daily: dict[str, str] = {}  # "2026-11-23" -> "logs-docker-2026.11.23"
        self._actions: dict[str, bytes] = {}  # index -> b'{"create":{"_index":"INDEX"'

    def encode(self, events: list[Event]) -> EncodedBatch:
        entries: list[bytes] = []
        append = entries.append
        rejected: list[tuple[Event, str]] = []
        fixed = self.index
        actions = self._actions
        for event in events:
            doc_id = event.pop(ID, None)
            target = event.pop(INDEX, None) or fixed or self._daily_index(event)
            try:
                source = _dumps(event)
            except TypeError:  # what orjson cannot write: see encode_document
                try:
                    source = encode_document(event)
                except EncodingError as error:
                    rejected.append((event, str(error)))
                    continue
            action = actions.get(target) if type(target) is str else None
            if action is None:
                action = _action_start(target)
                if type(target) is str:
                    actions[target] = action
            if doc_id is None:
                append(b"%s}}\n%s\n" % (action, source))
            else:
                append(b'%s,"_id":%s}}\n%s\n' % (action, _dumps(doc_id), source))
        return EncodedBatch(b"".join(entries), len(entries), rejected)

    def _daily_index(self, event: Event) -> str:
        stamp = event.get("@timestamp")
        day = stamp[:10] if type(stamp) is str else ""
        index = self._daily.get(day)
        if index is None:
            known = day if _DATE(day) else datetime.now(UTC).strftime("%Y-%m-%d")
            year, month, date = known.split("-")
            index = self.pattern.replace("%Y", year).replace("%m", month).replace("%d", date)
            if _DATE(day):
                self._daily[day] = index
        return index


def _action_start(index: Any) -> bytes:
    """The action line up to its ``_id``: ``{"create":{"_index":"INDEX"``."""
    return b'{"create":{"_index":' + _dumps(index)


class EncodingError(ValueError):
    """An event that cannot be written as JSON even without its troublesome fields."""


ENCODING_FAILURE = "_encodingfailure"


def encode_document(event: Event) -> bytes:
    """One event as JSON, whatever a stage or the input put in it.

    orjson refuses values nested deeper than 254 levels and unknown types; the standard
    library writes unknown types as text and goes deeper. A top-level field that neither can
    write is left out, named in ``error.message``, and the event tagged ``_encodingfailure``.
    """
    try:
        return _dumps(event)
    except TypeError:
        pass
    try:
        return _stdlib_dumps(event)
    except (TypeError, ValueError, RecursionError):
        pass
    kept: Event = {}
    left_out = []
    for key, value in event.items():
        try:
            _dumps(value)
        except TypeError:
            try:
                _stdlib_dumps(value)
            except (TypeError, ValueError, RecursionError):
                left_out.append(key)
                continue
        kept[key] = value
    tags = kept.get("tags")
    kept["tags"] = [*tags, ENCODING_FAILURE] if isinstance(tags, list) else [ENCODING_FAILURE]
    kept["error"] = {"message": f"left out, cannot be written as JSON: {', '.join(left_out)}"}
    try:
        return _stdlib_dumps(kept)
    except (TypeError, ValueError, RecursionError) as error:
        raise EncodingError(f"cannot be encoded as JSON: {error}") from None


def _stdlib_dumps(value: Any) -> bytes:
    return json.dumps(
        value, default=str, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode()
