"""Events to a ``_bulk`` body: one ``create`` action line and one source line each.

``create`` with the event's deterministic ``_id`` makes a re-sent event a harmless 409.
The index is the event's ``_index`` if a stage set one, else the configured index, else the
daily ``logs-docker-YYYY.MM.DD`` of the event's ``@timestamp`` (the event's own day, so
that a replay on another day finds the copy it made before).

The whole body comes from one orjson call: ``[action, SENTINEL, source, SENTINEL, ...]`` is
dumped once and the sentinels are replaced by newlines, several times cheaper than one call
and one concatenation per event. orjson never writes a raw newline, so the body holds
exactly two per event; if an event holds the sentinel itself the count is off and each
event is encoded alone instead.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from logwharf.events import ID, INDEX, Event

from .config import DEFAULT_INDEX_PATTERN

__all__ = ["BulkEncoder", "EncodedBatch", "entries_of"]

_dumps = orjson.dumps
_SENTINEL = "\x00logwharf\x00"
_SEPARATOR = b',"\\u0000logwharf\\u0000",'
_END = b',"\\u0000logwharf\\u0000"]'
_DATE = re.compile(r"\d{4}-\d\d-\d\d").match


class EncodedBatch:
    """A ready ``_bulk`` body for ``count`` events, and the events that could not be encoded."""

    __slots__ = ("body", "count", "rejected")

    def __init__(self, body: bytes, count: int, rejected: list[tuple[Event, str]]) -> None:
        self.body = body
        self.count = count
        self.rejected = rejected


def entries_of(body: bytes) -> list[bytes]:
    """A body's entries (action line + source line each), to re-send or dead-letter some."""
    lines = body.split(b"\n")
    return [lines[i] + b"\n" + lines[i + 1] + b"\n" for i in range(0, len(lines) - 1, 2)]


class BulkEncoder:
    def __init__(self, index: str | None = None, pattern: str = DEFAULT_INDEX_PATTERN) -> None:
        self.index = index
        self.pattern = pattern
        self._daily: dict[str, str] = {}  # "2026-11-23" -> "logs-docker-2026.11.23"

    def encode(self, events: list[Event]) -> EncodedBatch:
        parts: list[Any] = []
        append = parts.append
        fixed = self.index
        for event in events:
            doc_id = event.pop(ID, None)
            target = event.pop(INDEX, None) or fixed or self._daily_index(event)
            if doc_id is None:
                append({"create": {"_index": target}})
            else:
                append({"create": {"_index": target, "_id": doc_id}})
            append(_SENTINEL)
            append(event)
            append(_SENTINEL)
        if not events:
            return EncodedBatch(b"", 0, [])
        try:
            blob = _dumps(parts)
        except TypeError:
            return self._one_by_one(parts)
        body = blob[1 : -len(_END)].replace(_SEPARATOR, b"\n") + b"\n"
        if body.count(b"\n") != 2 * len(events):
            return self._one_by_one(parts)
        return EncodedBatch(body, len(events), [])

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

    def _one_by_one(self, parts: list[Any]) -> EncodedBatch:
        lines: list[bytes] = []
        rejected: list[tuple[Event, str]] = []
        for action, event in zip(parts[0::4], parts[2::4], strict=True):
            try:
                source = _dumps(event)
            except TypeError:
                try:
                    source = json.dumps(
                        event, default=str, ensure_ascii=False, allow_nan=False
                    ).encode()
                except (TypeError, ValueError, RecursionError) as error:
                    rejected.append((event, f"cannot be encoded as JSON: {error}"))
                    continue
            lines.append(_dumps(action))
            lines.append(source)
        body = b"\n".join(lines) + b"\n" if lines else b""
        return EncodedBatch(body, len(lines) // 2, rejected)
