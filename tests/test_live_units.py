"""Pieces of ``logwharf run`` tested alone: the replay an attach that came late gives twice
(``_without_replay``), forgetting a removed container's checkpoint (``CheckpointStore.remove``),
and the acknowledgement the live shipper waits for, ``BulkIndexer.write_encoded``'s
``on_done``, against the Elasticsearch-compatible server."""

from __future__ import annotations

import asyncio
import json
import struct
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from logwharf.elk.config import EsConfig
from logwharf.elk.encoder import BulkEncoder, EncodedBatch
from logwharf.elk.indexer import BulkIndexer, IndexerStats
from logwharf.events import Event
from logwharf.live import LiveOptions, LiveShipper, _without_replay
from logwharf.live_read import Container, LogsReader
from logwharf.processor.default import DefaultProcessor
from logwharf.processor.stage import Pipeline
from logwharf.shipper.checkpoints import (
    STATE_FILE,
    Checkpoint,
    CheckpointStore,
    Mark,
    StreamPositions,
)
from logwharf.shipper.frames import LogRecord
from logwharf.shipper.multiline import Multiline, MultilineConfig

# --- _without_replay ---------------------------------------------------------------------


def out(text: str) -> LogRecord:
    return LogRecord("stdout", None, text)


def err(text: str) -> LogRecord:
    return LogRecord("stderr", None, text)


def test_doubled_output_is_taken_once() -> None:
    records = [out("a"), out("b"), out("c"), out("a"), out("b"), out("c")]
    assert _without_replay(records) == [out("a"), out("b"), out("c")]


def test_a_single_line_given_twice_is_taken_once() -> None:
    assert _without_replay([out("only"), out("only")]) == [out("only")]


@pytest.mark.parametrize(
    "texts",
    [
        [],
        ["a"],
        ["a", "b"],
        ["a", "b", "a"],  # odd: not two copies
        ["a", "b", "b", "a"],  # the second half is not the first
        ["a", "b", "c", "a", "b", "d"],
        ["a", "a", "a"],
    ],
)
def test_output_that_is_not_doubled_is_kept_whole(texts: list[str]) -> None:
    records = [out(text) for text in texts]
    assert _without_replay(records) == records


def test_each_stream_is_judged_on_its_own() -> None:
    # stdout doubled, stderr not: the stderr lines all stay, in their places.
    records = [out("a"), err("x"), out("b"), out("a"), err("y"), out("b")]
    assert _without_replay(records) == [out("a"), err("x"), out("b"), err("y")]


def test_both_streams_doubled_and_interleaved() -> None:
    first = [out("a"), err("x"), out("b"), err("y")]
    second = [err("x"), out("a"), err("y"), out("b")]  # the replay's order may differ
    assert _without_replay(first + second) == first


def test_a_stream_doubled_with_another_that_only_looks_doubled_across_streams() -> None:
    # "a" on stdout and "a" on stderr are not copies of each other.
    records = [out("a"), err("a")]
    assert _without_replay(records) == records


def test_the_first_copy_is_the_one_kept() -> None:
    # Same texts, different flags: the records kept are those of the first half.
    first = LogRecord("stdout", None, "cut", truncated=True)
    again = LogRecord("stdout", None, "cut", truncated=False)
    kept = _without_replay([first, again])
    assert len(kept) == 1 and kept[0] is first


# --- CheckpointStore.remove ------------------------------------------------------------

CID = "0123456789abcdef" * 4
OTHER = "fedcba9876543210" * 4
T0 = "2026-11-23T10:00:00.000000000Z"


def saved_ids(state_dir: Path) -> set[str]:
    return set(orjson.loads((state_dir / STATE_FILE).read_bytes())["containers"])


def test_remove_forgets_a_container_and_the_next_save_drops_it(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.load()
    checkpoint = Checkpoint({"stdout": Mark(T0, 2)})
    store.update(CID, checkpoint)
    store.update(OTHER, checkpoint)
    store.save()
    assert saved_ids(tmp_path) == {CID, OTHER}
    assert not store.changed
    store.remove(CID)
    assert store.changed
    assert store.get(CID) is None
    assert store.get(OTHER) is checkpoint
    store.save()
    assert saved_ids(tmp_path) == {OTHER}
    reloaded = CheckpointStore(tmp_path)
    assert set(reloaded.load()) == {OTHER}


def test_removing_an_unknown_container_changes_nothing(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.load()
    store.update(OTHER, Checkpoint({"stderr": Mark(T0, 1)}))
    store.save()
    store.remove(CID)
    assert not store.changed
    assert not store.save_if_due(1e9)  # nothing to write
    store.remove(OTHER)
    store.remove(OTHER)  # twice: still just gone
    assert store.changed
    assert store.save_if_due(1e9)
    assert saved_ids(tmp_path) == set()


# --- BulkIndexer.write_encoded(on_done=...) ----------------------------------------------

INDEX = "on-done"


def events(numbers: range) -> list[Event]:
    return [
        {
            "_id": f"event-{n}",
            "@timestamp": "2026-11-23T10:00:00.000000000Z",
            "message": f"line {n}",
        }
        for n in numbers
    ]


def encode(numbers: range) -> EncodedBatch:
    return BulkEncoder(INDEX).encode(events(numbers))


def count(url: str) -> int:
    refresh = urllib.request.Request(f"{url}/{INDEX}/_refresh", method="POST")
    urllib.request.urlopen(refresh, timeout=60).close()
    with urllib.request.urlopen(f"{url}/{INDEX}/_count", timeout=60) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return int(answer["count"])


class Done:
    """An ``on_done`` that records the indexer's counts at each call."""

    def __init__(self, indexer: BulkIndexer) -> None:
        self.indexer = indexer
        self.calls: list[IndexerStats] = []

    def __call__(self) -> None:
        stats = self.indexer.stats
        self.calls.append(IndexerStats(**vars(stats)))


def indexer_for(url: str, tmp_path: Path, **settings: Any) -> BulkIndexer:
    config = EsConfig(
        urls=[url], index=INDEX, dead_letter_path=tmp_path / "dead.ndjson", **settings
    )
    return BulkIndexer(config)


NewIndexer = Callable[..., BulkIndexer]


@pytest.fixture
def new_indexer(osmem_clone: Any, tmp_path: Path) -> NewIndexer:
    def make(**settings: Any) -> BulkIndexer:
        return indexer_for(osmem_clone.url, tmp_path, **settings)

    return make


async def test_on_done_once_after_every_event_is_indexed(
    new_indexer: NewIndexer, osmem_clone: Any
) -> None:
    indexer = new_indexer()
    await indexer.start()
    done = Done(indexer)
    await indexer.write_encoded(encode(range(25)), done)
    await indexer.close()
    assert len(done.calls) == 1
    assert done.calls[0].indexed == 25  # called only once all 25 were answered
    assert done.calls[0].settled == 25
    assert count(osmem_clone.url) == 25


async def test_on_done_once_when_the_body_is_split(
    new_indexer: NewIndexer, osmem_clone: Any
) -> None:
    indexer = new_indexer(batch_events=7, concurrency=3)
    await indexer.start()
    done = Done(indexer)
    await indexer.write_encoded(encode(range(30)), done)  # 7 + 7 + 7 + 7 + 2
    await indexer.close()
    assert indexer.stats.requests == 5
    assert len(done.calls) == 1
    assert done.calls[0].settled == 30  # after the last part, not after the first
    assert count(osmem_clone.url) == 30


async def test_on_done_of_several_bodies_each_once(
    new_indexer: NewIndexer, osmem_clone: Any
) -> None:
    indexer = new_indexer(batch_events=4, concurrency=2)
    await indexer.start()
    dones = [Done(indexer) for _ in range(5)]
    for n, done in enumerate(dones):
        await indexer.write_encoded(encode(range(10 * n, 10 * n + 10)), done)
    await indexer.close()
    assert [len(done.calls) for done in dones] == [1] * 5
    for done in dones:
        assert done.calls[0].settled >= 10
    assert indexer.stats.settled == 50
    assert count(osmem_clone.url) == 50


async def test_on_done_once_when_some_items_are_duplicates(
    new_indexer: NewIndexer, osmem_clone: Any
) -> None:
    indexer = new_indexer(batch_events=6)
    await indexer.start()
    first = Done(indexer)
    await indexer.write_encoded(encode(range(0, 20, 2)), first)  # the even ones
    await indexer.close()
    assert len(first.calls) == 1 and first.calls[0].indexed == 10

    indexer = new_indexer(batch_events=6)
    await indexer.start()
    again = Done(indexer)
    await indexer.write_encoded(encode(range(20)), again)  # evens are 409 now
    await indexer.close()
    assert len(again.calls) == 1
    assert again.calls[0].indexed == 10
    assert again.calls[0].duplicates == 10
    assert again.calls[0].dead_lettered == 0
    assert count(osmem_clone.url) == 20


async def test_on_done_once_when_every_item_is_a_duplicate(
    new_indexer: NewIndexer, osmem_clone: Any
) -> None:
    indexer = new_indexer()
    await indexer.start()
    await indexer.write_encoded(encode(range(8)))
    await indexer.close()
    indexer = new_indexer(batch_events=3)
    await indexer.start()
    done = Done(indexer)
    await indexer.write_encoded(encode(range(8)), done)
    await indexer.close()
    assert len(done.calls) == 1
    assert done.calls[0].duplicates == 8 and done.calls[0].indexed == 0
    assert count(osmem_clone.url) == 8


async def test_on_done_once_with_indexed_duplicate_and_refused_items_mixed(
    new_indexer: NewIndexer, osmem_clone: Any, tmp_path: Path
) -> None:
    indexer = new_indexer()
    await indexer.start()
    await indexer.write_encoded(encode(range(5)))
    await indexer.close()
    mixed = events(range(10))
    mixed[7]["message"] = {"an": "object"}  # message is text in the index: refused, 400
    indexer = new_indexer(batch_events=4)
    await indexer.start()
    done = Done(indexer)
    await indexer.write_encoded(BulkEncoder(INDEX).encode(mixed), done)
    await indexer.close()
    assert len(done.calls) == 1
    at_done = done.calls[0]
    assert (at_done.indexed, at_done.duplicates, at_done.dead_lettered) == (4, 5, 1)
    assert count(osmem_clone.url) == 9
    dead = [orjson.loads(line) for line in (tmp_path / "dead.ndjson").read_bytes().splitlines()]
    assert len(dead) == 1 and dead[0]["status"] == 400


async def test_on_done_for_a_body_of_no_events(new_indexer: NewIndexer) -> None:
    indexer = new_indexer()
    await indexer.start()
    done = Done(indexer)
    await indexer.write_encoded(EncodedBatch(b"", 0, []), done)
    await indexer.close()
    assert len(done.calls) == 1
    assert indexer.stats.requests == 0


# --- LiveShipper: encoded chunks into requests, acknowledgements as ranges ----------------


class HeldSink:
    """Keeps each request and its ``on_done`` for the test to complete in any order."""

    def __init__(self) -> None:
        self.requests: list[tuple[EncodedBatch, Callable[[], None] | None]] = []
        self.closed = False

    async def write_encoded(
        self, encoded: EncodedBatch, on_done: Callable[[], None] | None = None
    ) -> None:
        self.requests.append((encoded, on_done))

    async def close(self) -> None:
        self.closed = True


def frames_of(first: int, count: int, stream: str = "stdout") -> bytes:
    kind = 1 if stream == "stdout" else 2
    data = b""
    for n in range(first, first + count):
        payload = f"2026-11-23T10:00:{n // 1000:02d}.{n % 1000:09d}Z line {n}\n".encode()
        data += struct.pack(">B3xL", kind, len(payload)) + payload
    return data


def shipper_with(
    tmp_path: Path, sink: HeldSink, batch_events: int, mode: str = "off"
) -> tuple[LiveShipper, CheckpointStore]:
    options = LiveOptions(
        state_dir=tmp_path,
        batch_events=batch_events,
        flush_seconds=30.0,
        multiline=MultilineConfig(mode=mode),  # type: ignore[arg-type]
        host_name="test-host",
    )
    store = CheckpointStore(tmp_path)
    store.load()
    shipper = LiveShipper(options, sink, asyncio.Event(), store)
    shipper.encode = BulkEncoder(INDEX).encode  # as with --es
    return shipper, store


def reader_for(shipper: LiveShipper, container_id: str, mode: str) -> tuple[Container, LogsReader]:
    container = Container(
        container_id,
        {"id": container_id},
        {},
        False,
        Multiline(MultilineConfig(mode=mode)),  # type: ignore[arg-type]
    )
    shipper.containers[container_id] = container
    reader = LogsReader(
        container,
        shipper.host,
        shipper.pipeline,
        shipper.tracker,
        StreamPositions(None),
        None,
        processor=shipper.processor,
        max_event_bytes=1 << 20,
    )
    return container, reader


@pytest.mark.parametrize("mode", ["off", "auto"])
async def test_chunks_become_requests_of_at_most_batch_events_acknowledged_in_any_order(
    tmp_path: Path, mode: str
) -> None:
    sink = HeldSink()
    shipper, store = shipper_with(tmp_path, sink, batch_events=50)
    batcher = asyncio.create_task(shipper._batch())
    readers = {cid: reader_for(shipper, cid, mode) for cid in (CID, OTHER)}
    for first in range(0, 240, 30):  # chunks of 30 lines, the two containers in turn
        for container, reader in readers.values():
            chunk = reader.feed(frames_of(first, 30), 1.0)
            await shipper._put(container, chunk)
    for container, _ in readers.values():
        shipper._emit_joined(container, container.multiline.flush())  # auto holds the last
    await shipper._last_flush(batcher)
    assert sink.closed
    counts = [encoded.count for encoded, _ in sink.requests]
    assert sum(counts) == 480 and max(counts) <= 50
    bodies = b"".join(encoded.body for encoded, _ in sink.requests)
    messages = [orjson.loads(line)["message"] for line in bodies.splitlines()[1::2]]
    assert sorted(messages) == sorted(f"line {n}" for n in range(240) for _ in range(2))
    assert shipper.tracker.outstanding(CID) == 240
    # The requests finish last first: no checkpoint until the first one is done.
    for _, on_done in reversed(sink.requests[1:]):
        assert on_done is not None
        on_done()
    # The first request held only the first container's first lines (two chunks of 30 are
    # more than 50): its checkpoint waits for them, the other container's does not.
    assert store.get(CID) is None
    assert store.get(OTHER) == readers[OTHER][1].positions.checkpoint()
    first_done = sink.requests[0][1]
    assert first_done is not None
    first_done()
    for cid, (_, reader) in readers.items():
        assert shipper.tracker.outstanding(cid) == 0
        assert store.get(cid) == reader.positions.checkpoint()
        assert store.get(cid) == Checkpoint({"stdout": Mark("2026-11-23T10:00:00.000000239Z", 1)})


async def test_a_chunk_whose_events_a_stage_dropped_is_acknowledged_at_once(
    tmp_path: Path,
) -> None:
    sink = HeldSink()
    shipper, store = shipper_with(tmp_path, sink, batch_events=50)
    shipper.pipeline = Pipeline([DefaultProcessor(), lambda event: None])
    batcher = asyncio.create_task(shipper._batch())
    container, reader = reader_for(shipper, CID, "off")
    await shipper._put(container, reader.feed(frames_of(0, 10), 1.0))
    await shipper._last_flush(batcher)
    assert sink.requests == []  # nothing to send
    assert shipper.tracker.outstanding(CID) == 0
    assert store.get(CID) == Checkpoint({"stdout": Mark("2026-11-23T10:00:00.000000009Z", 1)})
