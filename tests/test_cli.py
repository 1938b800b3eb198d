"""``logwharf replay`` from the command line, fed bad input, mostly without a server.

For every input: no traceback, the documented exit code (0 ok; 1 something dead-lettered,
not delivered or unreadable; 2 usage or configuration), and every line accounted for:
the summary's lines are the file's lines, events + empty lines skipped = lines, and the
events written are the events read.
"""

from __future__ import annotations

import gzip
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MiB = 1024 * 1024
UTC_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")


def lines_in(data: bytes) -> int:
    """Lines as a reader counts them: one per newline, plus an unterminated last one."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def replay_to_file(run_logwharf: Any, tmp_path: Path, *args: Any) -> tuple[Any, list[Any]]:
    out = tmp_path / "out.ndjson"
    run = run_logwharf(["replay", *args, "--output", out])
    events = [json.loads(line) for line in out.read_bytes().splitlines()] if out.exists() else []
    return run, events


def check_accounted(run: Any, data: bytes, events: list[Any]) -> None:
    """One text/NDJSON file: every line of it is an event or a skipped empty line."""
    run.assert_clean()
    summary = run.summary
    assert summary.lines == lines_in(data)
    assert summary.events + summary.empty_lines == summary.lines
    assert summary.written == summary.events == len(events)
    for event in events:
        assert isinstance(event, dict)
        assert UTC_Z.fullmatch(event["@timestamp"]), event["@timestamp"]
        assert "_id" not in event and "_index" not in event


def offsets_of(data: bytes) -> list[int]:
    """Byte offset of each non-empty line (a lone \\r counts as empty)."""
    offsets, position = [], 0
    for line in data.split(b"\n"):
        if line not in (b"", b"\r"):
            offsets.append(position)
        position += len(line) + 1
    return offsets


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- bad content ------------------------------------------------------------------------


def test_invalid_utf8_is_kept_replaced_and_tagged(run_logwharf: Any, tmp_path: Path) -> None:
    data = b'fine line\n\xff\xfe broken bytes\n{"msg":"caf\xe9 au lait"}\nlatin-1 \xe9t\xe9\n'
    path = write(tmp_path, "bad-utf8.log", data)
    run, events = replay_to_file(run_logwharf, tmp_path, path)
    assert run.returncode == 0, run
    check_accounted(run, data, events)
    assert len(events) == 4
    assert events[0]["message"] == "fine line"
    assert "tags" not in events[0]
    for event in events[1:]:
        assert "\ufffd" in event["message"]
        assert "_invalidutf8" in event["tags"]
    assert events[1]["message"].endswith(" broken bytes")
    assert "caf\ufffd au lait" in events[2]["message"]
    assert [event["log"]["offset"] for event in events] == offsets_of(data)


def test_nul_bytes_survive(run_logwharf: Any, tmp_path: Path) -> None:
    data = b'before\x00after\n\x00\x00\n{"msg":"a\x00b"}\n'
    path = write(tmp_path, "nul.log", data)
    run, events = replay_to_file(run_logwharf, tmp_path, path)
    assert run.returncode == 0, run
    check_accounted(run, data, events)
    assert [event["message"] for event in events] == [
        "before\x00after",
        "\x00\x00",
        '{"msg":"a\x00b"}',  # a raw NUL is not allowed in a JSON string: kept as text
    ]
    assert "_jsonparsefailure" in events[2]["tags"]


def test_truncated_json_keeps_its_text_and_is_tagged(run_logwharf: Any, tmp_path: Path) -> None:
    data = (
        b'{"level":"error","msg":"complete line","user":"ann"}\n'
        b'{"level":"error","msg":"cut he\n'
        b'{"a":[1,2\n'
        b'{"msg":"no newline at the end, and no closing brace'
    )
    path = write(tmp_path, "cut.ndjson", data)
    run, events = replay_to_file(run_logwharf, tmp_path, path)
    assert run.returncode == 0, run
    check_accounted(run, data, events)
    assert run.summary.parsed == 1
    assert run.summary.parse_failures == 3
    assert events[0]["message"] == "complete line"
    assert events[0]["log"]["level"] == "error"
    assert events[0]["app"] == {"user": "ann"}
    raw_lines = data.decode().split("\n")
    for event, raw in zip(events[1:], raw_lines[1:], strict=True):
        assert event["message"] == raw
        assert event["tags"] == ["_jsonparsefailure"]
        assert "app" not in event


@pytest.mark.parametrize("limit", [None, 1000])
def test_five_megabyte_line_is_cut_and_tagged(
    run_logwharf: Any, tmp_path: Path, limit: int | None
) -> None:
    data = b"first\n" + b"y" * 5_000_000 + b"\nlast\n"
    path = write(tmp_path, "huge.log", data)
    extra = [] if limit is None else ["--max-event-bytes", str(limit)]
    run, events = replay_to_file(run_logwharf, tmp_path, path, *extra)
    assert run.returncode == 0, run
    check_accounted(run, data, events)
    assert [event["message"][:5] for event in events] == ["first", "yyyyy", "last"]
    cut = events[1]
    assert cut["message"] == "y" * (limit or MiB)  # --max-event-bytes, 1 MiB by default
    assert cut["tags"] == ["truncated"]
    assert cut["log"]["offset"] == 6
    assert events[2]["log"]["offset"] == 6 + 5_000_000 + 1
    assert "tags" not in events[2]


def test_five_megabyte_record_in_a_docker_log(run_logwharf: Any, tmp_path: Path) -> None:
    def record(log: str, second: int) -> str:
        return json.dumps({"log": log, "stream": "stdout", "time": f"2026-11-23T10:00:0{second}Z"})

    first, huge, after = (
        record("before\n", 0),
        record("z" * 5_000_000 + "\n", 1),
        record("after\n", 2),
    )
    data = "\n".join([first, huge, after, ""]).encode()
    path = write(tmp_path, "huge-json.log", data)
    run, events = replay_to_file(run_logwharf, tmp_path, path)
    assert run.returncode == 0, run
    run.assert_clean()
    assert run.summary.lines == 3
    assert run.summary.written == run.summary.events == len(events) == 3
    assert [event["message"][:6] for event in events] == ["before", huge[:6], "after"]
    cut = events[1]  # no longer a whole Docker record: its text, cut
    assert cut["message"] == huge[:MiB]
    assert sorted(cut["tags"]) == ["_jsonparsefailure", "truncated"]
    assert events[2]["log"]["offset"] == len(first) + 1 + len(huge) + 1
    assert events[2]["stream"] == "stdout"


def test_empty_lines_are_counted_not_shipped(run_logwharf: Any, tmp_path: Path) -> None:
    data = b"\n\nreal one\n\r\n\n\nreal two\n\n"
    path = write(tmp_path, "gaps.log", data)
    run, events = replay_to_file(run_logwharf, tmp_path, path)
    assert run.returncode == 0, run
    check_accounted(run, data, events)
    assert [event["message"] for event in events] == ["real one", "real two"]
    assert run.summary.empty_lines == 6
    assert [event["log"]["offset"] for event in events] == offsets_of(data) == [2, 15]


def test_file_of_empty_lines_only(run_logwharf: Any, tmp_path: Path) -> None:
    data = b"\n" * 10
    path = write(tmp_path, "blank.log", data)
    run, events = replay_to_file(run_logwharf, tmp_path, path)
    assert run.returncode == 0, run
    check_accounted(run, data, events)
    assert events == []
    assert run.summary.empty_lines == 10


def test_empty_file(run_logwharf: Any, tmp_path: Path) -> None:
    path = write(tmp_path, "nothing.log", b"")
    run, events = replay_to_file(run_logwharf, tmp_path, path)
    assert run.returncode == 0, run
    check_accounted(run, b"", events)


def test_json_whose_top_level_is_not_an_object(run_logwharf: Any, tmp_path: Path) -> None:
    values = [b"[1,2,3]", b"42", b'"just a string"', b"null", b"true", b"-1.5e3", b"[]"]
    data = b"\n".join(values) + b"\n"
    path = write(tmp_path, "scalars.ndjson", data)
    run, events = replay_to_file(run_logwharf, tmp_path, path)
    assert run.returncode == 0, run
    check_accounted(run, data, events)
    assert [event["message"] for event in events] == [value.decode() for value in values]
    for event in events:
        assert "app" not in event
        assert "_jsonparsefailure" not in event.get("tags", [])  # they are valid JSON


@pytest.mark.parametrize("opening", [b'{"a":', b"["])
def test_ten_thousand_levels_of_nesting(run_logwharf: Any, tmp_path: Path, opening: bytes) -> None:
    closing = b"}" if opening.startswith(b"{") else b"]"
    deep = opening * 10_000 + b"1" + closing * 10_000
    data = deep + b"\n" + b'{"msg":"still parsed after it"}\n'
    path = write(tmp_path, "deep.ndjson", data)
    run, events = replay_to_file(run_logwharf, tmp_path, path)
    assert run.returncode == 0, run
    check_accounted(run, data, events)
    assert events[0]["message"] == deep.decode()
    assert "app" not in events[0]
    assert events[1]["message"] == "still parsed after it"


@pytest.mark.parametrize("depth", [300, 1000])
def test_json_nested_deeper_than_the_encoder_allows(
    run_logwharf: Any, tmp_path: Path, depth: int
) -> None:
    deep = b'{"a":' * depth + b"1" + b"}" * depth
    data = deep + b"\n" + b'{"msg":"next"}\n'
    path = write(tmp_path, "deep.ndjson", data)
    run, events = replay_to_file(run_logwharf, tmp_path, path)
    assert run.returncode == 0, run
    check_accounted(run, data, events)
    assert events[0]["message"] == deep.decode()
    assert events[1]["message"] == "next"


def test_duplicate_keys(run_logwharf: Any, tmp_path: Path) -> None:
    data = b'{"msg":"first","msg":"second","level":"info","level":"error","k":1,"k":2}\n'
    path = write(tmp_path, "dups.ndjson", data)
    out = tmp_path / "out.ndjson"
    run = run_logwharf(["replay", path, "--output", out])
    assert run.returncode == 0, run
    raw = out.read_bytes().splitlines()
    events = [json.loads(line) for line in raw]
    check_accounted(run, data, events)
    # One value per key in the output, whichever the parser kept.
    json.loads(raw[0], object_pairs_hook=_no_duplicate_keys)
    event = events[0]
    assert event["message"] in ("first", "second")
    assert event["log"]["level"] in ("info", "error")
    assert event["app"] in ({"k": 1}, {"k": 2})


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicate keys in the output: {keys}"
    return dict(pairs)


def test_broken_docker_records(run_logwharf: Any, tmp_path: Path) -> None:
    records = [
        b'{"log":"ok\\n","stream":"stdout","time":"2026-11-23T10:00:00.000000001Z"}',
        b'{"log":"cut record","stream":"stdout","ti',  # the writer died mid-record
        b'{"log":"\\u00e9t\\u00e9 \xff\\n","stream":"stderr","time":"2026-11-23T10:00:01Z"}',
        b"",
        b'{"log":"partial without end","stream":"stdout","time":"2026-11-23T10:00:02Z"}',
    ]
    data = b"\n".join(records) + b"\n"
    path = write(tmp_path, "docker-json.log", data)
    run, events = replay_to_file(run_logwharf, tmp_path, path)
    assert run.returncode == 0, run
    run.assert_clean()
    summary = run.summary
    assert summary.lines == 5
    assert summary.empty_lines == 1
    assert summary.written == summary.events == len(events) == 4
    by_message = {event["message"]: event for event in events}
    assert by_message["ok"]["stream"] == "stdout"
    assert by_message["ok"]["@timestamp"] == "2026-11-23T10:00:00.000000001Z"
    assert "_jsonparsefailure" in by_message[records[1].decode()]["tags"]
    # The file ended inside a split line: what there is of it is still an event.
    assert "partial without end" in by_message


def test_corrupt_and_truncated_gzip(run_logwharf: Any, tmp_path: Path) -> None:
    good = write(tmp_path, "good.log", b"one\ntwo\n")
    whole = gzip.compress(b"".join(b"line %d\n" % n for n in range(5000)))
    cut = write(tmp_path, "cut.log.gz", whole[: len(whole) // 2])
    garbage = write(tmp_path, "garbage.log.gz", b"\x1f\x8b" + os.urandom(300))
    run, events = replay_to_file(run_logwharf, tmp_path, good, cut, garbage)
    assert run.returncode == 1, run
    run.assert_clean()
    assert f"could not read {cut}" in run.stderr
    assert f"could not read {garbage}" in run.stderr
    assert "truncated" in run.stderr
    summary = run.summary
    assert summary.written == summary.events == len(events)
    assert summary.events + summary.empty_lines == summary.lines
    messages = [event["message"] for event in events]
    assert messages[:2] == ["one", "two"]
    # what could be read of the cut file is shipped, in order
    assert messages[2:] == [f"line {n}" for n in range(len(messages) - 2)]


# --- paths ------------------------------------------------------------------------------


def test_missing_file_alone_is_a_usage_error(run_logwharf: Any, tmp_path: Path) -> None:
    run = run_logwharf(["replay", tmp_path / "nope.log"])
    assert run.returncode == 2, run
    run.assert_clean()
    assert f"{tmp_path / 'nope.log'}: no such file or directory" in run.stderr
    assert "nothing to replay" in run.stderr
    assert run.stdout == b""


def test_missing_file_among_good_ones(run_logwharf: Any, tmp_path: Path) -> None:
    data = b"alpha\nbeta\n"
    good = write(tmp_path, "good.log", data)
    run = run_logwharf(["replay", tmp_path / "nope.log", good])
    assert run.returncode == 1, run
    run.assert_clean()
    assert "nope.log: no such file or directory" in run.stderr
    assert [event["message"] for event in run.ndjson] == ["alpha", "beta"]
    check_accounted(run, data, run.ndjson)


def test_directory_without_logs(run_logwharf: Any, tmp_path: Path) -> None:
    folder = tmp_path / "container"
    folder.mkdir()
    for name in ("config.v2.json", "hostname", "resolv.conf"):
        write(folder, name, b"{}\n")
    run = run_logwharf(["replay", folder])
    assert run.returncode == 2, run
    run.assert_clean()
    assert f"{folder}: directory holds no log files" in run.stderr


def test_directory_reads_only_its_logs(run_logwharf: Any, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    write(folder, "config.v2.json", b'{"not":"a log"}\n')
    write(folder, "a.log", b"from a\n")
    write(folder / "sub", "b.ndjson", b'{"msg":"from b"}\n')
    write(folder, "c.log.1.gz", gzip.compress(b"from c\n"))
    run = run_logwharf(["replay", folder])
    assert run.returncode == 0, run
    run.assert_clean()
    assert sorted(event["message"] for event in run.ndjson) == ["from a", "from b", "from c"]
    assert run.summary.files == 3


def test_glob_without_match(run_logwharf: Any, tmp_path: Path) -> None:
    pattern = str(tmp_path / "*.nothing-here.log")
    run = run_logwharf(["replay", pattern])
    assert run.returncode == 2, run
    run.assert_clean()
    assert f"{pattern}: pattern matches no files" in run.stderr


def test_glob_with_matches(run_logwharf: Any, tmp_path: Path) -> None:
    for n in range(3):
        write(tmp_path, f"part-{n}.log", b"line of %d\n" % n)
    run = run_logwharf(["replay", str(tmp_path / "part-*.log")])
    assert run.returncode == 0, run
    assert [event["message"] for event in run.ndjson] == [f"line of {n}" for n in range(3)]


def _unreadable_prefix() -> list[str]:
    """How to run logwharf so that a mode-000 file is really unreadable to it."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root ignores file modes, and setpriv is not there to drop that")
    # Root without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH obeys file modes like anyone.
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_unreadable_file(run_logwharf: Any, tmp_path: Path) -> None:
    prefix = _unreadable_prefix()
    secret = write(tmp_path, "secret.log", b"you cannot see me\n")
    secret.chmod(0)
    data = b"visible 1\nvisible 2\n"
    good = write(tmp_path, "open.log", data)
    probe = run_logwharf(["--version"], prefix=prefix)
    assert probe.returncode == 0, probe  # logwharf itself runs under that prefix
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    run = run_logwharf(["replay", secret, good, "--output", out / "events.ndjson"], prefix=prefix)
    assert run.returncode == 1, run
    run.assert_clean()
    assert f"could not read {secret}: Permission denied" in run.stderr
    events = [json.loads(line) for line in (out / "events.ndjson").read_bytes().splitlines()]
    assert [event["message"] for event in events] == ["visible 1", "visible 2"]
    check_accounted(run, data, events)
    assert run.summary.files == 2


def test_unreadable_file_alone(run_logwharf: Any, tmp_path: Path) -> None:
    prefix = _unreadable_prefix()
    secret = write(tmp_path, "secret.log", b"you cannot see me\n")
    secret.chmod(0)
    run = run_logwharf(["replay", secret], prefix=prefix)
    assert run.returncode == 1, run
    run.assert_clean()
    assert f"could not read {secret}: Permission denied" in run.stderr
    assert run.stdout == b""
    assert run.summary.events == 0


# --- options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://es.example:9200",
        "http://",
        ",",
        "http://localhost:99999",
        "http://es.example:ninety-two-hundred",
        "",
    ],
)
def test_bad_es_url_is_a_usage_error(run_logwharf: Any, tmp_path: Path, url: str) -> None:
    good = write(tmp_path, "good.log", b"line\n")
    run = run_logwharf(["replay", good, "--es", url], timeout=30)
    assert run.returncode == 2, run
    run.assert_clean()
    assert re.search(r"^logwharf: error: --es\b", run.stderr, re.M), run.stderr
    assert run.stdout == b""


def test_bad_es_url_from_the_environment(run_logwharf: Any, tmp_path: Path) -> None:
    good = write(tmp_path, "good.log", b"line\n")
    run = run_logwharf(["replay", good], env={"LOGWHARF_ES_URL": "gopher://old.example"})
    assert run.returncode == 2, run
    run.assert_clean()
    assert "gopher://old.example" in run.stderr
    assert run.stdout == b""


@pytest.fixture
def not_elasticsearch(tmp_path: Path) -> Iterator[str]:
    """An HTTP server that answers 200 with an HTML page, as a wrong URL often does."""
    (tmp_path / "www").mkdir()
    write(tmp_path / "www", "index.html", b"<html><body>It works!</body></html>")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path / "www"), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_es_url_of_a_server_that_is_not_elasticsearch(
    run_logwharf: Any, tmp_path: Path, not_elasticsearch: str
) -> None:
    good = write(tmp_path, "good.log", b"line\n")
    run = run_logwharf(["replay", good, "--es", not_elasticsearch], timeout=60)
    assert run.returncode in (1, 2), run
    run.assert_clean()
    assert not_elasticsearch.removeprefix("http://") in run.stderr
    assert "elasticsearch" in run.stderr.lower()


@pytest.mark.parametrize("value", ["0", "-3", "abc", "1.5", ""])
def test_bad_batch_events(run_logwharf: Any, tmp_path: Path, value: str) -> None:
    good = write(tmp_path, "good.log", b"line\n")
    run = run_logwharf(["replay", good, "--batch-events", value])
    assert run.returncode == 2, run
    run.assert_clean()
    assert "--batch-events" in run.stderr
    assert run.stdout == b""


def test_bad_batch_events_from_the_environment(run_logwharf: Any, tmp_path: Path) -> None:
    good = write(tmp_path, "good.log", b"line\n")
    run = run_logwharf(["replay", good], env={"LOGWHARF_BATCH_EVENTS": "lots"})
    assert run.returncode == 2, run
    run.assert_clean()
    assert "--batch-events" in run.stderr
    assert "lots" in run.stderr


def test_bad_index_name(run_logwharf: Any, tmp_path: Path) -> None:
    good = write(tmp_path, "good.log", b"line\n")
    run = run_logwharf(["replay", good, "--es", "http://127.0.0.1:9", "--index", "Logs Today"])
    assert run.returncode == 2, run
    run.assert_clean()
    assert "--index" in run.stderr


def test_output_and_es_together(run_logwharf: Any, tmp_path: Path) -> None:
    good = write(tmp_path, "good.log", b"line\n")
    run = run_logwharf(
        ["replay", good, "--es", "http://127.0.0.1:9", "--output", tmp_path / "o.ndjson"]
    )
    assert run.returncode == 2, run
    run.assert_clean()
    assert not (tmp_path / "o.ndjson").exists()


def test_no_path_at_all(run_logwharf: Any) -> None:
    run = run_logwharf(["replay"])
    assert run.returncode == 2, run
    run.assert_clean()
    assert "--sample" in run.stderr


def test_output_from_the_environment(run_logwharf: Any, tmp_path: Path) -> None:
    good = write(tmp_path, "good.log", b"one\ntwo\n")
    target = tmp_path / "env-out.ndjson"
    run = run_logwharf(["replay", good], env={"LOGWHARF_OUTPUT": str(target)})
    assert run.returncode == 0, run
    assert run.stdout == b""
    assert [json.loads(line)["message"] for line in target.read_bytes().splitlines()] == [
        "one",
        "two",
    ]


# --- the bundled sample and the help -----------------------------------------------------


def _sample_records() -> list[dict[str, Any]]:
    from logwharf.cli import sample_path

    return [json.loads(line) for line in sample_path().read_text().splitlines() if line]


def test_sample_replays_to_valid_ndjson(run_logwharf: Any) -> None:
    records = _sample_records()
    # Docker's json-file format: a record whose log does not end in a newline is the first
    # piece of a longer line, continued by the next record of the same stream.
    expected = sum(1 for record in records if record["log"].endswith("\n"))
    assert expected < len(records)  # the sample does hold a split line
    run = run_logwharf(["replay", "--sample"])
    assert run.returncode == 0, run
    run.assert_clean()
    events = run.ndjson
    assert len(events) == expected
    summary = run.summary
    assert summary.lines == len(records)
    assert summary.written == summary.events == expected
    for event in events:
        assert UTC_Z.fullmatch(event["@timestamp"]), event
        assert event["stream"] in ("stdout", "stderr")
        assert not event["message"].endswith("\n")
    split = [record for record in records if not record["log"].endswith("\n")]
    for piece in split:
        joined = [event for event in events if event["log"]["offset"] == _offset_of(piece, records)]
        assert len(joined) == 1
    assert sum("_jsonparsefailure" in event.get("tags", []) for event in events) == 1
    assert {event["log"].get("level") for event in events} >= {"info", "warn", "error", "fatal"}


def _offset_of(record: dict[str, Any], records: list[dict[str, Any]]) -> int:
    from logwharf.cli import sample_path

    offset = 0
    for line in sample_path().read_bytes().splitlines(keepends=True):
        if json.loads(line) == record:
            return offset
        offset += len(line)
    raise AssertionError("record not in the sample")


def test_sample_with_output_file(run_logwharf: Any, tmp_path: Path) -> None:
    out = tmp_path / "sample.ndjson"
    run = run_logwharf(["replay", "--sample", "--output", out])
    assert run.returncode == 0, run
    assert run.stdout == b""
    events = [json.loads(line) for line in out.read_bytes().splitlines()]
    assert len(events) == run.summary.written > 0


def test_replay_help_names_the_environment_variables(run_logwharf: Any) -> None:
    run = run_logwharf(["replay", "--help"])
    assert run.returncode == 0, run
    text = run.stdout.decode()
    for name in (
        "LOGWHARF_ES_URL",
        "LOGWHARF_INDEX",
        "LOGWHARF_OUTPUT",
        "LOGWHARF_DEAD_LETTER_FILE",
        "LOGWHARF_BATCH_EVENTS",
        "LOGWHARF_ES_USERNAME",
        "LOGWHARF_ES_PASSWORD",
        "LOGWHARF_ES_API_KEY",
    ):
        assert name in text, name
    for flag in ("--es ", "--index", "--output", "--dead-letter-file", "--batch-events"):
        assert flag in text, flag
    # credentials come from the environment only: no flag for them
    assert "--password" not in text and "--api-key" not in text
    assert "exit codes" in text


def test_top_level_help_names_the_log_level_variable(run_logwharf: Any) -> None:
    run = run_logwharf(["--help"])
    assert run.returncode == 0, run
    text = run.stdout.decode()
    assert "LOGWHARF_LOG_LEVEL" in text
    assert "replay" in text


def test_in_process_main_writes_ndjson(run_main: Any, tmp_path: Path) -> None:
    data = b'{"ts":"2026-11-23T10:00:00+01:00","level":"WARNING","msg":"hello"}\n\nplain\n'
    path = write(tmp_path, "in-process.ndjson", data)
    out = tmp_path / "out.ndjson"
    run = run_main(["replay", path, "--output", out])
    assert run.returncode == 0, run
    events = [json.loads(line) for line in out.read_bytes().splitlines()]
    check_accounted(run, data, events)
    assert events[0]["@timestamp"] in ("2026-11-23T09:00:00.000Z", "2026-11-23T09:00:00Z")
    assert events[0]["log"]["level"] == "warn"
    assert events[0]["message"] == "hello"
    assert events[1]["message"] == "plain"


def test_progress_bar_on_a_terminal_and_none_on_a_pipe(tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    data = b"".join(b'{"level":"info","msg":"event %d"}\n' % n for n in range(60_000))
    path = write(tmp_path, "big.ndjson", data)  # over 1 MiB: the bar is redrawn on the way
    command = [sys.executable, "-m", "logwharf", "replay", str(path), "-o", str(tmp_path / "o")]
    primary, secondary = pty.openpty()
    child = subprocess.Popen(command, stderr=secondary, stdout=subprocess.DEVNULL)
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed with the child
            break
        if not chunk:
            break
        seen += chunk
    assert child.wait(timeout=60) == 0
    os.close(primary)
    text = seen.decode(errors="replace")
    assert "replay:" in text and "events/s" in text and "files " in text  # the bar
    assert "written" in text  # then the summary
    piped = subprocess.run(command, capture_output=True, timeout=60)
    assert piped.returncode == 0
    assert b"replay:" not in piped.stderr and b"\r" not in piped.stderr


def test_the_command_line_module_imports_no_http_client() -> None:
    """Worker processes are spawned and import the main module, this one: it must not bring
    aiohttp, pydantic or asyncio along (each costs every worker CPU time and memory)."""
    probe = (
        "import sys, logwharf.cli, logwharf.work; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'aiohttp', 'pydantic', 'asyncio'}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
