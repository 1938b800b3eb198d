"""The live shipper's fused reading gives exactly what the general way gives.

The reference here is the general way written out step by step, as ``logwharf run`` read
before the fused way existed: ``LogDecoder`` -> numbering and checkpoint skipping ->
``Multiline`` -> one event per joined line -> the pipeline. ``LogsReader.feed`` is fed the
same bytes cut at random places, and everything that leaves it must match: the events (ids
included), the lines each chunk acknowledges, the lines registered and skipped, the lines
counted per stream, the positions' checkpoint and what multiline still holds at the end.
"""

from __future__ import annotations

import random
import struct
from typing import Any

import orjson
import pytest

from logwharf.events import Event
from logwharf.live_read import Container, LogsReader, Payload, build_event, seq_ranges
from logwharf.processor.default import DefaultProcessor
from logwharf.processor.stage import Pipeline
from logwharf.shipper.checkpoints import AckTracker, Checkpoint, Mark, StreamPositions
from logwharf.shipper.frames import FrameError, LogDecoder
from logwharf.shipper.ids import docker_event_id
from logwharf.shipper.multiline import Joined, Multiline, MultilineConfig

CID = "c0" * 32
HOST = {"name": "host-a"}
READ_TIME = "2026-11-23T12:00:00.000Z"
KINDS = {"stdout": 1, "stderr": 2, "stdin": 0}

TEXTS = [
    '{"ts":"2026-11-23T10:00:00.000Z","level":"info","msg":"plain","user":{"id":7}}',
    '{"time":"2026-11-23T11:00:00+01:00","lvl":"W","message":"offset time"}',
    '{"level":"ERROR","msg":"no time","n":[1,2,{"x":null}]}',
    '{"unterminated": ',
    "[1, 2, 3]",
    "12345",
    "ERROR something broke",
    "[WARN] careful",
    "2026-11-23 10:00:00 INFO text with its own time",
    "plain words",
    "The server started",  # a T that is no traceback
    "Some line",  # an S that is no Suppressed:
    "Caused by: java.lang.IllegalStateException: boom",
    "Suppressed: another",
    "\tat com.example.Main.run(Main.java:10)",
    "    at indented",
    "\t... 5 more",
    "... 12 common frames omitted",
    "Traceback (most recent call last):",
    '  File "app.py", line 3, in <module>',
    "ValueError: bad",
    "During handling of the above exception, another exception occurred:",
    "",
    "ünïcødé ✓ text",
    "x" * 120,
    "trailing carriage return\r",
]
BAD_UTF8 = b"bad \xff\xfe bytes"
STAMPS = [
    "2026-11-23T10:00:00.123456789Z",
    "2026-11-23T10:00:00.123456789Z",  # twice: equal times get positions 1, 2...
    "2026-11-23T10:00:01.000000000Z",
    "2026-11-23T10:00:01.5Z",  # fewer digits: the general way's
    "2026-11-23T11:00:02.000000001+01:00",
]


def frame(stream: str, payload: bytes) -> bytes:
    return struct.pack(">B3xL", KINDS[stream], len(payload)) + payload


def corpus(rng: random.Random, lines: int, stdin: bool = True) -> list[tuple[str, bytes]]:
    frames: list[tuple[str, bytes]] = []
    stamp = STAMPS[0]
    for _ in range(lines):
        stream = "stdout" if rng.random() < 0.6 else "stderr"
        if stdin and rng.random() < 0.01:
            stream = "stdin"
        if rng.random() < 0.3:
            stamp = rng.choice(STAMPS)
        head = stamp.encode() + b" "
        roll = rng.random()
        text = rng.choice(TEXTS).encode()
        if roll < 0.04:  # a 16 KiB piece: the line goes on in the next frame of its stream
            frames.append((stream, head + text))
        elif roll < 0.06:
            frames.append((stream, head + BAD_UTF8 + b"\n"))
        elif roll < 0.08:
            frames.append((stream, head + b"y" * rng.randint(60, 300) + b"\n"))  # long
        elif roll < 0.09:
            frames.append((stream, b""))  # an empty frame
        else:
            frames.append((stream, head + text + b"\n"))
    return frames


def config(mode: str, max_lines: int, limit: int) -> MultilineConfig:
    if mode == "pattern":
        return MultilineConfig(
            mode="pattern", start_pattern=r"^\S", max_lines=max_lines, max_event_bytes=limit
        )
    return MultilineConfig(mode=mode, max_lines=max_lines, max_event_bytes=limit)  # type: ignore[arg-type]


class Dropper:
    """A stage that drops what says "broke" and marks the rest: a configured pipeline."""

    name = "dropper"

    def __call__(self, event: Event) -> Event | None:
        if "broke" in str(event.get("message")):
            return None
        event["seen_by"] = "dropper"
        return event


def pipeline(configured: bool) -> Pipeline:
    processor = DefaultProcessor(READ_TIME)
    return Pipeline([processor, Dropper()] if configured else [processor])


class Reference:
    """The general way, step by step (as ``LiveShipper._read`` and ``_events`` did)."""

    def __init__(
        self,
        multiline: MultilineConfig,
        limit: int,
        checkpoint: Checkpoint | None,
        configured: bool,
        tracker: AckTracker,
    ) -> None:
        self.decoder = LogDecoder(False, True, limit)
        self.positions = StreamPositions(checkpoint)
        self.checkpoint = checkpoint
        self.passed: set[str] = set()
        self.seen = {"stdout": 0, "stderr": 0}
        self.container = Container(CID, {"id": CID, "name": "app"}, {}, False, Multiline(multiline))
        self.pipeline = pipeline(configured)
        self.tracker = tracker

    def feed(self, data: bytes) -> tuple[list[Event], list[int], int, int, bool]:
        return self.read(self.decoder.feed(data))

    def read(self, records: Any) -> tuple[list[Event], list[int], int, int, bool]:
        multiline = self.container.multiline
        first_seq = seq = self.tracker.next_seq(CID)
        joined: list[Joined[str, Payload]] = []
        skipped = 0
        ok = True
        for record in records:
            stamp = record.timestamp
            if stamp is None:
                ok = False
                break
            stream = record.stream
            self.seen[stream] = self.seen.get(stream, 0) + 1
            position = self.positions.position(stamp, stream)
            if self.checkpoint is not None and stream not in self.passed:
                if self.checkpoint.covers(stamp, stream, position):
                    skipped += 1
                    continue
                self.passed.add(stream)
            payload = (seq, position, record.truncated, record.invalid_utf8)
            joined.extend(multiline.feed(stream, stamp, record.text, payload, 1.0))
            seq += 1
        if seq > first_seq:
            latest = self.positions.checkpoint()
            assert latest is not None
            self.tracker.register(CID, first_seq, seq - 1, latest)
        seqs: list[int] = []
        events = [build_event(self.container, HOST, item, seqs) for item in joined]
        events = self.pipeline.process_batch(events) if events else []
        return events, sorted(seqs), seq - first_seq, skipped, ok


def fused_reader(
    multiline: MultilineConfig,
    limit: int,
    checkpoint: Checkpoint | None,
    configured: bool,
    tracker: AckTracker,
) -> LogsReader:
    container = Container(CID, {"id": CID, "name": "app"}, {}, False, Multiline(multiline))
    positions = StreamPositions(checkpoint)
    stages = pipeline(configured)
    processor = stages.stages[0]
    assert isinstance(processor, DefaultProcessor)
    return LogsReader(
        container,
        HOST,
        stages,
        tracker,
        positions,
        checkpoint,
        processor=processor,  # fused only when it is the only stage
        max_event_bytes=limit,
    )


def expand(ranges: list[tuple[int, int]]) -> list[int]:
    return [seq for first, last in ranges for seq in range(first, last + 1)]


def cut(data: bytes, rng: random.Random) -> list[bytes]:
    pieces = []
    position = 0
    while position < len(data):
        step = rng.choice([rng.randint(1, 40), rng.randint(1, 900), rng.randint(1, 20_000)])
        pieces.append(data[position : position + step])
        position += step
    return pieces


def compare(
    frames: list[tuple[str, bytes]],
    rng: random.Random,
    multiline: MultilineConfig,
    limit: int,
    checkpoint: Checkpoint | None = None,
    configured: bool = False,
) -> LogsReader:
    """Feeds both ways the same pieces, checking every chunk; returns the fused reader."""
    reference_tracker, fused_tracker = AckTracker(), AckTracker()
    reference = Reference(multiline, limit, checkpoint, configured, reference_tracker)
    reader = fused_reader(multiline, limit, checkpoint, configured, fused_tracker)
    processed = reader.pipeline.stats
    data = b"".join(frame(stream, payload) for stream, payload in frames)
    for piece in cut(data, rng):
        events, seqs, lines, skipped, ok = reference.feed(piece)
        chunk = reader.feed(piece, 1.0)
        assert chunk.error is None
        assert chunk.events == events
        assert expand(chunk.acks) == seqs
        assert (chunk.lines, chunk.skipped, chunk.ok) == (lines, skipped, ok)
        assert reader.seen == reference.seen
        assert fused_tracker.next_seq(CID) == reference_tracker.next_seq(CID)
        if not ok:
            break
    assert reader.positions.checkpoint() == reference.positions.checkpoint()
    # What multiline holds at the end, per stream (a flush takes the streams in the order
    # their events began, which the fused way's refills in place do not change).
    held, expected_held = (
        sorted(container.multiline.flush(), key=lambda joined: joined.key)
        for container in (reader.container, reference.container)
    )
    assert held == expected_held
    assert (processed.processed, processed.dropped) == (
        reference.pipeline.stats.processed,
        reference.pipeline.stats.dropped,
    )
    processor, expected = reader.pipeline.stages[0], reference.pipeline.stages[0]
    assert isinstance(processor, DefaultProcessor) and isinstance(expected, DefaultProcessor)
    counts = ("json_parsed", "json_failures", "json_other", "failures")
    assert [getattr(processor, n) for n in counts] == [getattr(expected, n) for n in counts]
    return reader


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", ["auto", "off", "pattern"])
def test_fused_reading_equals_the_general_way(seed: int, mode: str) -> None:
    rng = random.Random(seed)
    limit = rng.choice([64, 100, 1 << 20])
    max_lines = rng.choice([1, 3, 500, 500])
    frames = corpus(rng, 1500)
    compare(frames, rng, config(mode, max_lines, limit), limit)


@pytest.mark.parametrize("seed", range(4))
def test_a_busy_containers_lines_nearly_all_take_the_fused_way(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mostly JSON lines, as a busy service prints them: equal, and all but the odd line
    made the fused way (the general way makes its events with ``build_event``)."""
    rng = random.Random(seed)
    frames = []
    for n in range(3000):
        text = TEXTS[n % 3] if rng.random() < 0.95 else rng.choice(TEXTS)
        stamp = f"2026-11-23T10:00:{n // 1000:02d}.{n % 1000:09d}Z"
        stream = "stdout" if rng.random() < 0.8 else "stderr"
        frames.append((stream, f"{stamp} {text}\n".encode()))
    general = 0

    def counted(*args: Any) -> Event:
        nonlocal general
        general += 1
        return build_event(*args)

    monkeypatch.setattr("logwharf.live_read.build_event", counted)
    compare(frames, rng, MultilineConfig(), 1 << 20)
    assert 0 < general < 400  # the first line of each stream, continuations, pieces...


@pytest.mark.parametrize("seed", range(4))
def test_a_configured_pipeline_runs_on_the_fused_events(seed: int) -> None:
    rng = random.Random(100 + seed)
    frames = corpus(rng, 1000)
    compare(frames, rng, MultilineConfig(), 1 << 20, configured=True)


@pytest.mark.parametrize("seed", range(4))
def test_lines_a_checkpoint_covers_are_skipped_alike(seed: int) -> None:
    rng = random.Random(200 + seed)
    frames = corpus(rng, 800, stdin=False)
    marks = {
        "stdout": Mark("2026-11-23T10:00:00.123456789Z", rng.randint(1, 3)),
        "stderr": Mark("2026-11-23T10:00:01.000000000Z", 1),
    }
    compare(frames, rng, MultilineConfig(), 1 << 20, Checkpoint(marks))


def test_the_daemons_own_line_ends_the_stream_alike() -> None:
    rng = random.Random(7)
    frames = corpus(rng, 300, stdin=False)
    frames.insert(200, ("stderr", b"Error grabbing logs: unexpected EOF\n"))
    frames.append(("stdout", b"2026-11-23T10:00:05.000000000Z after the end\n"))
    compare(frames, rng, MultilineConfig(), 1 << 20)


def test_a_systemerr_frame_raises_after_the_lines_before_it() -> None:
    reader = fused_reader(MultilineConfig(mode="off"), 1 << 20, None, False, AckTracker())
    lines = b"".join(
        frame("stdout", f"2026-11-23T10:00:0{n}.000000000Z line {n}\n".encode()) for n in range(3)
    )
    data = lines + struct.pack(">B3xL", 3, 5) + b"gone!" + lines
    chunk = reader.feed(data, 1.0)
    assert [event["message"] for event in chunk.events] == ["line 0", "line 1", "line 2"]
    assert chunk.acks == [(0, 2)] and chunk.lines == 3
    assert isinstance(chunk.error, FrameError) and "gone!" in str(chunk.error)


def test_the_end_of_the_stream_inside_a_frame_is_an_error() -> None:
    reader = fused_reader(MultilineConfig(mode="off"), 1 << 20, None, False, AckTracker())
    whole = frame("stdout", b"2026-11-23T10:00:00.000000000Z whole\n")
    piece = frame("stderr", b"2026-11-23T10:00:00.000000000Z a piece without its end")
    chunk = reader.feed(whole + piece + frame("stdout", b"2026")[:10], 1.0)
    assert [event["message"] for event in chunk.events] == ["whole"]
    end = reader.finish(1.0)
    assert [event["message"] for event in end.events] == ["a piece without its end"]
    assert isinstance(end.error, FrameError) and "inside a frame (10 bytes" in str(end.error)


def test_a_frame_longer_than_many_reads_is_taken_whole() -> None:
    reader = fused_reader(MultilineConfig(mode="off"), 1 << 20, None, False, AckTracker())
    text = "z" * 100_000
    data = frame("stdout", f"2026-11-23T10:00:00.000000000Z {text}\n".encode())
    events: list[Event] = []
    for start in range(0, len(data), 1000):
        events += reader.feed(data[start : start + 1000], 1.0).events
    assert [event["message"] for event in events] == [text]


def test_fused_ids_are_docker_event_ids() -> None:
    reader = fused_reader(MultilineConfig(mode="off"), 1 << 20, None, False, AckTracker())
    stamp = "2026-11-23T10:00:00.000000001Z"
    data = b"".join(
        frame(s, f"{stamp} {s} line\n".encode()) for s in ("stdout", "stdout", "stderr")
    )
    ids = [event["_id"] for event in reader.feed(data, 1.0).events]
    assert ids == [
        docker_event_id(CID, stamp, "stdout", 0),
        docker_event_id(CID, stamp, "stdout", 1),
        docker_event_id(CID, stamp, "stderr", 0),
    ]


def test_seq_ranges() -> None:
    assert seq_ranges([]) == []
    assert seq_ranges([4, 2, 3]) == [(2, 4)]
    assert seq_ranges([9, 1, 2, 7, 5, 6]) == [(1, 2), (5, 7), (9, 9)]


def test_build_event_flags_and_joins() -> None:
    container = Container(CID, {"id": CID}, {"compose": {"service": "web"}}, False, Multiline())
    payloads: list[Payload] = [(4, 0, False, True), (5, 0, True, False)]
    seqs: list[int] = []
    event = build_event(container, HOST, Joined("stderr", STAMPS[0], "a\nb", payloads), seqs)
    assert seqs == [4, 5]
    assert event["log"] == {"flags": ["multiline"]}
    assert event["tags"] == ["truncated", "_invalidutf8"]
    assert event["docker"] == {"compose": {"service": "web"}}
    assert orjson.loads(orjson.dumps(event))["_id"] == docker_event_id(CID, STAMPS[0], "stderr", 0)
