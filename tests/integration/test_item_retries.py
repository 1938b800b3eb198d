"""Per-item retries against the real server, through a fault-injecting proxy.

The proxy sits between logwharf and the Elasticsearch-compatible server. On its schedule it
takes chosen items out of a bulk request before forwarding it, and puts a 429 item in their
place in the server's real answer (what Elasticsearch does when a shard's write queue is
full), or answers a whole request 503. Only the refused items may be sent again.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from logcorpus import Es


class FaultProxy:
    def __init__(self, upstream: str, refuse_every: int, fail_first_requests: int) -> None:
        self.upstream = upstream
        self.refuse_every = refuse_every
        self.fail_first_requests = fail_first_requests
        self.bulk_requests = 0
        self.refused_ids: set[str] = set()
        self.items_forwarded: list[str] = []
        self.lock = threading.Lock()

    def bulk(self, body: bytes) -> tuple[int, bytes]:
        with self.lock:
            self.bulk_requests += 1
            if self.bulk_requests <= self.fail_first_requests:
                return (
                    503,
                    b'{"error":{"type":"unavailable","reason":"test proxy: 503"},"status":503}',
                )
        lines = body.decode().splitlines()
        pairs = list(zip(lines[0::2], lines[1::2], strict=True))
        keep, refused = [], {}
        for position, (action, source) in enumerate(pairs):
            meta = json.loads(action)["create"]
            with self.lock:
                first_time = meta["_id"] not in self.refused_ids
                if first_time and position % self.refuse_every == 0:
                    self.refused_ids.add(meta["_id"])
                    refused[position] = meta
                    continue
                self.items_forwarded.append(meta["_id"])
            keep.append(action + "\n" + source + "\n")
        answer: dict[str, Any] = {"errors": bool(refused), "items": []}
        if keep:
            forwarded = "".join(keep).encode()
            request = urllib.request.Request(
                self.upstream + "/_bulk",
                data=forwarded,
                method="POST",
                headers={"Content-Type": "application/x-ndjson"},
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = json.loads(response.read())
            answer["errors"] = answer["errors"] or bool(refused)
        items = iter(answer["items"])
        merged = []
        for position in range(len(pairs)):
            if position in refused:
                meta = refused[position]
                merged.append(
                    {
                        "create": {
                            "_index": meta["_index"],
                            "_id": meta["_id"],
                            "status": 429,
                            "error": {
                                "type": "es_rejected_execution_exception",
                                "reason": "test proxy: write queue full",
                            },
                        }
                    }
                )
            else:
                merged.append(next(items))
        answer["items"] = merged
        return 200, json.dumps(answer).encode()

    def forward(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.upstream + path,
            data=body,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


@pytest.fixture
def proxy(es: Es, request: pytest.FixtureRequest) -> Iterator[tuple[FaultProxy, str]]:
    refuse_every, fail_first = request.param
    fault = FaultProxy(es.url, refuse_every, fail_first)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._answer(*fault.forward("GET", self.path, None))

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path.endswith("/_bulk"):
                self._answer(*fault.bulk(body))
            else:
                self._answer(*fault.forward("POST", self.path, body))

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fault, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def write_log(path: Path, count: int) -> Path:
    path.write_text(
        "".join(
            json.dumps(
                {
                    "ts": f"2026-11-22T10:00:{n % 60:02d}Z",
                    "level": "info",
                    "msg": f"event {n}",
                    "n": n,
                }
            )
            + "\n"
            for n in range(count)
        )
    )
    return path


@pytest.mark.parametrize("proxy", [(7, 0)], indirect=True)
@pytest.mark.parametrize("gzip_flag", [[], ["--gzip"]])
def test_only_refused_items_are_sent_again_and_all_arrive_once(
    proxy: tuple[FaultProxy, str],
    es: Es,
    run_logwharf: Any,
    tmp_path: Path,
    gzip_flag: list[str],
) -> None:
    fault, url = proxy
    source = write_log(tmp_path / "app.ndjson", 600)
    run = run_logwharf(
        ["replay", source, "--es", url, "--index", "retried", "--batch-events", "100", *gzip_flag]
    )
    assert run.returncode == 0, run
    assert fault.refused_ids  # the schedule did refuse items
    assert fault.bulk_requests >= 6  # --batch-events 100 for 600 events
    retried = re.search(r"retried\s+([\d,]+) item attempts", run.stderr)
    assert retried and int(retried.group(1).replace(",", "")) == len(fault.refused_ids)
    assert run.summary.indexed == 600 and run.summary.duplicates == 0
    # Nothing that was accepted went again: the server saw each id exactly once.
    assert len(fault.items_forwarded) == len(set(fault.items_forwarded)) == 600
    hits = es.hits("retried")
    assert sorted(int(h["_source"]["app"]["n"]) for h in hits) == list(range(600))


@pytest.mark.parametrize("proxy", [(10**9, 2)], indirect=True)
def test_a_refused_request_is_sent_again_whole(
    proxy: tuple[FaultProxy, str], es: Es, run_logwharf: Any, tmp_path: Path
) -> None:
    fault, url = proxy
    source = write_log(tmp_path / "app.ndjson", 300)
    run = run_logwharf(["replay", source, "--es", url, "--index", "again"])
    assert run.returncode == 0, run
    assert fault.bulk_requests >= 3  # two 503s, then the request that went through
    assert "answered 503" in run.stderr and "Traceback" not in run.stderr
    assert run.summary.indexed == 300
    assert es.count("again") == 300
