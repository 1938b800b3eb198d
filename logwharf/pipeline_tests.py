"""``logwharf test FILE``: pipeline unit tests declared in YAML, next to the configuration.

    config: nginx.yaml        # the configuration under test, relative to this file
    tests:
      - name: an access line becomes HTTP fields
        input: {message: '203.0.113.9 - - [23/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5'}
        expect:
          http.response.status_code: 200     # dotted names or nested mappings
          source: {address: 203.0.113.9}
        absent: [tags]                       # fields that must not be there
        present: [event.outcome]             # fields that must be there, whatever their value
      - name: health checks are dropped
        input: {message: 'GET /healthz'}
        expect_dropped: true
      - name: several events at once
        inputs: [{message: a}, {message: b}]
        expect: [{message: a}, {message: b}]

An expected event lists only the fields that matter (others are not compared) unless the
test says ``exact: true``. ``config:`` may be left out when the tests sit in
``NAME.test.yaml`` beside ``NAME.yaml``.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from logwharf.events import Event
from logwharf.processor.fields import MISSING, FieldPath

from .config import ConfigError, ServiceConfig, load_config
from .yaml_source import Problem, load_yaml

__all__ = ["TestOutcome", "TestSuite", "load_suite", "run_suite"]


class PipelineTest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    name: str
    input: dict[str, Any] | None = None
    inputs: list[dict[str, Any]] | None = Field(default=None, min_length=1)
    expect: dict[str, Any] | list[dict[str, Any]] | None = None
    expect_dropped: bool = False
    absent: list[str] = []
    present: list[str] = []
    exact: bool = False

    @model_validator(mode="after")
    def _shape(self) -> PipelineTest:
        if (self.input is None) == (self.inputs is None):
            raise ValueError("give either input (one event) or inputs (a list of events)")
        if self.expect is None and not (self.expect_dropped or self.absent or self.present):
            raise ValueError("say what to expect: expect, expect_dropped: true, absent or present")
        if self.expect is not None and self.expect_dropped:
            raise ValueError("expect and expect_dropped: true contradict each other")
        for name in [*self.absent, *self.present]:
            FieldPath(name)
        return self

    def events(self) -> list[Event]:
        return (
            [dict(self.input)] if self.input is not None else [dict(e) for e in self.inputs or []]
        )


class TestFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    config: str | None = None
    tests: list[PipelineTest] = Field(min_length=1)


@dataclass
class TestOutcome:
    name: str
    passed: bool
    report: str = ""


@dataclass
class TestSuite:
    path: Path
    config: ServiceConfig
    tests: list[PipelineTest]
    outcomes: list[TestOutcome] = field(default_factory=list)


def load_suite(path: Path, environ: Mapping[str, str] | None = None) -> TestSuite:
    """The tests of ``path`` and the configuration they test; ConfigError if either is bad."""
    located = load_yaml(path, environ)
    if located.problems:
        raise ConfigError(located.problems)
    try:
        tests = TestFile.model_validate(located.data)
    except ValidationError as error:
        raise ConfigError(
            [
                located.problem(tuple(item["loc"]), str(item["msg"]).removeprefix("Value error, "))
                for item in error.errors(include_url=False)
            ]
        ) from None
    config_path = _config_path(path, tests.config)
    if config_path is None:
        raise ConfigError(
            [Problem(str(path), 1, 1, "config", "name the configuration to test: config: FILE")]
        )
    return TestSuite(path, load_config(config_path, environ), list(tests.tests))


def _config_path(path: Path, named: str | None) -> Path | None:
    if named is not None:
        return (path.parent / named).resolve()
    name = path.name
    for suffix in (".test.yaml", ".test.yml"):
        if name.endswith(suffix):
            return path.with_name(name.removesuffix(suffix) + suffix[5:])
    return None


def run_suite(suite: TestSuite) -> list[TestOutcome]:
    """Each test on a freshly built pipeline: one test's state (samples, templates) cannot
    leak into another's result."""
    outcomes = []
    for test in suite.tests:
        pipeline = suite.config.build_pipeline(read_time="2000-01-01T00:00:00.000Z")
        if pipeline is None:
            from logwharf.processor.default import DefaultProcessor
            from logwharf.processor.stage import Pipeline

            pipeline = Pipeline([DefaultProcessor("2000-01-01T00:00:00.000Z")])
        given = test.events()
        out = pipeline.process_batch(copy.deepcopy(given))
        outcomes.append(_judge(test, given, out))
    suite.outcomes = outcomes
    return outcomes


def _judge(test: PipelineTest, given: list[Event], out: list[Event]) -> TestOutcome:
    problems: list[str] = []
    if test.expect_dropped:
        if out:
            problems.append(f"expected every event dropped; {len(out)} came out:")
            problems.extend("  " + _dump(event) for event in out)
        return TestOutcome(test.name, not problems, "\n".join(problems))
    expected = test.expect
    wanted = [] if expected is None else [expected] if isinstance(expected, dict) else expected
    if expected is not None and len(wanted) != len(out):
        problems.append(f"expected {len(wanted)} event(s), got {len(out)}:")
        problems.extend("  " + _dump(event) for event in out)
        return TestOutcome(test.name, False, "\n".join(problems))
    for index, event in enumerate(out):
        label = f"event {index + 1}: " if len(out) > 1 else ""
        if index < len(wanted):
            problems.extend(label + line for line in _compare(wanted[index], event, test.exact))
        for name in test.absent:
            if FieldPath(name).exists(event):
                value = FieldPath(name).get(event)
                problems.append(f"{label}{name}: expected absent, got {_dump(value)}")
        for name in test.present:
            if not FieldPath(name).exists(event):
                problems.append(f"{label}{name}: expected present, absent")
    if not out and (test.absent or test.present):
        problems.append("expected an event; every event was dropped")
    return TestOutcome(test.name, not problems, "\n".join(problems))


def _compare(expected: dict[str, Any], event: Event, exact: bool) -> list[str]:
    want = _nest(expected)
    # Each expected field is read as stages read it, so an application's own dotted key
    # ("service.name" under app) matches app.service.name too.
    lines = [
        f"{name}: expected {_dump(value)}, got {'(absent)' if got is MISSING else _dump(got)}"
        for name, value in _leaves(want)
        if not _same(value, got := FieldPath(name).get(event))
    ]
    if exact:
        lines += [
            f"{name}: not expected, got {_dump(value)}" for name, value in _extra(want, event)
        ]
    if not lines:
        return []
    have = event if exact else _pick(event, want)
    diff = difflib.unified_diff(
        _pretty(want).splitlines(), _pretty(have).splitlines(), "expected", "actual", lineterm=""
    )
    return [*lines, *diff]


def _same(want: Any, have: Any) -> bool:
    """Equality that tells true from 1, which Python's == does not; 200 and 200.0 stay equal."""
    if type(want) is bool or type(have) is bool:
        return type(want) is type(have) and want == have
    if type(want) is dict:
        return (
            type(have) is dict
            and want.keys() == have.keys()
            and all(_same(value, have[key]) for key, value in want.items())
        )
    if type(want) is list:
        return (
            type(have) is list
            and len(want) == len(have)
            and all(_same(a, b) for a, b in zip(want, have, strict=True))
        )
    return bool(want == have)


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys made nested, so that both ways of writing an expectation compare alike."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        nested = _nest(value) if isinstance(value, dict) else value
        if key.startswith("@") or "." not in key:
            out[key] = _merge(out.get(key), nested)
            continue
        FieldPath(key).set(out, _merge(FieldPath(key).get(out, None), nested))
    return out


def _merge(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **new}
    return new


def _pick(event: Any, shape: Any) -> Any:
    if isinstance(shape, dict) and isinstance(event, dict):
        return {key: _pick(event[key], value) for key, value in shape.items() if key in event}
    return event


def _leaves(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.extend(_leaves(value, name + "."))
        else:
            out.append((name, value))
    return out


def _extra(want: Any, have: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if not isinstance(want, dict) or not isinstance(have, dict):
        return []
    out = []
    for key, value in have.items():
        if key not in want:
            out.append((f"{prefix}{key}", value))
        else:
            out.extend(_extra(want[key], value, f"{prefix}{key}."))
    return out


def _dump(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()


def _pretty(value: Any) -> str:
    return orjson.dumps(
        value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2, default=str
    ).decode()
