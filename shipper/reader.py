"""Streaming file reading: bounded chunks, transparent gzip, lines with byte offsets.

Memory stays bounded whatever the file: chunks are read one at a time, a gzip member is
inflated a bounded piece at a time (a decompression bomb cannot blow up), and a line longer
than ``max_line_bytes`` is cut there and the rest of it skipped rather than buffered.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from operator import add
from pathlib import Path

__all__ = ["GZIP_MAGIC", "LineSplitter", "Lines", "RawLines", "ReadError", "read_chunks"]

GZIP_MAGIC = b"\x1f\x8b"


class ReadError(Exception):
    """A file could not be read to its end; the message says why."""


async def read_chunks(
    path: Path, chunk_bytes: int, progress: list[int] | None = None
) -> AsyncIterator[bytes]:
    """The file's content in chunks, inflated if it is gzip; ``progress[0]`` counts raw bytes."""
    import aiofiles  # here, not at the top: worker processes import this module, never read

    try:
        async with aiofiles.open(path, "rb") as handle:
            first = await handle.read(max(chunk_bytes, len(GZIP_MAGIC)))
            if first[:2] != GZIP_MAGIC:
                data = first
                while data:
                    if progress is not None:
                        progress[0] += len(data)
                    yield data
                    data = await handle.read(chunk_bytes)
                return
            inflater = _Inflater(chunk_bytes)  # inflated pieces no larger than plain chunks
            data = first
            while data:
                if progress is not None:
                    progress[0] += len(data)
                for piece in inflater.feed(data):
                    yield piece
                data = await handle.read(chunk_bytes)
            if not inflater.finished:
                raise ReadError("gzip data ends early (the file is truncated)")
    except OSError as error:
        raise ReadError(error.strerror or str(error)) from None


class _Inflater:
    """gzip with several members (``cat a.gz b.gz``), inflated at most ``limit`` at a time."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.inflater = zlib.decompressobj(wbits=31)
        self.finished = False

    def feed(self, data: bytes) -> list[bytes]:
        pieces = []
        while data:
            try:
                piece = self.inflater.decompress(data, self.limit)
            except zlib.error as error:
                raise ReadError(f"not valid gzip data: {error}") from None
            if piece:
                pieces.append(piece)
            if self.inflater.eof:
                self.finished = True
                data = self.inflater.unused_data
                if data:
                    self.inflater = zlib.decompressobj(wbits=31)
                    self.finished = False
            else:
                data = self.inflater.unconsumed_tail
                self.finished = False
        return pieces


def _cut(line: bytes, limit: int) -> bytes:
    """``line`` cut to at most ``limit`` bytes, never inside a UTF-8 character."""
    end = limit
    while end > limit - 3 and end > 0 and line[end] & 0xC0 == 0x80:
        end -= 1
    return line[:end]


@dataclass
class Lines:
    """Complete lines (without ``\\n``) and the byte offset where each starts."""

    lines: list[bytes]
    offsets: list[int]
    truncated: set[int] = field(default_factory=set)  # offsets of lines cut at the limit

    @property
    def count(self) -> int:
        return len(self.lines)

    @property
    def data(self) -> bytes:
        return b"\n".join(self.lines)


class RawLines:
    """Complete lines still as one block of bytes, split on first use.

    The reader only needs to know where the block ends; a worker process that gets the
    block gets one bytes object (cheap to send) and splits it there. ``lines``, ``offsets``
    and ``truncated`` are those of ``Lines``.
    """

    __slots__ = ("_split", "count", "cut_tail", "data", "limit", "start")

    def __init__(
        self,
        data: bytes,
        start: int,
        limit: int,
        count: int,
        cut_tail: tuple[int, bytes] | None = None,
    ) -> None:
        self.data = data  # whole lines joined by newlines
        self.start = start  # the offset of data[0]
        self.limit = limit
        self.count = count  # lines in data, and cut_tail
        self.cut_tail = cut_tail  # a line cut at the limit, whose rest is skipped
        self._split: Lines | None = None

    def __getstate__(self) -> tuple[bytes, int, int, tuple[int, bytes] | None, int]:
        return (self.data, self.start, self.limit, self.cut_tail, self.count)

    def __setstate__(self, state: tuple[bytes, int, int, tuple[int, bytes] | None, int]) -> None:
        self.data, self.start, self.limit, self.cut_tail, self.count = state
        self._split = None

    def split(self) -> Lines:
        if self._split is None:
            self._split = self._do_split()
        return self._split

    @property
    def lines(self) -> list[bytes]:
        return self.split().lines

    @property
    def offsets(self) -> list[int]:
        return self.split().offsets

    @property
    def truncated(self) -> set[int]:
        return self.split().truncated

    def _do_split(self) -> Lines:
        whole = self.count - (self.cut_tail is not None)
        parts = self.data.split(b"\n") if whole else []
        # Each line starts one past the end of the one before; accumulate() keeps it in C.
        offsets = list(accumulate(map(add, map(len, parts), repeat(1)), initial=self.start))
        offsets.pop()
        result = Lines(parts, offsets)
        limit = self.limit
        if parts and max(map(len, parts)) > limit:
            for index, line in enumerate(parts):
                if len(line) > limit:
                    parts[index] = _cut(line, limit)
                    result.truncated.add(offsets[index])
        if self.cut_tail is not None:
            position, line = self.cut_tail
            parts.append(line)
            offsets.append(position)
            result.truncated.add(position)
        return result


class LineSplitter:
    """Splits a byte stream into blocks of lines, tracking offsets and cutting over-long
    lines; a line longer than ``max_line_bytes`` never stays in memory whole."""

    def __init__(self, max_line_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.pending = b""
        self.position = 0  # offset of pending[0], or of the next byte while skipping
        self.skipping = False

    def feed(self, data: bytes) -> RawLines:
        limit = self.max_line_bytes
        if self.skipping:
            newline = data.find(b"\n")
            if newline < 0:
                self.position += len(data)
                return RawLines(b"", self.position, limit, 0)
            self.position += newline + 1
            data = data[newline + 1 :]
            self.skipping = False
        buffer = self.pending + data if self.pending else data
        end = buffer.rfind(b"\n")
        start = self.position
        if end < 0:
            block: bytes | None = None
            tail = buffer
            position = start
        else:
            block = buffer[:end]
            tail = buffer[end + 1 :]
            position = start + end + 1
        cut_tail = None
        if len(tail) > limit:
            cut_tail = (position, _cut(tail, limit))
            self.position = position + len(tail)
            self.pending = b""
            self.skipping = True
        else:
            self.position = position
            self.pending = tail
        # Newlines counted by deleting them: memchr-fast, where count() looks at each byte.
        count = 0 if block is None else len(block) - len(block.replace(b"\n", b"")) + 1
        if cut_tail is not None:
            count += 1
        return RawLines(block or b"", start, limit, count, cut_tail)

    def finish(self) -> Lines:
        """The last line when the file does not end with a newline."""
        if self.skipping or not self.pending:
            return Lines([], [])
        line, self.pending = self.pending, b""
        return Lines([line], [self.position])
