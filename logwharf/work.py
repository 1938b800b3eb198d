"""The work of a worker process: decode a block, run the pipeline, encode the result.

Kept apart from the runtime that reads and sends, so that a worker imports only what this
work needs (no HTTP client, no configuration models): each worker is a whole interpreter.
"""

from __future__ import annotations

import gc
import gzip
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from logwharf.elk.encoder import BulkEncoder, EncodedBatch
from logwharf.events import Event
from logwharf.processor.default import DefaultProcessor
from logwharf.processor.stage import Pipeline
from logwharf.shipper.decode import DockerJsonDecoder, FileContext, TextDecoder
from logwharf.shipper.reader import Lines, RawLines

from .docker_fast import decode_and_process
from .ndjson_sink import NdjsonEncoder

__all__ = [
    "Counters",
    "Job",
    "JobResult",
    "Work",
    "encode_block",
    "init_worker",
    "process_events",
    "run_job",
]


@dataclass(frozen=True)
class Work:
    """What a worker needs to build its own pipeline and encoder (must pickle)."""

    read_time: str
    max_event_bytes: int
    bulk: bool
    index: str | None
    gzip: bool = False  # gzip bulk bodies in the workers, where the CPU is
    # The configured stages (validated models); None: the default processor alone.
    stages: tuple[Any, ...] | None = None

    def build(self) -> tuple[Pipeline, DefaultProcessor, Callable[[list[Event]], EncodedBatch]]:
        encoder = BulkEncoder(self.index) if self.bulk else NdjsonEncoder()
        if self.stages is None:
            processor = DefaultProcessor(self.read_time)
            return Pipeline([processor]), processor, encoder.encode
        # Only a configured pipeline loads the configuration models into a worker.
        from logwharf.processor.config import build_pipeline
        from logwharf.processor.stage_config import BuildContext

        pipeline = build_pipeline(list(self.stages), BuildContext(read_time=self.read_time))
        defaults = [stage for stage in pipeline.stages if isinstance(stage, DefaultProcessor)]
        # The counts of parsed JSON come from the default stage when the pipeline has one.
        processor = defaults[0] if defaults else DefaultProcessor(self.read_time)
        return pipeline, processor, encoder.encode


@dataclass
class Counters:
    events: int = 0
    empty_lines: int = 0
    parsed: int = 0
    parse_failures: int = 0
    processor_failures: int = 0
    dropped: int = 0

    def add(self, other: Counters) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Job:
    context: FileContext
    docker: bool
    lines: Lines | RawLines


@dataclass
class JobResult:
    encoded: EncodedBatch
    counters: Counters
    first_time: dict[Any, Any] = field(default_factory=dict)
    last_time: dict[Any, Any] = field(default_factory=dict)
    position: dict[Any, int] = field(default_factory=dict)
    open_partial: bool = False  # the decoder still held a partial record at the block's end


_worker: dict[str, Any] = {}


def init_worker(work: Work) -> None:
    pipeline, processor, encode = work.build()
    _worker.update(work=work, pipeline=pipeline, processor=processor, encode=encode)
    # A block's events all live until it is encoded, so young collections find nothing to
    # free and only promote them; collect less often (a worker makes few reference cycles).
    gc.freeze()
    gc.set_threshold(10_000, 50, 1_000)
    # Ctrl-C reaches the whole process group; the reader decides how to stop, and a worker
    # that died of it would only look like a crash.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# Events are made, processed and encoded this many lines at a time: fewer objects alive at
# once (memory), and a working set that stays in the CPU's caches.
SLICE_LINES = 1000


def run_job(job: Job) -> JobResult:
    work: Work = _worker["work"]
    decoder: DockerJsonDecoder | TextDecoder = (
        DockerJsonDecoder(job.context, work.max_event_bytes)
        if job.docker
        else TextDecoder(job.context)
    )
    encoded, counters = encode_block(
        decoder, job.lines, False, _worker["pipeline"], _worker["processor"], _worker["encode"]
    )
    if work.gzip and encoded.body:
        encoded.gzipped = gzip.compress(encoded.body, 1, mtime=0)
    result = JobResult(encoded, counters)
    if isinstance(decoder, DockerJsonDecoder):
        result.first_time, result.last_time = decoder.first_time, decoder.last_time
        result.position = decoder.position
        result.open_partial = bool(decoder.partials)
    return result


def encode_block(
    decoder: DockerJsonDecoder | TextDecoder,
    block: Lines | RawLines,
    last: bool,
    pipeline: Pipeline,
    processor: DefaultProcessor,
    encode: Callable[[list[Event]], EncodedBatch],
) -> tuple[EncodedBatch, Counters]:
    """A block's lines decoded, processed and encoded, ``SLICE_LINES`` at a time; with
    ``last``, what the decoder still holds at the end of its file too."""
    counters = Counters()
    empty_before = decoder.empty_lines
    bodies: list[bytes] = []
    encoded = EncodedBatch(b"", 0, [])
    slices: Iterator[Lines | None] = _slices(block) if block.count else iter(())
    # Docker records and the default processor in one loop, when nothing else runs after it.
    fast = isinstance(decoder, DockerJsonDecoder) and pipeline.stages == [processor]
    for lines in [*slices, None] if last else slices:
        done = (
            decode_and_process(decoder, lines, processor)  # type: ignore[arg-type]
            if fast and lines is not None
            else None
        )
        if done is not None:
            events = done.events
            counters.add(
                Counters(
                    events=len(events),
                    parsed=done.parsed,
                    parse_failures=done.parse_failures,
                    processor_failures=done.failures,
                )
            )
            pipeline.stats.processed += len(events)
        else:
            events = decoder.decode(lines) if lines is not None else decoder.finish()
            counters.add(process_events(events, pipeline, processor))
        if events:
            part = encode(events)
            bodies.append(part.body)
            encoded.count += part.count
            encoded.rejected += part.rejected
    encoded.body = b"".join(bodies)
    counters.empty_lines = decoder.empty_lines - empty_before
    return encoded, counters


def _slices(block: Lines | RawLines) -> Iterator[Lines]:
    whole = block.split() if isinstance(block, RawLines) else block
    if len(whole.lines) <= SLICE_LINES:
        yield whole
        return
    for start in range(0, len(whole.lines), SLICE_LINES):
        end = start + SLICE_LINES
        yield Lines(whole.lines[start:end], whole.offsets[start:end], whole.truncated)


def process_events(
    events: list[Event], pipeline: Pipeline, processor: DefaultProcessor
) -> Counters:
    """Runs the pipeline in place on ``events``; returns what it counted for them."""
    before = (processor.json_parsed, processor.json_failures)
    dropped, failures = pipeline.stats.dropped, pipeline.stats.failures
    count = len(events)
    events[:] = pipeline.process_batch(events)
    return Counters(
        events=count,
        parsed=processor.json_parsed - before[0],
        parse_failures=processor.json_failures - before[1],
        processor_failures=pipeline.stats.failures - failures,  # every stage's, the default's too
        dropped=pipeline.stats.dropped - dropped,
    )
