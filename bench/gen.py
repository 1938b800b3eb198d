#!/usr/bin/env python3
"""Deterministic Docker json-file log lines for benchmarks.

    python bench/gen.py N OUT [--seed S]

Writes N lines in Docker's json-file format to OUT (gzip-compressed when OUT ends in .gz):

    {"log":"<inner>\\n","stream":"stdout","time":"2026-11-23T00:00:00.123456789Z"}

<inner> is a JSON application log line (about 250-350 bytes, 290 on average: ts, level, logger, msg,
request_id, trace_id, method, path, status, latency_ms, client_ip, user_agent) for about 95 %
of the lines, and plain text for about 5 % (tracebacks, "WARNING:", "[ERROR]", ...). Every
line carries the marker ``req-NNNNNNNNNN`` (its 0-based line number, 10 digits) exactly
once, so that a sink can check exactly-once delivery. Same N and seed, same bytes.

Speed: the lines are put together from pre-escaped templates with ``%`` formatting and one
128-bit random draw per line (no json.dumps per line); about 1 M lines in a few seconds.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import sys
import time
from typing import BinaryIO

__all__ = ["generate", "main"]

BASE_DAY = "2026-11-23"


def _table(weights: list[tuple[str, int]], size: int) -> list[str]:
    """A table of ``size`` entries in which each value appears about in proportion."""
    total = sum(w for _, w in weights)
    table: list[str] = []
    for value, weight in weights:
        table += [value] * round(weight * size / total)
    while len(table) < size:
        table.append(weights[0][0])
    return table[:size]


# 128-entry tables, indexed with 7 random bits each.
LEVELS = _table([("info", 70), ("debug", 15), ("warn", 10), ("error", 5)], 128)
METHODS = _table([("GET", 70), ("POST", 20), ("PUT", 5), ("DELETE", 5)], 128)
LOGGERS = ["http", "db", "auth", "cache", "worker", "billing", "api", "scheduler"]
MESSAGES = {
    "info": [
        "request completed",
        "user signed in",
        "order created",
        "cache refreshed",
        "payment authorised",
        "session renewed",
        "invoice generated",
        "profile updated",
    ],
    "debug": [
        "cache lookup",
        "sql query executed",
        "feature flag evaluated",
        "token validated",
        "retry budget checked",
        "connection reused from pool",
        "response serialised",
        "headers parsed",
    ],
    "warn": [
        "slow request",
        "upstream responded slowly",
        "retrying request",
        "deprecated endpoint used",
        "rate limit close to threshold",
        "connection pool nearly exhausted",
        "cache miss storm detected",
        "client sent oversized header",
    ],
    "error": [
        "request failed",
        "database timeout",
        "upstream returned 502",
        "payment declined by provider",
        "unhandled exception in handler",
        "circuit breaker open",
        "could not acquire lock",
        "message broker unreachable",
    ],
}
STATUSES = {
    "info": ["200"] * 12 + ["201", "201", "204", "304"],
    "debug": ["200"] * 12 + ["201", "204", "204", "304"],
    "warn": ["200", "200", "404", "404", "409", "429", "429", "400"] * 2,
    "error": ["500", "500", "502", "503", "504", "500", "502", "503"] * 2,
}
PATHS = [
    "/api/v1/users/%d",
    "/api/v1/orders/%d",
    "/api/v1/orders",
    "/api/v1/cart/%d/items",
    "/api/v2/search",
    "/api/v1/products/%d/reviews",
    "/healthz",
    "/api/v1/sessions",
    "/api/v1/invoices/%d/pdf",
    "/static/js/app.%d.js",
    "/api/v1/accounts/%d/settings",
    "/api/v2/recommendations",
    "/api/v1/payments/%d/capture",
    "/metrics",
    "/api/v1/shipments/%d/tracking",
    "/api/v1/notifications",
]
USER_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0",
    "Mozilla/5.0 (Macintosh) Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0) Chrome/130.0",
    "curl/8.5.0",
    "okhttp/4.12.0",
    "Go-http-client/1.1",
    "python-requests/2.32.3",
    "kube-probe/1.31",
]
# Plain-text lines (stderr), written already JSON-escaped for the "log" string: %(n)d, %(w)d,
# %(pid)d and %(seq)s (the 10-digit marker) are filled in per line.
PLAIN = [
    'Traceback (most recent call last): File \\"/app/handlers.py\\", line %(n)d, in handle'
    " (req-%(seq)s)",
    "WARNING: worker %(w)d restarted after %(n)d s, req-%(seq)s was in flight",
    "[gunicorn] Booting worker with pid: %(pid)d req-%(seq)s",
    "    at com.example.Service.call(Service.java:%(n)d) req-%(seq)s",
    "GC pause %(n)dms, heap 512MB -> 311MB <req-%(seq)s> & continuing",
    "[ERROR] upstream connect error or disconnect/reset before headers, retried %(w)d"
    " times req-%(seq)s",
    "ERROR: could not serialize access due to concurrent update (pid %(pid)d) req-%(seq)s",
    "INFO: %(n)d connections accepted, worker %(w)d healthy, req-%(seq)s",
]
# The inner application line, escaped once for the outer "log" JSON string.
APP = (
    '{"log":"{\\"ts\\":\\"%s.%03dZ\\",\\"level\\":\\"%s\\",\\"logger\\":\\"%s\\",'
    '\\"msg\\":\\"%s\\",\\"request_id\\":\\"req-%010d\\",\\"trace_id\\":\\"%016x\\",'
    '\\"method\\":\\"%s\\",\\"path\\":\\"%s\\",\\"status\\":%s,\\"latency_ms\\":%s,'
    '\\"client_ip\\":\\"10.%d.%d.%d\\",\\"user_agent\\":\\"%s\\"}\\n",'
    '"stream":"%s","time":"%s.%09dZ"}\n'
)
TEXT = '{"log":"%s\\n","stream":"stderr","time":"%s.%09dZ"}\n'


def _latencies(rnd: random.Random, size: int = 4096) -> list[str]:
    """A pool of log-normal latencies in ms (median ~20 ms, long tail), as JSON numbers."""
    pool = []
    for _ in range(size):
        value = round(rnd.lognormvariate(3.0, 1.0), 3)
        pool.append(repr(value))
    return pool


def generate(n: int, out: BinaryIO, seed: int = 42) -> int:
    """Writes ``n`` lines to ``out``; returns the number of bytes written (uncompressed)."""
    rnd = random.Random(seed)
    latencies = _latencies(rnd)
    getrandbits = rnd.getrandbits
    # Per level: (messages, statuses, stream); 8 and 16 entries, indexed with bits.
    by_level = {
        level: (
            MESSAGES[level],
            STATUSES[level],
            "stderr" if level in ("warn", "error") else "stdout",
        )
        for level in set(LEVELS)
    }
    levels = [(level, *by_level[level]) for level in LEVELS]
    paths = [(p, "%d" in p) for p in PATHS]
    written = 0
    chunk: list[str] = []
    ns_total = 0  # nanoseconds since BASE_DAY 00:00:00
    current_second = -1
    stamp = ""
    for seq in range(n):
        r = getrandbits(128)
        # bits 0-16: time step (50-150 us), 17-26: plain or not, 27-33: level,
        # 34-36: logger, 37-39: message, 40-43: status, 44-50: method, 51-54: path,
        # 55-74: path id, 75-86: latency, 87-110: client ip, 111-113: user agent,
        # 114-127: spare (plain-line numbers).
        ns_total += 50_000 + (r & 0x1FFFF) % 100_001
        second, ns = divmod(ns_total, 1_000_000_000)
        if second != current_second:
            current_second = second
            hours, rest = divmod(second, 3600)
            minutes, seconds = divmod(rest, 60)
            stamp = f"{BASE_DAY}T{hours % 24:02d}:{minutes:02d}:{seconds:02d}"
        if (r >> 17) & 0x3FF < 51:  # 51/1024, about 5 %
            template = PLAIN[(r >> 27) & 7]
            inner = template % {
                "n": 1 + ((r >> 30) & 0x3FF) % 999,
                "w": 1 + ((r >> 40) & 7),
                "pid": 100 + ((r >> 43) & 0xFFFF),
                "seq": f"{seq:010d}",
            }
            chunk.append(TEXT % (inner, stamp, ns))
        else:
            level, messages, statuses, stream = levels[(r >> 27) & 0x7F]
            path, has_id = paths[(r >> 51) & 0xF]
            if has_id:
                path = path % (1 + ((r >> 55) & 0xFFFFF) % 999_999)
            chunk.append(
                APP
                % (
                    stamp,
                    ns // 1_000_000,
                    level,
                    LOGGERS[(r >> 34) & 7],
                    messages[(r >> 37) & 7],
                    seq,
                    getrandbits(64),
                    METHODS[(r >> 44) & 0x7F],
                    path,
                    statuses[(r >> 40) & 0xF],
                    latencies[(r >> 75) & 0xFFF],
                    (r >> 87) & 0xFF,
                    (r >> 95) & 0xFF,
                    1 + ((r >> 103) & 0xFF) % 254,
                    USER_AGENTS[(r >> 111) & 7],
                    stream,
                    stamp,
                    ns,
                )
            )
        if len(chunk) == 10_000:
            data = "".join(chunk).encode()
            out.write(data)
            written += len(data)
            chunk.clear()
    if chunk:
        data = "".join(chunk).encode()
        out.write(data)
        written += len(data)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="number of lines")
    parser.add_argument("out", help="output file; gzip-compressed when it ends in .gz")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--gzip-level", type=int, default=6, help="compression level for .gz (default 6)"
    )
    args = parser.parse_args(argv)
    if args.n < 0:
        parser.error("N must be at least 0")
    started = time.perf_counter()
    tmp = f"{args.out}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as raw:
            if args.out.endswith(".gz"):
                # filename="" and mtime=0: the same bytes on every run.
                with gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, compresslevel=args.gzip_level, mtime=0
                ) as packed:
                    size = generate(args.n, packed, args.seed)  # type: ignore[arg-type]
            else:
                size = generate(args.n, raw, args.seed)
        os.replace(tmp, args.out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    seconds = time.perf_counter() - started
    print(
        f"gen: {args.n:,} lines, {size:,} bytes uncompressed -> {args.out} in {seconds:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
