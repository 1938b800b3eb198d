"""DefaultProcessor: JSON application lines, text lines, timestamps, failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from logwharf.processor.default import DefaultProcessor

READ_TIME = "2030-01-01T00:00:00.000Z"


def file_event(message: str, **extra: Any) -> dict[str, Any]:
    return {
        "message": message,
        "log": {"file": {"path": "/x.log"}, "offset": 0},
        "host": {"name": "h"},
        "_id": "id-0",
        **extra,
    }


def process(*events: dict[str, Any]) -> list[dict[str, Any]]:
    return DefaultProcessor(READ_TIME).process_batch(list(events))


def one(message: str, **extra: Any) -> dict[str, Any]:
    (event,) = process(file_event(message, **extra))
    return event


# --- JSON application lines ------------------------------------------------------------


def test_json_line_fills_ecs_fields_and_keeps_the_rest_under_app() -> None:
    line = orjson.dumps(
        {
            "time": "2026-11-23T11:00:00.5+01:00",
            "msg": "payment done",
            "level": "WARNING",
            "user": {"id": 7},
            "host": "app-host",  # an application field, not ECS host
            "error": "none",
        }
    ).decode()
    event = one(line)
    assert event["@timestamp"] == "2026-11-23T10:00:00.500Z"
    assert event["message"] == "payment done"
    assert event["log"] == {"file": {"path": "/x.log"}, "offset": 0, "level": "warn"}
    assert event["app"] == {"user": {"id": 7}, "host": "app-host", "error": "none"}
    assert event["host"] == {"name": "h"}
    assert event["_id"] == "id-0"
    assert "tags" not in event


@pytest.mark.parametrize("key", ["@timestamp", "timestamp", "time", "ts"])
def test_each_time_key_is_used(key: str) -> None:
    event = one(orjson.dumps({key: 1795428000, "message": "m"}).decode())
    assert event["@timestamp"] == "2026-11-23T10:00:00.000Z"  # epoch seconds 1795428000
    assert "app" not in event


def test_first_time_key_wins_and_the_others_stay_in_app() -> None:
    event = one('{"timestamp": "2026-11-23T10:00:00Z", "time": "2020-01-01T00:00:00Z"}')
    assert event["@timestamp"] == "2026-11-23T10:00:00Z"
    assert event["app"] == {"time": "2020-01-01T00:00:00Z"}


def test_application_time_replaces_the_docker_time() -> None:
    event = one('{"ts": "2026-11-23T10:00:00.25Z"}', **{"@timestamp": "2026-11-23T10:00:01Z"})
    assert event["@timestamp"] == "2026-11-23T10:00:00.25Z"


def test_unreadable_time_is_tagged_and_kept_in_app() -> None:
    event = one('{"time": "teatime", "msg": "hello"}')
    assert event["tags"] == ["_timestampparsefailure"]
    assert event["app"] == {"time": "teatime"}
    assert event["@timestamp"] == READ_TIME
    assert event["message"] == "hello"


def test_unreadable_time_keeps_the_source_time() -> None:
    event = one('{"time": null}', **{"@timestamp": "2026-11-23T10:00:01Z"})
    assert event["@timestamp"] == "2026-11-23T10:00:01Z"
    assert event["tags"] == ["_timestampparsefailure"]


def test_message_key_order_and_non_string_messages() -> None:
    assert one('{"message": "a", "msg": "b"}')["message"] == "a"
    assert one('{"message": "a", "msg": "b"}')["app"] == {"msg": "b"}
    event = one('{"message": {"nested": 1}, "msg": "b"}')
    assert event["message"] == "b"
    assert event["app"] == {"message": {"nested": 1}}


def test_json_without_message_keeps_the_line_as_message() -> None:
    line = '{"user": "bob", "action": "login"}'
    event = one(line)
    assert event["message"] == line
    assert event["app"] == {"user": "bob", "action": "login"}


@pytest.mark.parametrize(
    ("fields", "level"),
    [
        ({"level": "ERROR"}, "error"),
        ({"severity": "WARNING"}, "warn"),
        ({"levelname": "CRITICAL"}, "fatal"),
        ({"log.level": "debug"}, "debug"),
        ({"lvl": "I"}, "info"),
        ({"loglevel": "notice"}, "info"),
        ({"level": 30}, "info"),  # pino
        ({"level": 3}, "error"),  # syslog
    ],
)
def test_level_keys(fields: dict[str, Any], level: str) -> None:
    event = one(orjson.dumps({"msg": "m", **fields}).decode())
    assert event["log"]["level"] == level
    assert "app" not in event


def test_unknown_level_stays_in_app() -> None:
    event = one('{"msg": "m", "level": "loud"}')
    assert "level" not in event["log"]
    assert event["app"] == {"level": "loud"}


def test_duplicate_keys_the_last_one_wins() -> None:
    event = one('{"level": "info", "msg": "first", "level": "error", "msg": "second"}')
    assert event["log"]["level"] == "error"
    assert event["message"] == "second"
    assert "app" not in event


def test_json_object_without_fields() -> None:
    event = one("{}")
    assert event["message"] == "{}"
    assert "app" not in event
    assert event["@timestamp"] == READ_TIME


def test_broken_json_is_tagged_and_kept_as_text() -> None:
    processor = DefaultProcessor(READ_TIME)
    events = processor.process_batch(
        [file_event('{"msg": "cut off'), file_event("{user} logged in"), file_event('{"a":1}')]
    )
    assert events[0]["message"] == '{"msg": "cut off'
    assert events[0]["tags"] == ["_jsonparsefailure"]
    assert events[1]["tags"] == ["_jsonparsefailure"]
    assert events[0]["@timestamp"] == READ_TIME
    assert "app" not in events[0]
    assert processor.json_failures == 2
    assert processor.json_parsed == 1


@pytest.mark.parametrize("line", ["[1, 2, 3]", "42", '"just a string"', "null", "true"])
def test_top_level_json_that_is_not_an_object_stays_text(line: str) -> None:
    event = one(line)
    assert event["message"] == line
    assert "app" not in event
    assert "tags" not in event
    assert event["@timestamp"] == READ_TIME


def test_ten_thousand_levels_of_nesting_do_not_break_the_batch() -> None:
    deep = '{"a":' * 10_000 + "1" + "}" * 10_000
    processor = DefaultProcessor(READ_TIME)
    events = processor.process_batch([file_event(deep), file_event('{"msg": "next"}')])
    assert events[0]["message"] == deep
    assert events[0]["tags"] == ["_jsonparsefailure"]
    assert events[1]["message"] == "next"
    assert processor.failures == 0


def test_moderately_nested_json_is_parsed() -> None:
    line = '{"msg": "m", "a":' * 1 + '{"b":' * 100 + "1" + "}" * 101
    event = one(line)
    depth = 0
    node: Any = event["app"]["a"]
    while isinstance(node, dict):
        node = node["b"]
        depth += 1
    assert depth == 100 and node == 1


def test_odd_level_value_does_not_cost_the_event_its_fields() -> None:
    event = one('{"msg": "m", "level": "²", "user": "bob"}')
    assert "tags" not in event
    assert event["app"] == {"level": "²", "user": "bob"}
    assert event["@timestamp"] == READ_TIME


# --- text lines ------------------------------------------------------------------------


def test_text_line_level_and_leading_time() -> None:
    event = one("2026-11-23 11:00:00,123+01:00 ERROR db down")
    assert event["log"]["level"] == "error"
    assert event["@timestamp"] == "2026-11-23T10:00:00.123Z"
    assert event["message"] == "2026-11-23 11:00:00,123+01:00 ERROR db down"
    assert "app" not in event


def test_bracketed_leading_time() -> None:
    event = one("[2026-11-23T10:00:00Z] [warn] slow")
    assert event["@timestamp"] == "2026-11-23T10:00:00Z"
    assert event["log"]["level"] == "warn"


def test_text_time_does_not_replace_the_source_time() -> None:
    event = one("2020-01-01 00:00:00 INFO old", **{"@timestamp": "2026-11-23T10:00:00Z"})
    assert event["@timestamp"] == "2026-11-23T10:00:00Z"
    assert event["log"]["level"] == "info"


def test_plain_text_without_level_or_time_gets_the_read_time() -> None:
    event = one("Error handling was improved")
    assert "level" not in event["log"]
    assert event["@timestamp"] == READ_TIME
    assert "tags" not in event


def test_leading_time_that_is_not_a_date_is_ignored() -> None:
    event = one("2026-13-45 10:00:00 INFO bad date")
    assert event["@timestamp"] == READ_TIME
    assert event["log"]["level"] == "info"


def test_level_on_an_event_without_log_field() -> None:
    (event,) = process({"message": "ERROR x"})
    assert event["log"] == {"level": "error"}


def test_empty_message_gets_only_the_read_time() -> None:
    event = one("")
    assert event["message"] == ""
    assert event["@timestamp"] == READ_TIME
    assert "level" not in event["log"]


def test_default_read_time_is_now_in_utc() -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    (event,) = DefaultProcessor().process_batch([file_event("text")])
    stamp = datetime.fromisoformat(event["@timestamp"].replace("Z", "+00:00"))
    assert before <= stamp <= datetime.now(UTC) + timedelta(seconds=1)
    assert event["@timestamp"].endswith("Z")


def test_a_failing_event_does_not_stop_the_batch() -> None:
    processor = DefaultProcessor(READ_TIME)
    events = processor.process_batch([{"no message": 1}, file_event("INFO fine")])
    assert events[0]["tags"] == ["_processorfailure"]
    assert events[0]["error"]["message"].startswith("default: KeyError")
    assert events[1]["log"]["level"] == "info"
    assert processor.failures == 1
