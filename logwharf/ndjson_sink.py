"""``NdjsonSink``: processed events as NDJSON on stdout or in a file (no server needed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

from logwharf.elk.encoder import EncodedBatch, dump_lines, encode_document
from logwharf.events import ID, INDEX, Event

__all__ = ["NdjsonEncoder", "NdjsonSink"]


class NdjsonEncoder:
    """Events as NDJSON lines, without the metadata keys (pure: runs in worker processes)."""

    def encode(self, events: list[Event]) -> EncodedBatch:
        for event in events:
            event.pop(ID, None)
            event.pop(INDEX, None)
        body = dump_lines(events) if events else b""
        if body is None:
            body = b"".join(encode_document(event) + b"\n" for event in events)
        return EncodedBatch(body, len(events), [])


class NdjsonSink:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.written = 0
        self._handle: IO[bytes] = path.open("wb") if path else sys.stdout.buffer

    async def write_encoded(self, encoded: EncodedBatch) -> None:
        try:
            self._handle.write(encoded.body)
        except BrokenPipeError:
            raise SystemExit(1) from None  # `logwharf replay x | head`: the reader left
        self.written += encoded.count

    def flush(self) -> None:
        try:
            self._handle.flush()
        except BrokenPipeError:
            raise SystemExit(1) from None

    async def close(self) -> None:
        try:
            self._handle.flush()
        except BrokenPipeError:
            pass
        if self.path is not None:
            self._handle.close()
