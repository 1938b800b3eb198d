"""Decoding the byte streams of Docker's logs and attach endpoints into log records.

Everything here is pure and incremental: decoders are fed byte chunks as they come off the
socket, and a chunk may end anywhere, even inside a frame header. The pipeline is

    MultiplexedDecoder (non-TTY) or RawDecoder (TTY)   bytes -> Frame(stream, payload)
    split_timestamp                                    payload -> (timestamp, text bytes)
    PartialJoiner                                      16 KiB pieces -> one LogRecord

``LogDecoder`` puts the three together. Memory stays bounded: a frame is at most
``MAX_FRAME_BYTES``, a TTY line is handed on in 16 KiB pieces, and a joined event never holds
more than ``max_event_bytes``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from typing import NamedTuple

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "DOCKER_PIECE_BYTES",
    "MAX_FRAME_BYTES",
    "Frame",
    "FrameError",
    "LogDecoder",
    "LogRecord",
    "MultiplexedDecoder",
    "PartialJoiner",
    "RawDecoder",
    "frame_header",
    "split_timestamp",
    "systemerr_error",
]

DEFAULT_MAX_EVENT_BYTES = 1024 * 1024
# Docker's log copier cuts a line without a newline into pieces of this many bytes.
DOCKER_PIECE_BYTES = 16 * 1024
# Docker sends frames of at most 32 KiB; anything far beyond is a corrupt length.
MAX_FRAME_BYTES = 16 * 1024 * 1024

STREAM_NAMES = {0: "stdin", 1: "stdout", 2: "stderr", 3: "systemerr"}
_HEADER = struct.Struct(">B3xL")  # stream, three zero bytes, big-endian payload length

# RFC 3339 as Docker writes it: nine fraction digits on 1.41, fewer when Go trims zeros.
_TIMESTAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d) ")
_LONGEST_TIMESTAMP = len(b"2006-01-02T15:04:05.999999999+07:00 ")
_TIMESTAMP_ENDS = frozenset(b"Z0123456789"[i : i + 1] for i in range(11))  # Z, or an offset
_LOG_STREAMS = frozenset(("stdout", "stderr"))


class FrameError(ValueError):
    """The bytes are not what the endpoint should send; the message says what was wrong."""


class Frame(NamedTuple):  # a tuple: made once per line, it must be cheap to make
    """One piece of output: a whole line ending in ``\\n``, or a piece of a longer one."""

    stream: str  # "stdout", "stderr" (also "stdin", and "systemerr" for the daemon's errors)
    payload: bytes


class LogRecord(NamedTuple):
    """One log event: a line, rejoined when Docker cut it into pieces."""

    stream: str
    timestamp: str | None  # Docker's RFC 3339 time of the first piece; None without timestamps
    text: str  # without the trailing newline
    truncated: bool = False  # longer than max_event_bytes: cut there
    invalid_utf8: bool = False  # bytes that were not UTF-8 became U+FFFD


class MultiplexedDecoder:
    """Docker's stream of non-TTY containers: frames of an 8-byte header and a payload.

    Header byte 0 is the stream (0 stdin, 1 stdout, 2 stderr, 3 the daemon's own error),
    bytes 4-7 the payload length, big-endian.
    """

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held: the start of a frame whose end has not come yet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        buffer = self._buffer
        buffer += data
        frames = []
        position = 0
        end = len(buffer)
        while end - position >= _HEADER.size:
            stream, size = frame_header(buffer, position, self.max_frame_bytes)
            start = position + _HEADER.size
            if end - start < size:
                break
            if size:  # an empty frame carries nothing
                frames.append(Frame(stream, bytes(buffer[start : start + size])))
            position = start + size
        del buffer[:position]
        return frames

    def finish(self) -> list[Frame]:
        """The stream ended: no frame is left (raises ``FrameError`` if it ended inside one)."""
        if self._buffer:
            held, self._buffer = len(self._buffer), bytearray()
            raise FrameError(f"the stream ended inside a frame ({held} bytes of it came)")
        return []


def frame_header(
    buffer: bytes | bytearray, position: int, max_frame_bytes: int = MAX_FRAME_BYTES
) -> tuple[str, int]:
    """The stream and payload length of the frame header at ``position``; raises
    ``FrameError`` for bytes that are no frame header."""
    kind, size = _HEADER.unpack_from(buffer, position)
    stream = STREAM_NAMES.get(kind)
    if stream is None or buffer[position + 1 : position + 4] != b"\0\0\0":
        header = bytes(buffer[position : position + _HEADER.size])
        raise FrameError(
            f"not a multiplexed Docker stream (frame header {header!r}); "
            "a TTY container sends raw bytes"
        )
    if size > max_frame_bytes:
        raise FrameError(f"a frame of {size} bytes is more than Docker ever sends")
    return stream, size


def systemerr_error(payload: bytes) -> FrameError:
    """The error a ``systemerr`` frame (the daemon's own message) stands for."""
    message = payload.decode(errors="replace").strip()
    return FrameError(f"the Docker daemon reported an error in the stream: {message}")


class RawDecoder:
    """The raw stream of TTY containers, cut into lines: one ``Frame("stdout", ...)`` each.

    The terminal ends lines with ``\\r\\n``; the ``\\r`` is dropped. A line is handed on in
    pieces of at most ``DOCKER_PIECE_BYTES`` (the last ending in ``\\n``) so that memory
    stays bounded; ``PartialJoiner`` puts them together again. An unterminated tail waits
    for more data or ``finish()``.

    With ``timestamps`` (``timestamps=1``) each line starts with Docker's timestamp, and a
    line longer than 16 KiB carries one more timestamp before each further 16 KiB piece (the
    raw stream has no frames to put them in). Pieces are cut where Docker cut them, so each
    frame starts with its own timestamp, as a multiplexed frame does.
    """

    def __init__(self, timestamps: bool = False, stream: str = "stdout") -> None:
        self.timestamps = timestamps
        self.stream = stream
        self._buffer = bytearray()
        self._at_piece_start = True  # the next bytes may be a timestamp
        self._prefix = b""  # this piece's timestamp and its space
        self._content_left = DOCKER_PIECE_BYTES  # bytes of content before Docker's next cut
        self._carried_cr = False  # a piece ended in \r: the \n may open the next one

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while self._buffer:
            if self._at_piece_start and not self._take_prefix():
                break  # a timestamp that is not all there yet
            if not self._take_content(frames):
                break
        return frames

    def finish(self) -> list[Frame]:
        """What is left at the end of the stream, as a piece without ``\\n``."""
        if self._at_piece_start and self._buffer and self.timestamps:
            self._take_prefix(final=True)
        tail = (b"\r" if self._carried_cr else b"") + bytes(self._buffer)
        self._buffer.clear()
        self._carried_cr = False
        frames = [Frame(self.stream, self._prefix + tail)] if tail or self._prefix else []
        self._reset_piece()
        return frames

    def _reset_piece(self) -> None:
        self._at_piece_start = True
        self._prefix = b""
        self._content_left = DOCKER_PIECE_BYTES

    def _take_prefix(self, final: bool = False) -> bool:
        """Moves a leading timestamp from the buffer to ``_prefix``; False: need more bytes."""
        self._at_piece_start = False
        if not self.timestamps:
            return True
        buffer = self._buffer
        match = _TIMESTAMP.match(buffer)
        if match is not None:
            self._prefix = bytes(buffer[: match.end()])
            del buffer[: match.end()]
            return True
        space = buffer.find(b" ", 0, _LONGEST_TIMESTAMP)
        if space < 0 and len(buffer) < _LONGEST_TIMESTAMP and not final:
            self._at_piece_start = True  # it may still become one
            return False
        return True  # not a timestamp (the daemon's own message): the text is the content

    def _take_content(self, frames: list[Frame]) -> bool:
        """Moves a line or a piece to ``frames``; False: the buffer holds only a tail."""
        buffer = self._buffer
        limit = min(len(buffer), self._content_left)
        newline = buffer.find(b"\n", 0, limit)
        if newline >= 0:
            line = bytes(buffer[:newline])
            del buffer[: newline + 1]
            if self._carried_cr:
                line = b"\r" + line
                self._carried_cr = False
            if line.endswith(b"\r"):
                line = line[:-1]
            frames.append(Frame(self.stream, self._prefix + line + b"\n"))
            self._reset_piece()
            return True
        if limit < self._content_left:
            return False
        # Docker cut the line here: hand the piece on, its next one starts with a timestamp.
        piece = bytes(buffer[:limit])
        del buffer[:limit]
        if self._carried_cr:
            piece = b"\r" + piece
        self._carried_cr = piece.endswith(b"\r")  # may be the \r of the \r\n
        if self._carried_cr:
            piece = piece[:-1]
        frames.append(Frame(self.stream, self._prefix + piece))
        self._reset_piece()
        return True


def split_timestamp(payload: bytes) -> tuple[str | None, bytes]:
    """``payload`` of a ``timestamps=1`` stream as (Docker's timestamp, the rest).

    The timestamp is None when the payload does not start with one: the daemon writes its
    own error messages into the stream that way, and they are no log lines.
    """
    match = _TIMESTAMP.match(payload)
    if match is None:
        return None, payload
    end = match.end()
    return payload[: end - 1].decode("ascii"), payload[end:]


def _cut(data: bytes, limit: int) -> bytes:
    """``data`` cut to at most ``limit`` bytes, never inside a UTF-8 character."""
    if len(data) <= limit:
        return data
    end = limit
    while end > limit - 3 and end > 0 and data[end] & 0xC0 == 0x80:
        end -= 1
    return data[:end]


class _Pending:
    """The pieces of one stream's unfinished event."""

    __slots__ = ("pieces", "size", "timestamp", "truncated")

    def __init__(self, timestamp: str | None) -> None:
        self.timestamp = timestamp
        self.pieces: list[bytes] = []
        self.size = 0
        self.truncated = False


class PartialJoiner:
    """Rejoins the pieces of long lines, per stream, into events of at most
    ``max_event_bytes``.

    A payload that does not end in ``\\n`` continues in the next payload of the same stream;
    the event keeps the first piece's timestamp. Beyond ``max_event_bytes`` the rest of the
    line is dropped as it comes (never held) and the event is flagged ``truncated``.
    """

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        if max_event_bytes < 1:
            raise ValueError("max_event_bytes must be at least 1")
        self.max_event_bytes = max_event_bytes
        self._pending: dict[str, _Pending] = {}

    @property
    def pending_bytes(self) -> int:
        return sum(pending.size for pending in self._pending.values())

    @property
    def held(self) -> Mapping[str, object]:
        """The streams with a line in pieces (live, not a copy): a reader that decodes
        whole lines itself must leave a stream listed here to ``feed``."""
        return self._pending

    def feed(self, stream: str, timestamp: str | None, payload: bytes) -> LogRecord | None:
        """The event this payload ends, or None while its line goes on."""
        complete = payload.endswith(b"\n")
        if complete:
            payload = payload[:-1]
        pending = self._pending.get(stream)
        if pending is None:
            if complete and len(payload) <= self.max_event_bytes:
                return _record(stream, timestamp, payload, False)  # the usual case: one piece
            pending = self._pending[stream] = _Pending(timestamp)
        room = self.max_event_bytes - pending.size
        if len(payload) > room:
            pending.truncated = True
            payload = _cut(payload, room)
        if payload:
            pending.pieces.append(payload)
            pending.size += len(payload)
        if not complete:
            return None
        del self._pending[stream]
        return _record(stream, pending.timestamp, b"".join(pending.pieces), pending.truncated)

    def finish(self) -> list[LogRecord]:
        """The events whose last piece never came (the stream ended without ``\\n``)."""
        records = [
            _record(stream, pending.timestamp, b"".join(pending.pieces), pending.truncated)
            for stream, pending in self._pending.items()
        ]
        self._pending.clear()
        return records


def _record(stream: str, timestamp: str | None, data: bytes, truncated: bool) -> LogRecord:
    try:
        return LogRecord(stream, timestamp, data.decode(), truncated)
    except UnicodeDecodeError:
        return LogRecord(stream, timestamp, data.decode(errors="replace"), truncated, True)


class LogDecoder:
    """The whole pipeline for one logs or attach response: bytes in, ``LogRecord`` out.

    ``tty`` comes from inspect's ``Config.Tty`` (Engine API 1.41 sends no Content-Type to
    tell); ``timestamps`` must match the request. A ``systemerr`` frame, the daemon's own
    error, raises ``FrameError`` with its message.
    """

    def __init__(
        self, tty: bool, timestamps: bool, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    ) -> None:
        self.timestamps = timestamps
        self.decoder: RawDecoder | MultiplexedDecoder = (
            RawDecoder(timestamps) if tty else MultiplexedDecoder()
        )
        self.joiner = PartialJoiner(max_event_bytes)

    def feed(self, data: bytes) -> list[LogRecord]:
        return self._join(self.decoder.feed(data))

    def finish(self) -> list[LogRecord]:
        """The events still held when the stream ends; raises ``FrameError`` if it ended
        inside a frame (a dropped connection)."""
        records = self._join(self.decoder.finish())
        return records + self.joiner.finish()

    def _join(self, frames: list[Frame]) -> list[LogRecord]:
        records: list[LogRecord] = []
        append = records.append
        joiner = self.joiner
        pending = joiner._pending
        limit = joiner.max_event_bytes
        timestamps = self.timestamps
        for frame in frames:
            stream, payload = frame
            # The common case spelled out: a whole line, nothing pending on its stream, a
            # timestamp shaped as Docker writes it (the daemon's own error lines are not).
            if (
                timestamps
                and payload[-1:] == b"\n"
                and stream in _LOG_STREAMS
                and stream not in pending
                and len(payload) <= limit
                and payload[10:11] == b"T"
                and payload[4:5] == payload[7:8] == b"-"
                and payload[13:14] == payload[16:17] == b":"
            ):
                space = payload.find(b" ", 19, _LONGEST_TIMESTAMP)
                if space > 0 and payload[space - 1 : space] in _TIMESTAMP_ENDS:
                    try:
                        stamp = payload[:space].decode("ascii")
                        append(LogRecord(stream, stamp, payload[space + 1 : -1].decode()))
                        continue
                    except UnicodeDecodeError:
                        pass  # the general way below replaces and flags it
            if frame.stream == "systemerr":
                raise systemerr_error(frame.payload)
            timestamp, text = (
                split_timestamp(frame.payload) if self.timestamps else (None, frame.payload)
            )
            record = self.joiner.feed(frame.stream, timestamp, text)
            if record is not None:
                records.append(record)
        return records
