"""DeadLetterFile: one JSON line per refused event, appended, created on first use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from logwharf.elk.deadletter import DeadLetterFile


def records(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_file_is_created_on_the_first_dead_letter_only(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "dead.ndjson"
    letters = DeadLetterFile(path)
    letters.flush()
    letters.close()
    assert not path.exists()
    assert not path.parent.exists()
    letters.write({"message": "x"}, 400, "mapper_parsing_exception")
    letters.close()
    assert path.exists()
    assert letters.count == 1


def test_record_fields(tmp_path: Path) -> None:
    path = tmp_path / "dead.ndjson"
    letters = DeadLetterFile(path)
    before = datetime.now(UTC) - timedelta(seconds=1)
    event = {"message": "héllo", "app": {"n": 1}}
    letters.write(event, 400, "bad field", "logs-docker-2026.11.23", "id-1")
    letters.write({"message": "second"}, None, "cannot be encoded")
    letters.flush()
    first, second = records(path)
    assert first["event"] == event
    assert (first["status"], first["reason"]) == (400, "bad field")
    assert (first["index"], first["id"]) == ("logs-docker-2026.11.23", "id-1")
    assert (second["status"], second["index"], second["id"]) == (None, None, None)
    stamp = datetime.fromisoformat(first["@timestamp"].replace("Z", "+00:00"))
    assert before <= stamp <= datetime.now(UTC) + timedelta(seconds=1)
    assert first["@timestamp"].endswith("Z")
    assert "héllo".encode() in path.read_bytes()  # written as UTF-8, not \\u escapes
    letters.close()


def test_values_json_cannot_hold_are_written_as_repr(tmp_path: Path) -> None:
    path = tmp_path / "dead.ndjson"
    letters = DeadLetterFile(path)
    letters.write({"when": datetime(2026, 11, 23, tzinfo=UTC), "raw": b"\x00"}, None, "odd")
    letters.close()
    (record,) = records(path)
    assert record["event"]["raw"] == repr(b"\x00")
    assert "2026" in record["event"]["when"]


def test_appends_and_never_truncates(tmp_path: Path) -> None:
    path = tmp_path / "dead.ndjson"
    path.write_text('{"earlier": "run"}\n', encoding="utf-8")
    first = DeadLetterFile(path)
    first.write({"n": 1}, 400, "r")
    first.close()
    first.write({"n": 2}, 400, "r")  # after close: opened again, still appending
    first.close()
    second = DeadLetterFile(path)
    second.write({"n": 3}, 400, "r")
    second.close()
    lines = records(path)
    assert lines[0] == {"earlier": "run"}
    assert [r["event"]["n"] for r in lines[1:]] == [1, 2, 3]
    assert first.count == 2 and second.count == 1


def test_each_line_is_one_record_even_with_newlines_inside(tmp_path: Path) -> None:
    path = tmp_path / "dead.ndjson"
    letters = DeadLetterFile(path)
    letters.write({"message": "a\nb\r\nc\u2028d"}, 400, "multi\nline reason")
    letters.close()
    (record,) = records(path)
    assert record["event"]["message"] == "a\nb\r\nc\u2028d"
    assert record["reason"] == "multi\nline reason"


def test_very_deep_event_is_still_dead_lettered(tmp_path: Path) -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(1000):
        node["a"] = {}
        node = node["a"]
    letters = DeadLetterFile(tmp_path / "dead.ndjson")
    letters.write({"app": deep}, None, "cannot be encoded as JSON")
    letters.close()
    (record,) = records(tmp_path / "dead.ndjson")
    assert record["reason"] == "cannot be encoded as JSON"
