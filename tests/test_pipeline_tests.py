"""``logwharf test``: pipeline unit tests declared in YAML beside the configuration."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from logwharf.config import ConfigError
from logwharf.pipeline_tests import load_suite, run_suite

RunMain = Callable[[Sequence[str | os.PathLike[str]]], Any]

CONFIG = """\
pipeline:
  - type: default
  - type: set
    fields: {labels.env: prod, service: {name: web}}
  - type: drop
    if: {field: message, starts_with: "GET /health"}
  - type: http
    field: app.status
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def suite(folder: Path, tests: str, config: str = CONFIG, name: str = "web") -> Path:
    write(folder, f"{name}.yaml", config)
    return write(folder, f"{name}.test.yaml", tests)


def outcome_lines(run: Any) -> list[str]:
    return [line for line in run.stdout.decode().splitlines() if not line.startswith(" ")]


def report_of(run: Any, name: str) -> str:
    """The indented report printed under the FAILED line of test ``name``."""
    lines = run.stdout.decode().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("FAILED") and name in line)
    report = []
    for line in lines[start + 1 :]:
        if not line.startswith("        "):
            break
        report.append(line[8:])
    return "\n".join(report)


PASSING = """\
tests:
  - name: a JSON line becomes ECS fields
    input: {message: '{"level":"WARNING","msg":"hi","user":"bob","status":"503"}'}
    expect:
      message: hi
      log.level: warn
      app.user: bob
      http.response.status_code: 503
      event: {outcome: failure}
      labels: {env: prod}
      service.name: web
      "@timestamp": "2000-01-01T00:00:00.000Z"
    absent: [tags, app.status]
  - name: health checks are dropped
    input: {message: GET /healthz}
    expect_dropped: true
  - name: several events at once
    inputs: [{message: a}, {message: GET /health}, {message: b}]
    expect: [{message: a}, {message: b, labels.env: prod}]
"""


def test_a_correct_suite_passes(run_main: RunMain, tmp_path: Path) -> None:
    tests = suite(tmp_path, PASSING)
    run = run_main(["test", tests])
    assert run.returncode == 0, run.stdout.decode() + run.stderr
    assert outcome_lines(run) == [
        "ok      web.test.yaml: a JSON line becomes ECS fields",
        "ok      web.test.yaml: health checks are dropped",
        "ok      web.test.yaml: several events at once",
        "3 passed, 0 failed",
    ]
    assert run.stderr == ""


def test_a_wrong_expectation_fails_with_a_readable_report(
    run_main: RunMain, tmp_path: Path
) -> None:
    tests = suite(
        tmp_path,
        """\
        tests:
          - name: level
            input: {message: '{"level":"ERR","msg":"boom"}'}
            expect:
              log.level: warn
              labels.env: prod
              trace.id: abc
          - name: fine
            input: {message: x}
            expect: {message: x}
        """,
    )
    run = run_main(["test", tests])
    assert run.returncode == 1
    assert outcome_lines(run) == [
        "FAILED  web.test.yaml: level",
        "ok      web.test.yaml: fine",
        "1 passed, 1 failed",
    ]
    report = report_of(run, "level")
    lines = report.splitlines()
    assert 'log.level: expected "warn", got "error"' in lines
    assert 'trace.id: expected "abc", got (absent)' in lines
    assert not any(line.startswith("labels.env") for line in lines)  # it matched
    # A unified diff of the fields expected and what came out of them.
    assert "--- expected" in lines and "+++ actual" in lines
    assert '-    "level": "warn"' in lines
    assert '+    "level": "error"' in lines


def test_a_failing_test_names_values_of_every_kind(run_main: RunMain, tmp_path: Path) -> None:
    tests = suite(
        tmp_path,
        """\
        tests:
          - name: kinds
            input: {message: x, n: 1, flag: true, list: [1, 2], obj: {a: 1}}
            expect: {n: "1", flag: 1, list: [1, 2, 3], obj: {a: 2}}
        """,
        config="pipeline: []\n",
    )
    run = run_main(["test", tests])
    assert run.returncode == 1
    lines = report_of(run, "kinds").splitlines()
    assert 'n: expected "1", got 1' in lines
    assert "flag: expected 1, got true" in lines  # true is not 1
    assert "list: expected [1,2,3], got [1,2]" in lines
    assert "obj.a: expected 2, got 1" in lines


def test_numbers_of_equal_value_match(run_main: RunMain, tmp_path: Path) -> None:
    tests = suite(
        tmp_path,
        """\
        tests:
          - name: float and int
            input: {a: 200.0, b: 3}
            expect: {a: 200, b: 3.0}
        """,
        config="pipeline: []\n",
    )
    assert run_main(["test", tests]).returncode == 0


def test_expect_dropped(run_main: RunMain, tmp_path: Path) -> None:
    tests = suite(
        tmp_path,
        """\
        tests:
          - name: dropped
            inputs: [{message: GET /health}, {message: GET /healthz}]
            expect_dropped: true
          - name: not dropped
            inputs: [{message: GET /health}, {message: GET /}]
            expect_dropped: true
        """,
    )
    run = run_main(["test", tests])
    assert run.returncode == 1
    assert outcome_lines(run)[:2] == [
        "ok      web.test.yaml: dropped",
        "FAILED  web.test.yaml: not dropped",
    ]
    report = report_of(run, "not dropped").splitlines()
    assert report[0] == "expected every event dropped; 1 came out:"
    assert '"message":"GET /"' in report[1]


def test_inputs_with_a_list_of_expected_events(run_main: RunMain, tmp_path: Path) -> None:
    tests = suite(
        tmp_path,
        """\
        tests:
          - name: in order
            inputs: [{message: a}, {message: b}, {message: c}]
            expect: [{message: a}, {message: b}, {message: c}]
          - name: wrong count
            inputs: [{message: a}, {message: b}]
            expect: [{message: a}]
          - name: second differs
            inputs: [{message: a}, {message: b}]
            expect: [{message: a}, {message: z}]
        """,
    )
    run = run_main(["test", tests])
    assert run.returncode == 1
    assert outcome_lines(run) == [
        "ok      web.test.yaml: in order",
        "FAILED  web.test.yaml: wrong count",
        "FAILED  web.test.yaml: second differs",
        "1 passed, 2 failed",
    ]
    assert report_of(run, "wrong count").splitlines()[0] == "expected 1 event(s), got 2:"
    differs = report_of(run, "second differs").splitlines()
    assert 'event 2: message: expected "z", got "b"' in differs
    assert not any(line.startswith("event 1:") for line in differs)


def test_absent(run_main: RunMain, tmp_path: Path) -> None:
    tests = suite(
        tmp_path,
        """\
        tests:
          - name: absent only
            input: {message: plain}
            absent: [tags, error.message, app]
          - name: present
            input: {message: plain}
            absent: [labels.env, nothing.here]
          - name: absent in each event
            inputs: [{message: a}, {message: b, tags: [x]}]
            absent: [tags]
        """,
    )
    run = run_main(["test", tests])
    assert run.returncode == 1
    assert outcome_lines(run)[:3] == [
        "ok      web.test.yaml: absent only",
        "FAILED  web.test.yaml: present",
        "FAILED  web.test.yaml: absent in each event",
    ]
    assert report_of(run, "present") == 'labels.env: expected absent, got "prod"'
    assert report_of(run, "absent in each") == 'event 2: tags: expected absent, got ["x"]'


def test_exact(run_main: RunMain, tmp_path: Path) -> None:
    tests = suite(
        tmp_path,
        """\
        tests:
          - name: exact and complete
            input: {message: a}
            exact: true
            expect:
              message: a
              labels.env: prod
              service.name: web
              "@timestamp": "2000-01-01T00:00:00.000Z"
          - name: exact and partial
            input: {message: a}
            exact: true
            expect: {message: a, labels: {env: prod}}
          - name: partial is fine without exact
            input: {message: a}
            expect: {message: a}
        """,
    )
    run = run_main(["test", tests])
    assert run.returncode == 1
    assert outcome_lines(run) == [
        "ok      web.test.yaml: exact and complete",
        "FAILED  web.test.yaml: exact and partial",
        "ok      web.test.yaml: partial is fine without exact",
        "2 passed, 1 failed",
    ]
    lines = report_of(run, "exact and partial").splitlines()
    assert '@timestamp: not expected, got "2000-01-01T00:00:00.000Z"' in lines
    assert 'service: not expected, got {"name":"web"}' in lines
    assert not any(line.startswith("labels") for line in lines)


@pytest.mark.parametrize(
    "expect",
    [
        "{labels.env: prod, service.name: web}",
        "{labels: {env: prod}, service: {name: web}}",
        "{labels: {env: prod}, service.name: web}",
        "{labels.env: prod, labels: {}, service: {name: web}}",
    ],
)
def test_dotted_and_nested_expectations_are_the_same(
    run_main: RunMain, tmp_path: Path, expect: str
) -> None:
    good = f"tests:\n  - name: t\n    input: {{message: a}}\n    expect: {expect}\n"
    run = run_main(["test", suite(tmp_path, good)])
    assert run.returncode == 0, run.stdout.decode()
    wrong = good.replace("prod", "test")
    run = run_main(["test", suite(tmp_path, wrong)])
    assert run.returncode == 1
    assert 'labels.env: expected "test", got "prod"' in report_of(run, "t").splitlines()


def test_an_applications_own_dotted_key_is_found_by_its_dotted_name(
    run_main: RunMain, tmp_path: Path
) -> None:
    tests = suite(
        tmp_path,
        """\
        tests:
          - name: dotted keys of a JSON line stay keys under app
            input: {message: '{"msg":"m","service.version":"1.2","trace.id":"t1"}'}
            expect: {app.service.version: "1.2", app: {trace.id: t1}}
        """,
    )
    run = run_main(["test", tests])
    assert run.returncode == 0, run.stdout.decode()


def test_each_test_runs_on_a_fresh_pipeline(run_main: RunMain, tmp_path: Path) -> None:
    # A sample of 1 in 2 keeps the first event it sees: a shared stage would drop the second.
    tests = suite(
        tmp_path,
        """\
        tests:
          - name: first
            input: {message: a}
            expect: {message: a}
          - name: second
            input: {message: b}
            expect: {message: b}
        """,
        config="pipeline: [{type: sample, rate: 2}]\n",
    )
    assert run_main(["test", tests]).returncode == 0


def test_a_config_without_pipeline_tests_the_default_processor(
    run_main: RunMain, tmp_path: Path
) -> None:
    tests = suite(
        tmp_path,
        """\
        tests:
          - name: default
            input: {message: '{"lvl":"E","msg":"m","ts":"2026-11-23T10:00:00+01:00"}'}
            expect: {log.level: error, "@timestamp": "2026-11-23T09:00:00.000Z", message: m}
        """,
        config="elasticsearch: {index: x}\n",
    )
    assert run_main(["test", tests]).returncode == 0


def test_test_inputs_are_not_changed_by_running(tmp_path: Path) -> None:
    loaded = load_suite(suite(tmp_path, PASSING), {})
    before = [test.events() for test in loaded.tests]
    first = run_suite(loaded)
    assert [test.events() for test in loaded.tests] == before
    assert [outcome.passed for outcome in run_suite(loaded)] == [o.passed for o in first]
    assert all(outcome.passed for outcome in first)


# --- finding the configuration -------------------------------------------------------------


def test_name_test_yaml_pairs_with_name_yaml_and_yml_with_yml(
    run_main: RunMain, tmp_path: Path
) -> None:
    write(tmp_path, "api.yaml", "pipeline: [{type: set, fields: {svc: api}}]\n")
    write(tmp_path, "web.yml", "pipeline: [{type: set, fields: {svc: web}}]\n")
    write(tmp_path, "web.yaml", "pipeline: [{type: set, fields: {svc: not-this}}]\n")
    one = "tests:\n  - name: t\n    input: {}\n    expect: {svc: %s}\n"
    api = write(tmp_path, "api.test.yaml", one % "api")
    web = write(tmp_path, "web.test.yml", one % "web")
    assert run_main(["test", api]).returncode == 0
    assert run_main(["test", web]).returncode == 0


def test_config_is_relative_to_the_test_file(run_main: RunMain, tmp_path: Path) -> None:
    write(tmp_path, "conf/shipper.yaml", "pipeline: [{type: set, fields: {svc: shipper}}]\n")
    tests = write(
        tmp_path,
        "tests/shipper-checks.yaml",
        "config: ../conf/shipper.yaml\n"
        "tests:\n  - name: t\n    input: {}\n    expect: {svc: shipper}\n",
    )
    assert run_main(["test", tests]).returncode == 0


def test_a_directory_runs_every_test_file_in_it(run_main: RunMain, tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "pipeline: [{type: set, fields: {svc: a}}]\n")
    write(tmp_path, "b.yaml", "pipeline: [{type: set, fields: {svc: b}}]\n")
    one = "tests:\n  - name: {n}\n    input: {{}}\n    expect: {{svc: {v}}}\n"
    write(tmp_path, "b.test.yaml", one.format(n="b ok", v="b"))
    write(tmp_path, "a.test.yaml", one.format(n="a wrong", v="x"))
    write(tmp_path, "notes.yaml", "not: a test\n")
    run = run_main(["test", tmp_path])
    assert run.returncode == 1
    assert outcome_lines(run) == [
        "FAILED  a.test.yaml: a wrong",
        "ok      b.test.yaml: b ok",
        "1 passed, 1 failed",
    ]


def test_a_directory_without_test_files(run_main: RunMain, tmp_path: Path) -> None:
    write(tmp_path, "web.yaml", CONFIG)
    run = run_main(["test", tmp_path])
    assert run.returncode == 2
    assert "no test files" in run.stderr


# --- invalid test files ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tests", "line", "key", "message"),
    [
        ("tests: []\n", 1, "tests", "at least 1 item"),
        ("tests:\n  - name: t\n    expect: {a: 1}\n", 2, "tests[0]", "give either input"),
        (
            "tests:\n  - name: t\n    input: {}\n    inputs: [{}]\n    expect: {a: 1}\n",
            2,
            "tests[0]",
            "give either input",
        ),
        ("tests:\n  - name: t\n    input: {}\n", 2, "tests[0]", "say what to expect"),
        (
            "tests:\n  - name: t\n    input: {}\n    expect: {}\n    expect_dropped: true\n",
            2,
            "tests[0]",
            "contradict",
        ),
        ("tests:\n  - name: t\n    input: {}\n    absent: [a..b]\n", 2, "tests[0]", "not a field"),
        ("tests:\n  - name: t\n    input: {}\n    expct: {a: 1}\n", 4, "tests[0].expct", "Extra"),
        ("tests:\n  - input: {}\n    expect: {a: 1}\n", 2, "tests[0]", "Field required"),
        (
            "tests:\n  - name: t\n    input: [a]\n    expect: {}\n",
            3,
            "tests[0].input",
            "dictionary",
        ),
        ("tests:\n  - name: [t\n", 3, "", "not valid YAML"),
    ],
)
def test_an_invalid_test_file_is_a_usage_error(
    run_main: RunMain, tmp_path: Path, tests: str, line: int, key: str, message: str
) -> None:
    path = suite(tmp_path, tests)
    run = run_main(["test", path])
    assert run.returncode == 2, run.stdout.decode()
    first = run.stderr.splitlines()[0]
    assert first.startswith(f"logwharf: config error: {path}:{line}:"), first
    assert f": {key}: " in first if key else True
    assert message in first
    assert "nothing was started" in run.stderr


def test_a_test_file_without_config_and_not_named_name_test_yaml(
    run_main: RunMain, tmp_path: Path
) -> None:
    path = write(tmp_path, "checks.yaml", "tests:\n  - name: t\n    input: {}\n    absent: [a]\n")
    run = run_main(["test", path])
    assert run.returncode == 2
    assert f"{path}:1:1: config: name the configuration to test: config: FILE" in run.stderr


def test_a_missing_or_invalid_config_is_a_usage_error(run_main: RunMain, tmp_path: Path) -> None:
    body = "tests:\n  - name: t\n    input: {}\n    absent: [a]\n"
    lonely = write(tmp_path, "lonely.test.yaml", body)
    run = run_main(["test", lonely])
    assert run.returncode == 2
    assert f"{tmp_path / 'lonely.yaml'}: cannot read" in run.stderr
    broken = suite(tmp_path, body, config="pipeline: [{type: nope}]\n", name="broken")
    run = run_main(["test", broken])
    assert run.returncode == 2
    assert f"{tmp_path / 'broken.yaml'}:1:12: pipeline[0]: unknown stage type 'nope'" in run.stderr


def test_a_broken_file_does_not_stop_the_others(run_main: RunMain, tmp_path: Path) -> None:
    good = suite(tmp_path, "tests:\n  - name: t\n    input: {}\n    expect: {labels.env: prod}\n")
    broken = write(tmp_path, "broken.test.yaml", "tests: 5\n")
    run = run_main(["test", broken, good])
    assert run.returncode == 2  # an invalid file outranks passing tests
    assert outcome_lines(run) == ["ok      web.test.yaml: t", "1 passed, 0 failed"]
    assert f"{broken}:1:1: tests:" in run.stderr


def test_a_missing_test_file(run_main: RunMain, tmp_path: Path) -> None:
    run = run_main(["test", tmp_path / "nope.test.yaml"])
    assert run.returncode == 2
    assert "cannot read" in run.stderr


def test_load_suite_raises_config_error_with_every_problem(tmp_path: Path) -> None:
    path = suite(
        tmp_path,
        "tests:\n  - name: a\n    expect: {}\n  - name: b\n    input: {}\n    bogus: 1\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_suite(path, {})
    assert [(p.line, p.key) for p in caught.value.problems] == [
        (2, "tests[0]"),
        (6, "tests[1].bogus"),
    ]


def test_present_passes_when_the_field_exists_and_fails_when_it_does_not(tmp_path: Path) -> None:
    config = tmp_path / "p.yaml"
    config.write_text("pipeline:\n  - type: set\n    fields: {service.name: api}\n")
    suite = tmp_path / "p.test.yaml"
    suite.write_text(
        "tests:\n"
        "  - name: set\n    input: {message: m}\n    present: [service.name]\n"
        "  - name: missing\n    input: {message: m}\n    present: [service.version]\n"
    )
    from logwharf.pipeline_tests import load_suite, run_suite

    first, second = run_suite(load_suite(suite))
    assert first.passed
    assert not second.passed
    assert "service.version: expected present, absent" in second.report
