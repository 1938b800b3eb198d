"""Stage conditions: checked when the configuration loads, compiled to closures, never eval'd.

In YAML a condition is a mapping::

    if: {field: log.level, equals: error}
    if: {field: http.response.status_code, gte: 500}
    if: {field: container.name, in: [api, worker]}
    if: {field: message, matches: "^GET /health"}
    if: {exists: error.message}
    if: {all: [{field: stream, equals: stderr}, {not: {field: message, contains: DEBUG}}]}
    if: {any: [...]}

A comparison with a missing field, or with a value of another kind (a string against a
number), is false, never an error: conditions do not fail events.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Annotated, Any, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from logwharf.events import Event

from .fields import MISSING, FieldPath

__all__ = ["AllOf", "AnyOf", "ConditionSpec", "FieldTest", "Not", "compile_condition"]

Test = Callable[[Event], bool]

_ORDER = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}
_OPERATORS = (
    "equals",
    "not_equals",
    "lt",
    "lte",
    "gt",
    "gte",
    "in",
    "not_in",
    "matches",
    "contains",
    "starts_with",
    "ends_with",
)
Scalar = str | int | float | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class FieldTest(_Strict):
    """``field`` and exactly one operator."""

    field: str
    equals: Scalar | list[Any] | dict[str, Any] = Field(default=MISSING)
    not_equals: Scalar | list[Any] | dict[str, Any] = Field(default=MISSING)
    lt: int | float | str = Field(default=MISSING)
    lte: int | float | str = Field(default=MISSING)
    gt: int | float | str = Field(default=MISSING)
    gte: int | float | str = Field(default=MISSING)
    in_: list[Scalar] = Field(default=MISSING, alias="in")
    not_in: list[Scalar] = Field(default=MISSING)
    matches: str = Field(default=MISSING, description="a Python regular expression, searched")
    contains: str = Field(default=MISSING)
    starts_with: str = Field(default=MISSING)
    ends_with: str = Field(default=MISSING)

    @field_validator("field")
    @classmethod
    def _field_name(cls, value: str) -> str:
        FieldPath(value)
        return value

    @field_validator("matches")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
        return value

    @model_validator(mode="after")
    def _one_operator(self) -> FieldTest:
        given = self.operators()
        if len(given) != 1:
            names = ", ".join(name for name, _ in given) or "none"
            raise ValueError(
                f"a field test needs exactly one of {', '.join(_OPERATORS)}; got {names}"
            )
        return self

    def operators(self) -> list[tuple[str, Any]]:
        found = []
        for name in _OPERATORS:
            value = getattr(self, "in_" if name == "in" else name)
            if value is not MISSING:
                found.append((name, value))
        return found


class Exists(_Strict):
    exists: str

    @field_validator("exists")
    @classmethod
    def _field_name(cls, value: str) -> str:
        FieldPath(value)
        return value


class AllOf(_Strict):
    all: list[ConditionSpec] = Field(min_length=1)


class AnyOf(_Strict):
    any: list[ConditionSpec] = Field(min_length=1)


class Not(_Strict):
    not_: ConditionSpec = Field(alias="not")


def _kind(value: object) -> str | None:
    """Which form a condition mapping is meant as, judged by its keys: errors then name the
    keys of that form, not of every alternative."""
    if isinstance(value, _Strict):
        return type(value).__name__
    if not isinstance(value, dict):
        return None
    for key, model in (("all", AllOf), ("any", AnyOf), ("not", Not), ("exists", Exists)):
        if key in value:
            return model.__name__
    return FieldTest.__name__


ConditionSpec = Annotated[
    Union[  # noqa: UP007 (a recursive alias needs the typing form)
        Annotated[FieldTest, Tag("FieldTest")],
        Annotated[Exists, Tag("Exists")],
        Annotated[AllOf, Tag("AllOf")],
        Annotated[AnyOf, Tag("AnyOf")],
        Annotated[Not, Tag("Not")],
    ],
    Discriminator(
        _kind,
        custom_error_type="condition",
        custom_error_message=(
            "a condition is a mapping: {field: NAME, equals: VALUE} (or lt, lte, gt, gte, in, "
            "not_in, matches, contains, starts_with, ends_with), {exists: NAME}, {all: [...]}, "
            "{any: [...]} or {not: {...}}"
        ),
    ),
]
for _model in (AllOf, AnyOf, Not):
    _model.model_rebuild()


def compile_condition(spec: ConditionSpec) -> Test:
    if isinstance(spec, AllOf):
        tests = [compile_condition(part) for part in spec.all]

        def all_of(event: Event) -> bool:
            for test in tests:  # noqa: SIM110 - a loop: no generator made per event
                if not test(event):
                    return False
            return True

        return all_of
    if isinstance(spec, AnyOf):
        tests = [compile_condition(part) for part in spec.any]

        def any_of(event: Event) -> bool:
            for test in tests:  # noqa: SIM110
                if test(event):
                    return True
            return False

        return any_of
    if isinstance(spec, Not):
        inner = compile_condition(spec.not_)
        return lambda event: not inner(event)
    if isinstance(spec, Exists):
        path = FieldPath(spec.exists)
        return lambda event: path.get(event) is not MISSING
    return _field_test(spec)


def _field_test(spec: FieldTest) -> Test:
    path = FieldPath(spec.field)
    get = path.get
    ((name, expected),) = spec.operators()
    if name == "equals":
        return lambda event: _same(get(event), expected)
    if name == "not_equals":
        return lambda event: not _same(get(event), expected)
    if name in _ORDER:
        compare = _ORDER[name]
        numeric = not isinstance(expected, str)

        def ordered(event: Event) -> bool:
            value = get(event)
            if numeric:
                if type(value) not in (int, float) or type(value) is bool:
                    return False
            elif type(value) is not str:
                return False
            return bool(compare(value, expected))

        return ordered
    if name in ("in", "not_in"):
        hashable = frozenset(_key(item) for item in expected)
        wanted = name == "in"
        return lambda event: (
            _key(get(event)) in hashable if wanted else (_key(get(event)) not in hashable)
        )
    text_test = _text_test(name, expected)

    def textual(event: Event) -> bool:
        value = get(event)
        return type(value) is str and text_test(value)

    return textual


def _text_test(name: str, expected: str) -> Callable[[str], bool]:
    if name == "matches":
        search = re.compile(expected).search
        return lambda value: search(value) is not None
    if name == "contains":
        return lambda value: expected in value
    if name == "starts_with":
        return lambda value: value.startswith(expected)
    return lambda value: value.endswith(expected)


def _key(value: Any) -> tuple[type, Any]:
    # True == 1 in Python; a condition on `in: [1]` must not take a boolean. A whole float
    # is the number it equals, as for `equals`: 500.0 is in [500].
    if type(value) is float and value.is_integer():
        return (int, int(value))
    try:
        hash(value)
    except TypeError:
        return (type(value), id(value))
    return (type(value), value)


def _same(value: Any, expected: Any) -> bool:
    if value is MISSING:
        return False
    if type(value) is bool or type(expected) is bool:
        return type(value) is type(expected) and value == expected
    if isinstance(value, int | float) and isinstance(expected, int | float):
        return bool(value == expected)
    return type(value) is type(expected) and value == expected
