"""A generated corpus of logs with what each event must become, and a small HTTP client
for the Elasticsearch-compatible server (osmem) that the integration tests index into.

Every event's message carries a token such as ``[dk-0007]``; the corpus records, for each
token, the fields the indexed document must have, worked out here from the input (the
Docker json-file format, ECS, UTC) rather than from logwharf's own code.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NS = 10**9
DOCKER_PARTIAL = 16 * 1024  # Docker's json-file driver splits longer lines into 16 KiB records
TOKEN = re.compile(r"\[((?:dk|nd|pl|gz)-[\w-]+)\]")
UTC_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")


def ns_of(moment: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime (exact, no float)."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * NS + delta.microseconds * 1000


def docker_time(ns: int) -> str:
    """Docker's own time format: UTC, nine fraction digits, ``Z``."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=ns // NS)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ns % NS:09d}Z"


def parse_utc_iso(text: Any) -> int:
    """Nanoseconds of a UTC ISO 8601 string ending in ``Z``; fails on anything else."""
    assert isinstance(text, str), text
    match = UTC_ISO.fullmatch(text)
    assert match is not None, f"@timestamp {text!r} is not UTC ISO 8601 with Z"
    year, month, day, hour, minute, second, fraction = match.groups()
    moment = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC
    )
    return ns_of(moment) + int((fraction or "").ljust(9, "0"))


def daily_index(ns: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=ns // NS)
    return f"logs-docker-{moment:%Y.%m.%d}"


@dataclass
class Expected:
    """What the document of one event must hold."""

    token: str
    message: str
    path: Path
    offset: int
    timestamp_ns: int | None  # None: the read time (the line has no time of its own)
    level: str | None = None
    stream: str | None = None
    docker: bool = False
    app: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class Container:
    id: str
    name: str
    image: str
    image_name: str
    labels: dict[str, str]
    labels_dedotted: dict[str, str]


@dataclass
class Corpus:
    docker: Path
    ndjson: Path
    text: Path
    gz: Path
    container: Container
    events: list[Expected]
    lines: dict[Path, int]  # lines (records) in each file

    @property
    def paths(self) -> list[Path]:
        return [self.docker, self.ndjson, self.text, self.gz]

    def by_token(self) -> dict[str, Expected]:
        found = {event.token: event for event in self.events}
        assert len(found) == len(self.events), "tokens must be unique"
        return found

    def for_path(self, path: Path) -> list[Expected]:
        return [event for event in self.events if event.path == path]


class _Writer:
    """Collects lines and their byte offsets for one file."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.records = 0

    def add(self, line: bytes, end: bytes = b"\n") -> int:
        offset = len(self.data)
        self.data += line + end
        self.records += 1
        return offset


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# (value as the application writes it, the ECS level it must become)
LEVELS: list[tuple[Any, str]] = [
    ("info", "info"),
    ("WARNING", "warn"),
    ("err", "error"),
    ("DEBUG", "debug"),
    (30, "info"),  # pino/bunyan numbers
    (50, "error"),
    ("fatal", "fatal"),
    ("notice", "info"),  # syslog's notice is informational
    ("Warn", "warn"),
]


def build_docker(root: Path, events: list[Expected]) -> tuple[Path, Container, int]:
    container_id = hashlib.sha256(b"shop-web-1").hexdigest()
    folder = root / "var-lib-docker" / "containers" / container_id
    folder.mkdir(parents=True)
    labels = {
        "com.docker.compose.project": "shop",
        "com.docker.compose.service": "web",
        "org.opencontainers.image.version": "1.4.2",
    }
    image = "registry.local:5000/shop/web:1.4.2"
    config = {
        "ID": container_id,
        "Name": "/shop-web-1",
        "Config": {"Image": image, "Labels": labels, "Hostname": "c0ffee"},
        "State": {"Running": True},
    }
    (folder / "config.v2.json").write_text(json.dumps(config))
    for other in ("hostname", "hosts", "resolv.conf"):
        (folder / other).write_text("not a log\n")
    path = folder / f"{container_id}-json.log"
    out = _Writer()
    base = ns_of(datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)) + 123_456
    clock = [base]

    def record(log: str, stream: str = "stdout", at: int | None = None) -> tuple[int, int]:
        if at is None:
            clock[0] += 250_000_000
            at = clock[0]
        entry = {"log": log, "stream": stream, "time": docker_time(at)}
        return out.add(_compact(entry)), at

    def add(token: str, message: str, offset: int, at: int | None, **kw: Any) -> None:
        events.append(Expected(token, message, path, offset, at, docker=True, **kw))

    for i in range(200):
        token = f"dk-{i:04d}"
        level_value, level = LEVELS[i % len(LEVELS)]
        app = {
            "method": "POST" if i % 4 == 0 else "GET",
            "status": 200 + i % 5,
            "latency_ms": i * 1.25 + 0.5,
            "request_id": f"req-{i:04d}",
            "user": {"id": f"u-{i % 7}", "tier": "gold"},
        }
        docker_at = clock[0] + 250_000_000
        app_ms = docker_at // 1_000_000 - 1  # the app's clock is a millisecond behind Docker's
        app_moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=app_ms)
        variant = i % 4
        record_fields: dict[str, Any]
        if variant == 0:
            record_fields = {"ts": f"{app_moment:%Y-%m-%dT%H:%M:%S}.{app_ms % 1000:03d}Z"}
        elif variant == 1:
            local = app_moment.astimezone(UTC) + timedelta(hours=2)
            record_fields = {"time": f"{local:%Y-%m-%dT%H:%M:%S}.{app_ms % 1000:03d}+02:00"}
        elif variant == 2:
            record_fields = {"timestamp": app_ms}  # epoch milliseconds
        else:  # no zone: UTC
            record_fields = {"@timestamp": f"{app_moment:%Y-%m-%d %H:%M:%S}.{app_ms % 1000:03d}"}
        level_key = "severity" if i % 3 == 0 else "level"
        message_key = "message" if i % 2 else "msg"
        message = f"request {i} handled [{token}]"
        line = {**record_fields, level_key: level_value, message_key: message, **app}
        offset, _ = record(json.dumps(line) + "\n", "stdout" if i % 5 else "stderr")
        add(
            token,
            message,
            offset,
            app_ms * 1_000_000,
            level=level,
            stream="stdout" if i % 5 else "stderr",
            app=app,
        )

    text = "2026-11-23 09:01:00,004 WARN [scheduler] job cleanup took 2.3 s [dk-text-warn]"
    offset, at = record(text + "\n")
    # The record's own (Docker) time wins over a time inside the text.
    add("dk-text-warn", text, offset, at, level="warn", stream="stdout")
    text = "[ERROR] worker 3 crashed: exit status 137 [dk-text-error]"
    offset, at = record(text + "\r\n", "stderr")  # a CRLF program: the \r goes too
    add("dk-text-error", text, offset, at, level="error", stream="stderr")
    for n, text in enumerate(
        [
            "Traceback (most recent call last): [dk-tb-1]",
            '  File "/app/handlers.py", line 88, in create_order [dk-tb-2]',
            "ValueError: bad input [dk-tb-3]",
        ],
        1,
    ):
        offset, at = record(text + "\n", "stderr")
        add(f"dk-tb-{n}", text, offset, at, stream="stderr")
    text = '{"level":"info","msg":"truncated json [dk-broken]"'
    offset, at = record(text + "\n")
    add("dk-broken", text, offset, at, stream="stdout", tags=["_jsonparsefailure"])
    same = clock[0] + 250_000_000
    clock[0] = same
    for name in ("a", "b"):  # two lines with the same time and stream are two events
        text = f"same instant {name} [dk-same-{name}]"
        offset, _ = record(text + "\n", at=same)
        add(f"dk-same-{name}", text, offset, same, stream="stdout")

    # A 40,000-byte line: three 16 KiB records, and a stderr line between its pieces.
    blob_len = 40_000 - len('{"level":"info","msg":"big payload [dk-big]","blob":""}')
    big = '{"level":"info","msg":"big payload [dk-big]","blob":"' + "x" * blob_len + '"}'
    assert len(big) == 40_000
    pieces = [big[:DOCKER_PARTIAL], big[DOCKER_PARTIAL : 2 * DOCKER_PARTIAL]]
    pieces.append(big[2 * DOCKER_PARTIAL :] + "\n")
    big_offset, big_at = record(pieces[0])
    text = "interleaved on stderr [dk-interleaved]"
    offset, at = record(text + "\n", "stderr")
    add("dk-interleaved", text, offset, at, stream="stderr")
    record(pieces[1])
    record(pieces[2])
    add(
        "dk-big",
        "big payload [dk-big]",
        big_offset,
        big_at,  # the time of the line's first piece
        level="info",
        stream="stdout",
        app={"blob": "x" * blob_len},
    )

    # Past midnight UTC: a daily index of its own; but an app time before midnight wins.
    late = ns_of(datetime(2026, 11, 24, 0, 0, 1, 500_000, tzinfo=UTC))
    text = "shutting down [dk-late]"
    offset, _ = record(text + "\n", at=late)
    add("dk-late", text, offset, late, stream="stdout")
    message = "last request [dk-late-json]"
    line = {"time": "2026-11-24T01:59:59.000+02:00", "level": "info", "msg": message}
    offset, _ = record(json.dumps(line) + "\n", at=late + NS)
    add(
        "dk-late-json",
        message,
        offset,
        ns_of(datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)),
        level="info",
        stream="stdout",
    )
    path.write_bytes(bytes(out.data))
    container = Container(
        id=container_id,
        name="shop-web-1",
        image=image,
        image_name="registry.local:5000/shop/web",
        labels=labels,
        labels_dedotted={key.replace(".", "_"): value for key, value in labels.items()},
    )
    return path, container, out.records


def build_ndjson(root: Path, events: list[Expected]) -> tuple[Path, int]:
    path = root / "services" / "billing.ndjson"
    path.parent.mkdir(parents=True)
    out = _Writer()
    base = datetime(2026, 11, 22, 20, 0, 0, tzinfo=UTC)
    severities = [("I", "info"), ("W", "warn"), ("E", "error"), ("warning", "warn")]
    for i in range(150):
        token = f"nd-{i:04d}"
        moment = base + timedelta(seconds=37 * i)
        variant = i % 3
        stamp: Any
        if variant == 0:  # an offset that puts the local date on the next day
            local = moment + timedelta(hours=5, minutes=30)
            stamp = f"{local:%Y-%m-%dT%H:%M:%S}+05:30"
        elif variant == 1:
            stamp = int(moment.timestamp())  # epoch seconds
        else:
            stamp = str(int(moment.timestamp()) * 1000)  # epoch milliseconds, as a string
        value, level = severities[i % len(severities)]
        message = f"invoice {i} sent [{token}]"
        app = {"account": f"acct-{i % 9}", "bytes": i * 100, "nested": {"k": i}}
        line = {"time": stamp, "severity": value, "message": message, **app}
        offset = out.add(json.dumps(line).encode())
        events.append(Expected(token, message, path, offset, ns_of(moment), level=level, app=app))
        if i in (10, 11, 90):
            out.add(b"")  # empty lines are skipped, not events
    message = "windows line end [nd-crlf]"
    offset = out.add(_compact({"msg": message, "level": "info"}), b"\r\n")
    events.append(Expected("nd-crlf", message, path, offset, None, level="info"))
    text = '{"message": "broken [nd-broken]", "account": '
    offset = out.add(text.encode())
    events.append(Expected("nd-broken", text, path, offset, None, tags=["_jsonparsefailure"]))
    path.write_bytes(bytes(out.data))
    return path, out.records


def build_text(root: Path, events: list[Expected]) -> tuple[Path, int]:
    path = root / "legacy" / "app.log"
    path.parent.mkdir(parents=True)
    out = _Writer()
    base = datetime(2026, 11, 22, 10, 0, 0, 120_000, tzinfo=UTC)
    for i in range(100):
        token = f"pl-{i:04d}"
        moment = base + timedelta(seconds=11 * i)
        variant = i % 5
        if variant == 0:  # no zone: UTC
            text = f"{moment:%Y-%m-%d %H:%M:%S},120 INFO [{token}] cache refreshed"
            level = "info"
        elif variant == 1:
            local = moment + timedelta(hours=1)
            text = f"{local:%Y-%m-%dT%H:%M:%S}.120+01:00 ERROR [{token}] disk almost full"
            level = "error"
        elif variant == 2:
            text = f"[{moment:%Y-%m-%dT%H:%M:%S}.120Z] [warn] [{token}] slow disk"
            level = "warn"
        elif variant == 3:
            text = f"{moment:%Y-%m-%dT%H:%M:%S}.120Z DEBUG: [{token}] cache miss"
            level = "debug"
        else:
            text = f"{moment:%Y-%m-%dT%H:%M:%S}.120Z just some words [{token}]"
            level = None
        offset = out.add(text.encode())
        events.append(Expected(token, text, path, offset, ns_of(moment), level=level))
        if i == 50:
            out.add(b"")
    # The last line has no newline at the end: it is still a line.
    text = "2026-11-22T23:59:59.999Z INFO last line without newline [pl-last]"
    offset = out.add(text.encode(), b"")
    moment = datetime(2026, 11, 22, 23, 59, 59, 999_000, tzinfo=UTC)
    events.append(Expected("pl-last", text, path, offset, ns_of(moment), level="info"))
    path.write_bytes(bytes(out.data))
    return path, out.records


def build_gz(root: Path, events: list[Expected]) -> tuple[Path, int]:
    path = root / "archive" / "nightly.log.1.gz"
    path.parent.mkdir(parents=True)
    out = _Writer()
    base = datetime(2026, 11, 21, 8, 0, 0, tzinfo=UTC)
    for i in range(80):
        token = f"gz-{i:04d}"
        moment = base + timedelta(seconds=i, milliseconds=7)
        level = "error" if i % 10 == 9 else "info"
        message = f"nightly step {i} [{token}]"
        stamp = f"{moment:%Y-%m-%dT%H:%M:%S}.007Z"
        line = {"ts": stamp, "level": level, "msg": message, "job": "nightly", "step": i}
        # log.offset is the offset in the decompressed content
        offset = out.add(_compact(line))
        app = {"job": "nightly", "step": i}
        events.append(Expected(token, message, path, offset, ns_of(moment), level=level, app=app))
    path.write_bytes(gzip.compress(bytes(out.data)))
    return path, out.records


def build_corpus(root: Path) -> Corpus:
    events: list[Expected] = []
    docker, container, docker_lines = build_docker(root, events)
    ndjson, ndjson_lines = build_ndjson(root, events)
    text, text_lines = build_text(root, events)
    gz, gz_lines = build_gz(root, events)
    lines = {docker: docker_lines, ndjson: ndjson_lines, text: text_lines, gz: gz_lines}
    return Corpus(docker, ndjson, text, gz, container, events, lines)


class Es:
    """The few requests the tests need, with plain urllib: nothing shared with logwharf."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def request(self, method: str, path: str, body: Any = None, ndjson: bool = False) -> Any:
        if body is None:
            data = None
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        content_type = "application/x-ndjson" if ndjson else "application/json"
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{method} {path}: {error.code} {error.read()[:500]!r}") from None

    def refresh(self) -> None:
        self.request("POST", "/_refresh")

    def count(self, index: str = "*") -> int:
        self.refresh()
        return int(self.request("GET", f"/{index}/_count")["count"])

    def hits(self, index: str = "*") -> list[dict[str, Any]]:
        """Every document (``_index``, ``_id``, ``_source``) of the indices matching."""
        self.refresh()
        answer = self.request(
            "POST", f"/{index}/_search", {"size": 10_000, "query": {"match_all": {}}}
        )
        hits: list[dict[str, Any]] = answer["hits"]["hits"]
        assert len(hits) == answer["hits"]["total"]["value"], "more documents than one page"
        return hits

    def indices(self) -> dict[str, int]:
        rows = self.request("GET", "/_cat/indices?format=json")
        return {row["index"]: int(row["docs.count"]) for row in rows}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def copy_to(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def hits_by_token(hits: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for hit in hits:
        match = TOKEN.search(hit["_source"].get("message", ""))
        assert match is not None, f"a document without a token: {str(hit)[:300]}"
        assert match.group(1) not in found, f"two documents for {match.group(1)}"
        found[match.group(1)] = hit
    return found
