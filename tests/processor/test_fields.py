"""FieldPath: dotted names read, written and removed in nested events."""

from __future__ import annotations

from typing import Any

import pytest

from logwharf.processor.fields import MISSING, FieldConflict, FieldPath


@pytest.mark.parametrize("name", ["", ".a", "a.", "a..b", "."])
def test_malformed_names_are_refused_with_the_reason(name: str) -> None:
    with pytest.raises(ValueError, match="not a field name"):
        FieldPath(name)


def test_a_path_knows_its_keys_and_compares_by_name() -> None:
    path = FieldPath("http.response.status_code")
    assert path.keys == ("http", "response", "status_code")
    assert path.parents == ("http", "response")
    assert path.last == "status_code"
    assert not path.single
    assert FieldPath("message").single
    assert path == FieldPath("http.response.status_code")
    assert path != FieldPath("http.response")
    assert len({path, FieldPath("http.response.status_code")}) == 1
    assert repr(path) == "FieldPath('http.response.status_code')"


def test_get_reads_one_level_per_dot() -> None:
    event = {"message": "m", "http": {"response": {"status_code": 404}}}
    assert FieldPath("message").get(event) == "m"
    assert FieldPath("http.response.status_code").get(event) == 404
    assert FieldPath("http.response").get(event) == {"status_code": 404}


def test_get_of_a_missing_field_is_missing_or_the_default() -> None:
    event: dict[str, Any] = {"http": {"response": {}}, "message": "text"}
    assert FieldPath("http.response.status_code").get(event) is MISSING
    assert FieldPath("http.request.method").get(event, "none") == "none"
    assert FieldPath("nothing").get(event) is MISSING
    # Through a value that is not an object: missing, not an error.
    assert FieldPath("message.text").get(event) is MISSING
    assert FieldPath("a.b").get({"a": None}, "d") == "d"
    assert FieldPath("a.b").get({"a": [1, 2]}) is MISSING


def test_none_is_a_value_not_a_missing_field() -> None:
    event = {"a": {"b": None}, "c": None}
    assert FieldPath("a.b").get(event) is None
    assert FieldPath("c").get(event) is None
    assert FieldPath("a.b").exists(event)
    assert FieldPath("c").exists(event)
    assert not FieldPath("a.x").exists(event)


def test_missing_is_falsy_and_named() -> None:
    assert not MISSING
    assert repr(MISSING) == "MISSING"


def test_a_key_that_holds_dots_is_found_after_the_nested_shape() -> None:
    dotted = {"app": {"log.level": "warn"}}
    assert FieldPath("app.log.level").get(dotted) == "warn"
    assert FieldPath("app.log.level").exists(dotted)
    both = {"app": {"log": {"level": "nested"}, "log.level": "dotted"}}
    assert FieldPath("app.log.level").get(both) == "nested"  # the nested shape comes first
    top = {"service.name": "api"}
    assert FieldPath("service.name").get(top) == "api"
    deeper = {"a.b": {"c.d": {"e": 5}}}
    assert FieldPath("a.b.c.d.e").get(deeper) == 5
    assert FieldPath("a.b.c.x").get(deeper) is MISSING


def test_set_makes_the_objects_on_the_way() -> None:
    event: dict[str, Any] = {"http": {"request": {"method": "GET"}}}
    FieldPath("http.response.status_code").set(event, 200)
    FieldPath("message").set(event, "m")
    assert event == {
        "http": {"request": {"method": "GET"}, "response": {"status_code": 200}},
        "message": "m",
    }
    FieldPath("http.response.status_code").set(event, 500)
    assert event["http"]["response"] == {"status_code": 500}


def test_set_replaces_a_none_parent_but_never_destroys_a_value() -> None:
    event: dict[str, Any] = {"a": None, "message": "text"}
    FieldPath("a.b").set(event, 1)
    assert event["a"] == {"b": 1}
    with pytest.raises(FieldConflict, match="message holds a str"):
        FieldPath("message.text").set(event, "x")
    assert event["message"] == "text"
    assert issubclass(FieldConflict, TypeError)


def test_pop_returns_the_value_and_removes_parents_left_empty() -> None:
    event: dict[str, Any] = {"a": {"b": {"c": 1}}, "x": 1}
    assert FieldPath("a.b.c").pop(event) == 1
    assert event == {"x": 1}
    kept: dict[str, Any] = {"a": {"b": {"c": 1}, "other": 2}}
    assert FieldPath("a.b.c").pop(kept) == 1
    assert kept == {"a": {"other": 2}}
    assert FieldPath("x").pop({"x": None}) is None


def test_pop_of_a_missing_field_changes_nothing() -> None:
    event: dict[str, Any] = {"a": {"b": {}}, "s": "text"}
    assert FieldPath("a.b.c").pop(event) is MISSING
    assert FieldPath("a.b.c").pop(event, "d") == "d"
    assert FieldPath("s.t").pop(event) is MISSING
    assert FieldPath("nothing").pop(event, 0) == 0
    assert event == {"a": {"b": {}}, "s": "text"}  # an object already empty is not ours


def test_pop_finds_a_key_that_holds_dots_and_removes_its_emptied_parent() -> None:
    event: dict[str, Any] = {"app": {"log.level": "x"}, "keep": 1}
    assert FieldPath("app.log.level").pop(event) == "x"
    assert event == {"keep": 1}
    shared: dict[str, Any] = {"app": {"log.level": "x", "other": 1}}
    assert FieldPath("app.log.level").pop(shared) == "x"
    assert shared == {"app": {"other": 1}}


def test_a_path_is_reusable_across_events() -> None:
    path = FieldPath("a.b")
    events: list[dict[str, Any]] = [{}, {"a": {"b": 2}}, {"a": {"c": 3}}]
    for number, event in enumerate(events):
        path.set(event, number)
    assert [path.get(event) for event in events] == [0, 1, 2]
    assert events[2] == {"a": {"c": 3, "b": 2}}
