"""One container's logs response, bytes in, processed events out: the live shipper's reading.

The general way is the definition, step by step:

    frames.LogDecoder             bytes -> LogRecord (timestamp split off, pieces joined)
    StreamPositions, Checkpoint   each line numbered for its id; lines a checkpoint covers skipped
    Multiline                     continuation lines joined to their event
    build_event                   the event of each joined line
    the pipeline                  the configured stages, or the default processor alone

Nearly every line of a busy container is a whole frame of a non-TTY stream, with Docker's
timestamp, in UTF-8, past the checkpoint, and clearly not a continuation (or multiline off).
For those ``LogsReader.feed`` goes from the frame to the finished event in one loop and
builds each event's dict once; it shares every piece of state with the general way (the
joiner's pieces, the positions, the multiline event held back), so each line takes whichever
way fits it and the two can alternate line by line. The default processor is fused in only
when the pipeline is exactly that processor; any other pipeline runs on the chunk's events
afterwards. The tests hold the fused way to the general one.
"""

from __future__ import annotations

import re
import struct
from binascii import b2a_base64
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any, NamedTuple

import orjson

from logwharf.events import Event
from logwharf.processor.default import JSON_FAILURE, DefaultProcessor
from logwharf.processor.stage import Pipeline, mark_failure
from logwharf.shipper.checkpoints import AckTracker, Checkpoint, StreamPositions
from logwharf.shipper.frames import (
    MAX_FRAME_BYTES,
    FrameError,
    LogDecoder,
    LogRecord,
    PartialJoiner,
    frame_header,
    split_timestamp,
    systemerr_error,
)
from logwharf.shipper.ids import docker_event_id
from logwharf.shipper.multiline import PLAIN, Joined, Multiline

__all__ = ["Chunk", "Container", "LogsReader", "Payload", "build_event", "seq_ranges"]

# What multiline carries for each line: (sequence number, position, truncated, invalid UTF-8).
Payload = tuple[int, int, bool, bool]
# A line auto mode holds back, while the fused way holds it: (time, text, sequence number,
# position, UTF-8 bytes).
_Held = tuple[str, str, int, int, int]

_HEADER = struct.Struct(">LL")  # the stream byte and three zeros as one word, the length
_STDOUT = 1 << 24
_STDERR = 2 << 24
_LOG_HEADS = frozenset((_STDOUT, _STDERR))
# Docker's logs API writes nine fraction digits, in UTC: "2026-11-23T10:00:00.123456789Z "
_STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")
_STAMP_BYTES = 30
_BEFORE_TEXT = _STAMP_BYTES + 1
# First bytes after which auto mode must look closer at a line: an empty or indented line,
# ``Caused by:``, ``Suppressed:``, ``... N more``, ``Traceback``. Such lines go the general way.
_LOOK_CLOSER = frozenset(b" \t\nCS.T")
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError

_OFF, _AUTO, _GENERAL = 0, 1, 2  # how the fused way joins lines


@dataclass
class Container:
    """What a follower knows of its container."""

    id: str
    fields: dict[str, Any]  # the event's ``container`` field
    docker: dict[str, Any]  # ``docker.compose`` / ``docker.swarm``, when there are any
    tty: bool
    multiline: Multiline[str, Payload]
    auto_remove: bool = False


class Chunk(NamedTuple):
    """What one feed gave: events (the pipeline run), the lines they stand for as ranges of
    sequence numbers (acknowledge them once the events are), and counts."""

    events: list[Event]
    acks: list[tuple[int, int]]
    lines: int  # lines numbered and registered with the tracker
    skipped: int  # lines the checkpoint covers
    ok: bool  # False: a line without a timestamp (the daemon's own error) ended the stream
    error: FrameError | None = None  # raise it once the chunk is queued


def build_event(
    container: Container, host: dict[str, Any], item: Joined[str, Payload], seqs: list[int]
) -> Event:
    """The event of one joined line, before any processing; its lines' numbers go to
    ``seqs``."""
    payloads = item.payloads
    first = payloads[0]
    event: Event = {
        "@timestamp": item.time,
        "message": item.text,
        "stream": item.key,
        "container": container.fields,
        "host": host,
        "_id": docker_event_id(container.id, item.time, item.key, first[1]),
    }
    if container.docker:
        event["docker"] = container.docker
    if len(payloads) == 1:  # the common case, without a generator per event
        seqs.append(first[0])
        truncated, invalid = item.truncated or first[2], first[3]
    else:
        event["log"] = {"flags": ["multiline"]}
        seqs.extend(payload[0] for payload in payloads)
        truncated = item.truncated or any(payload[2] for payload in payloads)
        invalid = any(payload[3] for payload in payloads)
    if truncated or invalid:
        tags = ["truncated"] if truncated else []
        if invalid:
            tags.append("_invalidutf8")
        event["tags"] = tags
    return event


def seq_ranges(seqs: list[int]) -> list[tuple[int, int]]:
    """Distinct sequence numbers as sorted ranges (first, last)."""
    if not seqs:
        return []
    low, high = min(seqs), max(seqs)
    if high - low + 1 == len(seqs):  # distinct, so that many fill the range: the usual case
        return [(low, high)]
    ordered = sorted(seqs)
    ranges = []
    start = previous = ordered[0]
    for seq in ordered[1:]:
        if seq != previous + 1:
            ranges.append((start, previous))
            start = seq
        previous = seq
    ranges.append((start, previous))
    return ranges


class _Run:
    """One feed's output, for the general steps (the fused loop keeps its own in locals)."""

    __slots__ = ("events", "general", "ok", "seq", "seqs", "skipped")

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.events: list[Event] = []
        self.general: list[Event] = []  # made the general way: the processor has yet to run
        self.seqs: list[int] = []
        self.skipped = 0
        self.ok = True


class LogsReader:
    """Reads one logs (or attach capture) response of one container.

    ``feed`` takes the bytes as they come (a chunk may end anywhere), ``feed_records`` lines
    already decoded (a capture), ``finish`` the end of the stream. Each numbers the lines it
    reads with the tracker's sequence numbers and registers them with the checkpoint that
    holds once they are acknowledged.
    """

    def __init__(
        self,
        container: Container,
        host: dict[str, Any],
        pipeline: Pipeline,
        tracker: AckTracker,
        positions: StreamPositions,
        checkpoint: Checkpoint | None,
        *,
        processor: DefaultProcessor | None = None,
        timestamps: bool = True,
        max_event_bytes: int,
    ) -> None:
        """``processor``: the default processor the pipeline was built with, fused in when
        it is the pipeline's only stage (as the replay decides, work.py)."""
        self.container = container
        self.host = host
        self.pipeline = pipeline
        self.tracker = tracker
        self.positions = positions
        self.checkpoint = checkpoint
        self.passed: set[str] = set()  # streams read past the checkpoint's mark
        # Lines read per stream (skipped ones too), to line up a capture with them.
        self.seen = {"stdout": 0, "stderr": 0}
        self.processor = processor if pipeline.stages == [processor] else None
        # Bytes of TTY containers and of responses without timestamps go the general way.
        self.decoder = LogDecoder(container.tty, timestamps, max_event_bytes)
        self.fused = not container.tty and timestamps
        self.joiner: PartialJoiner = self.decoder.joiner
        # The start of a frame whose end has not come yet, and the bytes that frame needs.
        self._partial: list[bytes] = []
        self._partial_bytes = self._needed = 0
        multiline = container.multiline
        mode = multiline.config.mode
        if multiline.max_lines == 1 or mode == "pattern":
            self._mode = _GENERAL
        else:
            self._mode = _OFF if mode == "off" else _AUTO
        # The longest text the fused way takes: no piece joining, no cut at either limit.
        self._fused_bytes = min(max_event_bytes, multiline.max_event_bytes)
        self._hash = blake2b(f"{container.id}\x00".encode(), digest_size=15)
        self._owners: dict[str, Any] = {}  # stream -> multiline's event the fused way holds

    # --- the general way ------------------------------------------------------------------

    def feed_records(self, records: list[LogRecord], now: float) -> Chunk:
        run = _Run(self.tracker.next_seq(self.container.id))
        for record in records:
            self._record(run, record, now)
            if not run.ok:
                break
        return self._finish_run(run, run.seq, 0)

    def _record(self, run: _Run, record: LogRecord, now: float) -> None:
        """Numbers, filters and joins one record (the reader stops at one without a time)."""
        stamp = record.timestamp
        if stamp is None:
            run.ok = False
            return
        stream = record.stream
        seen = self.seen
        seen[stream] = seen.get(stream, 0) + 1
        position = self.positions.position(stamp, stream)
        checkpoint = self.checkpoint
        if checkpoint is not None and stream not in self.passed:
            if checkpoint.covers(stamp, stream, position):
                run.skipped += 1
                return
            self.passed.add(stream)  # once past the mark, always past it
        payload = (run.seq, position, record.truncated, record.invalid_utf8)
        run.seq += 1
        self._join(run, stream, stamp, record.text, payload, now)

    def _join(
        self, run: _Run, stream: str, stamp: str, text: str, payload: Payload, now: float
    ) -> None:
        joined = self.container.multiline.feed(stream, stamp, text, payload, now)
        for item in joined:
            event = build_event(self.container, self.host, item, run.seqs)
            run.events.append(event)
            run.general.append(event)

    def _frame(self, run: _Run, stream: str, payload: bytes, now: float) -> None:
        """One frame the general way, as ``LogDecoder`` takes it."""
        if stream == "systemerr":
            raise systemerr_error(payload)
        timestamp, text = split_timestamp(payload)
        record = self.joiner.feed(stream, timestamp, text)
        if record is not None:
            self._record(run, record, now)

    def finish(self, now: float) -> Chunk:
        """The end of the stream: what is still held (a line whose end never came).
        ``Chunk.error`` is set when the stream ended inside a frame."""
        if not self.fused:
            try:
                records = self.decoder.finish()
            except FrameError as error:
                chunk = self.feed_records(self.joiner.finish(), now)
                return chunk._replace(error=error)
            return self.feed_records(records, now)
        chunk = self.feed_records(self.joiner.finish(), now)
        if not self._partial:
            return chunk
        self._partial.clear()
        cut = f"the stream ended inside a frame ({self._partial_bytes} bytes of it came)"
        return chunk._replace(error=FrameError(cut))

    def _finish_run(self, run: _Run, seq: int, fused: int) -> Chunk:
        """Registers the lines numbered, runs the pipeline on what is not processed yet."""
        container_id = self.container.id
        first_seq = self.tracker.next_seq(container_id)
        if seq > first_seq:
            latest = self.positions.checkpoint()
            assert latest is not None
            self.tracker.register(container_id, first_seq, seq - 1, latest)
        pipeline = self.pipeline
        events = run.events
        if fused:
            pipeline.stats.processed += fused
        if self.processor is not None and fused:
            if run.general:  # in place: the default processor keeps every event
                pipeline.process_batch(run.general)
        elif events:
            # Events a stage drops leave the list; their lines stay in ``seqs`` and are
            # acknowledged with the rest of the chunk, so a checkpoint moves past them.
            events = pipeline.process_batch(events)
        return Chunk(events, seq_ranges(run.seqs), seq - first_seq, run.skipped, run.ok)

    # --- the fused way --------------------------------------------------------------------

    def _take(self, stream: str, held: dict[str, _Held]) -> _Held | None:
        """The event multiline holds for ``stream``, held by the fused way instead, when it
        is what auto mode's common case refills: one plain line, nothing odd about it."""
        pending = self.container.multiline.pending.get(stream)
        if (
            pending is None
            or pending.state != PLAIN
            or pending.gap is not None
            or pending.truncated
            or len(pending.payloads) != 1
            or len(pending.time) != _STAMP_BYTES  # the fused way makes ids of such times only
        ):
            return None
        seq, position, truncated, invalid = pending.payloads[0]
        if truncated or invalid:
            return None
        self._owners[stream] = pending
        line = held[stream] = (pending.time, pending.parts[0], seq, position, pending.size)
        return line

    def _give_back(self, stream: str, held: dict[str, _Held], now: float) -> None:
        """The line the fused way holds for ``stream`` back into multiline's event."""
        pending = self._owners.pop(stream)
        pending.time, text, seq, position, pending.size = held.pop(stream)
        pending.seen = now
        pending.parts = [text]
        pending.payloads = [(seq, position, False, False)]

    def feed(self, data: bytes, now: float) -> Chunk:
        """The lines that ``data`` (and what came before it) completes."""
        if not self.fused:
            return self.feed_records(self.decoder.feed(data), now)
        if self._partial:
            self._partial.append(data)
            self._partial_bytes += len(data)
            if self._partial_bytes < self._needed:  # a long frame comes in many reads
                return Chunk([], [], 0, 0, True)
            data = b"".join(self._partial)
            self._partial.clear()
        container = self.container
        run = _Run(self.tracker.next_seq(container.id))
        seq = run.seq
        events = run.events
        append = events.append
        seqs = run.seqs
        add_seq = seqs.append
        # State shared with the general way, looked up once.
        checkpoint = self.checkpoint
        passed = self.passed
        seen = self.seen
        held_pieces = self.joiner.held
        times, counts = self.positions.numbering()
        mode = self._mode
        # Auto mode: the line held back per stream, as Multiline would hold it, kept here
        # while the fused way goes on and given back before anything else looks at it.
        held: dict[str, _Held] = {}
        fields, docker, host = container.fields, container.docker, self.host
        hash_prefix = self._hash.copy
        processor = self.processor
        if processor is not None:
            take_fields, read_text = processor.take_fields, processor.read_text
            name = processor.name
        fused = parsed = bad_json = other = failures = 0
        longest = self._fused_bytes + _BEFORE_TEXT + 1
        unpack = _HEADER.unpack_from
        stamp_match = _STAMP.match
        position = 0
        end = len(data)
        error = None
        try:
            while end - position >= 8:
                head, size = unpack(data, position)
                start = position + 8
                stop = start + size
                if head == _STDOUT:
                    stream = "stdout"
                elif head == _STDERR:
                    stream = "stderr"
                else:  # stdin, the daemon's own error, or no frame at all (that raises)
                    stream = frame_header(data, position)[0]
                if size > MAX_FRAME_BYTES:
                    raise FrameError(f"a frame of {size} bytes is more than Docker ever sends")
                if stop > end:
                    break
                position = stop
                if not size:
                    continue  # an empty frame carries nothing
                text = None
                if (
                    _BEFORE_TEXT < size <= longest
                    and data[stop - 1] == 10  # a whole line
                    and head in _LOG_HEADS
                    and (checkpoint is None or stream in passed)
                    and not (held_pieces and stream in held_pieces)
                    and stamp_match(data, start, start + _BEFORE_TEXT) is not None
                ):
                    try:
                        text = data[start + _BEFORE_TEXT : stop - 1].decode()
                    except UnicodeDecodeError:
                        pass  # the general way replaces and flags it
                if text is None:
                    if stream in held:
                        self._give_back(stream, held, now)
                    run.seq = seq
                    self._frame(run, stream, data[start:stop], now)
                    seq = run.seq
                    if not run.ok:
                        break
                    continue
                stamp = data[start : start + _STAMP_BYTES].decode("ascii")
                seen[stream] += 1
                if times.get(stream) == stamp:
                    line_position = counts[stream]
                    counts[stream] = line_position + 1
                else:
                    times[stream] = stamp
                    counts[stream] = 1
                    line_position = 0
                # Which line leaves now: this one (multiline off), the one held before it
                # (auto: this line clearly starts an event, so that one is complete), or
                # whatever the general way says.
                if mode == _OFF:
                    out_time, out_text, out_position, out_seq = stamp, text, line_position, seq
                    seq += 1
                else:
                    previous = held.get(stream)
                    closer = data[start + _BEFORE_TEXT] in _LOOK_CLOSER
                    if previous is None and mode == _AUTO and not closer:
                        previous = self._take(stream, held)
                    if previous is None or closer:
                        if previous is not None:
                            self._give_back(stream, held, now)
                        payload = (seq, line_position, False, False)
                        run.seq = seq = seq + 1
                        self._join(run, stream, stamp, text, payload, now)
                        continue
                    out_time, out_text, out_seq, out_position, _ = previous
                    held[stream] = (stamp, text, seq, line_position, size - _BEFORE_TEXT - 1)
                    seq += 1
                # docker_event_id, inlined: the time has its nine digits, as the id wants it
                digest = hash_prefix()
                digest.update(f"{out_time}\x00{stream}\x00{out_position}".encode())
                event_id = b2a_base64(digest.digest(), newline=False).translate(_URLSAFE)
                event: Event = {
                    "@timestamp": out_time,
                    "message": out_text,
                    "stream": stream,
                    "container": fields,
                    "host": host,
                    "_id": event_id.decode(),
                }
                if docker:
                    event["docker"] = docker
                add_seq(out_seq)
                append(event)
                if processor is None:
                    continue
                fused += 1
                try:  # DefaultProcessor.process_batch on one event (that has a @timestamp)
                    if out_text[:1] == "{":
                        try:
                            app = _loads(out_text)
                        except _JSONDecodeError:
                            event["tags"] = [JSON_FAILURE]
                            bad_json += 1
                        else:
                            if type(app) is dict:
                                parsed += 1
                                take_fields(event, app)
                            else:
                                other += 1
                    elif out_text:
                        read_text(event, out_text)
                except Exception as problem:  # as the processor: a bug costs one event's fields
                    mark_failure(event, name, problem)
                    failures += 1
        except FrameError as problem:
            error = problem
            position = end
        finally:
            for stream in list(held):
                self._give_back(stream, held, now)
        if position < end and run.ok:
            rest = data[position:]
            self._partial.append(rest)
            self._partial_bytes = len(rest)
            self._needed = 8 if len(rest) < 8 else 8 + _HEADER.unpack_from(rest)[1]
        self.positions.renumbered()  # the checkpoint must be made anew from the counts
        if processor is not None and fused:
            processor.json_parsed += parsed
            processor.json_failures += bad_json
            processor.json_other += other
            processor.failures += failures
            self.pipeline.stats.failures += failures
        run.seq = seq
        chunk = self._finish_run(run, seq, fused)
        return chunk._replace(error=error) if error is not None else chunk
