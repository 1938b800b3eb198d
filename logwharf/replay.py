"""The replay runtime: files -> default processor -> Elasticsearch or NDJSON.

Reading runs in this task; decoding, processing and encoding here or in worker processes
(``blocks``); bulk requests as their own tasks. ``write_encoded`` waits while the indexer
holds as many batches as it may, so a slow Elasticsearch slows the reading down instead of
filling memory.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from logwharf.elk.config import EsConfig
from logwharf.elk.indexer import BulkIndexer, IndexerStats
from logwharf.elk.transport import EsError
from logwharf.processor.timestamps import utc_iso
from logwharf.shipper.files import FileProblem, FileSource
from logwharf.shipper.inputs import total_bytes

from .blocks import Counters, EncodedSink, Work, run_blocks
from .ndjson_sink import NdjsonSink
from .progress import Progress

__all__ = ["ReplayOptions", "ReplayReport", "replay"]

log = logging.getLogger("logwharf")

PARALLEL_MIN_BYTES = 16 * 1024 * 1024


class Sink(EncodedSink, Protocol):
    async def close(self) -> None: ...


@dataclass
class ReplayOptions:
    files: list[Path]
    es: EsConfig | None = None
    output: Path | None = None
    progress: bool = False
    max_event_bytes: int = 1024 * 1024
    workers: int = 1
    stages: tuple[Any, ...] | None = None  # the configured pipeline; None: the default


@dataclass
class ReplayReport:
    files: int = 0
    lines: int = 0
    counts: Counters = field(default_factory=Counters)  # events, parsed, dropped, ...
    written: int = 0  # to stdout or a file
    delivery: IndexerStats | None = None  # with --es: indexed, duplicates, dead letters...
    undelivered: int = 0
    seconds: float = 0.0
    dead_letter_path: Path | None = None
    problems: list[FileProblem] = field(default_factory=list)
    fatal: str | None = None
    interrupted: bool = False
    destination: str = "stdout"

    @property
    def exit_code(self) -> int:
        dead_lettered = self.delivery.dead_lettered if self.delivery else 0
        trouble = dead_lettered or self.undelivered or self.problems or self.fatal
        return 1 if trouble or self.interrupted else 0


async def replay(options: ReplayOptions) -> ReplayReport:
    report = ReplayReport(files=len(options.files))
    source = FileSource(
        options.files,
        max_event_bytes=options.max_event_bytes,
        on_problem=lambda problem: log.error("cannot read %s", problem),
    )
    sink: Sink
    indexer: BulkIndexer | None = None
    if options.es is not None:
        sink = indexer = BulkIndexer(options.es)
        report.destination = indexer.describe()
        report.dead_letter_path = options.es.dead_letter_path
    else:
        sink = NdjsonSink(options.output)
        report.destination = str(options.output) if options.output else "stdout"
    work = Work(
        read_time=utc_iso(datetime.now(UTC)),
        max_event_bytes=options.max_event_bytes,
        bulk=indexer is not None,
        index=options.es.index if options.es is not None else None,
        gzip=options.es.gzip if options.es is not None else False,
        stages=options.stages,
    )
    workers = _worker_count(options)

    stop = asyncio.Event()
    _on_signals(stop)
    started = time.perf_counter()
    progress = Progress(options.files, source.stats.raw_bytes) if options.progress else None
    counters = Counters()
    try:
        if indexer is not None:
            info = await _start(indexer, stop)
            if info is None:
                report.interrupted = True
                return report
            version = info.get("version", {})
            log.info(
                "indexing into %s (%s %s)",
                report.destination,
                version.get("distribution", "elasticsearch"),
                version.get("number", "?"),
            )
        on_block = None
        if progress is not None:
            shown = progress

            def on_block() -> None:
                shown.update(source.stats.files_done, counters.events)

        counters = await run_blocks(source, sink, work, workers, stop, counters, on_block)
        if stop.is_set():
            report.interrupted = True
            log.warning("stopped: the requests in flight were finished")
        await sink.close()
    except EsError as error:
        report.fatal = f"Elasticsearch refused the run: {error}"
        if indexer is not None:
            await indexer.transport.close()
    except OSError as error:  # the dead-letter file could not be written
        report.fatal = f"cannot write {error.filename or 'a file'}: {error.strerror or error}"
        if indexer is not None:
            await indexer.transport.close()
    finally:
        if progress is not None:
            progress.close()
        _restore_signals()
        report.seconds = time.perf_counter() - started
        _fill(report, source, counters, sink, indexer)
    return report


def _worker_count(options: ReplayOptions) -> int:
    """Worker processes pay off only for inputs of some size."""
    if options.workers <= 1:
        return 0
    # What counts is the text to process: gzipped logs inflate about tenfold.
    size = total_bytes(options.files, gzip_factor=8)
    return options.workers if size >= PARALLEL_MIN_BYTES else 0


async def _start(indexer: BulkIndexer, stop: asyncio.Event) -> dict[str, Any] | None:
    start = asyncio.ensure_future(indexer.start())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([start, stopped], return_when=asyncio.FIRST_COMPLETED)
    if not start.done():
        start.cancel()
        await indexer.transport.close()
        return None
    stopped.cancel()
    info: dict[str, Any] = start.result()
    return info


def _fill(
    report: ReplayReport,
    source: FileSource,
    counters: Counters,
    sink: Sink,
    indexer: BulkIndexer | None,
) -> None:
    report.lines = source.stats.lines
    report.counts = counters
    report.problems = source.problems
    if indexer is not None:
        indexer_stats = indexer.stats
        report.delivery = indexer_stats
        report.undelivered = counters.events - counters.dropped - indexer_stats.settled
    elif isinstance(sink, NdjsonSink):
        report.written = sink.written


def _on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, _second_signal_kills, stop)
        except (NotImplementedError, RuntimeError):
            pass


def _second_signal_kills(stop: asyncio.Event) -> None:
    if stop.is_set():
        raise KeyboardInterrupt
    stop.set()


def _restore_signals() -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.remove_signal_handler(signum)
        except (NotImplementedError, RuntimeError):
            pass
