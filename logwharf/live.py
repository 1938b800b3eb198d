"""``logwharf run``: every container's logs into Elasticsearch, live, with no loss and no
duplicates across restarts of the shipper, of Docker and of Elasticsearch.

- Discovery: the running containers are listed after subscribing to ``/events`` (so nothing
  starts unseen in between); a ``start`` starts a follower, ``rename`` refreshes metadata.
- A follower streams ``/containers/{id}/logs`` (follow, timestamps) from the container's
  checkpoint (read raw, ``docker_logs``), numbers each line by (stream, timestamp) for its
  deterministic id, skips the lines the checkpoint covers, joins stack traces and runs the
  pipeline (``live_read.LogsReader``: the common line in one fused loop), then encodes the
  chunk's events for the bulk request.
- Short-lived containers: on ``create`` an attach is opened that captures the output from
  the first byte; when the logs request comes too late (the container is already being
  removed) the capture is used instead (TESTING.md: that was reliable, a logs request on
  ``start`` was not).
- Delivery: encoded events go through a bounded queue (a slow Elasticsearch pauses reading
  and Docker keeps the lines) into bulk requests; when a request's events are all indexed,
  present or dead-lettered, their lines are acknowledged, and a container's checkpoint moves
  to the newest line before which every line is acknowledged. Checkpoints are saved within a
  second or so, atomically, so a SIGKILL re-reads only seconds, and the ids make that harmless.
- The daemon going away: reconnect with backoff, list again, resume from the checkpoints.
- SIGTERM/SIGINT: stop reading, flush, wait for what is in flight (at most the grace
  period), save the checkpoints, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from logwharf.elk.config import EsConfig
from logwharf.elk.encoder import BulkEncoder, EncodedBatch
from logwharf.elk.indexer import BulkIndexer
from logwharf.elk.retry import Backoff
from logwharf.elk.transport import EsError
from logwharf.processor.default import DefaultProcessor
from logwharf.processor.stage import Pipeline
from logwharf.processor.timestamps import utc_iso
from logwharf.shipper.checkpoints import AckTracker, CheckpointStore, StreamPositions
from logwharf.shipper.docker_api import (
    DockerClient,
    DockerEndpoint,
    DockerError,
    DockerLogsUnsupported,
    DockerNotFound,
    DockerRefused,
    timestamp_nanos,
)
from logwharf.shipper.docker_logs import open_logs
from logwharf.shipper.frames import FrameError, LogDecoder, LogRecord
from logwharf.shipper.metadata import container_from_inspect, orchestration_fields
from logwharf.shipper.multiline import Joined, Multiline, MultilineConfig, config_from_labels
from logwharf.shipper.selection import Selection

from .live_read import Chunk, Container, LogsReader, Payload, build_event, seq_ranges
from .ndjson_sink import NdjsonEncoder, NdjsonSink

__all__ = ["LiveOptions", "LiveReport", "run_live"]

log = logging.getLogger("logwharf")

MAX_CAPTURE_BYTES = 8 * 1024 * 1024  # what an attach may hold for a short-lived container
CAPTURE_GRACE_SECONDS = 0.5  # after ``die``: the last bytes of an attach still arrive
QUEUE_CHUNKS = 64  # chunks of encoded events between the followers and the batcher

# Lines done once a request is: (container, ranges of its lines' sequence numbers).
_Acks = list[tuple[str, list[tuple[int, int]]]]
# A chunk's encoded events, its lines, when they were read; None ends the batcher.
_Queued = tuple[EncodedBatch, _Acks, float] | None


class Sink(Protocol):
    async def write_encoded(
        self, encoded: EncodedBatch, on_done: Callable[[], None] | None = None
    ) -> None: ...

    async def close(self) -> None: ...


class _NdjsonLive:
    """NDJSON on stdout or a file: written is done, so acknowledged at once."""

    def __init__(self, path: Path | None) -> None:
        self.sink = NdjsonSink(path)

    async def write_encoded(
        self, encoded: EncodedBatch, on_done: Callable[[], None] | None = None
    ) -> None:
        await self.sink.write_encoded(encoded)
        self.sink.flush()  # a reader of the file sees each batch as it is acknowledged
        if on_done is not None:
            on_done()

    async def close(self) -> None:
        await self.sink.close()


@dataclass
class LiveOptions:
    state_dir: Path
    es: EsConfig | None = None
    output: Path | None = None
    docker: DockerEndpoint = field(default_factory=DockerEndpoint.from_env)
    selection: Selection = field(default_factory=Selection)
    multiline: MultilineConfig = field(default_factory=MultilineConfig)
    max_event_bytes: int = 1024 * 1024
    flush_seconds: float = 1.0
    grace_seconds: float = 10.0
    batch_events: int = 5000
    host_name: str = field(default_factory=socket.gethostname)
    # The configured stages; None runs the default processor alone.
    pipeline: Callable[[], Pipeline] | None = None


@dataclass
class LiveReport:
    containers: int = 0
    lines: int = 0
    events: int = 0
    skipped: int = 0  # lines re-read on resume that were acknowledged before
    captured: int = 0  # containers whose output came from the attach capture
    fatal: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.fatal else 0


class _Capture:
    """The output of a container from its first byte, through an attach opened on create."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.overflow = False
        self.task: asyncio.Task[None] | None = None
        self.stream_close: Callable[[], None] | None = None
        self.ended = asyncio.Event()
        self.info: dict[str, Any] | None = None  # inspect, taken while the container exists
        self.attached_ns: int | None = None  # wall clock once the daemon answered the attach

    @property
    def late(self) -> bool:
        """Whether the attach may have come after the container started (then ``logs=1``
        replays output that the stream may send again). Judged on the daemon's own start
        time: the events stream lags, so the order its events arrive in cannot tell."""
        if self.attached_ns is None or self.info is None:
            return True
        started = str((self.info.get("State") or {}).get("StartedAt") or "")
        if not started or started.startswith("0001-"):
            return False  # inspected after the attach, and not started yet: early
        try:
            return self.attached_ns >= timestamp_nanos(started)
        except ValueError:
            return True

    def close(self) -> None:
        if self.stream_close is not None:
            self.stream_close()
        if self.task is not None and not self.task.done():
            self.task.cancel()


class LiveShipper:
    def __init__(
        self,
        options: LiveOptions,
        sink: Sink,
        stop: asyncio.Event,
        store: CheckpointStore | None = None,
    ) -> None:
        self.options = options
        self.sink = sink
        self.stop = stop
        self.report = LiveReport()
        if store is None:
            store = CheckpointStore(options.state_dir)
            store.load()
        self.store = store
        self.tracker = AckTracker()
        # Without configured stages the default processor runs alone, fused into reading.
        self.processor: DefaultProcessor | None = None
        if options.pipeline is not None:
            self.pipeline = options.pipeline()
        else:
            self.processor = DefaultProcessor()
            self.pipeline = Pipeline([self.processor])
        self.encode = BulkEncoder(options.es.index).encode if options.es else NdjsonEncoder().encode
        # Events are encoded where they are made: the queue holds bodies, not dicts.
        self.queue: asyncio.Queue[_Queued] = asyncio.Queue(QUEUE_CHUNKS)
        self.followers: dict[str, asyncio.Task[None]] = {}
        self.containers: dict[str, Container] = {}
        self.captures: dict[str, _Capture] = {}
        self.host = {"name": options.host_name}
        self._late_puts: set[asyncio.Future[None]] = set()

    # --- the run ---------------------------------------------------------------------

    async def run(self) -> LiveReport:
        batcher = asyncio.create_task(self._batch())
        saver = asyncio.create_task(self._save_checkpoints())
        ticker = asyncio.create_task(self._flush_multiline())
        try:
            await self._supervise()
        finally:
            await self._stop_followers()
            for container in list(self.containers.values()):
                self._emit_joined(container, container.multiline.flush())
            try:
                await asyncio.wait_for(self._last_flush(batcher), self.options.grace_seconds)
            except TimeoutError:
                batcher.cancel()
                log.warning(
                    "the grace period ended before everything was sent; what was not "
                    "acknowledged is read again at the next start"
                )
            ticker.cancel()
            saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await saver
            await asyncio.to_thread(self._final_save)
        return self.report

    async def _last_flush(self, batcher: asyncio.Task[None]) -> None:
        while self._late_puts:  # before the end mark, or the batcher would never see them
            await asyncio.gather(*self._late_puts)
        await self.queue.put(None)  # the batcher sends what it holds, closes the sink
        await batcher

    def _final_save(self) -> None:
        if self.store.changed:
            self.store.save()

    async def _supervise(self) -> None:
        """Connects, follows, and reconnects with backoff until asked to stop."""
        backoff = Backoff(first=0.5, cap=10.0)
        while not self.stop.is_set():
            delay = 0.0
            try:
                async with DockerClient(self.options.docker) as client:
                    await client.negotiated_version()
                    backoff.reset()
                    await self._follow_all(client)
            except (DockerError, OSError) as error:
                if self.stop.is_set():
                    return
                delay = backoff.next_delay()
                log.warning("%s; reconnecting in %.1f s", error, delay)
            finally:
                await self._stop_followers()
            if not self.stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)

    async def _follow_all(self, client: DockerClient) -> None:
        since = time.time_ns()
        events = await client.events(since=since)
        stopper = asyncio.create_task(self.stop.wait())
        try:
            everything = await client.containers(all=True)
            self.store.prune(c["Id"] for c in everything)
            for summary in everything:
                # Running ones, and stopped ones that were followed before: lines written
                # after their checkpoint, while logwharf was away, are read to their end.
                if summary.get("State") == "running" or self.store.get(summary["Id"]):
                    self._start_follower(client, summary["Id"])
            log.info("following %d containers", len(self.followers))
            iterator = aiter(events)
            while not self.stop.is_set():
                next_event = asyncio.ensure_future(anext(iterator))
                done, _ = await asyncio.wait(
                    {next_event, stopper}, return_when=asyncio.FIRST_COMPLETED
                )
                if next_event not in done:
                    next_event.cancel()
                    break
                try:
                    event = next_event.result()
                except StopAsyncIteration:
                    raise DockerError("the Docker daemon closed the events stream") from None
                self._on_event(client, event)
        finally:
            stopper.cancel()
            events.close()
            for capture in self.captures.values():
                capture.close()
            self.captures.clear()

    def _on_event(self, client: DockerClient, event: dict[str, Any]) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        container_id = event.get("id") or (event.get("Actor") or {}).get("ID")
        if not isinstance(container_id, str):
            return
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        if action == "create" and self._selected(container_id, attributes):
            self._start_capture(client, container_id)
        elif action == "start":
            self._start_follower(client, container_id)
        elif action == "rename" and container_id in self.containers:
            name = attributes.get("name")
            if isinstance(name, str):
                self.containers[container_id].fields["name"] = name.lstrip("/")
        elif action in ("die", "destroy"):
            capture = self.captures.get(container_id)
            if capture is not None:
                asyncio.get_running_loop().call_later(CAPTURE_GRACE_SECONDS, capture.close)
            if action == "destroy":
                self.store.remove(container_id)
                self.containers.pop(container_id, None)

    def _selected(self, container_id: str, attributes: dict[str, Any]) -> bool:
        labels = {k: str(v) for k, v in attributes.items() if k not in ("name", "image")}
        return self.options.selection.follows(
            container_id,
            str(attributes.get("name", "")),
            str(attributes.get("image", "")),
            labels,
        )

    # --- short-lived containers: the attach capture -------------------------------------

    def _start_capture(self, client: DockerClient, container_id: str) -> None:
        if container_id in self.captures:
            return
        capture = self.captures[container_id] = _Capture()
        capture.task = asyncio.create_task(self._capture(client, container_id, capture))

    async def _capture(self, client: DockerClient, container_id: str, capture: _Capture) -> None:
        try:
            stream = await client.attach(container_id, logs=True, stream=True)
            capture.attached_ns = time.time_ns()
            capture.stream_close = stream.close
            with contextlib.suppress(DockerError):
                capture.info = await client.inspect(container_id)
            async for chunk in stream:
                capture.size += len(chunk)
                if capture.size > MAX_CAPTURE_BYTES:
                    capture.overflow = True  # a long-lived container: its logs will do
                    capture.chunks.clear()
                    stream.close()
                    break
                capture.chunks.append(chunk)
        except (DockerError, OSError) as error:
            log.debug("attach to %s: %s", container_id[:12], error)
        except asyncio.CancelledError:
            pass
        finally:
            capture.ended.set()

    # --- followers --------------------------------------------------------------------

    def _start_follower(self, client: DockerClient, container_id: str) -> None:
        task = self.followers.get(container_id)
        if task is not None and not task.done():
            return
        task = asyncio.create_task(self._follow(client, container_id))
        self.followers[container_id] = task
        task.add_done_callback(lambda _: self._follower_done(container_id, task))

    def _follower_done(self, container_id: str, task: asyncio.Task[None]) -> None:
        if self.followers.get(container_id) is task:
            del self.followers[container_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("following %s failed: %s", container_id[:12], task.exception())

    async def _stop_followers(self) -> None:
        tasks = list(self.followers.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _follow(self, client: DockerClient, container_id: str) -> None:
        info: dict[str, Any] | None
        try:
            info = await client.inspect(container_id)
        except DockerNotFound:
            capture = self.captures.get(container_id)
            info = capture.info if capture is not None else None
        if info is None:
            self._drop_capture(container_id)
            return
        config = info.get("Config") or {}
        labels = config.get("Labels") or {}
        name = str(info.get("Name") or "").lstrip("/")
        if not self.options.selection.follows(
            container_id, name, str(config.get("Image") or ""), labels
        ):
            self._drop_capture(container_id)
            return
        container = self.containers.get(container_id)
        if container is None:
            try:
                multiline_config = config_from_labels(labels, self.options.multiline)
            except ValueError as error:
                log.warning("%s: %s; multiline as configured globally", name, error)
                multiline_config = self.options.multiline
            container = Container(
                container_id,
                container_from_inspect(info),
                orchestration_fields(labels),
                bool(config.get("Tty")),
                Multiline(multiline_config),
                bool((info.get("HostConfig") or {}).get("AutoRemove")),
            )
            self.containers[container_id] = container
            self.report.containers += 1
        checkpoint = self.store.get(container_id)
        reader = LogsReader(
            container,
            self.host,
            self.pipeline,
            self.tracker,
            StreamPositions(checkpoint),
            checkpoint,
            processor=self.processor,
            max_event_bytes=self.options.max_event_bytes,
        )
        complete = False
        try:
            stream = await open_logs(
                client,
                container_id,
                follow=True,
                timestamps=True,
                since=checkpoint.since() if checkpoint is not None else None,
            )
            try:
                async for data in stream:
                    if not await self._put(container, reader.feed(data, time.monotonic())):
                        break  # the daemon's own error line: the container is going
                    if not container.auto_remove:
                        self._drop_capture(container_id)
                else:
                    complete = await self._put(container, reader.finish(time.monotonic()))
            finally:
                stream.close()
        except DockerLogsUnsupported:
            log.info("%s: its log driver keeps nothing to read; not followed", name)
            self._drop_capture(container_id)
            return
        except (DockerNotFound, DockerRefused, FrameError) as error:
            log.debug("logs of %s: %s", name, error)
        self._emit_joined(container, container.multiline.flush())
        if complete:
            self._drop_capture(container_id)
        else:
            await self._use_capture(container_id, container, reader.seen)

    async def _put(self, container: Container, chunk: Chunk) -> bool:
        """Queues a chunk's events (waits while the queue is full: backpressure); False
        when the stream ended at the daemon's own error line. Raises the chunk's error."""
        self.report.lines += chunk.lines
        self.report.skipped += chunk.skipped
        if chunk.acks:
            self.report.events += len(chunk.events)
            acks = [(container.id, chunk.acks)]
            await self.queue.put((self.encode(chunk.events), acks, time.monotonic()))
        if chunk.error is not None:
            raise chunk.error
        return chunk.ok

    def _emit_joined(self, container: Container, joined: list[Joined[str, Payload]]) -> None:
        if not joined:
            return
        seqs: list[int] = []
        events = [build_event(container, self.host, item, seqs) for item in joined]
        events = self.pipeline.process_batch(events)
        self.report.events += len(events)
        acks = [(container.id, seq_ranges(seqs))]
        # Held back by the multiline timeout: read a flush interval ago at least.
        item = (self.encode(events), acks, time.monotonic() - self.options.flush_seconds)
        if self.queue.full():  # rare (a flush timeout while Elasticsearch is slow)
            self._late_puts.add(task := asyncio.ensure_future(self.queue.put(item)))
            task.add_done_callback(self._late_puts.discard)
        else:
            self.queue.put_nowait(item)

    async def _flush_multiline(self) -> None:
        """Stack traces whose last line came a flush timeout ago leave without a next line."""
        while True:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            for container in list(self.containers.values()):
                if len(container.multiline):
                    self._emit_joined(container, container.multiline.flush_expired(now))

    # --- captures used instead of logs --------------------------------------------------

    def _drop_capture(self, container_id: str) -> None:
        capture = self.captures.pop(container_id, None)
        if capture is not None:
            capture.close()

    async def _use_capture(
        self, container_id: str, container: Container | None, seen: dict[str, int]
    ) -> None:
        """The logs could not be read to their end: the lines past those read come from the
        attach capture, if there is one (the container was created while followed)."""
        capture = self.captures.get(container_id)
        if capture is None:
            if container is not None and any(seen.values()):
                log.warning("%s: its logs ended early; no capture has the rest", container_id[:12])
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(capture.ended.wait(), 30)
        self._drop_capture(container_id)
        if capture.overflow or not capture.chunks or container is None:
            return
        decoder = LogDecoder(container.tty, False, self.options.max_event_bytes)
        records = decoder.feed(b"".join(capture.chunks))
        with contextlib.suppress(FrameError):
            records += decoder.finish()
        if capture.late:
            records = _without_replay(records)
        # Stamped with the read time; numbered per stream from the first line, so that the
        # ids of a capture read twice agree.
        stamp = utc_iso(datetime.now(UTC))
        skip = dict(seen)
        kept = []
        for record in records:
            if skip.get(record.stream, 0) > 0:
                skip[record.stream] -= 1
                continue
            kept.append(
                LogRecord(record.stream, stamp, record.text, record.truncated, record.invalid_utf8)
            )
        if kept:
            self.report.captured += 1
            reader = LogsReader(
                container,
                self.host,
                self.pipeline,
                self.tracker,
                StreamPositions(None),
                None,
                processor=self.processor,
                timestamps=False,
                max_event_bytes=self.options.max_event_bytes,
            )
            await self._put(container, reader.feed_records(kept, time.monotonic()))
            self._emit_joined(container, container.multiline.flush())

    # --- delivery ----------------------------------------------------------------------

    async def _batch(self) -> None:
        """Encoded chunks into requests of ``batch_events``, or whatever came within the
        flush interval; acknowledgements back to the tracker when a request is done."""
        limit = self.options.batch_events
        interval = self.options.flush_seconds
        pieces: list[EncodedBatch] = []
        count = 0  # events in ``pieces``, the rejected ones included
        acks: _Acks = []
        deadline: float | None = None  # a flush interval after the oldest line was read
        last = False

        async def send() -> None:
            nonlocal pieces, count, acks, deadline
            batch = _joined_batch(pieces)
            batch_acks = acks
            pieces, count, acks, deadline = [], 0, [], None
            await self.sink.write_encoded(batch, partial(self._acknowledge, batch_acks))

        while not last:
            timeout = None if deadline is None else max(deadline - time.monotonic(), 0)
            try:
                item = await asyncio.wait_for(self.queue.get(), timeout)
            except TimeoutError:
                item = None
            else:
                last = item is None
            if item is not None:
                more, more_acks, read_at = item
                size = more.count + len(more.rejected)
                if count and count + size > limit:
                    await send()  # requests of at most batch_events, not one full and a sliver
                if size:
                    pieces.append(more)
                    count += size
                    acks += more_acks
                    due = read_at + interval
                    deadline = due if deadline is None else min(deadline, due)
                else:
                    # Every event of the chunk was dropped by a stage: its lines are done.
                    self._acknowledge(more_acks)
            due_now = deadline is not None and time.monotonic() >= deadline
            if count and (count >= limit or last or due_now):
                await send()
        await self.sink.close()

    def _acknowledge(self, acks: _Acks) -> None:
        by_container: dict[str, list[tuple[int, int]]] = {}
        for container_id, ranges in acks:
            by_container.setdefault(container_id, []).extend(ranges)
        for container_id, ranges in by_container.items():
            ranges.sort()
            start, end = ranges[0]
            for first, last in ranges[1:]:
                if first != end + 1:
                    self._ack(container_id, start, end)
                    start = first
                end = last
            self._ack(container_id, start, end)

    def _ack(self, container_id: str, first: int, last: int) -> None:
        checkpoint = self.tracker.ack(container_id, first, last)
        if checkpoint is not None:
            self.store.update(container_id, checkpoint)

    async def _save_checkpoints(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            if self.store.changed:
                await asyncio.to_thread(self.store.save_if_due, time.monotonic())


def _joined_batch(pieces: list[EncodedBatch]) -> EncodedBatch:
    if len(pieces) == 1:
        return pieces[0]
    rejected = [each for piece in pieces for each in piece.rejected]
    body = b"".join([piece.body for piece in pieces])
    return EncodedBatch(body, sum(piece.count for piece in pieces), rejected)


def _without_replay(records: list[LogRecord]) -> list[LogRecord]:
    """An attach that lands after the container has printed everything gives the output
    twice (``logs=1`` replays it, then the stream sends it again): per stream, a sequence
    that is exactly two copies of one half is taken once. Only for an attach that was late:
    an early one replays nothing, and a container may well print the same lines twice."""
    streams: dict[str, list[LogRecord]] = {}
    for record in records:
        streams.setdefault(record.stream, []).append(record)
    doubled = set()
    for stream, own in streams.items():
        half = len(own) // 2
        texts = [record.text for record in own]
        if half and len(own) % 2 == 0 and texts[:half] == texts[half:]:
            doubled.add(stream)
    if not doubled:
        return records
    kept: list[LogRecord] = []
    taken = dict.fromkeys(doubled, 0)
    for record in records:
        if record.stream in doubled:
            if taken[record.stream] >= len(streams[record.stream]) // 2:
                continue
            taken[record.stream] += 1
        kept.append(record)
    return kept


async def run_live(options: LiveOptions) -> LiveReport:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        return await _run_live(options, stop)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def _run_live(options: LiveOptions, stop: asyncio.Event) -> LiveReport:
    # The state directory first: a problem there is a usage error, reported at once.
    store = CheckpointStore(options.state_dir)
    store.load()
    sink: Sink
    if options.es is not None:
        indexer = BulkIndexer(options.es)
        report = await _until_reachable(indexer, stop)
        if report is not None:
            return report
        sink = indexer
    else:
        sink = _NdjsonLive(options.output)
    shipper = LiveShipper(options, sink, stop, store)
    try:
        return await shipper.run()
    except EsError as error:  # 401/403 and the like: no retry can fix them
        shipper.report.fatal = str(error)
        return shipper.report


async def _until_reachable(indexer: BulkIndexer, stop: asyncio.Event) -> LiveReport | None:
    """Waits until Elasticsearch answers; a report when the run ends first (a stop
    request, or an answer no retry can change)."""
    started = asyncio.ensure_future(indexer.start())
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({started, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if not started.done():
        started.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await started
        await indexer.transport.close()
        return LiveReport()
    try:
        started.result()
    except EsError as error:
        await indexer.transport.close()
        return LiveReport(fatal=f"Elasticsearch: {error}")
    return None
