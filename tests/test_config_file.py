"""The configuration file: every problem at once with its place, ``${VAR}``, ``check-config``,
``--config`` for replay, and file settings under flags and ``LOGWHARF_*`` variables."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from logwharf.cli import build_parser
from logwharf.config import ConfigError, ServiceConfig, load_config
from logwharf.config_commands import apply_config
from logwharf.processor.enrich import SetConfig
from logwharf.processor.stage import Pipeline
from logwharf.yaml_source import Problem

RunMain = Callable[[Sequence[str | os.PathLike[str]]], Any]


def write(tmp_path: Path, text: str, name: str = "logwharf.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def where(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based line and column of the ``occurrence``-th ``needle`` in ``text``."""
    position = -1
    for _ in range(occurrence):
        position = text.index(needle, position + 1)
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return line, column


def problems_of(path: Path, environ: dict[str, str] | None = None) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ or {})
    return caught.value.problems


def only_problem(path: Path, environ: dict[str, str] | None = None) -> Problem:
    (problem,) = problems_of(path, environ)
    return problem


# --- every problem at once, each at its place ----------------------------------------------

MANY_PROBLEMS = """\
pipeline:
  - type: set
    fields: {a: 1}
    bogus: 2
  - type: grokk
    patterns: [x]
  - fields: [x]
  - type: drop
    if: {field: a, equals: 1, gt: 2}
  - type: drop
    if: {field: message, matches: "(unclosed"}
  - type: set
    fields:
      from_env: ${LOGWHARF_TEST_UNSET}
elasticsearch:
  index: first
  index: second
  batch_events: 0
"""


def test_every_problem_is_reported_at_once_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, MANY_PROBLEMS)
    problems = problems_of(path)
    found = [(p.line, p.column, p.key) for p in problems]
    text = MANY_PROBLEMS
    assert found == [
        (*where(text, "bogus"), "pipeline[0].bogus"),
        (*where(text, "type: grokk"), "pipeline[1]"),
        (*where(text, "fields: [x]"), "pipeline[2]"),
        (*where(text, "if: {field: a,"), "pipeline[3].if"),
        (*where(text, "matches:"), "pipeline[4].if.matches"),
        (*where(text, "from_env"), "pipeline[5].fields.from_env"),
        (*where(text, "index:", 2), "elasticsearch.index"),
        (*where(text, "batch_events"), "elasticsearch.batch_events"),
    ]
    messages = [p.message for p in problems]
    assert "unknown key" in messages[0]
    assert "unknown stage type 'grokk'" in messages[1] and "set" in messages[1]
    assert messages[2].startswith("each stage needs a type: one of")
    assert "exactly one of" in messages[3] and "got equals, gt" in messages[3]
    assert messages[4].startswith("not a valid regular expression")
    assert "LOGWHARF_TEST_UNSET is not set" in messages[5]
    assert "${LOGWHARF_TEST_UNSET:-VALUE}" in messages[5]
    assert messages[6] == "duplicate key"
    assert "greater than or equal to 1" in messages[7]
    assert all(p.file == str(path) for p in problems)


def test_the_error_text_is_one_line_per_problem_file_line_column_key(tmp_path: Path) -> None:
    path = write(tmp_path, "pipeline:\n  - type: drop\n    iff: {exists: a}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert str(caught.value) == (
        f"{path}:3:5: pipeline[0].iff: unknown key; check its spelling against the documented keys"
    )


def test_a_missing_required_key_is_reported_at_its_stage(tmp_path: Path) -> None:
    text = "pipeline:\n  - type: default\n  - type: rename\n    id: r\n"
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.column, problem.key) == (
        *where(text, "type: rename"),
        "pipeline[1]",
    )
    assert problem.message == "missing: fields is required here"


def test_problems_deep_in_a_condition_point_at_the_key(tmp_path: Path) -> None:
    text = (
        "pipeline:\n"
        "  - type: route\n"
        "    rules:\n"
        "      - if: {all: [{field: a, equals: 1}, {field: b, bogus: 1}]}\n"
        "        index: ok\n"
        "      - if: {exists: a}\n"
        "        index: NotLower\n"
    )
    problems = problems_of(write(tmp_path, text))
    assert [(p.line, p.column, p.key) for p in problems] == [
        (*where(text, "bogus"), "pipeline[0].rules[0].if.all[1].bogus"),
        (*where(text, "index: NotLower"), "pipeline[0].rules[1].index"),
    ]
    assert "'NotLower' is not a valid index name" in problems[1].message


def test_a_bad_section_value_is_reported_at_its_key(tmp_path: Path) -> None:
    text = "run: 5\nelasticsearch:\n  concurrency: 100\n  verify_tls: maybe\n"
    problems = problems_of(write(tmp_path, text))
    assert [(p.line, p.column, p.key) for p in problems] == [
        (1, 1, "run"),
        (*where(text, "concurrency"), "elasticsearch.concurrency"),
        (*where(text, "verify_tls"), "elasticsearch.verify_tls"),
    ]


def test_an_unknown_top_level_key(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "elasticsearch: {}\npipelines: []\n"))
    assert (problem.line, problem.column, problem.key) == (2, 1, "pipelines")
    assert "unknown key" in problem.message


def test_a_stage_that_fails_to_build_is_reported_at_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stages compile their patterns in build(); a failure there names its stage too.
    def build(self: SetConfig, name: str, context: Any) -> Any:
        if "bad" in self.fields:
            raise ValueError(f"{name}: pattern does not compile")
        return original(self, name, context)

    original = SetConfig.build
    monkeypatch.setattr(SetConfig, "build", build)
    text = (
        "pipeline:\n"
        "  - type: set\n    fields: {ok: 1}\n"
        "  - type: set\n    fields: {bad: 1}\n"
        "  - type: set\n    id: again\n    fields: {bad: 2}\n"
    )
    problems = problems_of(write(tmp_path, text))
    assert [(p.line, p.column, p.key, p.message) for p in problems] == [
        (*where(text, "type: set", 2), "pipeline[1]", "set#2: pattern does not compile"),
        (*where(text, "type: set", 3), "pipeline[2]", "again: pattern does not compile"),
    ]


# --- YAML ------------------------------------------------------------------------------


def test_a_yaml_syntax_error_has_its_position(tmp_path: Path) -> None:
    text = "pipeline:\n  - type: set\n    fields: {a: [1, 2}\n"
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.column) == where(text, "}")
    assert problem.message.startswith("not valid YAML:")
    assert "expected ',' or ']'" in problem.message
    assert str(problem).startswith(f"{tmp_path / 'logwharf.yaml'}:3:")


def test_a_bad_indentation_is_a_yaml_error_with_a_line(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "elasticsearch:\n  url: a\n index: b\n"))
    assert problem.line == 3
    assert problem.message.startswith("not valid YAML:")


def test_two_documents_are_refused(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "run: {}\n---\nrun: {}\n"))
    assert problem.line == 2
    assert "single document" in problem.message


def test_duplicate_keys_are_each_reported(tmp_path: Path) -> None:
    text = "run:\n  state_dir: /a\n  state_dir: /b\nrun:\n  ship_self: true\n"
    problems = problems_of(write(tmp_path, text))
    assert [(p.line, p.column, p.key, p.message) for p in problems] == [
        (3, 3, "run.state_dir", "duplicate key"),
        (4, 1, "run", "duplicate key"),
    ]


def test_a_top_level_that_is_not_a_mapping(tmp_path: Path) -> None:
    for text in ("- a\n- b\n", "just text\n", "42\n"):
        problem = only_problem(write(tmp_path, text))
        assert (problem.line, problem.column) == (1, 1)
        assert problem.message == "the configuration must be a mapping of sections"


def test_an_empty_file_is_the_default_configuration(tmp_path: Path) -> None:
    for text in ("", "# nothing yet\n"):
        config = load_config(write(tmp_path, text), {})
        assert config.pipeline is None
        assert config.build_pipeline() is None


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    problem = only_problem(path)
    assert problem.file == str(path)
    assert problem.line == 0
    assert problem.message == "cannot read: No such file or directory"
    assert str(problem) == f"{path}: cannot read: No such file or directory"


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    assert only_problem(tmp_path).message.startswith("cannot read:")


def test_a_path_through_a_file_cannot_be_read(tmp_path: Path) -> None:
    inside = write(tmp_path, "run: {}\n") / "logwharf.yaml"
    assert only_problem(inside).message == "cannot read: Not a directory"


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("elasticsearch: {index: caf\xe9}\n".encode("latin-1"))
    assert only_problem(path).message.startswith("not UTF-8 text")


def test_an_unknown_tag_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    text = "elasticsearch:\n  index: !vault secret\n"
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.column, problem.key) == (
        *where(text, "!vault"),
        "elasticsearch.index",
    )
    assert "!vault" in problem.message


def test_a_python_tag_is_refused(tmp_path: Path) -> None:
    text = "elasticsearch:\n  index: !!python/object/apply:os.getcwd []\n"
    problems = problems_of(write(tmp_path, text))
    assert problems and all(p.key.startswith("elasticsearch.index") for p in problems)


def test_an_alias_that_contains_itself_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "run:\n  include: &loop {names: [*loop]}\n"))
    assert any(p.message == "an alias refers to itself" for p in problems)


def test_merge_keys_are_refused_with_a_reason(tmp_path: Path) -> None:
    text = "elasticsearch:\n  <<: {index: a}\n  url: http://h\n"
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.column) == where(text, "<<")
    assert "merge keys" in problem.message


def test_anchors_and_aliases_are_usable(tmp_path: Path) -> None:
    text = (
        "pipeline:\n"
        "  - type: drop\n    if: &debug {field: log.level, equals: debug}\n"
        "  - type: add_tags\n    tags: [kept]\n    if: {not: *debug}\n"
    )
    config = load_config(write(tmp_path, text), {})
    pipeline = config.build_pipeline()
    assert pipeline is not None
    out = pipeline.process_batch([{"log": {"level": "debug"}}, {"log": {"level": "info"}}])
    assert out == [{"log": {"level": "info"}, "tags": ["kept"]}]


# --- ${VAR} --------------------------------------------------------------------------------


def index_of(tmp_path: Path, value: str, environ: dict[str, str]) -> str | None:
    path = write(tmp_path, f"elasticsearch:\n  index: {value}\n")
    return load_config(path, environ).elasticsearch.index


def test_variables_are_filled_from_the_environment_given(tmp_path: Path) -> None:
    assert index_of(tmp_path, "logs-${TEAM}-${ENV}", {"TEAM": "web", "ENV": "prod"}) == (
        "logs-web-prod"
    )


def test_defaults_apply_when_unset_or_empty(tmp_path: Path) -> None:
    assert index_of(tmp_path, "${ENV:-dev}", {}) == "dev"
    assert index_of(tmp_path, "${ENV:-dev}", {"ENV": ""}) == "dev"
    assert index_of(tmp_path, "${ENV:-dev}", {"ENV": "prod"}) == "prod"
    assert index_of(tmp_path, "'x${ENV:-}y'", {}) == "xy"
    assert index_of(tmp_path, "'${ENV:-a:b-c}'", {}) == "a:b-c"


def test_a_variable_set_but_empty_without_default_is_empty(tmp_path: Path) -> None:
    assert index_of(tmp_path, "'logs${SUFFIX}'", {"SUFFIX": ""}) == "logs"


def test_dollar_dollar_brace_is_a_literal(tmp_path: Path) -> None:
    assert index_of(tmp_path, "'$${NOT_A_VAR}'", {"NOT_A_VAR": "no"}) == "${NOT_A_VAR}"
    assert index_of(tmp_path, "'cost$5'", {}) == "cost$5"
    assert index_of(tmp_path, "'$$'", {}) == "$$"


def test_a_value_from_the_environment_is_not_read_again(tmp_path: Path) -> None:
    assert index_of(tmp_path, "${A}", {"A": "${B}", "B": "no"}) == "${B}"


def test_a_variable_cannot_change_the_structure(tmp_path: Path) -> None:
    path = write(tmp_path, "elasticsearch:\n  index: ${V}\n")
    config = load_config(path, {"V": "a\nurl: http://evil"})
    assert config.elasticsearch.index == "a\nurl: http://evil"
    assert config.elasticsearch.url is None


def test_filled_strings_are_converted_like_written_values(tmp_path: Path) -> None:
    text = "elasticsearch:\n  batch_events: ${N:-500}\n  verify_tls: ${TLS:-false}\n"
    config = load_config(write(tmp_path, text), {"N": "1200"})
    assert config.elasticsearch.batch_events == 1200
    assert config.elasticsearch.verify_tls is False


def test_unset_variables_are_each_reported_at_their_place(tmp_path: Path) -> None:
    text = (
        "elasticsearch:\n  url:\n    - ${HOST_A}\n    - http://${HOST_B}:9200\n"
        "  index: ${INDEX}\npipeline:\n  - type: add_tags\n    tags: [a, '${TAG}']\n"
    )
    problems = problems_of(write(tmp_path, text))
    assert [(p.line, p.column, p.key) for p in problems] == [
        (*where(text, "${HOST_A}"), "elasticsearch.url[0]"),
        (*where(text, "http://${"), "elasticsearch.url[1]"),
        (*where(text, "index"), "elasticsearch.index"),
        (*where(text, "'${TAG}'"), "pipeline[0].tags[1]"),
    ]
    assert [p.message.split(" is not set")[0] for p in problems] == [
        "environment variable HOST_A",
        "environment variable HOST_B",
        "environment variable INDEX",
        "environment variable TAG",
    ]


@pytest.mark.parametrize("reference", ["${1BAD}", "${A-b}", "${unclosed", "${}"])
def test_a_malformed_reference_is_a_problem(tmp_path: Path, reference: str) -> None:
    problem = only_problem(write(tmp_path, f"elasticsearch:\n  index: '{reference}'\n"))
    assert (problem.line, problem.key) == (2, "elasticsearch.index")
    assert "not a variable reference" in problem.message


def test_variables_come_from_the_process_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGWHARF_TEST_INDEX", "from-env")
    path = write(tmp_path, "elasticsearch:\n  index: ${LOGWHARF_TEST_INDEX}\n")
    assert load_config(path).elasticsearch.index == "from-env"


# --- a good file ------------------------------------------------------------------------

GOOD = """\
# a configuration with every section
pipeline:
  - type: default
  - type: set
    id: env
    fields: {labels.env: "${DEPLOY_ENV:-dev}"}
  - type: drop
    if: {field: log.level, equals: debug}
elasticsearch:
  url: [http://es1:9200, http://es2:9200]
  index: logs-web
  username: shipper
  password: ${ES_PASSWORD}
  verify_tls: false
  batch_events: 1000
  dead_letter_file: dead.ndjson
run:
  state_dir: state
  include: {names: ["web-*"]}
  exclude: {labels: [tier=batch]}
  multiline: "off"
  flush_seconds: 0.5
max_event_bytes: 65536
"""


def test_a_good_file_loads(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = load_config(path, {"ES_PASSWORD": "s3cret"})
    assert isinstance(config, ServiceConfig)
    assert config.source == path
    assert [stage.type for stage in config.stages] == ["default", "set", "drop"]
    assert config.elasticsearch.url == ["http://es1:9200", "http://es2:9200"]
    assert config.elasticsearch.password == "s3cret"
    assert "s3cret" not in repr(config)
    assert config.elasticsearch.verify_tls is False
    assert config.run.include.names == ["web-*"]
    assert config.run.exclude.labels == ["tier=batch"]
    assert config.run.multiline == "off"
    assert config.max_event_bytes == 65536
    pipeline = config.build_pipeline(read_time="2000-01-01T00:00:00.000Z")
    assert isinstance(pipeline, Pipeline)
    out = pipeline.process_batch(
        [{"message": '{"level":"debug","msg":"x"}'}, {"message": '{"level":"info","msg":"y"}'}]
    )
    assert [(event["message"], event["labels"]) for event in out] == [("y", {"env": "dev"})]
    assert pipeline.stats.dropped_by == {"drop#3": 1}


def test_an_empty_pipeline_is_no_stage_at_all(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "pipeline: []\n"), {})
    pipeline = config.build_pipeline()
    assert pipeline is not None
    assert pipeline.process_batch([{"message": '{"msg":"raw"}'}]) == [{"message": '{"msg":"raw"}'}]


# --- check-config ----------------------------------------------------------------------


def test_check_config_ok(run_main: RunMain, tmp_path: Path) -> None:
    good = write(tmp_path, "pipeline:\n  - type: default\n  - type: drop\n", "good.yaml")
    plain = write(tmp_path, "elasticsearch: {index: x}\n", "plain.yaml")
    empty = write(tmp_path, "pipeline: []\n", "empty.yaml")
    one = write(tmp_path, "pipeline: [{type: default}]\n", "one.yaml")
    run = run_main(["check-config", good, plain, empty, one])
    assert run.returncode == 0, run
    assert run.stdout.decode().splitlines() == [
        f"{good}: ok (2 stages)",
        f"{plain}: ok (default processor)",
        f"{empty}: ok (0 stages)",
        f"{one}: ok (1 stage)",
    ]
    assert run.stderr == ""


def test_check_config_reports_every_problem_of_every_file(
    run_main: RunMain, tmp_path: Path
) -> None:
    good = write(tmp_path, "pipeline: [{type: default}]\n", "good.yaml")
    bad = write(tmp_path, MANY_PROBLEMS, "bad.yaml")
    missing = tmp_path / "missing.yaml"
    run = run_main(["check-config", bad, good, missing])
    assert run.returncode == 2, run
    assert run.stdout.decode() == f"{good}: ok (1 stage)\n"
    lines = run.stderr.splitlines()
    assert lines[0] == (
        f"logwharf: config error: {bad}:4:5: pipeline[0].bogus: unknown key; check its "
        "spelling against the documented keys"
    )
    assert sum(line.startswith(f"logwharf: config error: {bad}:") for line in lines) == 8
    assert "logwharf: 8 problems; nothing was started" in lines
    assert f"logwharf: config error: {missing}: cannot read: No such file or directory" in lines
    assert "logwharf: 1 problem; nothing was started" in lines
    assert "Traceback" not in run.stderr


def test_check_config_needs_a_file(run_main: RunMain) -> None:
    with pytest.raises(SystemExit) as caught:
        run_main(["check-config"])
    assert caught.value.code == 2


def test_check_config_reads_variables_from_its_environment(
    run_main: RunMain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "elasticsearch:\n  index: ${LOGWHARF_TEST_IDX}\n")
    assert run_main(["check-config", path]).returncode == 2
    monkeypatch.setenv("LOGWHARF_TEST_IDX", "logs")
    assert run_main(["check-config", path]).returncode == 0


# --- replay --config ---------------------------------------------------------------------


def test_replay_refuses_a_bad_config_before_reading_anything(
    run_main: RunMain, tmp_path: Path
) -> None:
    bad = write(tmp_path, "pipeline:\n  - type: nope\n")
    out = tmp_path / "out.ndjson"
    run = run_main(["replay", "--sample", "-c", bad, "-o", out])
    assert run.returncode == 2, run
    assert (
        f"logwharf: config error: {bad}:2:5: pipeline[0]: unknown stage type 'nope'" in run.stderr
    )
    assert "nothing was started" in run.stderr
    assert "replayed" not in run.stderr
    assert not out.exists()


def test_replay_refuses_a_missing_config(run_main: RunMain, tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    run = run_main(["replay", "--sample", "--config", tmp_path / "nope.yaml", "-o", out])
    assert run.returncode == 2, run
    assert "cannot read" in run.stderr and not out.exists()


def test_replay_takes_the_config_from_logwharf_config(
    run_main: RunMain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = write(tmp_path, "pipeline: 3\n")
    monkeypatch.setenv("LOGWHARF_CONFIG", str(bad))
    out = tmp_path / "out.ndjson"
    run = run_main(["replay", "--sample", "-o", out])
    assert run.returncode == 2, run
    assert f"{bad}:1:1: pipeline: Input should be a valid list" in run.stderr
    assert not out.exists()


def events_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def test_replay_runs_the_configured_pipeline(run_main: RunMain, tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "pipeline:\n"
        "  - type: default\n"
        "  - type: drop\n    if: {field: log.level, in: [debug, info]}\n"
        "  - type: set\n    fields: {labels.pipeline: configured}\n",
    )
    out = tmp_path / "out.ndjson"
    run = run_main(["replay", "--sample", "-c", config, "-o", out])
    assert run.returncode == 0, run
    plain = tmp_path / "plain.ndjson"
    assert run_main(["replay", "--sample", "-o", plain]).returncode == 0
    everything = events_of(plain)
    expected = [e for e in everything if e.get("log", {}).get("level") not in ("debug", "info")]
    events = events_of(out)
    assert 0 < len(events) < len(everything)
    assert [e["message"] for e in events] == [e["message"] for e in expected]
    assert all(e["labels"] == {"pipeline": "configured"} for e in events)
    assert all("labels" not in e for e in everything)


CUT_SMALL = "max_event_bytes: 100\npipeline: [{type: default}]\n"


def truncated(path: Path) -> int:
    return sum("truncated" in event.get("tags", []) for event in events_of(path))


def test_replay_applies_the_file_settings(run_main: RunMain, tmp_path: Path) -> None:
    config = write(tmp_path, CUT_SMALL)
    out = tmp_path / "out.ndjson"
    assert run_main(["replay", "--sample", "-c", config, "-o", out]).returncode == 0
    events = events_of(out)
    assert events and truncated(out) == len(events)


def test_replay_flags_win_over_the_file(run_main: RunMain, tmp_path: Path) -> None:
    config = write(tmp_path, CUT_SMALL)
    out = tmp_path / "out.ndjson"
    argv = ["replay", "--sample", "-c", config, "--max-event-bytes", "100000", "-o", out]
    assert run_main(argv).returncode == 0
    assert events_of(out) and truncated(out) == 0


def test_replay_environment_wins_over_the_file(
    run_main: RunMain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path, CUT_SMALL)
    monkeypatch.setenv("LOGWHARF_MAX_EVENT_BYTES", "100000")
    out = tmp_path / "out.ndjson"
    assert run_main(["replay", "--sample", "-c", config, "-o", out]).returncode == 0
    assert events_of(out) and truncated(out) == 0


def test_replay_a_flag_given_with_its_default_value_still_wins(
    run_main: RunMain, tmp_path: Path
) -> None:
    config = write(tmp_path, CUT_SMALL)
    out = tmp_path / "out.ndjson"
    argv = ["replay", "--sample", "-c", config, "--max-event-bytes", str(1024 * 1024), "-o", out]
    assert run_main(argv).returncode == 0
    assert events_of(out) and truncated(out) == 0


# --- apply_config: which value wins ---------------------------------------------------------

SETTINGS = """\
elasticsearch:
  url: [http://a:9200, http://b:9200]
  index: from-file
  username: file-user
  password: file-pass
  verify_tls: false
  gzip: true
  batch_events: 123
  concurrency: 7
  dead_letter_file: dead.ndjson
run:
  state_dir: state
  include: {names: [web-*], labels: [team=a]}
  exclude: {images: [busybox]}
  ship_self: true
  multiline: "off"
  flush_seconds: 0.25
max_event_bytes: 4096
"""


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("LOGWHARF_"):
            monkeypatch.delenv(key)
    return monkeypatch


def applied(argv: list[str], config: ServiceConfig) -> tuple[Any, dict[str, str]]:
    """``argv`` parsed, then the file applied, as the commands do."""
    args = build_parser().parse_args(argv)
    defaults = vars(build_parser().parse_args([args.command]))
    credentials = apply_config(args, defaults, config)
    return args, credentials


def test_file_settings_apply_when_the_run_gives_none(
    tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    config = load_config(write(tmp_path, SETTINGS), {})
    args, credentials = applied(["run"], config)
    assert args.es == "http://a:9200,http://b:9200"
    assert args.index == "from-file"
    assert args.es_insecure is True
    assert args.gzip is True
    assert args.batch_events == 123
    assert args.concurrency == 7
    assert args.max_event_bytes == 4096
    assert args.dead_letter_file == tmp_path / "dead.ndjson"  # relative to the file
    assert args.state_dir == tmp_path / "state"
    assert args.include_name == ["web-*"]
    assert args.include_label == ["team=a"]
    assert args.exclude_image == ["busybox"]
    assert args.exclude_name == []
    assert args.ship_self is True
    assert args.multiline == "off"
    assert args.flush_seconds == 0.25
    assert credentials == {
        "LOGWHARF_ES_USERNAME": "file-user",
        "LOGWHARF_ES_PASSWORD": "file-pass",
    }


def test_flags_win_over_the_file(tmp_path: Path, clean_environment: pytest.MonkeyPatch) -> None:
    config = load_config(write(tmp_path, SETTINGS), {})
    args, _ = applied(
        [
            "run",
            "--es",
            "http://flag:9200",
            "--index",
            "from-flag",
            "--batch-events",
            "9",
            "--state-dir",
            "/flag/state",
            "--include-name",
            "api",
            "--multiline",
            "auto",
        ],
        config,
    )
    assert args.es == "http://flag:9200"
    assert args.index == "from-flag"
    assert args.batch_events == 9
    assert args.state_dir == Path("/flag/state")
    assert args.include_name == ["api"]
    assert args.include_label == ["team=a"]  # not given: from the file
    assert args.concurrency == 7


def test_a_flag_given_with_its_default_value_wins_when_apply_config_is_told(
    tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    config = load_config(write(tmp_path, SETTINGS), {})
    args = build_parser().parse_args(["run", "--multiline", "auto", "--batch-events", "5000"])
    defaults = vars(build_parser().parse_args(["run"]))
    apply_config(args, defaults, config, {"multiline", "batch_events", "exclude_image"})
    assert args.multiline == "auto"
    assert args.batch_events == 5000
    assert args.exclude_image == []  # given on the command line: not taken from the file
    assert args.concurrency == 7


def test_environment_variables_win_over_the_file(
    tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    config = load_config(write(tmp_path, SETTINGS), {})
    monkeypatch = clean_environment
    monkeypatch.setenv("LOGWHARF_ES_URL", "http://env:9200")
    monkeypatch.setenv("LOGWHARF_INDEX", "from-env")
    monkeypatch.setenv("LOGWHARF_ES_GZIP", "false")
    monkeypatch.setenv("LOGWHARF_ES_INSECURE", "0")
    monkeypatch.setenv("LOGWHARF_MAX_EVENT_BYTES", "2048")
    monkeypatch.setenv("LOGWHARF_INCLUDE_NAMES", "db,cache")
    monkeypatch.setenv("LOGWHARF_ES_PASSWORD", "env-pass")
    args, credentials = applied(["run"], config)
    assert args.es == "http://env:9200"
    assert args.index == "from-env"
    assert args.gzip is False
    assert args.es_insecure is False
    assert args.max_event_bytes == 2048
    assert args.include_name == ["db", "cache"]
    assert args.batch_events == 123  # still from the file
    assert credentials == {"LOGWHARF_ES_USERNAME": "file-user"}  # the variable wins


def test_replay_takes_only_its_own_settings(
    tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    config = load_config(write(tmp_path, SETTINGS), {})
    args, _ = applied(["replay", "--sample"], config)
    assert args.index == "from-file"
    assert args.max_event_bytes == 4096
    assert not hasattr(args, "state_dir") and not hasattr(args, "include_name")


def test_absolute_paths_in_the_file_stay_as_written(
    tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    config = load_config(write(tmp_path, "run:\n  state_dir: /var/lib/lw\n"), {})
    args, credentials = applied(["run"], config)
    assert args.state_dir == Path("/var/lib/lw")
    assert credentials == {}


def test_verify_tls_true_in_the_file_does_not_undo_the_insecure_flag(
    tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    config = load_config(write(tmp_path, "elasticsearch: {verify_tls: true}\n"), {})
    args, _ = applied(["replay", "--es-insecure"], config)
    assert args.es_insecure is True
    plain, _ = applied(["replay"], config)
    assert plain.es_insecure is False
