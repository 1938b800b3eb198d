"""``FileSource``: replays log files as batches of raw events.

Each file is read in bounded chunks (gzip inflated on the way), its format detected from its
first lines (Docker json-file, NDJSON or plain text), and every line becomes an event that
carries ``log.file.path``, ``log.offset`` and a deterministic ``_id``.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from logwharf.events import Event

from .decode import DockerJsonDecoder, FileContext, TextDecoder, detect_format
from .ids import IDENTITY_BYTES, content_identity
from .metadata import container_from_log_path
from .reader import Lines, LineSplitter, RawLines, ReadError, read_chunks

__all__ = ["Decoder", "FileBlock", "FileProblem", "FileSource", "FileSourceStats"]

DEFAULT_CHUNK_BYTES = 1024 * 1024
DEFAULT_MAX_EVENT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class FileProblem:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


Decoder = DockerJsonDecoder | TextDecoder


@dataclass
class FileBlock:
    """Lines of one file and that file's decoder, whose state runs on from block to block;
    ``last`` marks the file's final block, after which ``decoder.finish()`` is due."""

    decoder: Decoder
    lines: Lines | RawLines
    last: bool


@dataclass
class FileSourceStats:
    files_done: int = 0
    lines: int = 0
    empty_lines: int = 0
    events: int = 0
    formats: dict[str, int] = field(default_factory=dict)
    raw_bytes: list[int] = field(default_factory=lambda: [0])  # shared with the reader


class FileSource:
    """Reads ``files`` one after the other and yields batches of raw events."""

    def __init__(
        self,
        files: list[Path],
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        host_name: str | None = None,
        on_problem: Callable[[FileProblem], None] | None = None,
    ) -> None:
        self.files = files
        self.chunk_bytes = chunk_bytes
        self.max_event_bytes = max_event_bytes
        self.host_name = host_name or socket.gethostname()
        self.on_problem = on_problem
        self.stats = FileSourceStats()
        self.problems: list[FileProblem] = []

    async def batches(self) -> AsyncIterator[list[Event]]:
        """Decoded events, file after file."""
        async for block in self.blocks():
            decoder = block.decoder
            events = decoder.decode(block.lines) if block.lines.count else []
            if block.last:
                events += decoder.finish()
                self.stats.empty_lines += decoder.empty_lines
            self.stats.events += len(events)
            if events:
                yield events

    async def blocks(self) -> AsyncIterator[FileBlock]:
        """Lines not yet decoded, with the decoder of their file; for callers that decode
        elsewhere (worker processes) and count ``events`` and ``empty_lines`` themselves."""
        for path in self.files:
            try:
                async for block in self._read_file(path):
                    yield block
            except ReadError as error:
                problem = FileProblem(str(path), str(error))
                self.problems.append(problem)
                if self.on_problem is not None:
                    self.on_problem(problem)
            self.stats.files_done += 1

    async def _read_file(self, path: Path) -> AsyncIterator[FileBlock]:
        splitter = LineSplitter(self.max_event_bytes)
        decoder: Decoder | None = None
        head = b""
        stats = self.stats
        async for chunk in read_chunks(path, self.chunk_bytes, stats.raw_bytes):
            if decoder is None:
                head += chunk
                if len(head) < IDENTITY_BYTES or (
                    b"\n" not in head and len(head) < self.max_event_bytes
                ):
                    continue  # the identity needs IDENTITY_BYTES, the format a whole line
                decoder = self._decoder(path, head)
                chunk, head = head, b""
            batch = splitter.feed(chunk)
            if batch.count:
                stats.lines += batch.count
                yield FileBlock(decoder, batch, last=False)
        if decoder is None:
            if not head:
                return  # an empty file: nothing to read, nothing to report
            decoder = self._decoder(path, head)
            small = splitter.feed(head)
            if small.count:
                stats.lines += small.count
                yield FileBlock(decoder, small, last=False)
        last = splitter.finish()
        stats.lines += len(last.lines)
        yield FileBlock(decoder, last, last=True)

    def _decoder(self, path: Path, head: bytes) -> Decoder:
        kind = detect_format(head)
        self.stats.formats[kind] = self.stats.formats.get(kind, 0) + 1
        container = container_from_log_path(path.resolve())
        context = FileContext(str(path), content_identity(head), self.host_name, container)
        if kind == "docker":
            return DockerJsonDecoder(context, self.max_event_bytes)
        return TextDecoder(context)
