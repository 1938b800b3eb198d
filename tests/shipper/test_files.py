"""FileSource end to end on real (temporary) files, plain and gzip."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from logwharf.shipper.files import FileProblem, FileSource
from logwharf.shipper.ids import content_identity, docker_event_id, file_event_id

CID = "feedface" * 8


async def read(files: list[Path], **options: Any) -> tuple[list[dict[str, Any]], FileSource]:
    source = FileSource(files, host_name="test-host", **options)
    events = [event async for batch in source.batches() for event in batch]
    return events, source


def docker_line(log: str, stream: str = "stdout", second: int = 0, nanos: int = 1) -> bytes:
    time = f"2026-11-23T10:00:{second:02d}.{nanos:09d}Z"
    return orjson.dumps({"log": log, "stream": stream, "time": time}) + b"\n"


def text_content(lines: int = 200) -> bytes:
    return b"".join(
        b"2026-11-23 10:00:%02d INFO request %d done\n" % (i % 60, i) for i in range(lines)
    )


# --- plain text --------------------------------------------------------------------------


async def test_text_file_events_offsets_ids_and_stats(tmp_path: Path) -> None:
    content = b"alpha\r\n\nbeta\ngamma"  # CRLF, an empty line, no newline at the end
    path = tmp_path / "app.log"
    path.write_bytes(content)
    events, source = await read([path])
    assert [e["message"] for e in events] == ["alpha", "beta", "gamma"]
    offsets = [e["log"]["offset"] for e in events]
    assert offsets == [0, 8, 13]
    for event in events:
        assert content[event["log"]["offset"] :].startswith(event["message"].encode())
        assert event["log"]["file"]["path"] == str(path)
        assert event["host"]["name"] == "test-host"
    identity = content_identity(content)
    lines = [b"alpha", b"beta", b"gamma"]  # without CR and LF
    assert [e["_id"] for e in events] == [
        file_event_id(identity, o, line) for o, line in zip(offsets, lines, strict=True)
    ]
    stats = source.stats
    assert (stats.files_done, stats.lines, stats.empty_lines, stats.events) == (1, 4, 1, 3)
    assert stats.formats == {"text": 1}
    assert stats.raw_bytes[0] == len(content)
    assert source.problems == []


async def test_empty_file_gives_nothing_and_no_problem(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    events, source = await read([path])
    assert events == []
    assert source.problems == []
    assert source.stats.files_done == 1


@pytest.mark.parametrize("chunk_bytes", [7, 100, 1000, 4096, 256 * 1024])
async def test_events_do_not_depend_on_chunk_size(tmp_path: Path, chunk_bytes: int) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(text_content() + b"trailing line")
    expected, _ = await read([path])
    events, source = await read([path], chunk_bytes=chunk_bytes)
    assert events == expected
    assert len(events) == 201
    assert source.stats.lines == 201


@pytest.mark.parametrize("chunk_bytes", [7, 333, 4096, 256 * 1024])
@pytest.mark.parametrize("size", [3, 200])  # under and over the identity head
async def test_gzip_copy_gives_the_same_ids_as_the_plain_file(
    tmp_path: Path, chunk_bytes: int, size: int
) -> None:
    content = text_content(size)
    plain = tmp_path / "app.log"
    packed = tmp_path / "app.log.1.gz"
    plain.write_bytes(content)
    packed.write_bytes(gzip.compress(content))
    plain_events, _ = await read([plain], chunk_bytes=chunk_bytes)
    gz_events, source = await read([packed], chunk_bytes=chunk_bytes)
    assert len(plain_events) == size
    assert [e["_id"] for e in gz_events] == [e["_id"] for e in plain_events]
    assert [e["log"]["offset"] for e in gz_events] == [e["log"]["offset"] for e in plain_events]
    assert [e["message"] for e in gz_events] == [e["message"] for e in plain_events]
    assert source.stats.raw_bytes[0] == packed.stat().st_size


async def test_replaying_a_file_twice_gives_identical_events(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(text_content(50))
    first, _ = await read([path])
    second, _ = await read([path])
    assert first == second
    ids = [e["_id"] for e in first]
    assert len(set(ids)) == len(ids) == 50


async def test_copy_of_a_file_elsewhere_keeps_its_ids(tmp_path: Path) -> None:
    content = text_content(20)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.log").write_bytes(content)
    (tmp_path / "b" / "renamed.log").write_bytes(content)
    one, _ = await read([tmp_path / "a" / "x.log"])
    two, _ = await read([tmp_path / "b" / "renamed.log"])
    assert [e["_id"] for e in one] == [e["_id"] for e in two]
    assert one[0]["log"]["file"]["path"] != two[0]["log"]["file"]["path"]


async def test_five_megabyte_line_is_truncated_and_the_rest_is_intact(tmp_path: Path) -> None:
    mib = 1024 * 1024
    huge = b"x" * (5 * mib)
    content = b"first\n" + huge + b"\nafter one\nafter two\n"
    path = tmp_path / "big.log"
    path.write_bytes(content)
    events, _ = await read([path], chunk_bytes=64 * 1024, max_event_bytes=mib)
    assert [len(e["message"]) for e in events] == [5, mib, 9, 9]
    assert events[1]["tags"] == ["truncated"]
    assert [e.get("tags") for e in events[2:]] == [None, None]
    assert [e["log"]["offset"] for e in events] == [0, 6, 6 + len(huge) + 1, 6 + len(huge) + 11]
    assert [e["message"] for e in events[2:]] == ["after one", "after two"]


async def test_ndjson_is_detected_and_kept_as_text_events(tmp_path: Path) -> None:
    path = tmp_path / "app.ndjson"
    path.write_bytes(b'{"msg":"a"}\n{"msg":"b"}\n')
    events, source = await read([path])
    assert [e["message"] for e in events] == ['{"msg":"a"}', '{"msg":"b"}']
    assert source.stats.formats == {"ndjson": 1}


# --- problems ------------------------------------------------------------------------


async def test_problems_are_reported_and_the_next_files_are_read(tmp_path: Path) -> None:
    good = tmp_path / "good.log"
    good.write_bytes(b"fine\n")
    cut = tmp_path / "cut.log.gz"
    packed = gzip.compress(text_content(100))
    cut.write_bytes(packed[: len(packed) // 2])
    missing = tmp_path / "missing.log"
    seen: list[FileProblem] = []
    source = FileSource([cut, missing, good], host_name="h", on_problem=seen.append)
    events = [event async for batch in source.batches() for event in batch]
    assert events[-1]["message"] == "fine"
    assert [p.path for p in source.problems] == [str(cut), str(missing)]
    assert "truncated" in source.problems[0].reason
    assert seen == source.problems
    assert source.stats.files_done == 3
    assert str(source.problems[1]).startswith(str(missing) + ": ")


# --- Docker json-file ------------------------------------------------------------------


def container_log(tmp_path: Path, content: bytes, name: str = "") -> Path:
    folder = tmp_path / "containers" / CID
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "ID": CID,
        "Name": "/web",
        "Config": {"Image": "shop/web:3", "Labels": {"com.example.team": "a"}},
    }
    (folder / "config.v2.json").write_bytes(orjson.dumps(config))
    path = folder / (name or f"{CID}-json.log")
    path.write_bytes(content)
    return path


def docker_content() -> bytes:
    lines = [docker_line(f"line {i}\n", second=i % 60, nanos=i) for i in range(100)]
    lines.insert(10, docker_line("P" * 16384, "stderr", 5))  # a 16 KiB partial record
    lines.insert(13, docker_line("same time\n", second=11, nanos=11))  # after "line 11"
    lines.insert(20, docker_line("rest\n", "stderr", 7))
    return b"".join(lines)


@pytest.mark.parametrize("chunk_bytes", [4096, 256 * 1024])
async def test_docker_log_of_a_container(tmp_path: Path, chunk_bytes: int) -> None:
    content = docker_content()
    path = container_log(tmp_path, content)
    events, source = await read([path], chunk_bytes=chunk_bytes)
    assert source.stats.formats == {"docker": 1}
    assert len(events) == 102
    joined = next(e for e in events if e["stream"] == "stderr")
    assert joined["message"] == "P" * 16384 + "rest"
    assert joined["@timestamp"] == "2026-11-23T10:00:05.000000001Z"
    assert content[joined["log"]["offset"] :].startswith(b'{"log":"PPP')
    event = events[0]
    assert event["message"] == "line 0"
    assert event["container"] == {
        "id": CID,
        "name": "web",
        "image": {"name": "shop/web", "tag": ["3"]},
        "labels": {"com_example_team": "a"},
    }
    assert event["_id"] == docker_event_id(CID, event["@timestamp"], "stdout", 0)
    # two stdout records with the same time: positions 0 and 1
    same = [e for e in events if e["@timestamp"] == "2026-11-23T10:00:11.000000011Z"]
    assert [e["message"] for e in same] == ["line 11", "same time"]
    assert same[1]["_id"] == docker_event_id(CID, same[1]["@timestamp"], "stdout", 1)
    assert len({e["_id"] for e in events}) == len(events)


@pytest.mark.parametrize("chunk_bytes", [4096, 256 * 1024])
async def test_rotated_gzip_docker_log_gives_the_same_ids(tmp_path: Path, chunk_bytes: int) -> None:
    content = docker_content()
    plain = container_log(tmp_path, content)
    packed = container_log(tmp_path, gzip.compress(content), f"{CID}-json.log.1.gz")
    plain_events, _ = await read([plain], chunk_bytes=chunk_bytes)
    gz_events, _ = await read([packed], chunk_bytes=chunk_bytes)
    for event in (*plain_events, *gz_events):
        del event["log"]["file"]
    assert gz_events == plain_events


async def test_docker_partial_record_at_end_of_file(tmp_path: Path) -> None:
    content = docker_line("complete\n") + docker_line("cut off by a crash", nanos=2)
    path = container_log(tmp_path, content)
    events, _ = await read([path])
    assert [e["message"] for e in events] == ["complete", "cut off by a crash"]
    assert events[1]["log"]["offset"] == len(docker_line("complete\n"))


async def test_docker_file_without_trailing_newline(tmp_path: Path) -> None:
    content = docker_line("a\n") + docker_line("b\n", nanos=2).rstrip(b"\n")
    events, _ = await read([container_log(tmp_path, content)])
    assert [e["message"] for e in events] == ["a", "b"]


async def test_docker_format_is_detected_when_the_first_record_is_long(tmp_path: Path) -> None:
    content = docker_line("P" * 16384) + docker_line("end\n", nanos=2)
    events, source = await read([container_log(tmp_path, content)], chunk_bytes=4096)
    assert source.stats.formats == {"docker": 1}
    assert [e["message"] for e in events] == ["P" * 16384 + "end"]
