"""Checkpoints: timestamps, positions, in-order acknowledgement, the atomic state file."""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from logwharf.shipper.checkpoints import (
    FORMAT_VERSION,
    STATE_FILE,
    AckTracker,
    Checkpoint,
    CheckpointError,
    CheckpointStore,
    Mark,
    StreamPositions,
    timestamp_ns,
)

T0 = "2026-11-23T10:00:00.000000000Z"
T1 = "2026-11-23T10:00:00.100000000Z"
T2 = "2026-11-23T10:00:00.200000000Z"
T9 = "2026-11-23T10:00:09.000000000Z"
NS0 = 1795428000 * 10**9  # T0


def checkpoint(**marks: tuple[str, int]) -> Checkpoint:
    return Checkpoint({stream: Mark(*mark) for stream, mark in marks.items()})


# -- timestamps, marks, checkpoints


def test_timestamp_ns_reads_docker_timestamps_by_value() -> None:
    assert timestamp_ns(T0) == NS0
    assert timestamp_ns("2026-11-23T10:00:00Z") == NS0
    assert timestamp_ns("2026-11-23T10:00:00.1Z") == timestamp_ns(T1) == NS0 + 10**8
    assert timestamp_ns("2026-11-23T10:00:00.000000001Z") == NS0 + 1
    assert timestamp_ns("2026-11-23T11:00:00.1+01:00") == NS0 + 10**8
    assert timestamp_ns("2026-11-23T09:30:00-00:30") == NS0
    # as strings, json-file's trimmed fractions sort wrongly
    assert "2026-11-23T10:00:00.1Z" > "2026-11-23T10:00:00.12Z"
    assert timestamp_ns("2026-11-23T10:00:00.1Z") < timestamp_ns("2026-11-23T10:00:00.12Z")


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "2026-11-23", "2026-11-23T10:00:00", "2026-13-01T00:00:00Z", T0 + " "],
)
def test_timestamp_ns_refuses_what_is_not_rfc3339(text: str) -> None:
    with pytest.raises(ValueError):
        timestamp_ns(text)


def test_mark_is_validated() -> None:
    assert Mark(T0, 3).ns == NS0
    for count in (0, -1, True, 1.5, "2"):
        with pytest.raises(ValueError, match="count must be a positive integer"):
            Mark(T0, count)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an RFC 3339 timestamp"):
        Mark("soon", 1)


def test_checkpoint_time_is_the_newest_mark() -> None:
    assert checkpoint(stdout=(T2, 1), stderr=(T1, 4)).time == T2
    assert checkpoint(stderr=("2026-11-23T10:00:00.2Z", 1), stdout=(T1, 1)).time == (
        "2026-11-23T10:00:00.2Z"
    )


def test_covers_recognises_lines_already_acknowledged() -> None:
    point = checkpoint(stdout=(T1, 2), stderr=(T0, 1))
    assert point.covers(T1, "stdout", 0)
    assert point.covers(T1, "stdout", 1)
    assert not point.covers(T1, "stdout", 2)
    assert point.covers("2026-11-23T10:00:00.1Z", "stdout", 1)  # same time, other spelling
    assert not point.covers("2026-11-23T10:00:00.1Z", "stdout", 2)
    assert point.covers(T0, "stdout", 7)  # older
    assert not point.covers(T2, "stdout", 0)  # newer
    assert point.covers(T0, "stderr", 0)
    assert not point.covers(T1, "stderr", 0)
    assert not point.covers(T0, "other", 0)


def test_since_has_nine_fraction_digits_and_goes_back_for_the_other_stream() -> None:
    # both streams recent: the older mark
    point = checkpoint(stdout=(T2, 1), stderr=(T1, 1))
    assert point.since() == "1795428000.100000000"
    # a stream quiet for longer than the skew does not hold the resume back
    quiet = checkpoint(stdout=(T9, 1), stderr=(T0, 1))
    assert quiet.since() == "1795428008.000000000"
    assert quiet.since(skew_seconds=0.25) == "1795428008.750000000"
    # a stream with no mark yet: its first line may trail the other by the skew
    assert checkpoint(stdout=(T9, 1)).since() == "1795428008.000000000"
    assert checkpoint(stdout=(T9, 1)).since(skew_seconds=0) == "1795428009.000000000"


def test_checkpoint_json_round_trip_and_validation() -> None:
    point = checkpoint(stdout=(T1, 2), stderr=(T0, 1))
    assert point.to_json() == {
        "stderr": {"time": T0, "count": 1},
        "stdout": {"time": T1, "count": 2},
    }
    assert Checkpoint.from_json(point.to_json()) == point
    bad_docs: list[object] = [{}, [], {"stdout": {"count": 1}}, {"stdout": {"time": T0}}, {"x": 3}]
    for bad in bad_docs:
        with pytest.raises(ValueError):
            Checkpoint.from_json(bad)


# -- positions


def test_positions_count_per_stream_and_timestamp() -> None:
    positions = StreamPositions()
    assert positions.checkpoint() is None
    read = [
        (T0, "stdout"),
        (T0, "stderr"),
        (T0, "stdout"),
        (T1, "stdout"),
        (T0, "stderr"),  # stderr's timestamps trail stdout's: counted on its own
        (T1, "stdout"),
        (T1, "stdout"),
    ]
    assert [positions.position(time, stream) for time, stream in read] == [0, 0, 1, 0, 1, 1, 2]
    assert positions.checkpoint() == checkpoint(stdout=(T1, 3), stderr=(T0, 2))
    assert positions.checkpoint() is positions.checkpoint()  # not rebuilt when unchanged


def test_positions_started_from_a_checkpoint_keep_a_quiet_stream() -> None:
    start = checkpoint(stdout=(T1, 2), stderr=(T0, 1))
    positions = StreamPositions(start)
    assert positions.checkpoint() is start
    positions.position(T2, "stdout")
    assert positions.checkpoint() == checkpoint(stdout=(T2, 1), stderr=(T0, 1))


# -- acknowledgements


def test_acks_in_order_advance_per_registered_block() -> None:
    tracker = AckTracker()
    first, second = checkpoint(stdout=(T0, 1)), checkpoint(stdout=(T1, 1))
    assert tracker.next_seq("c") == 0
    tracker.register("c", 0, 9, first)
    tracker.register("c", 10, 19, second)
    assert tracker.next_seq("c") == 20
    assert tracker.outstanding("c") == 20
    assert tracker.ack("c", 0, 4) is None  # half a block: no position known inside it
    assert tracker.checkpoint("c") is None
    assert tracker.ack("c", 5, 9) is first
    assert tracker.ack("c", 10, 19) is second
    assert tracker.checkpoint("c") is second
    assert tracker.outstanding("c") == 0


def test_out_of_order_acks_wait_for_the_gap() -> None:
    tracker = AckTracker()
    points = [checkpoint(stdout=(T0, n)) for n in range(1, 5)]
    for block, point in enumerate(points):
        tracker.register("c", block * 10, block * 10 + 9, point)
    assert tracker.ack("c", 30, 39) is None
    assert tracker.ack("c", 10, 19) is None
    assert tracker.checkpoint("c") is None
    assert tracker.outstanding("c") == 40  # the ranges done beyond the gap count until it fills
    assert tracker.ack("c", 0, 9) is points[1]  # 0-19 done, 20-29 not
    assert tracker.ack("c", 20, 29) is points[3]
    assert tracker.outstanding("c") == 0


def test_acks_split_differently_from_the_blocks_overlapping_or_repeated() -> None:
    tracker = AckTracker()
    point = checkpoint(stdout=(T0, 1))
    tracker.register("c", 100, 199, point)  # a container's numbering need not start at 0
    assert tracker.ack("c", 150, 160) is None
    assert tracker.ack("c", 155, 199) is None
    assert tracker.ack("c", 120, 170) is None
    assert tracker.ack("c", 100, 119) is point
    assert tracker.ack("c", 100, 199) is None  # again: nothing new


def test_a_line_held_back_holds_the_checkpoint() -> None:
    # A joined event (lines 0, 2, 4 of stdout) leaves after the stderr lines 1 and 3.
    tracker = AckTracker()
    for seq in range(5):
        tracker.register("c", seq, seq, checkpoint(stdout=(T0, seq + 1)))
    assert tracker.ack("c", 1, 1) is None
    assert tracker.ack("c", 3, 3) is None
    for seq in (0, 2):
        tracker.ack("c", seq, seq)
    assert tracker.checkpoint("c") == checkpoint(stdout=(T0, 4))
    assert tracker.ack("c", 4, 4) == checkpoint(stdout=(T0, 5))


def test_many_containers_are_tracked_apart() -> None:
    tracker = AckTracker()
    rng = random.Random(3)
    expected = {}
    acks = []
    for number in range(200):
        cid = f"c{number}"
        for block in range(5):
            point = checkpoint(stdout=(T0, number * 10 + block + 1))
            tracker.register(cid, block * 100, block * 100 + 99, point)
            acks.append((cid, block * 100, block * 100 + 99))
        expected[cid] = point
    rng.shuffle(acks)
    for cid, first, last in acks[:-1]:
        tracker.ack(cid, first, last)
    lagging = acks[-1][0]
    for cid, point in expected.items():
        assert (tracker.checkpoint(cid) == point) is (cid != lagging)
    tracker.ack(*acks[-1])
    assert tracker.checkpoint(lagging) == expected[lagging]


def test_random_out_of_order_acks_never_pass_an_undone_line() -> None:
    rng = random.Random(11)
    tracker = AckTracker()
    blocks = []
    seq = 0
    for index in range(300):
        size = rng.randint(1, 20)
        point = checkpoint(stdout=(T0, index + 1))
        tracker.register("c", seq, seq + size - 1, point)
        blocks.append((seq, seq + size - 1, point))
        seq += size
    done = [False] * seq
    ranges = []
    for first, last, _ in blocks:  # batches cut across blocks
        cut = rng.randint(first, last)
        ranges += [(first, cut), (cut + 1, last)] if cut < last else [(first, last)]
    rng.shuffle(ranges)
    for first, last in ranges:
        result = tracker.ack("c", first, last)
        done[first : last + 1] = [True] * (last + 1 - first)
        frontier = done.index(False) if False in done else seq
        reached = [point for first_, last_, point in blocks if last_ < frontier]
        assert tracker.checkpoint("c") == (reached[-1] if reached else None)
        if result is not None:
            assert result == reached[-1]
    assert tracker.checkpoint("c") == blocks[-1][2]


def test_tracker_refuses_what_would_be_a_bug() -> None:
    tracker = AckTracker()
    point = checkpoint(stdout=(T0, 1))
    tracker.register("c", 0, 9, point)
    with pytest.raises(ValueError, match="expected 10 next"):
        tracker.register("c", 11, 12, point)
    with pytest.raises(ValueError, match="empty range"):
        tracker.register("c", 10, 9, point)
    with pytest.raises(ValueError, match="registered up to 9"):
        tracker.ack("c", 5, 10)


def test_forgotten_containers_ignore_late_acks() -> None:
    tracker = AckTracker()
    tracker.register("c", 0, 9, checkpoint(stdout=(T0, 1)))
    tracker.forget("c")
    assert tracker.ack("c", 0, 9) is None
    assert tracker.checkpoint("c") is None
    assert tracker.outstanding("c") == 0
    assert tracker.ack("never-seen", 0, 0) is None


def test_resume_skips_exactly_the_acknowledged_lines() -> None:
    """Read, acknowledge part, resume with Docker's inclusive ``since``: nothing lost,
    nothing acknowledged shipped again, and the positions (ids) come out the same."""
    rng = random.Random(5)
    lines = []  # (ns, stream): stdout and stderr, many lines per timestamp, inversions
    ns = {"stdout": NS0, "stderr": NS0}
    for _ in range(2000):
        stream = rng.choice(["stdout", "stderr"])
        ns[stream] += rng.choice([0, 0, 0, 1, 1000])
        lines.append((ns[stream], stream))

    def stamp(value: int) -> str:
        seconds, nanos = divmod(value, 10**9)
        return f"2026-11-23T10:00:{seconds - NS0 // 10**9:02d}.{nanos:09d}Z"

    positions = StreamPositions()
    tracker = AckTracker()
    ids = []
    for seq, (value, stream) in enumerate(lines):
        ids.append((value, stream, positions.position(stamp(value), stream)))
        if seq % 7 == 6 or seq == len(lines) - 1:
            point = positions.checkpoint()
            assert point is not None
            tracker.register("c", tracker.next_seq("c"), seq, point)
    acked = set(rng.sample(range(len(lines)), 1500)) | set(range(900))
    for seq in sorted(acked, key=lambda _: rng.random()):
        tracker.ack("c", seq, seq)
    resume_from = tracker.checkpoint("c")
    assert resume_from is not None

    since_seconds, since_nanos = resume_from.since().split(".")
    since = int(since_seconds) * 10**9 + int(since_nanos)
    positions = StreamPositions(resume_from)
    shipped = set()
    for seq, (value, stream) in enumerate(lines):
        if value < since:
            continue  # Docker leaves it out
        position = positions.position(stamp(value), stream)
        assert (value, stream, position) == ids[seq]  # the same id as the first time
        if not resume_from.covers(stamp(value), stream, position):
            shipped.add(seq)
    assert set(range(len(lines))) - acked <= shipped  # nothing lost
    assert shipped & set(range(900)) == set()  # the in-order part is not shipped again


# -- the state file


def test_load_creates_the_directory_and_round_trips(tmp_path: Path) -> None:
    state = tmp_path / "state" / "deeper"
    store = CheckpointStore(state)
    assert store.load() == {}
    assert state.is_dir()
    assert not store.changed
    point = checkpoint(stdout=(T1, 2), stderr=(T0, 1))
    store.update("a" * 64, point)
    store.update("b" * 64, checkpoint(stdout=(T2, 1)))
    assert store.changed
    store.save()
    assert not store.changed
    doc = orjson.loads((state / STATE_FILE).read_bytes())
    assert doc["version"] == FORMAT_VERSION
    assert doc["containers"]["a" * 64] == point.to_json()
    again = CheckpointStore(state)
    assert again.load() == {"a" * 64: point, "b" * 64: checkpoint(stdout=(T2, 1))}
    assert again.get("a" * 64) == point
    assert again.get("c" * 64) is None


def test_update_with_the_same_checkpoint_changes_nothing(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.load()
    point = checkpoint(stdout=(T0, 1))
    store.update("c", point)
    store.save()
    store.update("c", point)
    assert not store.changed


def test_prune_drops_containers_that_are_gone(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.load()
    for cid in ("a", "b", "c"):
        store.update(cid, checkpoint(stdout=(T0, 1)))
    store.save()
    assert store.prune(["a", "c", "new"]) == ["b"]
    assert store.changed
    store.save()
    assert set(CheckpointStore(tmp_path).load()) == {"a", "c"}
    assert store.prune(["a", "c"]) == []
    assert not store.changed


def test_save_if_due_saves_changes_at_most_once_per_interval(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, interval=1.0)
    store.load()
    assert not store.save_if_due(100.0)  # nothing changed
    assert not store.path.exists()
    store.update("c", checkpoint(stdout=(T0, 1)))
    assert store.save_if_due(100.0)  # the first change goes at once
    store.update("c", checkpoint(stdout=(T0, 2)))
    assert not store.save_if_due(100.5)
    assert CheckpointStore(tmp_path).load()["c"] == checkpoint(stdout=(T0, 1))
    assert store.save_if_due(101.0)
    assert CheckpointStore(tmp_path).load()["c"] == checkpoint(stdout=(T0, 2))
    assert not store.save_if_due(105.0)  # nothing new


def failing_fsync(calls: list[int]) -> Callable[[int], None]:
    def fsync(fd: int) -> None:
        calls.append(fd)
        raise OSError(28, "No space left on device")

    return fsync


def test_a_failed_save_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CheckpointStore(tmp_path)
    store.load()
    store.update("c", checkpoint(stdout=(T0, 1)))
    store.save()
    before = store.path.read_bytes()
    store.update("c", checkpoint(stdout=(T1, 1)))
    calls: list[int] = []
    monkeypatch.setattr(os, "fsync", failing_fsync(calls))
    with pytest.raises(CheckpointError) as caught:
        store.save()
    assert calls  # the new content was written, then its fsync failed
    message = str(caught.value)
    assert str(store.path) in message and "No space left on device" in message
    assert "free space" in message
    assert store.path.read_bytes() == before
    assert os.listdir(tmp_path) == [STATE_FILE]  # no temp file left behind
    assert store.changed  # still to be saved
    monkeypatch.undo()
    store.save()
    assert CheckpointStore(tmp_path).load()["c"] == checkpoint(stdout=(T1, 1))


def test_a_failed_rename_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CheckpointStore(tmp_path)
    store.load()
    store.update("c", checkpoint(stdout=(T0, 1)))
    store.save()
    before = store.path.read_bytes()
    store.update("c", checkpoint(stdout=(T1, 1)))

    def crash(source: object, target: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(CheckpointError, match="Input/output error"):
        store.save()
    assert store.path.read_bytes() == before
    assert os.listdir(tmp_path) == [STATE_FILE]


def test_a_failed_save_is_retried_an_interval_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CheckpointStore(tmp_path, interval=1.0)
    store.load()
    store.update("c", checkpoint(stdout=(T0, 1)))
    monkeypatch.setattr(os, "fsync", failing_fsync([]))
    with pytest.raises(CheckpointError):
        store.save_if_due(10.0)
    monkeypatch.undo()
    assert not store.save_if_due(10.5)
    assert store.save_if_due(11.0)
    assert CheckpointStore(tmp_path).load() == {"c": checkpoint(stdout=(T0, 1))}


def test_temp_files_of_an_interrupted_save_are_removed(tmp_path: Path) -> None:
    leftover = tmp_path / f".{STATE_FILE}.k2j3h4.tmp"
    leftover.write_bytes(b'{"version": 1, "contai')  # a save killed halfway
    other = tmp_path / "unrelated.tmp"
    other.write_bytes(b"")
    CheckpointStore(tmp_path).load()
    assert not leftover.exists()
    assert other.exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"version": 1, "contai', "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"version": 2, "containers": {}}', "format version 2; this logwharf reads version 1"),
        (b'{"version": true, "containers": {}}', "format version True"),
        (b'{"version": 1}', 'no "containers" object'),
        (b'{"version": 1, "containers": {"c": {"stdout": {"time": "x", "count": 1}}}}', "c:"),
        (b'{"version": 1, "containers": {"c": {"stdout": {"time": "' + T0.encode() + b'"}}}}', ""),
    ],
)
def test_a_corrupt_file_is_moved_aside_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes, problem: str
) -> None:
    (tmp_path / STATE_FILE).write_bytes(content)
    store = CheckpointStore(tmp_path)
    with caplog.at_level(logging.WARNING, logger="logwharf.shipper"):
        assert store.load() == {}
    (aside,) = [name for name in os.listdir(tmp_path) if name.startswith(f"{STATE_FILE}.corrupt-")]
    assert (tmp_path / aside).read_bytes() == content  # kept for whoever looks into it
    assert not store.path.exists()
    (record,) = caplog.records
    message = record.getMessage()
    assert str(store.path) in message and aside in message and problem in message
    assert "starting without checkpoints" in message
    # the shipper goes on: the next save writes a fresh file
    store.update("c", checkpoint(stdout=(T0, 1)))
    store.save()
    assert CheckpointStore(tmp_path).load() == {"c": checkpoint(stdout=(T0, 1))}


def test_a_second_corrupt_file_does_not_overwrite_the_first(tmp_path: Path) -> None:
    for content in (b"first", b"second"):
        (tmp_path / STATE_FILE).write_bytes(content)
        CheckpointStore(tmp_path).load()
    kept = sorted(
        (tmp_path / name).read_bytes() for name in os.listdir(tmp_path) if "corrupt" in name
    )
    assert kept == [b"first", b"second"]


def test_an_unreadable_file_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).mkdir()  # reading it fails whoever runs the test, root included
    with pytest.raises(CheckpointError) as caught:
        CheckpointStore(tmp_path).load()
    message = str(caught.value)
    assert f"cannot read the checkpoint file {tmp_path / STATE_FILE}" in message
    assert "--state-dir" in message


def test_a_state_dir_that_cannot_be_created_is_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"cannot create the state directory .*--state-dir"):
        CheckpointStore(blocker / "state").load()
