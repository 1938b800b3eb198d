"""LogDecoder's fast way for whole timestamped lines gives what the general way gives."""

from __future__ import annotations

import random
import struct

import pytest

from logwharf.shipper.frames import LogDecoder, LogRecord, PartialJoiner, split_timestamp

STREAMS = {1: "stdout", 2: "stderr"}
TEXTS = [
    b"plain line",
    b"",
    b'{"level":"info","msg":"json"}',
    "ünïcødé ✓".encode(),
    b"bad utf-8 \xff\xfe here",
    b"x" * 300,
    b"trailing carriage return\r",
    b"   indented",
]
STAMPS = [
    b"2026-11-23T10:00:00.123456789Z",
    b"2026-11-23T10:00:00.1Z",
    b"2026-11-23T10:00:00Z",
    b"2026-11-23T11:00:00.5+01:00",
]


def frame(kind: int, payload: bytes) -> bytes:
    return struct.pack(">B3xL", kind, len(payload)) + payload


def general(frames: list[tuple[int, bytes]], limit: int) -> list[LogRecord]:
    joiner = PartialJoiner(limit)
    records = []
    for kind, payload in frames:
        stamp, text = split_timestamp(payload)
        record = joiner.feed(STREAMS[kind], stamp, text)
        if record is not None:
            records.append(record)
    return records + joiner.finish()


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("limit", [64, 1 << 20])
def test_fast_way_equals_the_general_way(seed: int, limit: int) -> None:
    rng = random.Random(seed)
    frames: list[tuple[int, bytes]] = []
    for _ in range(400):
        kind = rng.choice([1, 2])
        stamp = rng.choice(STAMPS)
        text = rng.choice(TEXTS)
        roll = rng.random()
        if roll < 0.1:  # a 16 KiB piece: the line goes on in the next frame of its stream
            frames.append((kind, stamp + b" " + text))
        elif roll < 0.15:  # the daemon's own words, with no timestamp
            frames.append((kind, b"Error grabbing logs: unexpected EOF\n"))
        else:
            frames.append((kind, stamp + b" " + text + b"\n"))
    data = b"".join(frame(kind, payload) for kind, payload in frames)
    decoder = LogDecoder(tty=False, timestamps=True, max_event_bytes=limit)
    records: list[LogRecord] = []
    position = 0
    while position < len(data):  # chunks cut anywhere, as they come off a socket
        step = rng.randint(1, 700)
        records += decoder.feed(data[position : position + step])
        position += step
    records += decoder.finish()
    assert records == general(frames, limit)
    assert any(r.invalid_utf8 for r in records) and any(r.truncated for r in records) == (
        limit == 64
    )
