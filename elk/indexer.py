"""``BulkIndexer``: batches events into ``_bulk`` requests and accounts for every item.

- Requests of at most ``batch_events`` events and ``batch_bytes`` bytes; at most ``concurrency``
  requests on the wire and four times as many batches held (a batch waiting out a retry
  backoff does not take a connection), so ``write_batch`` waits when Elasticsearch is slow
  (backpressure).
- Reads every item of every response: 2xx indexed, 409 on ``create`` already present,
  429/5xx retried (only those items) with backoff, anything else dead-lettered with
  Elasticsearch's reason. A request that gets no answer is retried until it gets one; 413
  splits the request in two.
- 401/403 stop the run (``EsAuthError``): no retry can fix credentials.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from logwharf.events import Event

from .config import EsConfig, redact_url
from .deadletter import DeadLetterFile
from .encoder import EncodedBatch, entries_of, split_body
from .retry import Backoff, is_retryable_status, parse_retry_after
from .transport import EsAuthError, EsError, EsTransport, EsUnavailable, Response

__all__ = ["BulkIndexer", "IndexerStats"]

log = logging.getLogger("logwharf.elk")


@dataclass
class IndexerStats:
    accepted: int = 0  # events handed to the indexer
    indexed: int = 0
    duplicates: int = 0
    retried: int = 0  # item retries (one event retried twice counts twice)
    dead_lettered: int = 0
    requests: int = 0
    request_retries: int = 0
    bytes_sent: int = 0
    bulk_seconds: float = 0.0

    @property
    def settled(self) -> int:
        return self.indexed + self.duplicates + self.dead_lettered


class BulkIndexer:
    def __init__(
        self,
        config: EsConfig,
        transport: EsTransport | None = None,
        dead_letters: DeadLetterFile | None = None,
    ) -> None:
        self.config = config
        self.transport = transport or EsTransport(config)
        self.dead_letters = dead_letters or DeadLetterFile(config.dead_letter_path)
        self.stats = IndexerStats()
        # At most `concurrency` requests on the wire; at most a few times that many batches
        # held at all (waiting out a backoff holds a batch, not a connection).
        self._slots = asyncio.Semaphore(config.concurrency)
        self._held = asyncio.Semaphore(4 * config.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None

    async def start(self) -> dict[str, Any]:
        """Waits until Elasticsearch answers, and returns its ``GET /`` banner."""
        backoff = Backoff(first=0.5, cap=10.0)
        while True:
            try:
                info = await self.transport.info()
            except EsUnavailable as error:
                delay = backoff.next_delay()
                log.warning("cannot reach Elasticsearch (%s); retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)
                continue
            return info

    async def close(self) -> None:
        """Waits for every request to settle."""
        try:
            while self._tasks:
                await asyncio.gather(*list(self._tasks))
            self._raise_failure()
        finally:
            self.dead_letters.close()
            await self.transport.close()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def write_encoded(
        self, encoded: EncodedBatch, on_done: Callable[[], None] | None = None
    ) -> None:
        """Sends an encoded body (from a worker process or the reader's), in requests of at
        most ``batch_events`` events and ``batch_bytes`` bytes; ``on_done`` is called once
        every event of it is indexed, already present or dead-lettered (the live shipper's
        acknowledgement), never when the run stops first."""
        self._raise_failure()
        self.stats.accepted += encoded.count + len(encoded.rejected)
        await self._send_encoded(encoded, on_done)

    async def _send_encoded(
        self, encoded: EncodedBatch, on_done: Callable[[], None] | None = None
    ) -> None:
        for event, reason in encoded.rejected:
            self._dead_letter_event(event, None, reason)
        config = self.config
        if encoded.count <= config.batch_events and len(encoded.body) <= config.batch_bytes:
            if encoded.count:
                await self._start_request(encoded.body, encoded.count, encoded.gzipped, on_done)
            elif on_done is not None:
                on_done()
            return
        parts = split_body(encoded.body, config.batch_events, config.batch_bytes)
        part_done = _after(len(parts), on_done) if on_done is not None else None
        for body, count in parts:
            await self._start_request(body, count, None, part_done)

    async def _start_request(
        self,
        body: bytes,
        count: int,
        gzipped: bytes | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        await self._held.acquire()
        task = asyncio.create_task(self._send(body, count, gzipped, on_done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(
        self,
        body: bytes,
        count: int,
        gzipped: bytes | None,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        try:
            await self._deliver(body, count, gzipped)
            if on_done is not None:
                on_done()
        except EsAuthError as error:
            self._failure = error
        except BaseException as error:
            self._failure = error
            raise
        finally:
            self._held.release()

    async def _deliver(self, body: bytes, count: int, gzipped: bytes | None = None) -> None:
        """Sends until every entry is indexed, present, or dead-lettered."""
        item_backoff = Backoff()
        request_backoff = Backoff(first=0.5, cap=30.0)
        item_attempts = 0
        while count:
            try:
                async with self._slots:
                    started = time.perf_counter()
                    response = await self.transport.bulk(body, gzipped)
            except EsUnavailable as error:
                self.stats.request_retries += 1
                delay = request_backoff.next_delay()
                log.warning(
                    "Elasticsearch did not answer (%s); %d events wait, retrying in %.1f s",
                    error,
                    count,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            self.stats.requests += 1
            self.stats.bytes_sent += len(body)
            self.stats.bulk_seconds += time.perf_counter() - started
            request_backoff.reset()
            status = response.status
            if status == 200:
                again = self._settle_items(body, count, response)
                if not again:
                    return
                item_attempts += 1
                if item_attempts > self.config.max_item_retries:
                    reason = f"still refused after {item_attempts} attempts (429/5xx)"
                    for entry in again:
                        self._dead_letter_entry(entry, 429, reason)
                    return
                self.stats.retried += len(again)
                body, count, gzipped = b"".join(again), len(again), None
                await asyncio.sleep(item_backoff.next_delay())
            elif status == 413 and count > 1:
                entries = entries_of(body)
                half = len(entries) // 2
                await self._deliver(b"".join(entries[:half]), half)
                body, count, gzipped = b"".join(entries[half:]), len(entries) - half, None
            elif is_retryable_status(status):
                self.stats.request_retries += 1
                delay = request_backoff.next_delay(parse_retry_after(response.retry_after))
                log.warning(
                    "Elasticsearch answered %d (%s); retrying %d events in %.1f s",
                    status,
                    response.reason(),
                    count,
                    delay,
                )
                await asyncio.sleep(delay)
            else:
                reason = f"request refused: {response.reason()}"
                for entry in entries_of(body):
                    self._dead_letter_entry(entry, status, reason)
                return

    def _settle_items(self, body: bytes, count: int, response: Response) -> list[bytes]:
        """Counts the items of a 200 response; returns the entries to send again."""
        answer = response.body
        if b'"errors":false' in answer[:200] and answer.count(b'"status":201') == count:
            self.stats.indexed += count
            return []
        items = orjson.loads(answer).get("items") or []
        if len(items) != count:
            raise EsError(
                f"a bulk answer has {len(items)} items for {count} sent; is it Elasticsearch?"
            )
        retry: list[int] = []
        refused: list[tuple[int, int, str]] = []
        stats = self.stats
        for position, item in enumerate(items):
            result = next(iter(item.values()))
            status = result.get("status", 0)
            if 200 <= status < 300:
                stats.indexed += 1
            elif status == 409:
                stats.duplicates += 1
            elif is_retryable_status(status):
                retry.append(position)
            else:
                refused.append((position, status, _item_reason(result.get("error"))))
        if not retry and not refused:
            return []
        lines = body.split(b"\n")  # only now: most answers need no entry at all

        def entry(position: int) -> bytes:
            return lines[2 * position] + b"\n" + lines[2 * position + 1] + b"\n"

        for position, status, reason in refused:
            self._dead_letter_entry(entry(position), status, reason)
        return [entry(position) for position in retry]

    def _dead_letter_entry(self, entry: bytes, status: int | None, reason: str) -> None:
        action_line, _, source_line = entry.rstrip(b"\n").partition(b"\n")
        action = next(iter(orjson.loads(action_line).values()))
        self.stats.dead_lettered += 1
        self.dead_letters.write(
            orjson.loads(source_line), status, reason, action.get("_index"), action.get("_id")
        )

    def _dead_letter_event(self, event: Event, status: int | None, reason: str) -> None:
        self.stats.dead_lettered += 1
        self.dead_letters.write(event, status, reason)

    def describe(self) -> str:
        return ", ".join(redact_url(host) for host in self.transport.hosts)


def _after(parts: int, on_done: Callable[[], None]) -> Callable[[], None]:
    """A callback that calls ``on_done`` when it was itself called ``parts`` times."""
    left = [parts]

    def one_done() -> None:
        left[0] -= 1
        if left[0] == 0:
            on_done()

    return one_done


def _item_reason(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    reason = f"{error.get('type')}: {error.get('reason')}"
    caused = error.get("caused_by")
    if isinstance(caused, dict):
        reason += f" (caused by {caused.get('type')}: {caused.get('reason')})"
    return reason
