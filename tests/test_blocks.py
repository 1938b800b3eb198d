"""Worker processes must change nothing: the same bulk bodies, ids and counts as in-process.

The inputs are built so that blocks end inside runs that carry state: Docker's 16 KiB
partial records (both streams interleaved) and runs of equal timestamps, whose position is
part of a container event's id.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

import logwharf.blocks as blocks
from logwharf.blocks import Counters, Work, run_blocks
from logwharf.elk.encoder import EncodedBatch
from logwharf.events import Event
from logwharf.shipper.files import FileSource

CONTAINER = "c" * 64


class Collect:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.batches: list[EncodedBatch] = []

    async def write_batch(self, events: list[Event]) -> None:  # pragma: no cover - unused
        raise AssertionError("run_blocks writes encoded bodies")

    async def write_encoded(self, encoded: EncodedBatch) -> None:
        self.bodies.append(encoded.body)
        self.batches.append(encoded)


def docker_line(log: str, stream: str, time: str) -> str:
    return json.dumps({"log": log, "stream": stream, "time": time}, separators=(",", ":")) + "\n"


def write_docker_log(path: Path, records: int, long_every: int) -> None:
    lines = []
    for n in range(records):
        # Runs of three equal timestamps per stream, as a coarse clock gives.
        time = f"2026-11-23T10:00:{(n // 3) % 60:02d}.{n // 180:09d}Z"
        stream = "stderr" if n % 7 == 0 else "stdout"
        if n % long_every == 0:  # a long line in 16 KiB pieces, other stream interleaved
            text = f"long {n} " + "x" * 40_000
            pieces = [text[i : i + 16384] for i in range(0, len(text), 16384)]
            for index, piece in enumerate(pieces):
                last = index == len(pieces) - 1
                lines.append(docker_line(piece + ("\n" if last else ""), stream, time))
                if not last:
                    lines.append(docker_line(f'{{"msg":"between {n}"}}\n', "stderr", time))
        else:
            body = f'{{"level":"info","msg":"event {n}","n":{n}}}' if n % 5 else f"plain {n}"
            lines.append(docker_line(body + "\n", stream, time))
    path.write_text("".join(lines))


async def run(files: list[Path], workers: int) -> tuple[bytes, Counters, int]:
    source = FileSource(files, chunk_bytes=64 * 1024, host_name="test-host")
    sink = Collect()
    work = Work(
        read_time="2026-11-23T12:00:00.000Z", max_event_bytes=1 << 20, bulk=True, index="logs"
    )
    counters = await run_blocks(source, sink, work, workers, asyncio.Event(), Counters())
    return b"".join(sink.bodies), counters, source.stats.lines


@pytest.fixture
def inputs(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "containers" / CONTAINER
    folder.mkdir(parents=True)
    container_log = folder / f"{CONTAINER}-json.log"
    write_docker_log(container_log, 12000, long_every=2999)
    plain_docker = tmp_path / "copied.log"
    write_docker_log(plain_docker, 8000, long_every=397)
    text = tmp_path / "app.txt"
    text.write_text("".join(f"2026-11-23 10:00:00 INFO line {n}\n" for n in range(5000)))
    return [container_log, plain_docker, text]


async def test_workers_give_exactly_the_in_process_output(
    inputs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    redone = []
    must_redo = blocks._must_redo

    def counting(decoder: Any, result: Any) -> bool:
        redone.append(must_redo(decoder, result))
        return redone[-1]

    monkeypatch.setattr(blocks, "_must_redo", counting)
    alone, alone_counters, lines = await run(inputs, 0)
    redone.clear()
    parallel, parallel_counters, _ = await run(inputs, 2)
    # Both kinds of block occurred: some workers' results were taken, some blocks (a
    # partial record at an edge) had to be done again here.
    assert any(redone) and not all(redone)
    assert parallel == alone
    assert parallel_counters == alone_counters
    ids = [json.loads(line)["create"]["_id"] for line in alone.splitlines()[0::2]]
    assert len(ids) == len(set(ids)) == alone_counters.events
    assert alone_counters.events + alone_counters.empty_lines < lines  # partials were joined


class DyingWork(Work):
    """Its workers die on the block that holds "line 3000", as an OOM kill would end them."""

    def build(self) -> tuple[Any, Any, Any]:
        pipeline, processor, encode = super().build()

        def encode_or_die(events: list[Event]) -> EncodedBatch:
            if multiprocessing.parent_process() is not None and any(
                e["message"].endswith("line 3000") for e in events
            ):
                os._exit(1)
            return encode(events)

        return pipeline, processor, encode_or_die


async def test_a_dead_worker_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = tmp_path / "app.txt"
    text.write_text("".join(f"2026-11-23 10:00:00 INFO line {n}\n" for n in range(20000)))
    expected, expected_counters, _ = await run([text], 0)
    source = FileSource([text], chunk_bytes=64 * 1024, host_name="test-host")
    sink = Collect()
    work = DyingWork(
        read_time="2026-11-23T12:00:00.000Z", max_event_bytes=1 << 20, bulk=True, index="logs"
    )
    counters = await run_blocks(source, sink, work, 2, asyncio.Event(), Counters())
    assert b"".join(sink.bodies) == expected
    assert counters == expected_counters
    assert "a worker process died" in caplog.text


async def test_workers_gzip_the_bodies_they_encode(tmp_path: Path) -> None:
    text = tmp_path / "app.txt"
    text.write_text("".join(f"2026-11-23 10:00:00 WARN line {n}\n" for n in range(20000)))
    source = FileSource([text], chunk_bytes=64 * 1024, host_name="test-host")
    sink = Collect()
    work = Work(
        read_time="2026-11-23T12:00:00.000Z",
        max_event_bytes=1 << 20,
        bulk=True,
        index="logs",
        gzip=True,
    )
    await run_blocks(source, sink, work, 2, asyncio.Event(), Counters())
    gzipped = [encoded for encoded in sink.batches if encoded.gzipped is not None]
    assert gzipped  # the workers did it; the last block (done here) is left to the transport
    for encoded in gzipped:
        assert gzip.decompress(encoded.gzipped) == encoded.body


async def test_a_gzipped_copy_through_workers_gives_the_plain_files_bodies(
    inputs: list[Path], tmp_path: Path
) -> None:
    plain = inputs[1]  # the Docker log with partial records, outside a container folder
    packed = tmp_path / "copied.log.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    alone, counters, _ = await run([plain], 0)
    through_workers, packed_counters, _ = await run([packed], 2)
    # The same events and ids (identity is the content's); only log.file.path differs.
    assert through_workers == alone.replace(str(plain).encode(), str(packed).encode())
    assert packed_counters == counters
