"""The fused Docker path gives exactly what decoding then the default processor give."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from logwharf.docker_fast import decode_and_process
from logwharf.processor.default import DefaultProcessor
from logwharf.shipper.decode import DockerJsonDecoder, FileContext
from logwharf.shipper.reader import Lines

CID = "ab" * 32
READ_TIME = "2026-11-23T12:00:00.000Z"

# Messages of every kind the default processor tells apart.
MESSAGES = [
    '{"ts":"2026-11-23T10:00:00.000Z","level":"info","msg":"plain","user":{"id":7}}',
    '{"time":"2026-11-23T11:00:00+01:00","lvl":"W","message":"offset time"}',
    '{"timestamp":1763892000123,"severity":3,"msg":"epoch ms, syslog level"}',
    '{"@timestamp":"yesterday","level":"loud","msg":"unreadable time and level"}',
    '{"ts":"2026-02-30T10:00:00Z","msg":"impossible date"}',
    '{"time":"2026-11-23T10:00:00Z","ts":"2026-11-23T09:00:00Z","msg":"two times"}',
    '{"msg":42,"message":"not the number","level":30}',
    '{"msg":["a"],"level":null}',
    '{"level":"ERROR","nested":{"deep":[1,2,{"x":null}]},"msg":"no time"}',
    '{"a":1,"a":2}',
    "{}",
    '{"unterminated": ',
    "{not json at all",
    "[1, 2, 3]",
    '"a string"',
    "12345",
    "ERROR something broke",
    "[WARN] careful",
    "2026-11-23 10:00:00 INFO text with its own time",
    "    at com.example.Main.run(Main.java:10)",
    "",
    "ünïcødé ✓ and \u2028 separator",
    "tab\there",
]


def record(message: str, stream: str, time: str, crlf: bool = False) -> bytes:
    return orjson.dumps(
        {"log": message + ("\r\n" if crlf else "\n"), "stream": stream, "time": time}
    )


def lines_of(records: list[bytes], start: int = 0) -> Lines:
    offsets = []
    position = start
    for line in records:
        offsets.append(position)
        position += len(line) + 1
    return Lines(list(records), offsets)


def make_decoder(container: bool) -> DockerJsonDecoder:
    info = {"id": CID, "name": "web", "labels": {"app": "shop"}} if container else None
    return DockerJsonDecoder(FileContext("/logs/x-json.log", "ident", "host-1", info), 1 << 20)


def general(decoder: DockerJsonDecoder, lines: Lines, processor: DefaultProcessor) -> list[Any]:
    return processor.process_batch(decoder.decode(lines))


def normalized(events: list[Any]) -> list[Any]:
    return [orjson.loads(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)) for event in events]


def counts(processor: DefaultProcessor) -> tuple[int, int, int, int]:
    return (
        processor.json_parsed,
        processor.json_failures,
        processor.json_other,
        processor.failures,
    )


def corpus(seed: int, size: int) -> list[list[bytes]]:
    """Slices of records: both streams, repeated times (positions), CRLF endings."""
    rng = random.Random(seed)
    slices = []
    second = 0
    for _ in range(3):
        records = []
        for _ in range(size):
            if rng.random() < 0.6:
                second += 1
            time = f"2026-11-23T10:00:{second % 60:02}.{second:09}Z"
            records.append(
                record(
                    rng.choice(MESSAGES),
                    rng.choice(["stdout", "stderr"]),
                    time,
                    crlf=rng.random() < 0.1,
                )
            )
        slices.append(records)
    return slices


@pytest.mark.parametrize("container", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fused_path_equals_decoder_then_processor(container: bool, seed: int) -> None:
    fast_decoder, slow_decoder = make_decoder(container), make_decoder(container)
    fast_processor, slow_processor = DefaultProcessor(READ_TIME), DefaultProcessor(READ_TIME)
    start = 0
    for records in corpus(seed, 300):
        lines = lines_of(records, start)
        start = lines.offsets[-1] + len(records[-1]) + 1
        done = decode_and_process(fast_decoder, lines, fast_processor)
        assert done is not None
        expected = general(slow_decoder, lines, slow_processor)
        assert normalized(done.events) == normalized(expected)
        assert counts(fast_processor) == counts(slow_processor)
        assert done.parsed + done.parse_failures > 0
    # Positions ran on across slices alike.
    assert fast_decoder.position == slow_decoder.position
    assert fast_decoder.last_time == slow_decoder.last_time
    assert fast_decoder.first_time == slow_decoder.first_time


def test_every_message_kind_was_exercised() -> None:
    """The corpus above holds each kind of message, so the comparison covers them all."""
    seen = set()
    for records in corpus(1, 300):
        for line in records:
            seen.add(orjson.loads(line)["log"].rstrip("\r\n"))
    assert seen == set(MESSAGES)


@pytest.mark.parametrize(
    "odd",
    [
        orjson.dumps({"log": "16 KiB piece without newline", "stream": "stdout", "time": "t"}),
        orjson.dumps({"log": "no time\n", "stream": "stdout"}),
        orjson.dumps({"log": 5, "stream": "stdout", "time": "t"}),
        orjson.dumps({"log": "x\n", "stream": 1, "time": "t"}),
        b"not json",
        b"",
        b"[1]",
    ],
)
def test_anything_but_complete_records_goes_the_general_way_untouched(odd: bytes) -> None:
    decoder = make_decoder(True)
    processor = DefaultProcessor(READ_TIME)
    good = record("fine", "stdout", "2026-11-23T10:00:00.000000001Z")
    assert decode_and_process(decoder, lines_of([good, good]), processor) is not None
    state = (dict(decoder.position), dict(decoder.last_time), dict(decoder.first_time))
    before = counts(processor)
    assert decode_and_process(decoder, lines_of([good, odd, good]), processor) is None
    assert (decoder.position, decoder.last_time, decoder.first_time) == state
    assert counts(processor) == before


def test_an_open_partial_or_a_cut_line_goes_the_general_way() -> None:
    decoder = make_decoder(False)
    processor = DefaultProcessor(READ_TIME)
    piece = orjson.dumps({"log": "first piece", "stream": "stdout", "time": "t"})
    decoder.decode(lines_of([piece]))
    assert decoder.partials
    good = record("fine", "stdout", "2026-11-23T10:00:00.000000001Z")
    assert decode_and_process(decoder, lines_of([good]), processor) is None
    cut = lines_of([good])
    cut.truncated.add(0)
    assert decode_and_process(make_decoder(False), cut, processor) is None
