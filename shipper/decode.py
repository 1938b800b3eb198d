"""Lines of a file to raw events: Docker json-file records, or lines of text / NDJSON.

Docker's json-file driver writes ``{"log": "...\\n", "stream": "stdout", "time": "..."}``
per line and splits lines longer than 16 KiB into several records, only the last of which
ends in ``\\n``; the pieces are joined back into one event here. Parsing the application's
own JSON is not done here but by the processor, exactly as for NDJSON files.
"""

from __future__ import annotations

from typing import Any

import orjson

from logwharf.events import Event

from .ids import docker_event_id, file_event_id
from .reader import Lines, RawLines

__all__ = [
    "DockerJsonDecoder",
    "FileContext",
    "TextDecoder",
    "detect_format",
]

TRUNCATED = "truncated"
JSON_FAILURE = "_jsonparsefailure"
INVALID_UTF8 = "_invalidutf8"

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


def detect_format(head: bytes) -> str:
    """``docker``, ``ndjson`` or ``text``, judged by the first non-empty line."""
    for line in head.split(b"\n", 50)[:50]:
        if not line.strip():
            continue
        try:
            record = _loads(line)
        except _JSONDecodeError:
            return "text"
        if isinstance(record, dict):
            if isinstance(record.get("log"), str) and "time" in record:
                return "docker"
            return "ndjson"
        return "text"
    return "text"


class FileContext:
    """What every event of one file shares."""

    def __init__(
        self, path: str, identity: str, host_name: str, container: dict[str, Any] | None
    ) -> None:
        self.path = path
        self.identity = identity
        self.host_name = host_name
        self.container = container

    def base_event(self, message: str, offset: int, line: bytes) -> Event:
        event: Event = {
            "message": message,
            "log": {"file": {"path": self.path}, "offset": offset},
            "host": {"name": self.host_name},
            "_id": file_event_id(self.identity, offset, line),
        }
        if self.container is not None:
            event["container"] = dict(self.container)
        return event


def _text(line: bytes) -> tuple[str, bool]:
    try:
        return line.decode(), True
    except UnicodeDecodeError:
        return line.decode(errors="replace"), False


def _tag(event: Event, tag: str) -> None:
    tags = event.get("tags")
    if tags is None:
        event["tags"] = [tag]
    elif tag not in tags:
        tags.append(tag)


class TextDecoder:
    """One event per non-empty line; the processor decides whether it is JSON."""

    def __init__(self, context: FileContext) -> None:
        self.context = context
        self.empty_lines = 0

    def decode(self, batch: Lines | RawLines) -> list[Event]:
        events = []
        base_event = self.context.base_event
        truncated = batch.truncated
        for line, offset in zip(batch.lines, batch.offsets, strict=True):
            if line[-1:] == b"\r":
                line = line[:-1]
            if not line:
                self.empty_lines += 1
                continue
            try:
                event = base_event(line.decode(), offset, line)
            except UnicodeDecodeError:
                event = base_event(line.decode(errors="replace"), offset, line)
                _tag(event, INVALID_UTF8)
            if truncated and offset in truncated:
                _tag(event, TRUNCATED)
            events.append(event)
        return events

    def finish(self) -> list[Event]:
        return []


class _Partial:
    __slots__ = ("line", "offset", "pieces", "size", "time", "truncated")

    def __init__(self, offset: int, time: Any, line: bytes) -> None:
        self.offset = offset
        self.time = time
        self.line = line  # the first record, whose checksum goes into the id
        self.pieces: list[str] = []
        self.size = 0
        self.truncated = False


class DockerJsonDecoder:
    """Docker json-file records to events, joining 16 KiB partial records per stream."""

    def __init__(self, context: FileContext, max_event_bytes: int) -> None:
        self.context = context
        self.max_event_bytes = max_event_bytes
        self.empty_lines = 0
        self.partials: dict[Any, _Partial] = {}
        # Position of an event among those with the same (time, stream): part of its id.
        self.last_time: dict[Any, Any] = {}
        self.position: dict[Any, int] = {}
        self.first_time: dict[Any, Any] = {}  # per stream, the first time this decoder saw
        container = context.container
        self.container_id: str | None = container.get("id") if container else None

    def decode(self, batch: Lines | RawLines) -> list[Event]:
        lines, offsets = batch.lines, batch.offsets
        if b"" in lines:
            kept = [(line, offset) for line, offset in zip(lines, offsets, strict=True) if line]
            self.empty_lines += len(lines) - len(kept)
            lines = [line for line, _ in kept]
            offsets = [offset for _, offset in kept]
        records = self._parse(lines)
        events: list[Event] = []
        partials = self.partials
        truncated = batch.truncated
        context = self.context
        path, identity, host = context.path, context.identity, context.host_name
        plain_file = self.container_id is None and context.container is None and not truncated
        for record, line, offset in zip(records, lines, offsets, strict=True):
            if plain_file and not partials and type(record) is dict:
                # The common case, spelled out inline: it runs once per line.
                log = record.get("log")
                stream = record.get("stream")
                time = record.get("time")
                if (
                    type(log) is str
                    and log[-1:] == "\n"
                    and type(time) is str
                    and type(stream) is str
                ):
                    events.append(
                        {
                            "@timestamp": time,
                            "message": log[:-2] if log[-2:] == "\r\n" else log[:-1],
                            "stream": stream,
                            "log": {"file": {"path": path}, "offset": offset},
                            "host": {"name": host},
                            "_id": file_event_id(identity, offset, line),
                        }
                    )
                    continue
            log = record.get("log") if type(record) is dict else None
            if type(log) is not str:
                event = self._not_docker(line, offset, record is None)
                if truncated and offset in truncated:
                    _tag(event, TRUNCATED)
                events.append(event)
                continue
            stream = record.get("stream")
            if type(stream) is not str:
                stream = None  # used as a key below: it must be hashable
            time = record.get("time")
            if log[-1:] != "\n":
                self._add_partial(stream, time, log, offset, line)
                continue
            log = log[:-2] if log[-2:] == "\r\n" else log[:-1]
            event_offset = offset
            cut = bool(truncated) and offset in truncated
            if partials and stream in partials:
                partial = partials.pop(stream)
                self._append(partial, log)
                log = "".join(partial.pieces)
                event_offset, time, cut = partial.offset, partial.time, cut or partial.truncated
                line = partial.line
            events.append(self._event(log, stream, time, event_offset, line, cut))
        return events

    def finish(self) -> list[Event]:
        """Partial records left at the end of the file (the writer stopped mid-line)."""
        events = []
        for stream, partial in sorted(self.partials.items(), key=lambda item: item[1].offset):
            events.append(
                self._event(
                    "".join(partial.pieces),
                    stream,
                    partial.time,
                    partial.offset,
                    partial.line,
                    partial.truncated,
                )
            )
        self.partials.clear()
        return events

    def _parse(self, lines: list[bytes]) -> list[Any]:
        # One orjson call for the whole batch is much cheaper than one per line; any bad
        # line makes it fail, and then each line is parsed alone.
        try:
            records = _loads(b"[" + b",".join(lines) + b"]")
            if len(records) == len(lines):
                return records  # type: ignore[no-any-return]
        except _JSONDecodeError:
            pass
        parsed: list[Any] = []
        for line in lines:
            try:
                parsed.append(_loads(line))
            except _JSONDecodeError:
                parsed.append(None)
        return parsed

    def _event(
        self, log: str, stream: Any, time: Any, offset: int, line: bytes, cut: bool
    ) -> Event:
        event = self.context.base_event(log, offset, line)
        if type(stream) is str:
            event["stream"] = stream
        if type(time) is str:
            event["@timestamp"] = time
            if self.container_id is not None:
                key = stream
                if key not in self.first_time:
                    self.first_time[key] = time
                if self.last_time.get(key) == time:
                    self.position[key] += 1
                else:
                    self.last_time[key] = time
                    self.position[key] = 0
                event["_id"] = docker_event_id(
                    self.container_id, time, str(stream), self.position[key]
                )
        if cut:
            _tag(event, TRUNCATED)
        return event

    def _add_partial(self, stream: Any, time: Any, log: str, offset: int, line: bytes) -> None:
        partial = self.partials.get(stream)
        if partial is None:
            partial = self.partials[stream] = _Partial(offset, time, line)
        self._append(partial, log)

    def _append(self, partial: _Partial, piece: str) -> None:
        room = self.max_event_bytes - partial.size
        if len(piece) > room:
            piece = piece[: max(room, 0)]
            partial.truncated = True
        if piece:
            partial.pieces.append(piece)
            partial.size += len(piece)

    def _not_docker(self, line: bytes, offset: int, unparsed: bool) -> Event:
        message, valid_utf8 = _text(line)
        event = self.context.base_event(message, offset, line)
        if unparsed:
            _tag(event, JSON_FAILURE)
        if not valid_utf8:
            _tag(event, INVALID_UTF8)
        return event
