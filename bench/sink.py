#!/usr/bin/env python3
"""A discarding Elasticsearch ``_bulk`` endpoint for benchmarks.

    python bench/sink.py [--host 127.0.0.1] [--port 9201] [--verify] [--reject-fraction F]
                         [--latency]

Routes:
  GET|HEAD /                    Elasticsearch 8 banner (header X-Elastic-Product: Elasticsearch)
  POST|PUT /_bulk, /{index}/_bulk
                                plain or gzip body; answers one item per action:
                                {"took":0,"errors":false,"items":[{"create":{"_index":..,
                                "_id":..,"status":201}},...]}
  GET /_stats                   {"docs", "actions", "requests", "bytes", "rejected", ...}
  GET /_verify?n=N              (with --verify) exactly-once check of the req-NNNNNNNNNN
                                markers in the accepted documents: unique, duplicates, missing
  GET /_latency                 (with --latency) per-document delay from its @timestamp to
                                the arrival of its bulk request: count, p50, p90, p99, max
  GET /_timeline                [wall-clock arrival time, documents accepted so far] per
                                bulk request (the first 100,000 requests)
  anything else                 200 {} (reported once per path on stderr, counted in /_stats)

--port 0 picks a free port; the port is printed on stdout as "port NNNN" once listening.

Cheap on purpose (it shares the CPUs with the shipper under test): a body is split into lines
and the answer is built from the action lines with a few bytes operations, no JSON parsing.
--verify adds one regular-expression pass over each body (the first marker of every line is
kept, 10 bytes per document). --reject-fraction F answers about a fraction F of the
documents with 429 (es_rejected_execution_exception) and "errors":true; which documents is
decided by a CRC32 of their _id, and only the first time an _id is seen, so the retry is
accepted. Refused documents are not counted in "docs" nor verified. --latency reads the
first "@timestamp" of every source line (a second regular-expression pass) and keeps, per
document, the wall-clock time the request arrived (before its body is read) minus that
time: the end-to-end latency of a live shipper when @timestamp is the time a line was
written (Docker's own timestamp). It assumes the shipper and the writer share the clock.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import gzip
import re
import signal
import sys
import time
import zlib
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

__all__ = ["Sink", "main"]

BANNER = orjson.dumps(
    {
        "name": "logwharf-bench-sink",
        "cluster_name": "bench",
        "cluster_uuid": "bench-sink-uuid-0000000",
        "version": {
            "number": "8.15.0",
            "build_flavor": "default",
            "build_type": "docker",
            "build_hash": "0000000000000000000000000000000000000000",
            "build_date": "2024-08-05T10:05:34.233336849Z",
            "build_snapshot": False,
            "lucene_version": "9.11.1",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        },
        "tagline": "You Know, for Search",
    }
)
HEADERS = {"X-Elastic-Product": "Elasticsearch", "Content-Type": "application/json"}
ACTIONS = {b"index": True, b"create": True, b"update": True, b"delete": False}
MARKER_PER_LINE = re.compile(rb"req-(\d{10})[^\n]*")  # first marker of each line
MARKER = re.compile(rb"req-(\d{10})")
# first @timestamp of each line: whole seconds and the fraction apart (the seconds are cached)
TIMESTAMP_PER_LINE = re.compile(
    rb'"@timestamp":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z"[^\n]*'
)
TIMELINE_MAX = 100_000
STATUS_201 = b',"status":201}}'
REJECTED_ERROR = (
    b'"status":429,"error":{"type":"es_rejected_execution_exception",'
    b'"reason":"rejected execution of bulk item (bench sink fault injection)"}}}'
)


def _json_str(value: bytes) -> bytes:
    return orjson.dumps(value.decode("utf-8", "replace"))


class Sink:
    def __init__(
        self, verify: bool = False, reject_fraction: float = 0.0, latency: bool = False
    ) -> None:
        self.verify = verify
        self.latency = latency
        self.latencies = array.array("d")  # seconds, one per document with a @timestamp
        self.no_timestamp = 0
        self._seconds: dict[bytes, float] = {}
        self.timeline: list[tuple[float, int]] = []
        self.arrival = 0.0  # wall clock, when the request being answered arrived
        self.reject_fraction = reject_fraction
        self.reject_below = int(reject_fraction * 2**32)
        self.docs = 0  # accepted documents (items answered 2xx)
        self.actions = 0  # action lines received, accepted or not
        self.requests = 0
        self.bytes = 0  # after decompression
        self.wire_bytes = 0  # as received
        self.gzip_requests = 0
        self.rejected = 0
        self.bad_lines = 0
        self.slow_path_requests = 0
        self.unhandled: dict[str, int] = {}
        self.refused_ids: set[bytes] = set()
        self.markers: list[bytes] = []  # concatenated 10-digit markers, one per document
        self.marker_count = 0
        self.first_request: float | None = None
        self.last_request: float | None = None
        self.first_request_wall: float | None = None
        self.last_request_wall: float | None = None

    # -- bodies -------------------------------------------------------------------------

    def decode(self, request: web.Request, body: bytes) -> bytes:
        self.wire_bytes += request.content_length or len(body)
        # aiohttp inflates a gzip request body itself unless told not to; check the magic
        # so that both cases work.
        if body[:2] == b"\x1f\x8b":
            self.gzip_requests += 1
            return gzip.decompress(body)
        if request.headers.get("Content-Encoding", "").lower() == "gzip":
            self.gzip_requests += 1
        if request.headers.get("Content-Encoding", "").lower() == "deflate" and body[:1] == b"x":
            return zlib.decompress(body)
        return body

    def bulk_answer(self, body: bytes, default_index: bytes | None) -> bytes:
        lines = body.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        actions = lines[0::2]
        joined = b"\n".join(actions)
        count = len(actions)
        simple = (
            not self.reject_below
            and len(lines) % 2 == 0
            and joined.count(b'{"create":{"') + joined.count(b'{"index":{"') == count
            and joined.count(b'"_index":') == count
            and joined.count(b"}}") == count
        )
        if simple:
            # Every action line is {"create"|"index":{...}} followed by its source line:
            # an item is its action line with the status added.
            items = b",".join(actions).replace(b"}}", STATUS_201)
            self._accept(count, body)
            return b'{"took":0,"errors":false,"items":[' + items + b"]}"
        self.slow_path_requests += 1
        return self._answer_each(lines, default_index)

    def _accept(self, count: int, body: bytes) -> None:
        self.actions += count
        self.docs += count
        if self.verify:
            found = MARKER_PER_LINE.findall(body)
            self.markers.append(b"".join(found))
            self.marker_count += len(found)
        if self.latency:
            stamps = TIMESTAMP_PER_LINE.findall(body)
            self.no_timestamp += count - len(stamps)
            for seconds, fraction in stamps:
                self._record_latency(seconds, fraction)

    def _record_latency(self, seconds: bytes, fraction: bytes) -> None:
        epoch = self._seconds.get(seconds)
        if epoch is None:
            epoch = datetime.fromisoformat(seconds.decode() + "+00:00").timestamp()
            if len(self._seconds) > 100_000:
                self._seconds.clear()
            self._seconds[seconds] = epoch
        if fraction:
            epoch += int(fraction) / 10 ** len(fraction)
        self.latencies.append(self.arrival - epoch)

    def _answer_each(self, lines: list[bytes], default_index: bytes | None) -> bytes:
        """Walks the body like Elasticsearch: action line, then a source line unless delete."""
        items: list[bytes] = []
        errors = False
        i, end = 0, len(lines)
        while i < end:
            line = lines[i]
            i += 1
            if not line.strip():
                continue
            try:
                action = orjson.loads(line)
                ((name, meta),) = action.items()
            except (orjson.JSONDecodeError, ValueError, AttributeError):
                self.bad_lines += 1
                continue
            name_b = name.encode()
            if name_b not in ACTIONS:
                self.bad_lines += 1
                continue
            source = b""
            if ACTIONS[name_b]:
                source = lines[i] if i < end else b""
                i += 1
            self.actions += 1
            index = meta.get("_index")
            index_b = _json_str(index.encode()) if index else _json_str(default_index or b"bench")
            doc_id = meta.get("_id")
            id_b = doc_id.encode() if isinstance(doc_id, str) else None
            head = b'{"' + name_b + b'":{"_index":' + index_b
            if id_b is not None:
                head += b',"_id":' + _json_str(id_b)
            if self.reject_below and name_b != b"delete":
                key = id_b if id_b is not None else source
                if key in self.refused_ids:
                    self.refused_ids.discard(key)
                elif zlib.crc32(key) < self.reject_below:
                    self.refused_ids.add(key)
                    self.rejected += 1
                    errors = True
                    items.append(head + b"," + REJECTED_ERROR)
                    continue
            self.docs += 1
            status = b"201" if name_b in (b"index", b"create") else b"200"
            items.append(head + b',"status":' + status + b"}}")
            if self.verify and source:
                found = MARKER.search(source)
                if found is not None:
                    self.markers.append(found.group(1))
                    self.marker_count += 1
            if self.latency:
                stamp = TIMESTAMP_PER_LINE.search(source)
                if stamp is None:
                    self.no_timestamp += 1
                else:
                    self._record_latency(stamp.group(1), stamp.group(2))
        flag = b"true" if errors else b"false"
        return b'{"took":0,"errors":' + flag + b',"items":[' + b",".join(items) + b"]}"

    # -- routes -------------------------------------------------------------------------

    async def root(self, request: web.Request) -> web.Response:
        return web.Response(body=BANNER if request.method == "GET" else b"", headers=HEADERS)

    async def bulk(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        wall = time.time()
        if self.first_request is None:
            self.first_request = now
            self.first_request_wall = wall
        body = self.decode(request, await request.read())
        index = request.match_info.get("index")
        self.arrival = wall
        answer = self.bulk_answer(body, index.encode() if index else None)
        self.requests += 1
        self.bytes += len(body)
        self.last_request = time.monotonic()
        self.last_request_wall = wall
        if len(self.timeline) < TIMELINE_MAX:
            self.timeline.append((wall, self.docs))
        return web.Response(body=answer, headers=HEADERS)

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "docs": self.docs,
                "actions": self.actions,
                "requests": self.requests,
                "bytes": self.bytes,
                "wire_bytes": self.wire_bytes,
                "gzip_requests": self.gzip_requests,
                "rejected": self.rejected,
                "bad_lines": self.bad_lines,
                "slow_path_requests": self.slow_path_requests,
                "markers": self.marker_count,
                "busy_seconds": (
                    self.last_request - self.first_request
                    if self.first_request is not None and self.last_request is not None
                    else 0.0
                ),
                "first_request_wall": self.first_request_wall,
                "last_request_wall": self.last_request_wall,
                "unhandled": self.unhandled,
                "verify": self.verify,
                "reject_fraction": self.reject_fraction,
                "latency": self.latency,
            }
        )

    async def timeline_route(self, request: web.Request) -> web.Response:
        return web.json_response(self.timeline)

    async def latency_route(self, request: web.Request) -> web.Response:
        if not self.latency:
            return web.json_response({"error": "start the sink with --latency"}, status=400)
        return web.json_response(self.latency_summary())

    def latency_summary(self) -> dict[str, Any]:
        values = sorted(self.latencies)
        count = len(values)

        def quantile(q: float) -> float | None:
            return round(values[min(count - 1, int(q * count))], 4) if count else None

        return {
            "count": count,
            "no_timestamp": self.no_timestamp,
            "min": round(values[0], 4) if count else None,
            "p50": quantile(0.50),
            "p90": quantile(0.90),
            "p99": quantile(0.99),
            "p999": quantile(0.999),
            "max": round(values[-1], 4) if count else None,
            "mean": round(sum(values) / count, 4) if count else None,
        }

    async def verify_route(self, request: web.Request) -> web.Response:
        if not self.verify:
            return web.json_response({"error": "start the sink with --verify"}, status=400)
        try:
            n = int(request.query["n"])
        except (KeyError, ValueError):
            return web.json_response({"error": "give n, the number of lines"}, status=400)
        return web.json_response(self.check(n))

    def check(self, n: int) -> dict[str, Any]:
        seen = bytearray(n)
        duplicates = out_of_range = 0
        blob = b"".join(self.markers)
        for start in range(0, len(blob), 10):
            k = int(blob[start : start + 10])
            if k >= n:
                out_of_range += 1
            elif seen[k]:
                duplicates += 1
            else:
                seen[k] = 1
        missing = seen.count(0)
        first_missing: list[int] = []
        if missing:
            position = seen.find(0)
            while position != -1 and len(first_missing) < 10:
                first_missing.append(position)
                position = seen.find(0, position + 1)
        return {
            "n": n,
            "docs": self.docs,
            "unique": n - missing,
            "duplicates": duplicates,
            "missing": missing,
            "first_missing": first_missing,
            "no_marker": self.docs - self.marker_count,
            "out_of_range": out_of_range,
            "exactly_once": missing == 0
            and duplicates == 0
            and out_of_range == 0
            and self.docs == self.marker_count,
        }

    async def other(self, request: web.Request) -> web.Response:
        key = f"{request.method} {request.path}"
        if key not in self.unhandled:
            print(f"sink: unhandled {key}", file=sys.stderr, flush=True)
        self.unhandled[key] = self.unhandled.get(key, 0) + 1
        await request.read()
        return web.Response(body=b"{}", headers=HEADERS)


def build_app(sink: Sink) -> web.Application:
    app = web.Application(client_max_size=1 << 30)
    app.router.add_get("/", sink.root)  # also answers HEAD
    for method in ("POST", "PUT"):
        app.router.add_route(method, "/_bulk", sink.bulk)
        app.router.add_route(method, "/{index}/_bulk", sink.bulk)
    app.router.add_get("/_stats", sink.stats)
    app.router.add_get("/_verify", sink.verify_route)
    app.router.add_get("/_latency", sink.latency_route)
    app.router.add_get("/_timeline", sink.timeline_route)
    app.router.add_route("*", "/{tail:.*}", sink.other)
    return app


async def serve(host: str, port: int, sink: Sink) -> None:
    runner = web.AppRunner(build_app(sink), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=128)
    await site.start()
    bound = port
    for address in runner.addresses:
        if isinstance(address, tuple):
            bound = address[1]
            break
    print(f"port {bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9201, help="0: a free port (printed)")
    parser.add_argument(
        "--verify", action="store_true", help="keep the markers for GET /_verify?n=N"
    )
    parser.add_argument(
        "--reject-fraction",
        type=float,
        default=0.0,
        metavar="F",
        help="answer about this fraction of the documents with 429, once per _id",
    )
    parser.add_argument(
        "--latency",
        action="store_true",
        help="keep, per document, arrival time minus @timestamp for GET /_latency",
    )
    args = parser.parse_args(argv)
    if not 0.0 <= args.reject_fraction < 1.0:
        parser.error("--reject-fraction must be in [0, 1)")
    sink = Sink(verify=args.verify, reject_fraction=args.reject_fraction, latency=args.latency)
    asyncio.run(serve(args.host, args.port, sink))
    return 0


if __name__ == "__main__":
    sys.exit(main())
