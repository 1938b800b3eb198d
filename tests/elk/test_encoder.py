"""BulkEncoder: create actions, index choice, ids, the sentinel fast path and its fallback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from logwharf.elk.encoder import (
    ENCODING_FAILURE,
    BulkEncoder,
    EncodedBatch,
    entries_of,
    split_body,
)

SENTINEL = "\x00logwharf\x00"


def parsed(batch: EncodedBatch) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(action, source) pairs of a body, checking its NDJSON shape on the way."""
    if batch.count == 0:
        assert batch.body == b""
        return []
    assert batch.body.endswith(b"\n")
    lines = batch.body[:-1].split(b"\n")
    assert len(lines) == 2 * batch.count
    pairs = []
    for action_line, source_line in zip(lines[0::2], lines[1::2], strict=True):
        action = orjson.loads(action_line)
        assert list(action) == ["create"]
        pairs.append((action["create"], orjson.loads(source_line)))
    return pairs


def event(n: int = 0, day: str = "2026-11-23", **extra: Any) -> dict[str, Any]:
    return {
        "@timestamp": f"{day}T10:00:00.000Z",
        "message": f"message {n}",
        "log": {"offset": n},
        "_id": f"id-{n}",
        **extra,
    }


def test_create_actions_with_ids_and_daily_index() -> None:
    events = [event(0), event(1, day="2026-11-24"), event(2, day="2025-01-02")]
    batch = BulkEncoder().encode(events)
    assert batch.count == 3
    assert batch.rejected == []
    pairs = parsed(batch)
    assert [action for action, _ in pairs] == [
        {"_index": "logs-docker-2026.11.23", "_id": "id-0"},
        {"_index": "logs-docker-2026.11.24", "_id": "id-1"},
        {"_index": "logs-docker-2025.01.02", "_id": "id-2"},
    ]
    assert [source for _, source in pairs] == [
        {"@timestamp": f"{day}T10:00:00.000Z", "message": f"message {n}", "log": {"offset": n}}
        for n, day in enumerate(["2026-11-23", "2026-11-24", "2025-01-02"])
    ]


def test_metadata_fields_never_reach_the_source() -> None:
    pairs = parsed(BulkEncoder().encode([event(0, _index="custom")]))
    ((action, source),) = pairs
    assert "_id" not in source and "_index" not in source
    assert action == {"_index": "custom", "_id": "id-0"}


def test_custom_pattern() -> None:
    pairs = parsed(BulkEncoder(pattern="app-%d.%m.%Y").encode([event(0)]))
    assert pairs[0][0]["_index"] == "app-23.11.2026"


def test_fixed_index_and_event_override() -> None:
    encoder = BulkEncoder(index="incident-4711")
    pairs = parsed(encoder.encode([event(0), event(1, _index="elsewhere"), event(2, _index="")]))
    assert [a["_index"] for a, _ in pairs] == ["incident-4711", "elsewhere", "incident-4711"]


def test_event_index_overrides_the_daily_index() -> None:
    pairs = parsed(BulkEncoder().encode([event(0, _index="special"), event(1)]))
    assert [a["_index"] for a, _ in pairs] == ["special", "logs-docker-2026.11.23"]


@pytest.mark.parametrize("stamp", [None, 12345, "not a time", "26-11-23"])
def test_event_without_a_readable_day_goes_to_today(stamp: Any) -> None:
    extra = {} if stamp is None else {"@timestamp": stamp}
    doc = {"message": "m", **extra}
    before = datetime.now(UTC)
    pairs = parsed(BulkEncoder().encode([doc]))
    after = datetime.now(UTC) + timedelta(seconds=1)
    allowed = {f"logs-docker-{d:%Y.%m.%d}" for d in (before, after)}
    assert pairs[0][0]["_index"] in allowed
    assert "_id" not in pairs[0][0]


@pytest.mark.parametrize(
    "doc_id",
    ['quote"inside', "back\\slash", "new\nline", "tab\tand\x00nul", "ünïcødé", "€", SENTINEL],
)
def test_ids_that_need_json_escaping(doc_id: str) -> None:
    batch = BulkEncoder().encode([event(0, _id=doc_id), event(1)])
    pairs = parsed(batch)
    assert pairs[0][0]["_id"] == doc_id
    assert pairs[1][0]["_id"] == "id-1"


def test_messages_with_newlines_and_nul_bytes_stay_on_one_line() -> None:
    tricky = "line one\nline two\r\n\x00 nul, \u2028 separator, \\u0000logwharf\\u0000 text"
    pairs = parsed(BulkEncoder().encode([event(0, message=tricky), event(1)]))
    assert pairs[0][1]["message"] == tricky
    assert pairs[1][1]["message"] == "message 1"


def test_sentinel_as_a_plain_value_is_kept() -> None:
    doc = event(0, message=SENTINEL, app={SENTINEL: SENTINEL, "list": [SENTINEL]})
    pairs = parsed(BulkEncoder().encode([doc, event(1)]))
    assert pairs[0][1]["message"] == SENTINEL
    assert pairs[0][1]["app"] == {SENTINEL: SENTINEL, "list": [SENTINEL]}


# The encoder's separator between objects is "},0,{": an array mixing objects and zeros
# holds it too, and must not be cut into lines.
SEPARATOR_INSIDE = [{"a": 1}, 0, {"b": 2}, 0, {}, 0, {"c": [0, {"d": 0}, 0, {}]}]


@pytest.mark.parametrize("position", [0, 1, 2])
def test_separator_inside_a_document_falls_back_and_stays_correct(position: int) -> None:
    events = [event(n) for n in range(3)]
    events[position]["app"] = {"values": SEPARATOR_INSIDE, "also": ["a", SENTINEL, "b"]}
    batch = BulkEncoder().encode(events)
    assert batch.count == 3
    assert batch.rejected == []
    pairs = parsed(batch)
    assert [a["_id"] for a, _ in pairs] == ["id-0", "id-1", "id-2"]
    assert pairs[position][1]["app"]["values"] == SEPARATOR_INSIDE
    assert [s["message"] for _, s in pairs] == ["message 0", "message 1", "message 2"]


def test_values_orjson_cannot_write_are_encoded_another_way() -> None:
    events = [event(0, app={1: "int key"}), event(1, app={"big": 2**70}), event(2)]
    batch = BulkEncoder().encode(events)
    assert batch.rejected == []
    pairs = parsed(batch)
    assert pairs[0][1]["app"] == {"1": "int key"}
    assert pairs[1][1]["app"] == {"big": 2**70}
    assert [a["_id"] for a, _ in pairs] == ["id-0", "id-1", "id-2"]


def test_fields_that_cannot_be_written_are_left_out_named_and_tagged() -> None:
    bad_key = event(1, app={(1, 2): "tuple key"})
    bad_nested_key = event(3, app={"k": {frozenset(): 1}})
    events = [event(0), bad_key, event(2), bad_nested_key]
    batch = BulkEncoder().encode(events)
    pairs = parsed(batch)
    assert batch.count == 4 and batch.rejected == []
    assert [a["_id"] for a, _ in pairs] == ["id-0", "id-1", "id-2", "id-3"]
    for index, (_, source) in enumerate(pairs):
        if index in (1, 3):
            assert "app" not in source
            assert source["tags"] == [ENCODING_FAILURE]
            assert "app" in source["error"]["message"]
            assert source["message"] == f"message {index}"  # the rest of the event is kept
        else:
            assert "tags" not in source and "error" not in source


def test_json_nested_deeper_than_orjson_writes_is_still_sent_whole() -> None:
    deep: dict[str, object] = {"leaf": 1}
    for _ in range(400):
        deep = {"a": deep}
    batch = BulkEncoder().encode([event(0, app=deep)])
    ((_, source),) = parsed(batch)
    depth, node = 0, source["app"]
    while "a" in node:
        node, depth = node["a"], depth + 1
    assert depth == 400 and node == {"leaf": 1}


def test_empty_batch() -> None:
    batch = BulkEncoder().encode([])
    assert (batch.body, batch.count, batch.rejected) == (b"", 0, [])


def test_entries_of_splits_a_body_into_action_and_source_pairs() -> None:
    batch = BulkEncoder().encode([event(n) for n in range(4)])
    entries = entries_of(batch.body)
    assert len(entries) == 4
    assert b"".join(entries) == batch.body
    for n, entry in enumerate(entries):
        action, source, rest = entry.split(b"\n")
        assert rest == b""
        assert orjson.loads(action)["create"]["_id"] == f"id-{n}"
        assert orjson.loads(source)["message"] == f"message {n}"
    assert entries_of(b"") == []


def test_large_batch_keeps_order() -> None:
    events = [event(n, day=f"2026-11-{1 + n % 28:02d}") for n in range(2000)]
    pairs = parsed(BulkEncoder().encode(events))
    assert [a["_id"] for a, _ in pairs] == [f"id-{n}" for n in range(2000)]
    assert pairs[27][0]["_index"] == "logs-docker-2026.11.28"
    assert pairs[28][0]["_index"] == "logs-docker-2026.11.01"


def nested(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth - 1):
        node["a"] = {}
        node = node["a"]
    return root


def test_moderately_deep_event_is_encoded() -> None:
    # deeper than orjson writes (254), so it takes the fallback encoder
    pairs = parsed(BulkEncoder().encode([event(0, app=nested(400)), event(1)]))
    assert [a["_id"] for a, _ in pairs] == ["id-0", "id-1"]


def test_very_deep_event_is_sent_without_the_field_that_is_too_deep() -> None:
    batch = BulkEncoder().encode([event(0, app=nested(1000)), event(1)])
    pairs = parsed(batch)
    assert [a["_id"] for a, _ in pairs] == ["id-0", "id-1"]
    assert batch.rejected == []
    first = pairs[0][1]
    assert "app" not in first and first["tags"] == [ENCODING_FAILURE]


@pytest.mark.parametrize(("max_events", "max_bytes"), [(3, 10**9), (10, 10**9), (100, 200), (1, 1)])
def test_split_body_keeps_every_entry_within_both_limits(max_events: int, max_bytes: int) -> None:
    body = BulkEncoder().encode([event(n) for n in range(10)]).body
    entries = entries_of(body)
    parts = split_body(body, max_events, max_bytes)
    assert b"".join(part for part, _ in parts) == body
    assert sum(count for _, count in parts) == 10
    for part, count in parts:
        assert len(entries_of(part)) == count <= max_events
        assert len(part) <= max_bytes or count == 1  # an entry larger alone goes alone
    if max_events >= 10 and max_bytes >= len(body):
        assert len(parts) == 1
    assert entries == [entry for part, _ in parts for entry in entries_of(part)]


def test_body_is_byte_for_byte_one_json_line_per_action_and_source() -> None:
    """Each entry is what orjson writes for the action and for the source, in order."""
    events = [
        event(0),
        event(1, _index="elsewhere"),
        {"message": "no id, no time"},
        event(3, _id='needs "escaping"\n', app={"ünïcødé": ["✓", None, 1.5]}),
    ]
    expected = []
    for doc in events:
        doc_id = doc.get("_id")
        index = doc.get("_index") or "fixed"
        action = {"_index": index} if doc_id is None else {"_index": index, "_id": doc_id}
        source = {k: v for k, v in doc.items() if k not in ("_id", "_index")}
        expected.append(orjson.dumps({"create": action}) + b"\n" + orjson.dumps(source) + b"\n")
    assert BulkEncoder(index="fixed").encode(events).body == b"".join(expected)
