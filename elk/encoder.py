"""Events to ``_bulk`` entries: one ``create`` action line and one source line each.

``create`` with the event's deterministic ``_id`` makes a re-sent event a harmless 409.
The index is the event's ``_index`` if a stage set one, else the configured index, else the
daily ``logs-docker-YYYY.MM.DD`` of the event's ``@timestamp`` (the event's own day, so
that a replay on another day finds the copy it made before).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from logwharf.events import ID, INDEX, Event

from .config import DEFAULT_INDEX_PATTERN

__all__ = ["BulkEncoder", "EncodedBatch", "EncodingError"]

_dumps = orjson.dumps
# A string no event holds in practice; dumping [doc, SENTINEL, doc, SENTINEL, ...] once and
# splitting on it is several times cheaper than one orjson call per document. If an event
# does hold it, the piece count is off and each document is dumped alone instead.
_SENTINEL = "\x00logwharf\x00"
_SEPARATOR = b',"\\u0000logwharf\\u0000",'
_END = b',"\\u0000logwharf\\u0000"]'
_DATE = re.compile(r"\d{4}-\d\d-\d\d").match


class EncodingError(ValueError):
    """An event that cannot be written as JSON (a stage put an unsupported value in it)."""


class EncodedBatch:
    """Encoded entries, and the events that could not be encoded with the reason."""

    __slots__ = ("entries", "rejected")

    def __init__(self) -> None:
        self.entries: list[bytes] = []
        self.rejected: list[tuple[Event, str]] = []


class BulkEncoder:
    def __init__(self, index: str | None = None, pattern: str = DEFAULT_INDEX_PATTERN) -> None:
        self.index = index
        self.pattern = pattern
        self._prefixes: dict[str, bytes] = {}  # day or index -> start of the action line

    def encode(self, events: list[Event]) -> EncodedBatch:
        batch = EncodedBatch()
        actions = [self._action(event) for event in events]
        sources = self._sources(events, batch)
        if len(batch.rejected):
            kept = [(a, s) for a, s in zip(actions, sources, strict=True) if s is not None]
            batch.entries = [action + source + b"\n" for action, source in kept]
        else:
            batch.entries = [
                action + source + b"\n" for action, source in zip(actions, sources, strict=True)
            ]
        return batch

    def _action(self, event: Event) -> bytes:
        doc_id = event.pop(ID, None)
        target = event.pop(INDEX, None) or self.index
        if target is None:
            stamp = event.get("@timestamp")
            key = stamp[:10] if type(stamp) is str else ""
        else:
            key = "=" + target
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = self._prefixes[key] = self._prefix(key)
        if doc_id is None:
            return prefix + b"}}\n"
        if (
            type(doc_id) is str
            and doc_id.isascii()
            and doc_id.isprintable()
            and ('"' not in doc_id and "\\" not in doc_id)
        ):
            return prefix + b',"_id":"' + doc_id.encode() + b'"}}\n'
        return prefix + b',"_id":' + _dumps(str(doc_id)) + b"}}\n"

    def _prefix(self, key: str) -> bytes:
        if key.startswith("="):
            index = key[1:]
        else:
            day = key if _DATE(key) else datetime.now(UTC).strftime("%Y-%m-%d")
            year, month, date = day.split("-")
            index = self.pattern.replace("%Y", year).replace("%m", month).replace("%d", date)
        return b'{"create":{"_index":' + _dumps(index)

    def _sources(self, events: list[Event], batch: EncodedBatch) -> list[Any]:
        interleaved: list[Any] = []
        for event in events:
            interleaved.append(event)
            interleaved.append(_SENTINEL)
        try:
            blob = _dumps(interleaved)
        except TypeError:
            return self._one_by_one(events, batch)
        pieces = blob[1 : -len(_END)].split(_SEPARATOR) if events else []
        if len(pieces) != len(events):
            return self._one_by_one(events, batch)
        return pieces

    def _one_by_one(self, events: list[Event], batch: EncodedBatch) -> list[bytes | None]:
        sources: list[bytes | None] = []
        for event in events:
            try:
                sources.append(_dumps(event))
            except TypeError:
                try:
                    sources.append(
                        json.dumps(event, default=str, ensure_ascii=False, allow_nan=False).encode()
                    )
                except (TypeError, ValueError) as error:
                    sources.append(None)
                    batch.rejected.append((event, f"cannot be encoded as JSON: {error}"))
        return sources
