"""``if:`` conditions: checked when loaded, compiled to closures, false rather than failing."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from logwharf.processor.conditions import (
    AllOf,
    AnyOf,
    ConditionSpec,
    FieldTest,
    Not,
    compile_condition,
)

SPEC: TypeAdapter[Any] = TypeAdapter(ConditionSpec)


def holds(condition: Any, event: dict[str, Any]) -> bool:
    return compile_condition(SPEC.validate_python(condition))(event)


def error_text(condition: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        SPEC.validate_python(condition)
    return str(caught.value)


def test_each_form_becomes_its_model() -> None:
    assert isinstance(SPEC.validate_python({"field": "a", "equals": 1}), FieldTest)
    assert isinstance(SPEC.validate_python({"all": [{"exists": "a"}]}), AllOf)
    assert isinstance(SPEC.validate_python({"any": [{"exists": "a"}]}), AnyOf)
    assert isinstance(SPEC.validate_python({"not": {"exists": "a"}}), Not)


@pytest.mark.parametrize(
    ("condition", "event", "expected"),
    [
        ({"field": "log.level", "equals": "error"}, {"log": {"level": "error"}}, True),
        ({"field": "log.level", "equals": "error"}, {"log": {"level": "ERROR"}}, False),
        ({"field": "log.level", "equals": "error"}, {}, False),
        ({"field": "n", "equals": 500}, {"n": 500.0}, True),
        ({"field": "n", "equals": 500}, {"n": "500"}, False),
        ({"field": "n", "equals": 1}, {"n": True}, False),
        ({"field": "n", "equals": True}, {"n": 1}, False),
        ({"field": "n", "equals": True}, {"n": True}, True),
        ({"field": "n", "equals": None}, {"n": None}, True),
        ({"field": "n", "equals": None}, {}, False),
        ({"field": "tags", "equals": ["a", "b"]}, {"tags": ["a", "b"]}, True),
        ({"field": "tags", "equals": ["a", "b"]}, {"tags": ["b", "a"]}, False),
        ({"field": "o", "equals": {"k": 1}}, {"o": {"k": 1}}, True),
        ({"field": "s", "not_equals": "x"}, {"s": "y"}, True),
        ({"field": "s", "not_equals": "x"}, {"s": "x"}, False),
    ],
)
def test_equals_and_not_equals(condition: Any, event: dict[str, Any], expected: bool) -> None:
    assert holds(condition, event) is expected


def test_not_equals_is_the_negation_of_equals_even_for_a_missing_field() -> None:
    # Documented choice: `not_equals` reads as "not (equals)", like {not: {...}}.
    assert holds({"field": "s", "not_equals": "x"}, {}) is True
    assert holds({"not": {"field": "s", "equals": "x"}}, {}) is True


@pytest.mark.parametrize(
    ("operator", "bound", "value", "expected"),
    [
        ("gte", 500, 500, True),
        ("gte", 500, 499, False),
        ("gt", 500, 500, False),
        ("gt", 500, 500.5, True),
        ("lt", 1.5, 1, True),
        ("lte", 10, 10.0, True),
        ("lte", 10, 11, False),
        ("gte", 500, "503", False),  # a string is not compared with a number
        ("gte", 1, True, False),  # nor a boolean
        ("gte", 500, None, False),
        ("lt", "b", "a", True),  # strings compare with strings
        ("lt", "b", "c", False),
        ("lt", "b", 1, False),
    ],
)
def test_ordering_compares_only_values_of_the_same_kind(
    operator: str, bound: Any, value: Any, expected: bool
) -> None:
    assert holds({"field": "v", operator: bound}, {"v": value}) is expected


def test_ordering_with_a_missing_field_is_false() -> None:
    assert holds({"field": "v", "gte": 0}, {}) is False
    assert holds({"field": "v", "lt": 0}, {}) is False


@pytest.mark.parametrize(
    ("items", "value", "expected"),
    [
        (["api", "worker"], "api", True),
        (["api", "worker"], "web", False),
        ([500, 503], 503, True),
        ([500, 503], 503.0, True),  # as for equals, 503.0 is the number 503
        ([500, 503], "503", False),
        ([1], True, False),  # True == 1 in Python, but not here
        ([True], 1, False),
        ([True], True, True),
        ([None], None, True),
        ([1.5], 1.5, True),
        (["a"], ["a"], False),  # an unhashable value is in no list of scalars
    ],
)
def test_in(items: list[Any], value: Any, expected: bool) -> None:
    assert holds({"field": "v", "in": items}, {"v": value}) is expected
    assert holds({"field": "v", "not_in": items}, {"v": value}) is (not expected)


def test_in_with_a_missing_field() -> None:
    assert holds({"field": "v", "in": ["a"]}, {}) is False
    assert holds({"field": "v", "in": [None]}, {}) is False


@pytest.mark.parametrize(
    ("operator", "operand", "value", "expected"),
    [
        ("matches", "^GET /health", "GET /healthz HTTP/1.1", True),
        ("matches", "^GET /health", "POST /healthz", False),
        ("matches", "timeout", "read timeout after 5s", True),  # searched, not anchored
        ("matches", r"\d{3}", 500, False),  # only strings match
        ("contains", "DEBUG", "a DEBUG line", True),
        ("contains", "DEBUG", "a debug line", False),
        ("starts_with", "GET", "GET /", True),
        ("starts_with", "GET", "POST /GET", False),
        ("ends_with", ".js", "/app.js", True),
        ("ends_with", ".js", "/app.json", False),
        ("contains", "1", 123, False),
        ("contains", "a", ["a"], False),
    ],
)
def test_text_operators(operator: str, operand: str, value: Any, expected: bool) -> None:
    assert holds({"field": "v", operator: operand}, {"v": value}) is expected
    assert holds({"field": "v", operator: operand}, {}) is False


def test_exists_sees_none_and_dotted_keys() -> None:
    assert holds({"exists": "error.message"}, {"error": {"message": "x"}})
    assert holds({"exists": "error.message"}, {"error": {"message": None}})
    assert not holds({"exists": "error.message"}, {"error": {}})
    assert holds({"exists": "app.log.level"}, {"app": {"log.level": "x"}})


def test_all_any_not_combine_and_nest() -> None:
    stderr_not_debug = {
        "all": [
            {"field": "stream", "equals": "stderr"},
            {"not": {"field": "message", "contains": "DEBUG"}},
        ]
    }
    assert holds(stderr_not_debug, {"stream": "stderr", "message": "boom"})
    assert not holds(stderr_not_debug, {"stream": "stderr", "message": "DEBUG boom"})
    assert not holds(stderr_not_debug, {"stream": "stdout", "message": "boom"})
    either = {"any": [{"field": "n", "gte": 500}, {"exists": "error"}, stderr_not_debug]}
    assert holds(either, {"n": 503})
    assert holds(either, {"error": {}})
    assert holds(either, {"stream": "stderr", "message": "x"})
    assert not holds(either, {"n": 200, "stream": "stdout"})
    assert holds({"not": {"not": {"exists": "a"}}}, {"a": 1})


def test_all_and_any_stop_at_the_first_deciding_part() -> None:
    # A later part would be false for an event without the field; order must not matter
    # for the result, and short-circuiting must not make a true `any` false.
    assert holds({"any": [{"exists": "a"}, {"field": "a", "equals": 0}]}, {"a": 1})
    assert not holds({"all": [{"exists": "b"}, {"field": "a", "equals": 1}]}, {"a": 1})


def test_a_compiled_condition_is_reused_without_state() -> None:
    test = compile_condition(SPEC.validate_python({"field": "a", "in": [1, 2]}))
    results = [test({"a": value}) for value in (1, 3, 2, 1.0, "1")]
    assert results == [True, False, True, True, False]


def test_a_field_test_needs_exactly_one_operator() -> None:
    text = error_text({"field": "a", "equals": 1, "gt": 2})
    assert "exactly one of" in text and "got equals, gt" in text
    assert "got none" in error_text({"field": "a"})


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("log.level == error", "a condition is a mapping"),
        (["a"], "a condition is a mapping"),
        ({"field": "a..b", "equals": 1}, "not a field name"),
        ({"exists": "a."}, "not a field name"),
        ({"field": "m", "matches": "(unclosed"}, "not a valid regular expression"),
        ({"field": "m", "equals": 1, "bogus": 2}, "Extra inputs are not permitted"),
        ({"exists": "a", "field": "b"}, "Extra inputs are not permitted"),
        ({"all": []}, "at least 1 item"),
        ({"any": [{"field": "a"}]}, "exactly one of"),
        ({"not": {"field": "a", "in": "x"}}, "valid list"),
    ],
)
def test_bad_conditions_are_refused_with_a_reason(condition: Any, message: str) -> None:
    assert message in error_text(condition)


def test_errors_name_the_keys_of_the_form_meant() -> None:
    # {all: ...} with a typo inside is judged as an AllOf, not as a field test missing `field`.
    text = error_text({"all": [{"exists": "a"}], "bogus": 1})
    assert "AllOf" in text and "bogus" in text
    assert "field\n  Field required" not in text
