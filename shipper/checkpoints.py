"""Per-container checkpoints: where each container's logs resume after a restart.

A checkpoint holds, per stream, the Docker timestamp of the newest line acknowledged in
order and how many lines of that stream carry exactly that timestamp. Docker's ``since`` is
inclusive and its timestamps are the only key it filters on, so the lines at the boundary come
again on resume; their position among the lines with their timestamp (the one that goes into
their ids) tells which were acknowledged. Marks are per stream because the order of
timestamps between stdout and stderr is not the order Docker writes lines in.

- ``StreamPositions`` numbers a container's lines as they are read (positions for the ids) and
  says what the checkpoint would be if everything read so far were acknowledged.
- ``AckTracker`` turns out-of-order acknowledgements of batches into in-order checkpoints: a
  container's checkpoint advances only when every line read before it is done (indexed,
  already present, or dead-lettered).
- ``CheckpointStore`` keeps them in one small JSON file in the state directory, replaced
  atomically (temp file, fsync, rename, fsync of the directory) at most once per interval.

A state file that cannot be parsed is moved aside with a warning and the shipper starts
without checkpoints: refusing to start would stop shipping until someone intervenes, and
Docker may rotate lines away meanwhile, while starting over only re-reads lines, which their
deterministic ids make harmless. A file or directory that cannot be read or written at all
raises ``CheckpointError``: nothing could be saved either, and the message says what to fix.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import logging
import os
import re
import tempfile
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "FORMAT_VERSION",
    "STATE_FILE",
    "AckTracker",
    "Checkpoint",
    "CheckpointError",
    "CheckpointStore",
    "Mark",
    "StreamPositions",
    "timestamp_ns",
]

log = logging.getLogger("logwharf.shipper")

STATE_FILE = "checkpoints.json"
FORMAT_VERSION = 1
STREAMS = ("stdout", "stderr")
# How far a line's timestamp can trail one Docker wrote before it on the other stream (its
# stdout and stderr copiers stamp lines before they take turns writing them). Resuming this
# much earlier costs re-reading lines that are then recognised and skipped.
DEFAULT_SKEW_SECONDS = 1.0

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:[Zz]|([+-])(\d{2}):(\d{2}))"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_SECOND = timedelta(seconds=1)


class CheckpointError(Exception):
    """The state directory or file cannot be used; the message says what to do."""


def timestamp_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp (Docker's, 0-9 fraction digits).

    Values, not strings, are compared: the json-file log trims trailing zeros of the fraction
    (``.1Z`` sorts after ``.12Z`` as a string) where the logs API prints nine digits.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    moment = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC
    )
    seconds = (moment - _EPOCH) // _ONE_SECOND
    if sign is not None:
        offset = int(off_h) * 3600 + int(off_m) * 60
        seconds -= offset if sign == "+" else -offset
    return seconds * 1_000_000_000 + (int(fraction.ljust(9, "0")) if fraction else 0)


@dataclass(frozen=True, slots=True)
class Mark:
    """A stream's newest acknowledged line: its timestamp, and how many lines of the stream
    with exactly that timestamp are acknowledged (positions ``0 .. count - 1``)."""

    time: str
    count: int
    ns: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if type(self.count) is not int or self.count < 1:
            raise ValueError(f"a mark's count must be a positive integer: {self.count!r}")
        object.__setattr__(self, "ns", timestamp_ns(self.time))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where a container resumes: a ``Mark`` per stream that has acknowledged lines."""

    marks: Mapping[str, Mark]

    @property
    def time(self) -> str:
        """The timestamp of the newest acknowledged line."""
        return max(self.marks.values(), key=lambda mark: mark.ns).time

    def covers(self, time: str, stream: str, position: int) -> bool:
        """True for a line re-read on resume that was acknowledged before: skip it.

        Once it answers False for a stream it will for every later line of that stream
        (Docker's timestamps only grow within a stream), so callers can stop asking.
        """
        mark = self.marks.get(stream)
        if mark is None:
            return False
        if time != mark.time:  # the same instant may be spelled otherwise (``.1Z``)
            ns = timestamp_ns(time)
            if ns != mark.ns:
                return ns < mark.ns
        return position < mark.count

    def since(self, skew_seconds: float = DEFAULT_SKEW_SECONDS) -> str:
        """Docker's ``since`` for resuming: ``SECONDS.NANOS``, nine fraction digits.

        Early enough for every line not yet acknowledged: a stream's next line is no older
        than its own mark, and no line still unread is older than the newest mark by more than
        the skew between streams (which also bounds a stream with no mark yet).
        """
        newest = max(mark.ns for mark in self.marks.values())
        floor = newest - int(skew_seconds * 1_000_000_000)
        resume = min(
            max(self.marks[stream].ns, floor) if stream in self.marks else floor
            for stream in STREAMS
        )
        seconds, nanos = divmod(max(resume, 0), 1_000_000_000)
        return f"{seconds}.{nanos:09d}"

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {
            stream: {"time": mark.time, "count": mark.count}
            for stream, mark in sorted(self.marks.items())
        }

    @classmethod
    def from_json(cls, doc: Any) -> Checkpoint:
        if not isinstance(doc, dict) or not doc:
            raise ValueError("a checkpoint must be a non-empty object of streams")
        marks = {}
        for stream, mark in doc.items():
            if not isinstance(mark, dict) or not isinstance(mark.get("time"), str):
                raise ValueError(f'stream {stream!r}: expected {{"time": ..., "count": ...}}')
            marks[stream] = Mark(mark["time"], mark.get("count", 0))
        return cls(marks)


class StreamPositions:
    """Numbers one container's lines as they are read, per stream and timestamp.

    ``position`` gives each line its position among the lines of its stream with the same
    timestamp (part of its id); ``checkpoint`` is the checkpoint that holds once every line
    numbered so far is acknowledged. Lines skipped on resume are numbered too. Start it from
    the container's stored checkpoint, so that a stream that stays quiet keeps its mark.
    """

    __slots__ = ("_counts", "_latest", "_start", "_times")

    def __init__(self, start: Checkpoint | None = None) -> None:
        self._start: dict[str, Mark] = dict(start.marks) if start is not None else {}
        self._times: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._latest: Checkpoint | None = start

    def position(self, time: str, stream: str) -> int:
        self._latest = None
        if self._times.get(stream) == time:
            position = self._counts[stream]
            self._counts[stream] = position + 1
            return position
        self._times[stream] = time
        self._counts[stream] = 1
        return 0

    def numbering(self) -> tuple[dict[str, str], dict[str, int]]:
        """The live per-stream (timestamp, count) of ``position``, for a reader that numbers
        lines itself the same way (it then calls ``renumbered``)."""
        return self._times, self._counts

    def renumbered(self) -> None:
        """Lines were numbered through ``numbering``: the checkpoint is made anew."""
        if self._times:
            self._latest = None

    def checkpoint(self) -> Checkpoint | None:
        """None while nothing was read and there was no start."""
        if self._latest is None and self._times:
            marks = dict(self._start)
            counts = self._counts
            for stream, time in self._times.items():
                marks[stream] = Mark(time, counts[stream])
            self._latest = Checkpoint(marks)
        return self._latest


class _Acks:
    __slots__ = ("checkpoint", "done", "early", "marks", "registered")

    def __init__(self, done: int) -> None:
        self.done = done  # every sequence number up to this one is done
        self.registered = done  # the last sequence number registered
        self.early: list[tuple[int, int]] = []  # heap of done ranges beyond a gap
        self.marks: deque[tuple[int, Checkpoint]] = deque()  # (last seq, its checkpoint)
        self.checkpoint: Checkpoint | None = None


class AckTracker:
    """Out-of-order acknowledgements in, in-order checkpoints out, per container.

    The reader numbers each container's lines in the order it reads them (consecutive
    sequence numbers, never reused) and registers each block it read with the checkpoint
    that holds once that block and all before it are done. Acknowledgements of ranges come
    in any order; a checkpoint is returned when it becomes the container's new one. A line
    held back (joined with later lines, queued) simply stays undone until it is acknowledged,
    so the checkpoint never passes it. Cost per call: O(1) in order, O(log n) out of order.
    """

    def __init__(self) -> None:
        self._containers: dict[str, _Acks] = {}

    def next_seq(self, container_id: str) -> int:
        """The sequence number the container's next registered line must have."""
        state = self._containers.get(container_id)
        return 0 if state is None else state.registered + 1

    def register(
        self, container_id: str, first_seq: int, last_seq: int, checkpoint: Checkpoint
    ) -> None:
        if last_seq < first_seq:
            raise ValueError(f"empty range {first_seq}..{last_seq}")
        state = self._containers.get(container_id)
        if state is None:
            state = self._containers[container_id] = _Acks(first_seq - 1)
        elif first_seq != state.registered + 1:
            raise ValueError(
                f"container {container_id}: registered {first_seq}..{last_seq}, "
                f"expected {state.registered + 1} next"
            )
        state.registered = last_seq
        state.marks.append((last_seq, checkpoint))

    def ack(self, container_id: str, first_seq: int, last_seq: int) -> Checkpoint | None:
        """Lines ``first_seq .. last_seq`` are done; the container's new checkpoint, if any.

        Acknowledgements for a container that was forgotten are ignored (its last batches can
        come back after it was removed).
        """
        state = self._containers.get(container_id)
        if state is None:
            return None
        if last_seq < first_seq or last_seq > state.registered:
            raise ValueError(
                f"container {container_id}: acknowledged {first_seq}..{last_seq}, "
                f"registered up to {state.registered}"
            )
        if last_seq <= state.done:
            return None
        if first_seq > state.done + 1:
            heapq.heappush(state.early, (first_seq, last_seq))
            return None
        done = last_seq
        early = state.early
        while early and early[0][0] <= done + 1:
            done = max(done, heapq.heappop(early)[1])
        state.done = done
        marks = state.marks
        checkpoint = None
        while marks and marks[0][0] <= done:
            checkpoint = marks.popleft()[1]
        if checkpoint is not None:
            state.checkpoint = checkpoint
        return checkpoint

    def checkpoint(self, container_id: str) -> Checkpoint | None:
        """The newest in-order checkpoint reached since the container was registered."""
        state = self._containers.get(container_id)
        return None if state is None else state.checkpoint

    def outstanding(self, container_id: str) -> int:
        """Lines registered past the in-order point (some may be done out of order); zero
        once every registered line is done."""
        state = self._containers.get(container_id)
        return 0 if state is None else state.registered - state.done

    def forget(self, container_id: str) -> None:
        self._containers.pop(container_id, None)


class CheckpointStore:
    """The checkpoints of every container, in ``STATE_FILE`` in the state directory.

    ``update`` changes memory only; ``save_if_due`` writes within ``interval`` seconds of a
    change (call it often, and after acknowledgements), ``save`` at once. ``save`` may run in
    another thread while ``update`` goes on: it writes a copy taken first.
    """

    def __init__(self, state_dir: str | os.PathLike[str], interval: float = 1.0) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / STATE_FILE
        self.interval = interval
        self._checkpoints: dict[str, Checkpoint] = {}
        self._changed = False
        self._saved_at: float | None = None

    @property
    def changed(self) -> bool:
        """Something changed since the last save."""
        return self._changed

    def load(self) -> dict[str, Checkpoint]:
        """The saved checkpoints (none if there is no file yet); creates the directory."""
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CheckpointError(
                f"cannot create the state directory {self.state_dir}: {_reason(error)}; "
                "create it writable for this user, or choose another --state-dir"
            ) from None
        self._remove_leftovers()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = None
        except OSError as error:
            raise CheckpointError(
                f"cannot read the checkpoint file {self.path}: {_reason(error)}; make it "
                "readable and writable for this user, or choose another --state-dir"
            ) from None
        checkpoints: dict[str, Checkpoint] = {}
        if data is not None:
            try:
                checkpoints = _decode(data)
            except ValueError as problem:
                self._move_aside(str(problem))
        self._checkpoints = checkpoints
        self._changed = False
        return dict(checkpoints)

    def get(self, container_id: str) -> Checkpoint | None:
        return self._checkpoints.get(container_id)

    def update(self, container_id: str, checkpoint: Checkpoint) -> None:
        if self._checkpoints.get(container_id) is not checkpoint:
            self._checkpoints[container_id] = checkpoint
            self._changed = True

    def remove(self, container_id: str) -> None:
        """Forgets a container that was removed."""
        if self._checkpoints.pop(container_id, None) is not None:
            self._changed = True

    def prune(self, existing_ids: Iterable[str]) -> list[str]:
        """Drops the checkpoints of containers not in ``existing_ids``; returns their ids.

        Pass every container that exists, stopped ones included: a stopped container that
        starts again resumes from its checkpoint.
        """
        keep = set(existing_ids)
        gone = [cid for cid in self._checkpoints if cid not in keep]
        for cid in gone:
            del self._checkpoints[cid]
        if gone:
            self._changed = True
        return gone

    def save_if_due(self, now: float) -> bool:
        """Saves if something changed and the last save is ``interval`` old (``now`` is a
        monotonic clock reading); True if it saved. A failed save is retried an interval
        later, not at every call."""
        if not self._changed:
            return False
        if self._saved_at is not None and now - self._saved_at < self.interval:
            return False
        self._saved_at = now
        self.save()
        return True

    def save(self) -> None:
        """Writes every checkpoint atomically; raises ``CheckpointError`` if it cannot."""
        self._changed = False
        snapshot = dict(self._checkpoints)  # one C-level copy: safe while update() goes on
        doc = {
            "version": FORMAT_VERSION,
            "containers": {cid: checkpoint.to_json() for cid, checkpoint in snapshot.items()},
        }
        data = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        try:
            self._write(data)
        except OSError as error:
            self._changed = True
            raise CheckpointError(
                f"cannot save checkpoints to {self.path}: {_reason(error)}; free space or fix "
                f"the permissions of {self.state_dir} (until then a restart re-reads more "
                "lines, which their ids make harmless)"
            ) from None

    def _write(self, data: bytes) -> None:
        # The old file stays whole until the new one is complete on disk: a crash at any
        # point leaves one or the other, never a mix.
        fd, temp = tempfile.mkstemp(prefix=f".{STATE_FILE}.", suffix=".tmp", dir=self.state_dir)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        _fsync_directory(self.state_dir)  # makes the rename itself durable

    def _remove_leftovers(self) -> None:
        """Temp files of a save that a crash interrupted."""
        for leftover in self.state_dir.glob(f".{STATE_FILE}.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()

    def _move_aside(self, problem: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{STATE_FILE}.corrupt-{stamp}")
        number = 1
        while aside.exists():
            number += 1
            aside = self.path.with_name(f"{STATE_FILE}.corrupt-{stamp}-{number}")
        try:
            os.rename(self.path, aside)
        except OSError as error:
            raise CheckpointError(
                f"the checkpoint file {self.path} is not usable ({problem}) and cannot be "
                f"moved aside: {_reason(error)}; delete it to start without checkpoints"
            ) from None
        log.warning(
            "the checkpoint file %s is not usable (%s); moved it to %s and starting without "
            "checkpoints: containers are followed as if seen for the first time, and lines "
            "read again keep their ids, so none is indexed twice",
            self.path,
            problem,
            aside,
        )


def _decode(data: bytes) -> dict[str, Checkpoint]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"not valid JSON: {error}") from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    version = doc.get("version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise ValueError(
            f"format version {version!r}; this logwharf reads version {FORMAT_VERSION}"
        )
    containers = doc.get("containers")
    if not isinstance(containers, dict):
        raise ValueError('no "containers" object')
    checkpoints = {}
    for cid, checkpoint in containers.items():
        try:
            checkpoints[cid] = Checkpoint.from_json(checkpoint)
        except ValueError as error:
            raise ValueError(f"container {cid}: {error}") from None
    return checkpoints


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP):  # filesystems that cannot
            raise
    finally:
        os.close(fd)


def _reason(error: OSError) -> str:
    return error.strerror or str(error)
