"""detect_format, TextDecoder and DockerJsonDecoder."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from logwharf.shipper.decode import DockerJsonDecoder, FileContext, TextDecoder, detect_format
from logwharf.shipper.ids import docker_event_id, file_event_id
from logwharf.shipper.reader import Lines, LineSplitter

CID = "c0ffee" + "0" * 58
T1 = "2026-11-23T10:00:00.000000001Z"
T2 = "2026-11-23T10:00:00.000000002Z"
T3 = "2026-11-23T10:00:00.000000003Z"


def record(log: str, stream: str = "stdout", time: str = T1) -> bytes:
    return orjson.dumps({"log": log, "stream": stream, "time": time})


def lines_of(*lines: bytes) -> Lines:
    """A batch as the splitter gives it: offsets of lines joined by ``\\n``."""
    offsets = []
    position = 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    return Lines(list(lines), offsets)


def context(container: dict[str, Any] | None = None) -> FileContext:
    return FileContext("/logs/app.log", "ident", "host-1", container)


def docker_decoder(container: bool = True, max_event_bytes: int = 1 << 20) -> DockerJsonDecoder:
    return DockerJsonDecoder(
        context({"id": CID, "name": "web"} if container else None), max_event_bytes
    )


def decode_all(decoder: DockerJsonDecoder | TextDecoder, *batches: Lines) -> list[dict[str, Any]]:
    events = []
    for batch in batches:
        events += decoder.decode(batch)
    return events + decoder.finish()


# --- detect_format ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (record("hi\n") + b"\n" + record("there\n"), "docker"),
        (b"\n  \n" + record("after blank lines\n") + b"\n", "docker"),
        (b'{"msg": "hi", "level": "info"}\n', "ndjson"),
        (b'{"log": 5, "time": "x"}\n', "ndjson"),  # log is not a string
        (b'{"log": "no time here"}\n', "ndjson"),
        (b"plain text line\n" + record("x\n"), "text"),  # judged by the first line only
        (b"[1, 2, 3]\n", "text"),
        (b"42\n", "text"),
        (b"", "text"),
        (b"\n\n", "text"),
    ],
)
def test_detect_format(head: bytes, expected: str) -> None:
    assert detect_format(head) == expected


# --- TextDecoder -----------------------------------------------------------------------


def test_text_events_carry_file_host_offset_and_id() -> None:
    decoder = TextDecoder(context())
    events = decoder.decode(lines_of(b"hello", b"world"))
    assert [e["message"] for e in events] == ["hello", "world"]
    assert events[1]["log"] == {"file": {"path": "/logs/app.log"}, "offset": 6}
    assert events[1]["host"] == {"name": "host-1"}
    assert events[0]["_id"] == file_event_id("ident", 0, b"hello")
    assert events[1]["_id"] == file_event_id("ident", 6, b"world")
    assert events[0]["_id"] != events[1]["_id"]
    assert "container" not in events[0]
    assert "tags" not in events[0]


def test_text_crlf_is_stripped_and_empty_lines_are_counted() -> None:
    decoder = TextDecoder(context())
    events = decoder.decode(lines_of(b"a\r", b"", b"\r", b"b"))
    assert [e["message"] for e in events] == ["a", "b"]
    assert [e["log"]["offset"] for e in events] == [0, 6]
    assert decoder.empty_lines == 2
    assert decoder.finish() == []


def test_text_invalid_utf8_is_replaced_and_tagged() -> None:
    events = TextDecoder(context()).decode(lines_of(b"caf\xe9 ok"))
    assert events[0]["message"] == "caf\ufffd ok"
    assert events[0]["tags"] == ["_invalidutf8"]


def test_text_truncated_lines_are_tagged_by_offset() -> None:
    splitter = LineSplitter(5)
    batch = splitter.feed(b"short\nmuch too long\nok\n")
    events = TextDecoder(context()).decode(batch)
    assert [e["message"] for e in events] == ["short", "much ", "ok"]
    assert [e.get("tags") for e in events] == [None, ["truncated"], None]


def test_text_events_get_their_own_container_copy() -> None:
    container = {"id": CID, "name": "web"}
    events = TextDecoder(context(container)).decode(lines_of(b"a", b"b"))
    assert events[0]["container"] == container
    events[0]["container"]["name"] = "changed"
    assert events[1]["container"]["name"] == "web"
    assert container["name"] == "web"


# --- DockerJsonDecoder: single records -------------------------------------------------


def test_docker_record_becomes_event() -> None:
    events = decode_all(docker_decoder(), lines_of(record("hello\n", "stderr", T1)))
    assert len(events) == 1
    event = events[0]
    assert event["message"] == "hello"
    assert event["stream"] == "stderr"
    assert event["@timestamp"] == T1
    assert event["log"]["offset"] == 0
    assert event["container"]["id"] == CID


def test_docker_crlf_and_only_one_newline_are_stripped() -> None:
    events = decode_all(
        docker_decoder(), lines_of(record("windows\r\n"), record("two\n\n", time=T2))
    )
    assert [e["message"] for e in events] == ["windows", "two\n"]


@pytest.mark.parametrize("container", [True, False])
def test_same_record_decodes_the_same_whatever_else_is_in_the_batch(container: bool) -> None:
    # A truncated line in the batch (or a container) must not change how the others decode.
    plain = docker_decoder(container).decode(lines_of(record("a\n"), record("b\n", time=T2)))
    splitter = LineSplitter(120)
    long_line = b"z" * 200
    mixed = docker_decoder(container).decode(
        splitter.feed(record("a\n") + b"\n" + record("b\n", time=T2) + b"\n" + long_line + b"\n")
    )
    assert mixed[:2] == plain
    assert mixed[2]["tags"] == ["_jsonparsefailure", "truncated"]


def test_docker_empty_lines_are_skipped_and_counted() -> None:
    decoder = docker_decoder()
    events = decode_all(decoder, lines_of(record("a\n"), b"", record("b\n", time=T2), b""))
    assert [e["message"] for e in events] == ["a", "b"]
    assert decoder.empty_lines == 2
    assert events[1]["log"]["offset"] == len(record("a\n")) + 2


def test_docker_file_with_a_line_that_is_not_json() -> None:
    good = record("fine\n")
    events = decode_all(docker_decoder(), lines_of(good, b"garbage {", record("x\n", time=T2)))
    assert [e["message"] for e in events] == ["fine", "garbage {", "x"]
    assert events[1]["tags"] == ["_jsonparsefailure"]
    assert events[1]["log"]["offset"] == len(good) + 1
    assert "tags" not in events[0] and "tags" not in events[2]
    # an event that is not a Docker record is keyed by file identity and offset
    assert events[1]["_id"] == file_event_id("ident", len(good) + 1, b"garbage {")


def test_docker_file_with_json_that_is_not_a_docker_record() -> None:
    events = decode_all(docker_decoder(), lines_of(b'{"level":"info"}', b"[1,2]"))
    assert [e["message"] for e in events] == ['{"level":"info"}', "[1,2]"]
    assert all("tags" not in e for e in events)  # valid JSON: no parse failure
    assert all("stream" not in e and "@timestamp" not in e for e in events)


def test_docker_invalid_utf8_line_is_kept_and_tagged() -> None:
    line = b'{"log":"caf\xe9\\n","stream":"stdout","time":"' + T1.encode() + b'"}'
    events = decode_all(docker_decoder(), lines_of(line))
    assert len(events) == 1
    assert "\ufffd" in events[0]["message"]
    assert "_invalidutf8" in events[0]["tags"]


def test_docker_record_with_unhashable_stream_does_not_crash() -> None:
    line = orjson.dumps({"log": "x\n", "stream": ["stdout"], "time": T1})
    events = decode_all(docker_decoder(), lines_of(line))
    assert [e["message"] for e in events] == ["x"]


# --- DockerJsonDecoder: 16 KiB partial records ----------------------------------------


def test_partial_records_are_joined() -> None:
    piece = "p" * 16384
    batch = lines_of(
        record(piece, time=T1), record(piece, time=T2), record("end\n", time=T3), record("n\n")
    )
    events = decode_all(docker_decoder(), batch)
    assert [e["message"] for e in events] == [piece + piece + "end", "n"]
    # the joined event is where its first piece is, at the time of its first piece
    assert events[0]["log"]["offset"] == 0
    assert events[0]["@timestamp"] == T1
    assert "tags" not in events[0]


def test_partials_interleaved_between_stdout_and_stderr() -> None:
    lines = [
        record("out-1 ", "stdout", T1),
        record("err-1 ", "stderr", T1),
        record("out-2 ", "stdout", T2),
        record("err-end\n", "stderr", T2),
        record("out-end\n", "stdout", T3),
    ]
    batch = lines_of(*lines)
    events = decode_all(docker_decoder(), batch)
    by_stream = {e["stream"]: e for e in events}
    assert len(events) == 2
    assert by_stream["stdout"]["message"] == "out-1 out-2 out-end"
    assert by_stream["stderr"]["message"] == "err-1 err-end"
    assert by_stream["stdout"]["log"]["offset"] == batch.offsets[0]
    assert by_stream["stderr"]["log"]["offset"] == batch.offsets[1]
    assert by_stream["stderr"]["@timestamp"] == T1
    # each completed event comes out when its last piece is read
    assert [e["stream"] for e in events] == ["stderr", "stdout"]


def test_partials_span_decode_calls() -> None:
    whole = lines_of(record("a", time=T1), record("b", time=T2), record("c\n", time=T3))
    decoder = docker_decoder()
    events = []
    for line, offset in zip(whole.lines, whole.offsets, strict=True):
        events += decoder.decode(Lines([line], [offset]))
    events += decoder.finish()
    assert events == decode_all(docker_decoder(), whole)
    assert [e["message"] for e in events] == ["abc"]


def test_partial_records_left_at_end_of_file_are_emitted_by_finish() -> None:
    batch = lines_of(
        record("err unfinished", "stderr", T1),
        record("done\n", "stdout", T1),
        record("out unfinished", "stdout", T2),
    )
    decoder = docker_decoder()
    events = decoder.decode(batch)
    assert [e["message"] for e in events] == ["done"]
    rest = decoder.finish()
    assert [(e["message"], e["stream"]) for e in rest] == [
        ("err unfinished", "stderr"),
        ("out unfinished", "stdout"),
    ]
    assert [e["log"]["offset"] for e in rest] == [batch.offsets[0], batch.offsets[2]]
    assert decoder.finish() == []  # not emitted twice


def test_joined_partials_are_cut_at_max_event_bytes_and_tagged() -> None:
    events = decode_all(
        docker_decoder(max_event_bytes=10),
        lines_of(
            record("0123456"), record("789abcdef"), record("ghi\n"), record("next\n", time=T2)
        ),
    )
    assert events[0]["message"] == "0123456789"
    assert events[0]["tags"] == ["truncated"]
    assert events[1]["message"] == "next"
    assert "tags" not in events[1]


def test_partial_at_eof_cut_at_max_event_bytes_is_tagged() -> None:
    events = decode_all(docker_decoder(max_event_bytes=4), lines_of(record("abcdef")))
    assert events[0]["message"] == "abcd"
    assert events[0]["tags"] == ["truncated"]


# --- DockerJsonDecoder: deterministic ids ----------------------------------------------


def test_docker_ids_follow_position_among_equal_timestamps_per_stream() -> None:
    batch = lines_of(
        record("a\n", "stdout", T1),
        record("b\n", "stdout", T1),
        record("c\n", "stderr", T1),
        record("d\n", "stdout", T1),
        record("e\n", "stdout", T2),
        record("f\n", "stderr", T1),
    )
    events = decode_all(docker_decoder(), batch)
    expected = [
        docker_event_id(CID, T1, "stdout", 0),
        docker_event_id(CID, T1, "stdout", 1),
        docker_event_id(CID, T1, "stderr", 0),
        docker_event_id(CID, T1, "stdout", 2),
        docker_event_id(CID, T2, "stdout", 0),
        docker_event_id(CID, T1, "stderr", 1),
    ]
    assert [e["_id"] for e in events] == expected
    assert len(set(expected)) == len(expected)


def test_docker_ids_do_not_depend_on_offsets_or_batching() -> None:
    lines = [record("a\n"), record("b\n"), record("c\n", time=T2)]
    once = decode_all(docker_decoder(), lines_of(*lines))
    # same records after a leading empty line and garbage: different offsets, same ids
    shifted = decode_all(docker_decoder(), lines_of(b"", *lines))
    split_up = decode_all(docker_decoder(), lines_of(*lines[:1]), lines_of(*lines[1:]))
    assert [e["_id"] for e in once] == [e["_id"] for e in shifted]
    assert [e["_id"] for e in once] == [e["_id"] for e in split_up]


def test_replaying_the_same_records_gives_identical_ids() -> None:
    batch = lines_of(record("x", time=T1), record("y\n", time=T2), record("z\n", time=T2))
    first = [e["_id"] for e in decode_all(docker_decoder(), batch)]
    second = [e["_id"] for e in decode_all(docker_decoder(), batch)]
    assert first == second
    assert len(set(first)) == 2


def test_without_container_ids_are_file_identity_and_offset() -> None:
    batch = lines_of(record("a\n"), record("b\n"))
    events = decode_all(docker_decoder(container=False), batch)
    expected = [
        file_event_id("ident", o, line) for o, line in zip(batch.offsets, batch.lines, strict=True)
    ]
    assert [e["_id"] for e in events] == expected
    assert all("container" not in e for e in events)
