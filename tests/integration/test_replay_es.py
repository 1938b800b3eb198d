"""``logwharf replay --es`` against a real Elasticsearch-compatible server (osmem).

Each test gets a fresh clone of the server. The corpus (see ``logcorpus``) knows what every
event must become; the tests check the documents the server holds, not logwharf's word.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from logcorpus import (
    Corpus,
    Es,
    Expected,
    copy_to,
    daily_index,
    free_port,
    hits_by_token,
    ns_of,
    parse_utc_iso,
)
from osmem_server import OsmemServer

HOST = socket.gethostname()


def check_document(
    hit: dict[str, Any],
    expected: Expected,
    corpus: Corpus,
    *,
    index: str | None = None,
    read_window: tuple[int, int] | None = None,
) -> None:
    """The document of ``expected`` holds exactly the fields the input calls for."""
    source = hit["_source"]
    where = expected.token
    assert "_id" not in source and "_index" not in source, where
    assert source["message"] == expected.message, where
    stamp = parse_utc_iso(source.get("@timestamp"))
    if expected.timestamp_ns is not None:
        assert stamp == expected.timestamp_ns, (where, source["@timestamp"])
    else:  # no time in the line: the time it was read
        assert read_window is not None
        assert read_window[0] <= stamp <= read_window[1], (where, source["@timestamp"])
    assert hit["_index"] == (index or daily_index(stamp)), where
    log = source["log"]
    assert log.get("level") == expected.level, (where, log)
    assert log["file"]["path"] == str(expected.path), where
    assert log["offset"] == expected.offset, where
    assert source["host"]["name"] == HOST, where
    assert source.get("stream") == expected.stream, where
    if expected.docker:
        container = source["container"]
        assert container["id"] == corpus.container.id, where
        assert container["name"] == corpus.container.name, where
        assert container["image"]["name"] == corpus.container.image_name, where
        assert container["labels"] == corpus.container.labels_dedotted, where
    else:
        assert "container" not in source, where
    assert source.get("app") == expected.app, where
    assert sorted(source.get("tags", [])) == sorted(expected.tags), where


def check_all(
    es: Es,
    corpus: Corpus,
    *,
    index: str | None = None,
    read_window: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    hits = es.hits()
    found = hits_by_token(hits)
    expected = corpus.by_token()
    assert sorted(found) == sorted(expected)
    for token, event in expected.items():
        check_document(found[token], event, corpus, index=index, read_window=read_window)
    ids = [hit["_id"] for hit in hits]
    assert len(set(ids)) == len(ids), "two documents share an _id"
    return hits


def now_ns() -> int:
    return ns_of(datetime.now(UTC))


def test_subprocess_replay_indexes_every_event_with_its_fields(
    es: Es, corpus: Corpus, run_logwharf: Any, tmp_path: Path
) -> None:
    dead_letters = tmp_path / "dead.ndjson"
    started = now_ns()
    run = run_logwharf(
        ["replay", *corpus.paths, "--es", es.url, "--dead-letter-file", dead_letters]
    )
    finished = now_ns()
    assert run.returncode == 0, run
    run.assert_clean()
    total = len(corpus.events)
    summary = run.summary
    assert summary.files == 4
    assert summary.events == total
    assert summary.lines == sum(corpus.lines.values())
    # 3 empty lines in the NDJSON file, 1 in the text file; the rest of the difference is
    # the two extra Docker records of the 40,000-byte line.
    assert summary.empty_lines == 4
    assert summary.lines - summary.empty_lines - summary.events == 2
    assert summary.indexed == total
    assert summary.duplicates == 0
    assert summary.dead_lettered == 0
    assert not dead_letters.exists()
    assert es.count() == total

    hits = check_all(es, corpus, read_window=(started, finished))
    indices = {hit["_index"] for hit in hits}
    today = daily_index(finished)  # of the two NDJSON lines without a time of their own
    assert indices == {
        "logs-docker-2026.11.21",
        "logs-docker-2026.11.22",
        "logs-docker-2026.11.23",
        "logs-docker-2026.11.24",
        today,
    }
    big = hits_by_token(hits)["dk-big"]["_source"]
    assert len(big["app"]["blob"]) == 40_000 - len(
        '{"level":"info","msg":"big payload [dk-big]","blob":""}'
    )
    assert "truncated" not in big.get("tags", [])


def test_in_process_replay_then_again_adds_nothing(es: Es, corpus: Corpus, run_main: Any) -> None:
    total = len(corpus.events)
    started = now_ns()
    first = run_main(["replay", *corpus.paths, "--es", es.url])
    finished = now_ns()
    assert first.returncode == 0, first
    assert first.summary.indexed == total
    hits = check_all(es, corpus, read_window=(started, finished))
    before = {(hit["_index"], hit["_id"]) for hit in hits}

    second = run_main(["replay", *corpus.paths, "--es", es.url])
    assert second.returncode == 0, second
    assert second.summary.events == total
    assert second.summary.indexed == 0
    assert second.summary.duplicates == total
    assert second.summary.dead_lettered == 0
    assert es.count() == total
    after = {(hit["_index"], hit["_id"]) for hit in es.hits()}
    assert after == before


def test_subprocess_replay_twice_adds_nothing(
    es: Es, corpus: Corpus, run_logwharf: Any, tmp_path: Path
) -> None:
    total = len(corpus.events)
    first = run_logwharf(["replay", *corpus.paths, "--es", es.url])
    assert first.returncode == 0, first
    ids = sorted(hit["_id"] for hit in es.hits())
    assert len(set(ids)) == total

    second = run_logwharf(["replay", *corpus.paths, "--es", es.url, "--batch-events", "50"])
    assert second.returncode == 0, second
    second.assert_clean()
    assert second.summary.indexed == 0
    assert second.summary.duplicates == total
    assert es.count() == total
    assert sorted(hit["_id"] for hit in es.hits()) == ids
    assert not (tmp_path / "logwharf-dead-letters.ndjson").exists()


def test_index_option_puts_every_event_in_that_index(
    es: Es, corpus: Corpus, run_logwharf: Any
) -> None:
    started = now_ns()
    run = run_logwharf(["replay", *corpus.paths, "--es", es.url, "--index", "replayed-2026"])
    finished = now_ns()
    assert run.returncode == 0, run
    assert es.indices() == {"replayed-2026": len(corpus.events)}
    check_all(es, corpus, index="replayed-2026", read_window=(started, finished))


def test_gzip_bulk_requests_index_every_event(es: Es, corpus: Corpus, run_logwharf: Any) -> None:
    started = now_ns()
    run = run_logwharf(["replay", *corpus.paths, "--es", es.url, "--index", "gz", "--gzip"])
    finished = now_ns()
    assert run.returncode == 0, run
    assert es.indices() == {"gz": len(corpus.events)}
    check_all(es, corpus, index="gz", read_window=(started, finished))


def test_index_from_the_environment(es: Es, corpus: Corpus, run_logwharf: Any) -> None:
    run = run_logwharf(
        ["replay", corpus.ndjson],
        env={"LOGWHARF_ES_URL": es.url, "LOGWHARF_INDEX": "from-env"},
    )
    assert run.returncode == 0, run
    assert es.indices() == {"from-env": len(corpus.for_path(corpus.ndjson))}


def _gzip_to(source: Path, target: Path, level: int = 9) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(gzip.compress(source.read_bytes(), compresslevel=level))
    return target


def test_copies_and_gzipped_copies_index_nothing_new(
    es: Es, corpus: Corpus, run_logwharf: Any, tmp_path: Path
) -> None:
    total = len(corpus.events)
    first = run_logwharf(["replay", *corpus.paths, "--es", es.url])
    assert first.returncode == 0, first
    ids = sorted(hit["_id"] for hit in es.hits())

    copies = tmp_path / "copied-off-the-host"
    cid = corpus.container.id
    other_docker = copies / "docker-root" / "containers" / cid
    copy_to(corpus.docker.parent / "config.v2.json", other_docker / "config.v2.json")
    paths = [
        copy_to(corpus.ndjson, copies / "billing-copy.ndjson"),
        _gzip_to(corpus.ndjson, copies / "billing.ndjson.1.gz"),
        copy_to(corpus.text, copies / "renamed.txt"),
        _gzip_to(corpus.text, copies / "app.log.2.gz", level=1),
        # the .gz decompressed, and compressed again with other settings
        _write(copies / "nightly.log.1", gzip.decompress(corpus.gz.read_bytes())),
        _gzip_to(copies / "nightly.log.1", copies / "again" / "nightly.log.1.gz", level=1),
        # a Docker log in another Docker root, and its logrotate-compressed form
        copy_to(corpus.docker, other_docker / corpus.docker.name),
        _gzip_to(corpus.docker, other_docker / f"{corpus.docker.name}.1.gz"),
    ]
    expected = sum(
        len(corpus.for_path(original))
        for original in (
            corpus.ndjson,
            corpus.ndjson,
            corpus.text,
            corpus.text,
            corpus.gz,
            corpus.gz,
            corpus.docker,
            corpus.docker,
        )
    )
    again = run_logwharf(["replay", *paths, "--es", es.url])
    assert again.returncode == 0, again
    again.assert_clean()
    assert again.summary.events == expected
    assert again.summary.indexed == 0
    assert again.summary.duplicates == expected
    assert es.count() == total
    assert sorted(hit["_id"] for hit in es.hits()) == ids


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_docker_log_copied_off_the_host_keeps_its_ids(
    es: Es, corpus: Corpus, run_logwharf: Any, tmp_path: Path
) -> None:
    first = run_logwharf(["replay", corpus.docker, "--es", es.url])
    assert first.returncode == 0, first
    count = es.count()
    assert count == len(corpus.for_path(corpus.docker))

    incident = tmp_path / "incident-2026-11-23"
    copy = copy_to(corpus.docker, incident / corpus.docker.name)
    packed = _gzip_to(corpus.docker, incident / "older" / f"{corpus.docker.name}.1.gz")
    again = run_logwharf(["replay", copy, packed, "--es", es.url])
    assert again.returncode == 0, again
    assert again.summary.indexed == 0
    assert again.summary.duplicates == 2 * count
    assert es.count() == count


def test_different_files_with_the_same_first_kib_are_all_indexed(
    es: Es, run_logwharf: Any, tmp_path: Path
) -> None:
    banner = "".join(
        f"2026-11-22T08:00:{n:02d}.000Z INFO starting worker pool\n" for n in range(30)
    )
    assert len(banner) > 1024
    one = tmp_path / "replica-1.log"
    two = tmp_path / "replica-2.log"
    one.write_text(banner + "2026-11-22T08:01:00.000Z INFO replica 1 served order 7\n")
    two.write_text(banner + "2026-11-22T08:01:00.000Z ERROR replica 2 lost order 9\n")
    run = run_logwharf(["replay", one, two, "--es", es.url])
    assert run.returncode == 0, run
    messages = {hit["_source"]["message"] for hit in es.hits()}
    assert "2026-11-22T08:01:00.000Z INFO replica 1 served order 7" in messages
    assert "2026-11-22T08:01:00.000Z ERROR replica 2 lost order 9" in messages
    # the banner lines may be taken for one copy of the same lines (32) or not (62)
    assert es.count() in (30 + 2, 60 + 2)


def test_refused_event_goes_to_the_dead_letter_file(
    es: Es, run_logwharf: Any, tmp_path: Path
) -> None:
    # app.status is a long in that day's index before the replay starts.
    index = "logs-docker-2026.11.22"
    seed = b'{"create":{"_index":"%s","_id":"seed"}}\n{"app":{"status":200}}\n' % index.encode()
    answer = es.request("POST", "/_bulk", seed, ndjson=True)
    assert not answer["errors"], answer
    lines = []
    for i in range(60):
        status: Any = "not-a-number" if i == 37 else 200 + i % 3
        lines.append(
            json.dumps(
                {
                    "ts": f"2026-11-22T12:00:{i:02d}.000Z",
                    "level": "info",
                    "msg": f"call {i}",
                    "status": status,
                }
            )
        )
    source = tmp_path / "calls.ndjson"
    source.write_text("\n".join(lines) + "\n")
    dead_letters = tmp_path / "refused" / "dead.ndjson"
    run = run_logwharf(
        [
            "replay",
            source,
            "--es",
            es.url,
            "--dead-letter-file",
            dead_letters,
            "--batch-events",
            "7",
        ]
    )
    assert run.returncode == 1, run
    run.assert_clean()
    summary = run.summary
    assert summary.events == 60
    assert summary.indexed == 59
    assert summary.dead_lettered == 1
    assert str(dead_letters) in run.stderr

    records = [json.loads(line) for line in dead_letters.read_text().splitlines()]
    assert len(records) == 1
    record = records[0]
    assert record["status"] == 400
    assert "app.status" in record["reason"]
    assert record["index"] == index
    assert record["event"]["message"] == "call 37"
    assert record["event"]["app"] == {"status": "not-a-number"}
    assert record["event"]["log"]["file"]["path"] == str(source)
    assert parse_utc_iso(record["event"]["@timestamp"]) == parse_utc_iso("2026-11-22T12:00:37.000Z")

    assert es.count() == 59 + 1  # and the seed
    messages = {hit["_source"].get("message") for hit in es.hits()}
    assert messages == {f"call {i}" for i in range(60) if i != 37} | {None}


def test_waits_for_elasticsearch_then_delivers_everything(corpus: Corpus, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "logwharf", "replay", *map(str, corpus.paths), "--es", url],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={k: v for k, v in os.environ.items() if not k.startswith("LOGWHARF_")},
            cwd=tmp_path,
        )
    server = None
    try:
        deadline = time.monotonic() + 30
        while "cannot reach Elasticsearch" not in stderr_path.read_text():
            assert process.poll() is None, stderr_path.read_text()
            assert time.monotonic() < deadline, "no warning about the missing server"
            time.sleep(0.1)
        time.sleep(1.0)  # still waiting, not given up
        assert process.poll() is None, stderr_path.read_text()
        server = OsmemServer.start(addr=f"127.0.0.1:{port}", japanese=False)
        returncode = process.wait(timeout=60)
        stderr_text = stderr_path.read_text()
        assert returncode == 0, stderr_text
        assert "Traceback" not in stderr_text
        warning = next(
            line for line in stderr_text.splitlines() if "cannot reach Elasticsearch" in line
        )
        assert f"127.0.0.1:{port}" in warning
        assert "retrying" in warning
        es = Es(server.url)
        total = len(corpus.events)
        assert es.count() == total
        found = hits_by_token(es.hits())
        assert sorted(found) == sorted(corpus.by_token())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if server is not None:
            server.close()


def test_credentials_in_the_url_never_show(es: Es, corpus: Corpus, run_logwharf: Any) -> None:
    url = es.url.replace("http://", "http://elastic:s3cr3t-pw@")
    run = run_logwharf(["--log-level", "debug", "replay", corpus.text, "--es", url])
    assert run.returncode == 0, run
    assert "s3cr3t-pw" not in run.stderr
    assert es.url.removeprefix("http://") in run.stderr  # the host is still named
    assert es.count() == len(corpus.for_path(corpus.text))


@pytest.mark.parametrize("depth", [30, 1000])
def test_deeply_nested_json_is_indexed_or_dead_lettered_not_fatal(
    es: Es, run_logwharf: Any, tmp_path: Path, depth: int
) -> None:
    # Elasticsearch refuses objects deeper than index.mapping.depth.limit (20) with 400;
    # orjson cannot even write one nested 1,000 deep. Either way the event must end up
    # indexed (as text) or in the dead-letter file, and the run must go on.
    deep = '{"ts":"2026-11-22T12:00:00Z","msg":"deep","a":' + '{"a":' * depth + "1" + "}" * depth
    source = tmp_path / "deep.ndjson"
    source.write_text(
        '{"ts":"2026-11-22T11:59:59Z","msg":"shallow"}\n' + deep + "}\n"
        '{"ts":"2026-11-22T12:00:01Z","msg":"after"}\n'
    )
    dead_letters = tmp_path / "dead.ndjson"
    run = run_logwharf(["replay", source, "--es", es.url, "--dead-letter-file", dead_letters])
    run.assert_clean()
    summary = run.summary
    assert summary.events == 3
    assert summary.indexed + summary.dead_lettered == 3
    assert run.returncode == (1 if summary.dead_lettered else 0), run
    messages = [hit["_source"]["message"] for hit in es.hits()]
    assert "shallow" in messages and "after" in messages
    assert len(messages) == summary.indexed
    if summary.dead_lettered:
        [record] = [json.loads(line) for line in dead_letters.read_text().splitlines()]
        # refused by the server (400), or found unencodable before sending (no status)
        assert record["status"] in (400, None)
        assert record["reason"]
        assert "deep" in json.dumps(record["event"])
    else:
        assert not dead_letters.exists()
    if depth == 30:  # nothing stops this one before the server, which refuses it
        assert summary.dead_lettered == 1


def test_unwritable_dead_letter_file_is_a_clear_error(
    es: Es, run_logwharf: Any, tmp_path: Path
) -> None:
    source = tmp_path / "calls.ndjson"
    source.write_text(
        '{"ts":"2026-11-22T12:00:00Z","msg":"ok","status":200}\n'
        '{"ts":"2026-11-22T12:00:01Z","msg":"refused","status":"not-a-number"}\n'
    )
    folder = tmp_path / "a-directory"
    folder.mkdir()
    run = run_logwharf(["replay", source, "--es", es.url, "--dead-letter-file", folder])
    assert run.returncode in (1, 2), run
    run.assert_clean()
    assert str(folder) in run.stderr


def test_bad_input_reaches_elasticsearch_whole(es: Es, run_logwharf: Any, tmp_path: Path) -> None:
    """Content that is hard to read is still indexed: every event, exit 0."""
    data = (
        b"2026-11-22T12:00:00Z INFO latin-1 \xe9t\xe9\n"
        b"2026-11-22T12:00:01Z INFO nul \x00 byte\n"
        b'{"ts":"2026-11-22T12:00:02Z","msg":"cut\n'
        b"[1,2,3]\n42\n"
        b'{"ts":"2026-11-22T12:00:03Z","msg":"first","msg":"second"}\n'
        + b'{"a":' * 10_000
        + b"1"
        + b"}" * 10_000
        + b"\n\n\n"
        + b"2026-11-22T12:00:04Z WARN huge "
        + b"q" * 3_000_000
        + b"\n2026-11-22T12:00:05Z INFO the end\n"
    )
    source = tmp_path / "hard.log"
    source.write_bytes(data)
    run = run_logwharf(["replay", source, "--es", es.url])
    assert run.returncode == 0, run
    run.assert_clean()
    summary = run.summary
    assert summary.lines == data.count(b"\n")
    assert summary.empty_lines == 2
    assert summary.events == summary.lines - 2 == summary.indexed
    hits = es.hits()
    assert len(hits) == summary.events
    by_offset = {hit["_source"]["log"]["offset"]: hit["_source"] for hit in hits}
    huge = by_offset[data.index(b"2026-11-22T12:00:04Z WARN huge")]
    assert len(huge["message"]) == 1024 * 1024
    assert huge["tags"] == ["truncated"]
    assert huge["log"]["level"] == "warn"
    assert by_offset[data.index(b"2026-11-22T12:00:01Z")]["message"].endswith("nul \x00 byte")
    assert "_invalidutf8" in by_offset[0]["tags"]
