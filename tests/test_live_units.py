"""Pieces of ``logwharf run`` tested alone: the replay an attach that came late gives twice
(``_without_replay``), forgetting a removed container's checkpoint (``CheckpointStore.remove``),
and the acknowledgement the live shipper waits for, ``BulkIndexer.write_encoded``'s
``on_done``, against the Elasticsearch-compatible server."""

from __future__ import annotations

import json
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
from logwharf.live import _without_replay
from logwharf.shipper.checkpoints import STATE_FILE, Checkpoint, CheckpointStore, Mark
from logwharf.shipper.frames import LogRecord

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
