"""Enrich stages: set, rename, copy, remove, lowercase/uppercase, add_tags, level, http, default."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from logwharf.processor.config import StageSpec
from logwharf.processor.enrich import HTTP_FAILURE, Template
from logwharf.processor.stage import PROCESSOR_FAILURE, BatchStage
from logwharf.processor.stage_config import BuildContext

SPEC: TypeAdapter[Any] = TypeAdapter(StageSpec)
READ_TIME = "2000-01-01T00:00:00.000Z"


def stage(config: dict[str, Any]) -> BatchStage:
    spec = SPEC.validate_python(config)
    return spec.build(spec.stage_name(1), BuildContext(read_time=READ_TIME))


def run(config: dict[str, Any], *events: dict[str, Any]) -> list[dict[str, Any]]:
    return stage(config).process_batch(list(events))


def refused(config: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        SPEC.validate_python(config)
    return str(caught.value)


# set


def test_set_writes_values_at_dotted_paths() -> None:
    (event,) = run(
        {"type": "set", "fields": {"labels.env": "prod", "n": 5, "flag": True, "none": None}},
        {"message": "m", "labels": {"team": "a"}},
    )
    assert event == {
        "message": "m",
        "labels": {"team": "a", "env": "prod"},
        "n": 5,
        "flag": True,
        "none": None,
    }


def test_set_renders_field_references() -> None:
    (event,) = run(
        {"type": "set", "fields": {"summary": "%{service.name}/%{ n }: %{ok} %{nothing}%{none}"}},
        {"service": {"name": "api"}, "n": 3, "ok": False, "none": None},
    )
    assert event["summary"] == "api/3: false %{nothing}"


def test_a_reference_to_a_missing_field_stays_as_written() -> None:
    (event,) = run({"type": "set", "fields": {"x": "<%{ gone.field }>"}}, {})
    assert event["x"] == "<%{ gone.field }>"


def test_a_reference_to_an_object_renders_json() -> None:
    (event,) = run(
        {"type": "set", "fields": {"x": "ctx=%{ctx}", "y": "%{list}"}},
        {"ctx": {"user": "bob", "id": 1}, "list": ["a", 1]},
    )
    assert event["x"] == 'ctx={"user":"bob","id":1}'
    assert event["y"] == '["a",1]'


def test_set_gives_each_event_its_own_copy_of_objects_and_lists() -> None:
    set_stage = stage({"type": "set", "fields": {"labels": {"teams": ["a"]}}})
    first, second = set_stage.process_batch([{}, {}])
    first["labels"]["teams"].append("b")
    assert second["labels"] == {"teams": ["a"]}
    (third,) = set_stage.process_batch([{}])
    assert third["labels"] == {"teams": ["a"]}


def test_set_without_overwrite_keeps_existing_values_even_none() -> None:
    config = {"type": "set", "fields": {"a": "new", "b": "new"}, "overwrite": False}
    (event,) = run(config, {"a": "old", "c": 1})
    assert event == {"a": "old", "b": "new", "c": 1}
    (kept_none,) = run(config, {"a": None})
    assert kept_none["a"] is None


def test_set_through_a_string_is_a_failure_of_that_event_only() -> None:
    out = run({"type": "set", "id": "labels", "fields": {"message.x": 1}}, {"message": "t"}, {})
    assert len(out) == 2
    assert out[0]["tags"] == [PROCESSOR_FAILURE]
    assert out[0]["error"]["message"].startswith("labels: FieldConflict: cannot set message.x")
    assert out[0]["message"] == "t"
    assert out[1] == {"message": {"x": 1}}


def test_template_compiles_once() -> None:
    assert Template("plain text").constant
    assert not Template("a %{b} c").constant
    assert Template("unclosed %{b").render({"b": 1}) == "unclosed %{b"


# rename and copy


def test_rename_moves_values_and_replaces_an_existing_target() -> None:
    (event,) = run(
        {"type": "rename", "fields": {"app.msg": "message", "lvl": "log.level"}},
        {"app": {"msg": "hi", "x": 1}, "message": "old", "lvl": "warn"},
    )
    assert event == {"app": {"x": 1}, "message": "hi", "log": {"level": "warn"}}


def test_rename_of_a_missing_source_changes_nothing() -> None:
    (event,) = run({"type": "rename", "fields": {"a": "b"}}, {"b": "kept"})
    assert event == {"b": "kept"}


def test_rename_removes_the_parent_it_emptied() -> None:
    (event,) = run(
        {"type": "rename", "fields": {"app.user.name": "user.name"}},
        {"app": {"user": {"name": "bob"}}},
    )
    assert event == {"user": {"name": "bob"}}


def test_copy_duplicates_without_sharing() -> None:
    (event,) = run(
        {"type": "copy", "fields": {"ctx": "backup", "missing": "x"}},
        {"ctx": {"ids": [1, 2]}},
    )
    assert event == {"ctx": {"ids": [1, 2]}, "backup": {"ids": [1, 2]}}
    event["backup"]["ids"].append(3)
    assert event["ctx"] == {"ids": [1, 2]}


# remove


def test_remove_drops_fields_and_emptied_parents() -> None:
    (event,) = run(
        {"type": "remove", "fields": ["app.secret", "agent", "not.there"]},
        {"app": {"secret": "s"}, "agent": {"name": "x"}, "message": "m"},
    )
    assert event == {"message": "m"}


# lowercase / uppercase


def test_lowercase_and_uppercase_change_strings_and_lists_of_strings() -> None:
    (lower,) = run(
        {"type": "lowercase", "fields": ["a", "b", "c", "d.e"]},
        {"a": "MiXeD", "b": ["X", 1, "Y"], "c": 5, "d": {"e": "ÉTÉ"}},
    )
    assert lower == {"a": "mixed", "b": ["x", 1, "y"], "c": 5, "d": {"e": "été"}}
    (upper,) = run({"type": "uppercase", "fields": ["a", "gone"]}, {"a": "get"})
    assert upper == {"a": "GET"}


# add_tags


def test_add_tags_adds_each_once_and_renders_references() -> None:
    tags = stage({"type": "add_tags", "tags": ["web", "svc-%{service.name}"]})
    (event,) = tags.process_batch([{"service": {"name": "api"}, "tags": ["web", "x"]}])
    assert event["tags"] == ["web", "x", "svc-api"]
    tags.process_batch([event])
    assert event["tags"] == ["web", "x", "svc-api"]
    (fresh,) = tags.process_batch([{"tags": None}])
    assert fresh["tags"] == ["web", "svc-%{service.name}"]


def test_a_string_tags_field_does_not_break_the_batch() -> None:
    out = run({"type": "add_tags", "tags": ["x"]}, {"tags": "single"}, {"message": "m"})
    assert len(out) == 2
    assert out[0]["tags"] == ["single", "x"]
    assert out[1]["tags"] == ["x"]


# level


@pytest.mark.parametrize(
    ("value", "level"),
    [("WARNING", "warn"), ("E", "error"), ("err", "error"), (3, "error"), (50, "error")],
)
def test_level_normalises(value: Any, level: str) -> None:
    (event,) = run({"type": "level"}, {"log": {"level": value}})
    assert event == {"log": {"level": level}}


@pytest.mark.parametrize("value", ["weird", None, True, 12.5])
def test_an_unknown_level_stays_as_written(value: Any) -> None:
    (event,) = run({"type": "level"}, {"log": {"level": value}})
    assert event == {"log": {"level": value}}


def test_level_from_another_field() -> None:
    config = {"type": "level", "field": "severity", "remove_source": True}
    (event,) = run(config, {"severity": "crit"})
    assert event == {"log": {"level": "fatal"}}
    (unknown,) = run(config, {"severity": "zzz"})
    assert unknown == {"severity": "zzz"}  # nothing is lost when it cannot be read
    (kept,) = run({"type": "level", "field": "severity", "target": "sev"}, {"severity": "I"})
    assert kept == {"severity": "I", "sev": "info"}
    (absent,) = run(config, {"message": "m"})
    assert absent == {"message": "m"}


# http


@pytest.mark.parametrize(
    ("value", "status", "outcome"),
    [
        (200, 200, "success"),
        ("404", 404, "failure"),
        (" 503 ", 503, "failure"),
        (399.0, 399, "success"),
    ],
)
def test_http_makes_the_status_a_number_and_sets_the_outcome(
    value: Any, status: int, outcome: str
) -> None:
    (event,) = run({"type": "http"}, {"http": {"response": {"status_code": value}}})
    assert event == {"http": {"response": {"status_code": status}}, "event": {"outcome": outcome}}


@pytest.mark.parametrize("value", ["abc", 99, 600, True, None, "2e2", 200.5])
def test_http_tags_a_status_it_cannot_read_and_leaves_it(value: Any) -> None:
    (event,) = run({"type": "http"}, {"http": {"response": {"status_code": value}}})
    assert event == {"http": {"response": {"status_code": value}}, "tags": [HTTP_FAILURE]}


def test_http_from_another_field_moves_it_to_the_ecs_field() -> None:
    (event,) = run(
        {"type": "http", "field": "app.status", "outcome": False}, {"app": {"status": "500"}}
    )
    assert event == {"http": {"response": {"status_code": 500}}}
    (absent,) = run({"type": "http"}, {"message": "m"})
    assert absent == {"message": "m"}


# default


def test_the_default_stage_is_the_default_processor_under_its_stage_name() -> None:
    default = stage({"type": "default", "id": "parse"})
    assert getattr(default, "name", None) == "parse"
    (event,) = default.process_batch([{"message": '{"level":"WARNING","msg":"hi","user":"bob"}'}])
    assert event == {
        "message": "hi",
        "log": {"level": "warn"},
        "app": {"user": "bob"},
        "@timestamp": READ_TIME,
    }


# configuration


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "set", "fields": {}}, "at least 1 item"),
        ({"type": "set", "fields": {"a..b": 1}}, "not a field name"),
        ({"type": "set", "fields": {"a": "%{b..c}"}}, "not a field name"),
        ({"type": "set", "fields": {"a": 1}, "overwite": False}, "Extra inputs"),
        ({"type": "rename", "fields": {"a": "b."}}, "not a field name"),
        ({"type": "copy", "fields": {".a": "b"}}, "not a field name"),
        ({"type": "remove", "fields": []}, "at least 1 item"),
        ({"type": "remove", "fields": ["ok", ""]}, "not a field name"),
        ({"type": "lowercase", "fields": ["a..b"]}, "not a field name"),
        ({"type": "add_tags", "tags": []}, "at least 1 item"),
        ({"type": "level", "field": "."}, "not a field name"),
        ({"type": "http", "target": "x"}, "Extra inputs"),
        ({"type": "default", "id": " "}, "id must not be empty"),
    ],
)
def test_bad_settings_are_refused(config: dict[str, Any], message: str) -> None:
    assert message in refused(config)


def test_stage_names_are_the_id_or_the_type_and_position() -> None:
    spec = SPEC.validate_python({"type": "uppercase", "fields": ["a"]})
    assert spec.stage_name(3) == "uppercase#3"
    named = SPEC.validate_python({"type": "uppercase", "id": "up", "fields": ["a"]})
    assert named.stage_name(3) == "up"
