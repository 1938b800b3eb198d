"""``NdjsonSink``: processed events as NDJSON on stdout or in a file (no server needed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import orjson

from logwharf.events import ID, INDEX, Event

__all__ = ["NdjsonSink"]

_OPTIONS = orjson.OPT_APPEND_NEWLINE


class NdjsonSink:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.written = 0
        self._handle: IO[bytes] = path.open("wb") if path else sys.stdout.buffer

    async def write_batch(self, events: list[Event]) -> None:
        lines = []
        for event in events:
            event.pop(ID, None)
            event.pop(INDEX, None)
            lines.append(orjson.dumps(event, default=str, option=_OPTIONS))
        try:
            self._handle.write(b"".join(lines))
        except BrokenPipeError:
            raise SystemExit(1) from None  # `logwharf replay x | head`: the reader left
        self.written += len(events)

    async def close(self) -> None:
        try:
            self._handle.flush()
        except BrokenPipeError:
            pass
        if self.path is not None:
            self._handle.close()
