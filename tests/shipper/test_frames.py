"""Docker stream decoding: frames, TTY lines, timestamps and rejoined partial lines, the same
whatever the chunking (byte by byte, random cuts, inside an 8-byte header)."""

from __future__ import annotations

import random
import struct

import pytest

from logwharf.shipper.frames import (
    DOCKER_PIECE_BYTES,
    Frame,
    FrameError,
    LogDecoder,
    LogRecord,
    MultiplexedDecoder,
    PartialJoiner,
    RawDecoder,
    split_timestamp,
)

TS1 = "2024-05-01T12:00:00.123456789Z"
TS2 = "2024-05-01T12:00:01.000000001Z"

# --- helpers ---------------------------------------------------------------------------


def frame(stream: int, payload: bytes) -> bytes:
    """One frame as Docker writes it."""
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def docker_pieces(line: bytes, timestamp: str, end: bytes = b"\n") -> list[bytes]:
    """``line`` as Docker's log copier cuts it: 16 KiB pieces, each with the first piece's
    timestamp, only the last one ending in ``end``."""
    prefix = timestamp.encode() + b" "
    pieces = [line[i : i + DOCKER_PIECE_BYTES] for i in range(0, len(line), DOCKER_PIECE_BYTES)]
    pieces = pieces or [b""]
    pieces[-1] += end
    return [prefix + piece for piece in pieces]


def chunkings(data: bytes, seed: int = 7) -> list[list[bytes]]:
    """The same bytes cut in several ways: whole, byte by byte, at every offset in two,
    and at random."""
    rng = random.Random(seed)
    ways = [[data], [data[i : i + 1] for i in range(len(data))]]
    for size in (2, 3, 5, 7, 8, 9, 4096):
        ways.append([data[i : i + size] for i in range(0, len(data), size)])
    for _ in range(20):
        chunks, i = [], 0
        while i < len(data):
            n = rng.randint(1, 40)
            chunks.append(data[i : i + n])
            i += n
        ways.append(chunks)
    return ways


def decode_multiplexed(chunks: list[bytes]) -> list[Frame]:
    decoder = MultiplexedDecoder()
    frames = [f for chunk in chunks for f in decoder.feed(chunk)]
    assert decoder.finish() == []
    return frames


def decode_raw(chunks: list[bytes], timestamps: bool = False) -> list[Frame]:
    decoder = RawDecoder(timestamps)
    frames = [f for chunk in chunks for f in decoder.feed(chunk)]
    return frames + decoder.finish()


def decode_records(chunks: list[bytes], tty: bool, timestamps: bool, cap: int) -> list[LogRecord]:
    decoder = LogDecoder(tty, timestamps, cap)
    records = [r for chunk in chunks for r in decoder.feed(chunk)]
    return records + decoder.finish()


# --- MultiplexedDecoder ----------------------------------------------------------------


def test_multiplexed_frames_survive_every_chunking() -> None:
    data = (
        frame(1, b"out one\n")
        + frame(2, b"err one\n")
        + frame(1, b"")  # nothing to hand on
        + frame(1, b"x" * 300)
        + frame(0, b"in\n")
        + frame(2, b"\x00\x01\x02\n")  # payload bytes that look like a header
    )
    expected = [
        Frame("stdout", b"out one\n"),
        Frame("stderr", b"err one\n"),
        Frame("stdout", b"x" * 300),
        Frame("stdin", b"in\n"),
        Frame("stderr", b"\x00\x01\x02\n"),
    ]
    for chunks in chunkings(data):
        assert decode_multiplexed(chunks) == expected
    for cut in range(len(data) + 1):
        assert decode_multiplexed([data[:cut], data[cut:]]) == expected


def test_multiplexed_holds_only_the_unfinished_frame() -> None:
    decoder = MultiplexedDecoder()
    data = frame(1, b"abc\n") + frame(2, b"defg\n")
    assert decoder.feed(data[:5]) == []  # inside the first header
    assert decoder.pending == 5
    assert decoder.feed(data[5:14]) == [Frame("stdout", b"abc\n")]
    assert decoder.pending == 2
    assert decoder.feed(data[14:]) == [Frame("stderr", b"defg\n")]
    assert decoder.pending == 0


def test_multiplexed_refuses_what_is_not_frames() -> None:
    with pytest.raises(FrameError, match="TTY"):
        MultiplexedDecoder().feed(b"hello world, a raw TTY stream\r\n")
    with pytest.raises(FrameError, match="TTY"):
        MultiplexedDecoder().feed(b"\x01\x00\x07\x00\x00\x00\x00\x01x")  # bytes 1-3 not zero
    with pytest.raises(FrameError, match="more than Docker"):
        MultiplexedDecoder(max_frame_bytes=1000).feed(struct.pack(">BxxxL", 1, 1001))


def test_multiplexed_stream_ending_inside_a_frame_is_an_error() -> None:
    decoder = MultiplexedDecoder()
    decoder.feed(frame(1, b"abcdef\n")[:-2])
    with pytest.raises(FrameError, match="ended inside a frame"):
        decoder.finish()
    assert decoder.pending == 0


def test_systemerr_frame_raises_with_the_daemons_message() -> None:
    decoder = LogDecoder(tty=False, timestamps=False)
    assert decoder.feed(frame(1, b"fine\n")) == [LogRecord("stdout", None, "fine")]
    with pytest.raises(FrameError, match="error in the stream: disk on fire"):
        decoder.feed(frame(3, b"disk on fire\n"))


# --- RawDecoder --------------------------------------------------------------------------


def test_raw_lines_lose_their_carriage_return_whatever_the_chunking() -> None:
    data = b"first\r\nsecond\r\n\r\nbare newline\nkeeps\rinner\r\ntail without newline"
    expected = [
        Frame("stdout", b"first\n"),
        Frame("stdout", b"second\n"),
        Frame("stdout", b"\n"),
        Frame("stdout", b"bare newline\n"),
        Frame("stdout", b"keeps\rinner\n"),
        Frame("stdout", b"tail without newline"),
    ]
    for chunks in chunkings(data):
        assert decode_raw(chunks) == expected


def test_raw_tail_waits_for_more_data_or_finish() -> None:
    decoder = RawDecoder()
    assert decoder.feed(b"partial") == []
    assert decoder.feed(b" line\r") == []
    assert decoder.feed(b"\nnext") == [Frame("stdout", b"partial line\n")]
    assert decoder.finish() == [Frame("stdout", b"next")]
    assert decoder.finish() == []


def test_raw_long_line_is_handed_on_in_bounded_pieces_and_rejoined() -> None:
    line = bytes(random.Random(1).choice(b"abcdefgh") for _ in range(40_000))
    data = line + b"\r\nshort\r\n"
    frames = decode_raw([data[i : i + 1000] for i in range(0, len(data), 1000)])
    assert all(len(f.payload) <= DOCKER_PIECE_BYTES + 1 for f in frames)
    records = decode_records([data], tty=True, timestamps=False, cap=1 << 20)
    assert records == [LogRecord("stdout", None, line.decode()), LogRecord("stdout", None, "short")]


def test_raw_with_timestamps_strips_the_timestamps_docker_puts_inside_long_lines() -> None:
    # Seen on dockerd 20.10: a TTY line of 40,000 bytes with timestamps=1 comes as
    # "TS piece1TS piece2TS piece3\r\n", every piece with the first piece's timestamp.
    line = b"y" * 40_000
    data = b"".join(docker_pieces(line + b"\r", TS1)) + TS2.encode() + b" after\r\n"
    expected = [LogRecord("stdout", TS1, line.decode()), LogRecord("stdout", TS2, "after")]
    for chunks in chunkings(data)[:6]:  # byte by byte included
        assert decode_records(chunks, tty=True, timestamps=True, cap=1 << 20) == expected
    frames = decode_raw([data], timestamps=True)
    assert [split_timestamp(f.payload)[0] for f in frames] == [TS1, TS1, TS1, TS2]
    assert b"".join(split_timestamp(f.payload)[1] for f in frames[:3]) == line + b"\n"


def test_raw_carriage_return_at_a_piece_boundary_is_still_dropped() -> None:
    # 16,383 bytes and \r fill Docker's buffer: the \n comes alone in the next piece.
    line = b"z" * (DOCKER_PIECE_BYTES - 1)
    data = TS1.encode() + b" " + line + b"\r" + TS1.encode() + b" \n"
    assert decode_records([data], tty=True, timestamps=True, cap=1 << 20) == [
        LogRecord("stdout", TS1, line.decode())
    ]
    # and a \r inside a line that happens to end a piece stays
    data = TS1.encode() + b" " + line + b"\r" + TS1.encode() + b" more\r\n"
    assert decode_records([data], tty=True, timestamps=True, cap=1 << 20) == [
        LogRecord("stdout", TS1, line.decode() + "\rmore")
    ]


def test_raw_with_timestamps_passes_a_line_without_one() -> None:
    # The daemon writes its own errors into the stream without a timestamp.
    data = b"error from daemon: open x: no such file\r\n" + TS1.encode() + b" ok\r\n"
    for chunks in chunkings(data):
        assert decode_records(chunks, tty=True, timestamps=True, cap=100) == [
            LogRecord("stdout", None, "error from daemon: open x: no such file"),
            LogRecord("stdout", TS1, "ok"),
        ]


# --- split_timestamp ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (TS1.encode() + b" hello\n", (TS1, b"hello\n")),
        (b"2024-05-01T12:00:00.5Z x", ("2024-05-01T12:00:00.5Z", b"x")),
        (b"2024-05-01T12:00:00Z x", ("2024-05-01T12:00:00Z", b"x")),
        (b"2024-05-01T14:00:00.1+02:00 x", ("2024-05-01T14:00:00.1+02:00", b"x")),
        (TS1.encode() + b" ", (TS1, b"")),
        (TS1.encode() + b"  two spaces", (TS1, b" two spaces")),
        (b"no timestamp here\n", (None, b"no timestamp here\n")),
        (TS1.encode() + b"\n", (None, TS1.encode() + b"\n")),  # no space: not a prefix
        (b"", (None, b"")),
    ],
)
def test_split_timestamp(payload: bytes, expected: tuple[str | None, bytes]) -> None:
    assert split_timestamp(payload) == expected


# --- PartialJoiner -----------------------------------------------------------------------


def test_joiner_joins_pieces_and_keeps_the_first_timestamp() -> None:
    joiner = PartialJoiner()
    assert joiner.feed("stdout", TS1, b"a" * 10) is None
    assert joiner.feed("stdout", TS2, b"b" * 10) is None
    assert joiner.feed("stdout", TS2, b"c\n") == LogRecord("stdout", TS1, "a" * 10 + "b" * 10 + "c")
    assert joiner.pending_bytes == 0


def test_joiner_keeps_streams_apart() -> None:
    joiner = PartialJoiner()
    assert joiner.feed("stdout", TS1, b"out-") is None
    assert joiner.feed("stderr", TS2, b"err whole\n") == LogRecord("stderr", TS2, "err whole")
    assert joiner.feed("stderr", TS2, b"err-") is None
    assert joiner.feed("stdout", TS2, b"end\n") == LogRecord("stdout", TS1, "out-end")
    assert joiner.finish() == [LogRecord("stderr", TS2, "err-")]
    assert joiner.finish() == []


def test_joiner_empty_line_is_an_event() -> None:
    assert PartialJoiner().feed("stdout", TS1, b"\n") == LogRecord("stdout", TS1, "")


def test_joiner_truncates_at_the_cap_and_never_holds_more() -> None:
    cap = 1000
    joiner = PartialJoiner(cap)
    for _ in range(50):
        assert joiner.feed("stdout", TS1, b"q" * 300) is None
        assert joiner.pending_bytes <= cap
    record = joiner.feed("stdout", TS2, b"end\n")
    assert record == LogRecord("stdout", TS1, "q" * cap, truncated=True)
    # one piece over the cap, and a line exactly at the cap
    assert PartialJoiner(cap).feed("stderr", None, b"w" * 5000 + b"\n") == LogRecord(
        "stderr", None, "w" * cap, truncated=True
    )
    assert PartialJoiner(cap).feed("stderr", None, b"w" * cap + b"\n") == LogRecord(
        "stderr", None, "w" * cap
    )


def test_joiner_cuts_between_utf8_characters() -> None:
    text = "é" * 600  # two bytes each
    record = PartialJoiner(1001).feed("stdout", None, text.encode() + b"\n")
    assert record == LogRecord("stdout", None, "é" * 500, truncated=True)
    joiner = PartialJoiner(7)
    assert joiner.feed("stdout", None, b"ab") is None
    record = joiner.feed("stdout", None, "€€€\n".encode())  # three bytes each
    assert record == LogRecord("stdout", None, "ab€", truncated=True)


def test_joiner_replaces_invalid_utf8_and_says_so() -> None:
    record = PartialJoiner().feed("stdout", TS1, b"bad \xff byte\n")
    assert record == LogRecord("stdout", TS1, "bad \ufffd byte", invalid_utf8=True)
    # a character cut between two pieces is whole again when joined
    euro = "€".encode()
    joiner = PartialJoiner()
    assert joiner.feed("stdout", TS1, b"x" + euro[:2]) is None
    assert joiner.feed("stdout", TS1, euro[2:] + b"\n") == LogRecord("stdout", TS1, "x€")


def test_joiner_refuses_a_zero_cap() -> None:
    with pytest.raises(ValueError):
        PartialJoiner(0)


# --- the whole pipeline --------------------------------------------------------------------


def test_multiplexed_with_timestamps_partial_lines_and_every_chunking() -> None:
    long_line = b"L" * 40_000
    data = (
        frame(1, TS1.encode() + b' {"level":"info","msg":"json on stdout"}\n')
        + frame(2, TS1.encode() + b" plain on stderr\n")
        + b"".join(frame(1, piece) for piece in docker_pieces(long_line, TS2))
        + frame(2, TS2.encode() + b" last, without newline")
    )
    expected = [
        LogRecord("stdout", TS1, '{"level":"info","msg":"json on stdout"}'),
        LogRecord("stderr", TS1, "plain on stderr"),
        LogRecord("stdout", TS2, long_line.decode()),
        LogRecord("stderr", TS2, "last, without newline"),
    ]
    assert len(decode_multiplexed([data])) == 6  # the long line came as three frames
    for chunks in chunkings(data)[:9]:
        assert decode_records(chunks, tty=False, timestamps=True, cap=1 << 20) == expected
    truncated = decode_records([data], tty=False, timestamps=True, cap=20_000)
    assert truncated[2] == LogRecord("stdout", TS2, "L" * 20_000, truncated=True)


def test_pieces_of_two_streams_interleaved() -> None:
    out = docker_pieces(b"o" * 20_000, TS1)
    err = docker_pieces(b"e" * 20_000, TS2)
    data = frame(1, out[0]) + frame(2, err[0]) + frame(2, err[1]) + frame(1, out[1])
    assert decode_records([data], tty=False, timestamps=True, cap=1 << 20) == [
        LogRecord("stderr", TS2, "e" * 20_000),
        LogRecord("stdout", TS1, "o" * 20_000),
    ]
