"""Blocks of lines to the sink: decoded, processed and encoded here or in worker processes.

The reader stays in this process and hands blocks of lines to a process pool; each worker
decodes them with a fresh decoder, runs the pipeline and encodes the result, and the results
are written to the sink in the order the blocks were read. A fresh decoder gives the same
events as the file's own decoder only when no state crosses the block's edges, so:

- A Docker block goes to a worker when the file's decoder holds no open 16 KiB partial
  record. The worker says whether its decoder was left holding one at the block's end; then,
  or if the file's decoder holds one when the result is settled, in order, the block is done
  again here with the file's own decoder (rare: it takes a line longer than 16 KiB at a
  block's edge). The reader never looks inside a block: that is the workers' job.
- A Docker event's id counts its position among events with the same (time, stream).
  A worker counts from zero; when its first time on a stream equals the last time the file
  had on that stream, its ids would be off, and the block is done again here.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

from logwharf.elk.encoder import EncodedBatch
from logwharf.shipper.decode import DockerJsonDecoder, TextDecoder
from logwharf.shipper.files import FileBlock, FileSource

from .work import Counters, Job, JobResult, Work, encode_block, init_worker, run_job

__all__ = ["Counters", "EncodedSink", "Work", "run_blocks"]

log = logging.getLogger("logwharf")


class EncodedSink(Protocol):
    async def write_encoded(self, encoded: EncodedBatch) -> None: ...


async def run_blocks(
    source: FileSource,
    sink: EncodedSink,
    work: Work,
    workers: int,
    stop: asyncio.Event,
    totals: Counters,
    progress: Callable[[], None] | None = None,
) -> Counters:
    """Reads ``source`` to its end (or until ``stop``), writing everything to ``sink``;
    with ``workers`` 0 every block is done in this process."""
    pipeline, processor, encode = work.build()
    # spawn, not fork: this process has threads (file reads), and spawned workers are its
    # own children, reaped at the end, so their CPU time is accounted to this run.
    context = multiprocessing.get_context("spawn")
    in_flight: deque[tuple[FileBlock, asyncio.Future[JobResult]]] = deque()
    loop = asyncio.get_running_loop()

    pool: ProcessPoolExecutor | None = (
        ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker, initargs=(work,))
        if workers
        else None
    )

    def drop_pool() -> None:
        # A worker died (killed, out of memory): its blocks are done here instead, and so is
        # the rest of the input. Nothing is lost, it only goes slower.
        nonlocal pool
        if pool is not None:
            log.error("a worker process died; going on without worker processes")
            pool.shutdown(wait=False)  # its futures all fail alike: each is redone here
            pool = None

    async def settle_oldest() -> None:
        block, future = in_flight.popleft()
        try:
            result = await future
        except BrokenProcessPool:
            drop_pool()
            await here(block)
            return
        decoder = block.decoder
        if isinstance(decoder, DockerJsonDecoder) and _must_redo(decoder, result):
            await here(block)  # the worker could not know the state at the block's edges
            return
        if isinstance(decoder, DockerJsonDecoder):
            decoder.last_time.update(result.last_time)
            decoder.position.update(result.position)
        totals.add(result.counters)
        await sink.write_encoded(result.encoded)

    async def here(block: FileBlock) -> None:
        encoded, counters = encode_block(
            block.decoder, block.lines, block.last, pipeline, processor, encode
        )
        totals.add(counters)
        if encoded.count or encoded.rejected:
            await sink.write_encoded(encoded)

    try:
        async for block in source.blocks():
            future: Future[JobResult] | None = None
            if pool is not None and _fits_a_worker(block):
                job = Job(
                    block.decoder.context,
                    isinstance(block.decoder, DockerJsonDecoder),
                    block.lines,
                )
                try:
                    future = pool.submit(run_job, job)
                except BrokenProcessPool:
                    drop_pool()
            if future is not None:
                in_flight.append((block, asyncio.wrap_future(future, loop=loop)))
                while len(in_flight) > 2 * workers:
                    await settle_oldest()
            else:
                while in_flight:
                    await settle_oldest()
                await here(block)
            if progress is not None:
                progress()
            if stop.is_set():
                break
        while in_flight:
            await settle_oldest()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return totals


def _fits_a_worker(block: FileBlock) -> bool:
    if block.last or block.lines.count < 64:
        return False  # the end of a file (its decoder finishes it), or too small to ship
    decoder = block.decoder
    # An open partial now would most likely still be open when the block is settled.
    return isinstance(decoder, TextDecoder) or not decoder.partials


def _must_redo(decoder: DockerJsonDecoder, result: JobResult) -> bool:
    """True when a worker's result for a block may differ from what the file's decoder,
    which has now decoded everything before the block, would make of it."""
    if decoder.partials or result.open_partial:
        return True  # a partial record runs across the block's start or its end
    if decoder.container_id is None:
        return False  # ids of these files do not use positions
    # A worker counts positions from zero; they are off if the file's last time on a
    # stream is the worker's first time on it.
    last = decoder.last_time
    return any(last.get(stream) == time for stream, time in result.first_time.items())
