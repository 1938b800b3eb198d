"""The json, grok, kv and csv stages: good input, bad input, configuration errors."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from pydantic import ValidationError

from logwharf.processor.dissect import DissectConfig
from logwharf.processor.parse import CsvConfig, GrokConfig, JsonConfig, KvConfig
from logwharf.processor.stage import PROCESSOR_FAILURE, EventStage, Pipeline
from logwharf.processor.stage_config import BuildContext, StageConfig

MODELS: dict[str, type[StageConfig]] = {
    "json": JsonConfig,
    "grok": GrokConfig,
    "kv": KvConfig,
    "csv": CsvConfig,
    "dissect": DissectConfig,
}
NGINX = (
    '172.18.0.1 - - [23/Nov/2026:17:50:01 +0000] "GET /index.html HTTP/1.1" 200 615 "-" '
    '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36" "-"'
)


def build(**config: Any) -> EventStage:
    return MODELS[config["type"]].model_validate(config).build("stage", BuildContext())


def run(stage: EventStage, *events: dict[str, Any]) -> list[dict[str, Any]]:
    return stage.process_batch(list(events))


def config_error(**config: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        MODELS[config["type"]].model_validate(config)
    return str(caught.value)


# --- json -------------------------------------------------------------------------------


def test_json_merges_into_the_event_objects_included() -> None:
    stage = build(type="json")
    (event,) = run(
        stage,
        {
            "message": '{"msg": "hi", "log": {"level": "info"}, "user": {"id": 7}}',
            "log": {"file": {"path": "/var/log/app.log"}},
        },
    )
    assert event["log"] == {"file": {"path": "/var/log/app.log"}, "level": "info"}
    assert event["user"] == {"id": 7}
    assert event["msg"] == "hi"
    assert event["message"].startswith("{")  # kept unless remove_source


def test_json_into_a_target_takes_any_json_value() -> None:
    stage = build(type="json", field="payload", target="app.data", remove_source=True)
    out = run(stage, {"payload": "[1, 2]"}, {"payload": "3.5"}, {"payload": '{"a": null}'})
    assert [event["app"]["data"] for event in out] == [[1, 2], 3.5, {"a": None}]
    assert all("payload" not in event for event in out)


def test_json_top_level_that_is_not_an_object_needs_a_target() -> None:
    stage = build(type="json", remove_source=True)
    (event,) = run(stage, {"message": "[1, 2]"})
    assert event == {"message": "[1, 2]", "tags": ["_jsonparsefailure"]}


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1',
        "not json",
        "[" * 10_000 + "]" * 10_000,
        '{"a": ' * 10_000 + "1" + "}" * 10_000,
        '"\ud800"',
        '{"a": NaN}',
        "",
    ],
)
def test_json_bad_input_is_tagged_and_kept(text: str) -> None:
    stage = build(type="json", remove_source=True)
    (event,) = run(stage, {"message": text})
    assert event == {"message": text, "tags": ["_jsonparsefailure"]}
    assert stage.unparsed == 1 and stage.failures == 0


def test_json_reserved_keys_and_tags_from_the_data() -> None:
    stage = build(type="json")
    (event,) = run(
        stage,
        {"message": '{"_id": "x", "_index": "other", "tags": ["app"], "a": 1}', "_id": "mine"},
    )
    assert event["_id"] == "mine" and "_index" not in event
    assert event["tags"] == ["app"]
    (event,) = run(stage, {"message": '{"tags": "oops"}', "tags": ["seen"]})
    assert event["_tags"] == "oops"
    assert event["tags"] == ["seen", "_tagsparsefailure"]


def test_json_missing_field_passes_and_other_types_fail() -> None:
    stage = build(type="json", on_failure="bad_json")
    out = run(stage, {"other": 1}, {"message": None}, {"message": 42})
    assert out == [{"other": 1}, {"message": None}, {"message": 42, "tags": ["bad_json"]}]


def test_json_target_through_a_string_is_a_processor_failure() -> None:
    stage = build(type="json", field="raw", target="message.parsed", remove_source=True)
    pipeline = Pipeline([stage])
    (event,) = pipeline.process_batch([{"raw": '{"a": 1}', "message": "text"}])
    assert event["raw"] == '{"a": 1}'  # put back: the failed event keeps its text
    assert event["tags"] == [PROCESSOR_FAILURE]
    assert "message holds a str" in event["error"]["message"]
    assert pipeline.stats.failures == 1


def test_json_config_errors() -> None:
    assert "Extra inputs are not permitted" in config_error(type="json", traget="x")
    assert "not a field name" in config_error(type="json", target="a..b")
    assert "must not be empty" in config_error(type="json", on_failure=" ")


def test_failure_tag_may_be_spelled_like_logstash_or_switched_off() -> None:
    stage = build(type="json", tag_on_failure="custom")
    assert run(stage, {"message": "x"})[0]["tags"] == ["custom"]
    stage = build(type="json", on_failure=None)
    assert run(stage, {"message": "x"}) == [{"message": "x"}]


# --- grok -------------------------------------------------------------------------------


def test_grok_nginx_line_through_a_pipeline() -> None:
    stage = build(type="grok", patterns=["%{COMBINEDAPACHELOG}"])
    (event,) = Pipeline([stage]).process_batch([{"message": NGINX, "stream": "stdout"}])
    assert event["source"] == {"address": "172.18.0.1"}
    assert event["http"] == {
        "request": {"method": "GET"},
        "version": "1.1",
        "response": {"status_code": 200, "body": {"bytes": 615}},
    }
    assert event["url"] == {"original": "/index.html"}
    assert event["user_agent"]["original"].startswith("Mozilla/5.0")
    assert "tags" not in event


def test_grok_first_matching_pattern_wins() -> None:
    stage = build(
        type="grok",
        patterns=[r"^%{INT:n:int} %{WORD:w}", r"^%{WORD:w} %{INT:n:int}", r"^%{WORD:w}"],
    )
    out = run(stage, {"message": "1 a"}, {"message": "b 2"}, {"message": "c"}, {"message": "-"})
    assert [(e.get("n"), e.get("w")) for e in out] == [
        (1, "a"),
        (2, "b"),
        (None, "c"),
        (None, None),
    ]
    assert out[3]["tags"] == ["_grokparsefailure"]
    assert stage.unparsed == 1  # type: ignore[attr-defined]


def test_grok_batch_and_single_events_agree() -> None:
    stage = build(type="grok", patterns=["^%{INT:a.b:int}$", "^%{WORD:a.c}$"])
    batch = [
        {"message": "12"},
        {"message": "word"},
        {"message": "?"},
        {"message": 5},
        {},
        {"message": "7", "a": "string"},
        {"message": "99999" * 1000},  # too many digits for int(): left out, tagged
    ]
    one_by_one = [stage(copy.deepcopy(event)) for event in batch[:-2]]
    assert run(stage, *copy.deepcopy(batch[:-2])) == one_by_one
    conflict, long_number = run(stage, batch[-2], batch[-1])
    assert conflict["tags"] == [PROCESSOR_FAILURE]
    assert long_number == {"message": "99999" * 1000, "tags": ["_grokparsefailure"]}


def test_grok_captures_overwrite_unless_told_not_to() -> None:
    line = "<13>Oct 11 22:14:15 host app: the message"
    stage = build(type="grok", patterns="%{SYSLOGLINE}")
    (event,) = run(stage, {"message": line, "host": {"hostname": "docker-1"}})
    assert event["message"] == "the message"
    assert event["host"] == {"hostname": "host"}
    stage = build(type="grok", patterns="%{SYSLOGLINE}", overwrite=False)
    (event,) = run(stage, {"message": line, "host": {"hostname": "docker-1"}})
    assert event["message"] == line
    assert event["host"] == {"hostname": "docker-1"}
    assert event["process"] == {"name": "app"}


def test_grok_keep_empty_captures() -> None:
    assert run(build(type="grok", patterns=["a%{DATA:x}b"]), {"message": "ab"})[0] == {
        "message": "ab"
    }
    stage = build(type="grok", patterns=["a%{DATA:x}b"], keep_empty_captures=True)
    assert run(stage, {"message": "ab"})[0] == {"message": "ab", "x": ""}


def test_grok_conversion_failure_tags_and_keeps_the_rest() -> None:
    stage = build(type="grok", patterns=[r"%{NOTSPACE:n:int} %{WORD:w}"])
    (event,) = run(stage, {"message": "12abc hello"})
    assert event == {"message": "12abc hello", "w": "hello", "tags": ["_grokparsefailure"]}


def test_grok_custom_definitions_in_the_stage() -> None:
    stage = build(
        type="grok",
        pattern_definitions={
            "SVC": "[a-z]+-[0-9]+",
            "SVCLINE": "%{SVC:service.name} %{LOGLEVEL:log.level}",
        },
        patterns=["^%{SVCLINE}: %{GREEDYDATA:message}"],
    )
    (event,) = run(stage, {"message": "api-3 ERROR: boom"})
    assert event == {"message": "boom", "service": {"name": "api-3"}, "log": {"level": "ERROR"}}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"patterns": ["%{NGINXACCESS}"]}, "pattern 1 ('%{NGINXACCESS}'): unknown grok pattern"),
        (
            {"patterns": ["%{A}"], "pattern_definitions": {"A": "%{B}", "B": "%{A}"}},
            "recursive pattern definition",
        ),
        ({"patterns": ["ok", "%{INT:x"]}, "pattern 2"),
        ({"patterns": ["(?<"]}, "not a valid regular expression"),
        ({"patterns": ["%{BAD}"], "pattern_definitions": {"BAD": "(a"}}, "pattern_definitions BAD"),
        ({"patterns": ["%{INT:n:long}"]}, "unknown type 'long' (int or float)"),
        ({"patterns": []}, "at least 1 item"),
        ({"patterns": ["x"], "match": {"message": "x"}}, "Extra inputs are not permitted"),
        ({"patterns": ["x"], "field": "[bad"}, "not a field name"),
    ],
)
def test_grok_configuration_errors(config: dict[str, Any], message: str) -> None:
    assert message in config_error(type="grok", **config)


def test_grok_error_points_at_the_key_at_fault() -> None:
    with pytest.raises(ValidationError) as caught:
        GrokConfig.model_validate(
            {"type": "grok", "patterns": ["%{A}"], "pattern_definitions": {"A": "%{A}"}}
        )
    (error,) = caught.value.errors()
    assert error["loc"] == ("pattern_definitions",)  # the patterns are not blamed as well


# --- kv ---------------------------------------------------------------------------------


def test_kv_defaults() -> None:
    stage = build(type="kv", target="labels")
    (event,) = run(stage, {"message": "a=1 b=\"two words\" c='x y' d=e=f  bare g="})
    assert event["labels"] == {"a": "1", "b": "two words", "c": "x y", "d": "e=f", "g": ""}


def test_kv_separators_are_sets_of_characters() -> None:
    stage = build(type="kv", field="url.query", field_split="&;", value_split=":", target="q")
    (event,) = run(stage, {"url": {"query": "a:1&b:2;c:3"}})
    assert event["q"] == {"a": "1", "b": "2", "c": "3"}


def test_kv_key_filters_and_trimming() -> None:
    stage = build(
        type="kv",
        include_keys=["user", "status", "size"],
        exclude_keys=["size"],
        trim_value="<>,",
        trim_key="[]",
    )
    (event,) = run(stage, {"message": "[user]=<ann>, status=ok, size=12, other=1"})
    assert event == {
        "message": "[user]=<ann>, status=ok, size=12, other=1",
        "user": "ann",
        "status": "ok",
    }


def test_kv_at_the_root_merges_and_never_sets_reserved_keys() -> None:
    stage = build(type="kv")
    (event,) = run(stage, {"message": "_id=evil _index=x level=warn", "_id": "mine"})
    assert event == {"message": "_id=evil _index=x level=warn", "_id": "mine", "level": "warn"}
    (event,) = run(stage, {"message": "tags=x"})
    assert event["tags"] == ["_tagsparsefailure"] and event["_tags"] == "x"


def test_kv_dotted_keys_stay_one_key() -> None:
    (event,) = run(build(type="kv", target="kv"), {"message": "log.level=info"})
    assert event["kv"] == {"log.level": "info"}


def test_kv_logfmt() -> None:
    stage = build(type="kv", logfmt=True, target="app")
    line = 'level=info msg="hello \\"world\\"\\n" took=12ms debug path=/a\\b empty= ünï=1'
    (event,) = run(stage, {"message": line})
    assert event["app"] == {
        "level": "info",
        "msg": 'hello "world"\n',
        "took": "12ms",
        "debug": True,
        "path": "/a\\b",
        "empty": "",
        "ünï": "1",
    }


def test_kv_nothing_to_parse_is_a_failure_and_a_target_conflict_too() -> None:
    stage = build(type="kv", target="kv")
    out = run(stage, {"message": "no pairs here"}, {"message": "a=1", "kv": "text"})
    assert out[0]["tags"] == ["_kvparsefailure"]
    assert out[1]["tags"] == [PROCESSOR_FAILURE]


def test_kv_configuration_errors() -> None:
    assert "logfmt fixes the separators" in config_error(type="kv", logfmt=True, field_split=",")
    assert "share '='" in config_error(type="kv", field_split="= ", value_split="=")
    assert "quotes cannot separate" in config_error(type="kv", value_split='"')
    assert "at least 1 character" in config_error(type="kv", value_split="")


# --- csv --------------------------------------------------------------------------------


def test_csv_columns_quotes_and_conversions() -> None:
    stage = build(
        type="csv",
        columns=["user.name", "[http][response][status_code]", "ratio", "ok", "note"],
        convert={"http.response.status_code": "int", "ratio": "float", "ok": "bool"},
    )
    (event,) = run(stage, {"message": 'ann,200,0.5,yes,"a, ""quoted"" note"'})
    assert event["user"] == {"name": "ann"}
    assert event["http"] == {"response": {"status_code": 200}}
    assert (event["ratio"], event["ok"], event["note"]) == (0.5, True, 'a, "quoted" note')


def test_csv_other_separator_and_quote_short_and_long_rows() -> None:
    stage = build(type="csv", columns=["a", "b", "c"], separator=";", quote="'")
    out = run(stage, {"message": "1;'x;y'"}, {"message": "1;2;3;4;5"})
    assert out[0] == {"message": "1;'x;y'", "a": "1", "b": "x;y"}
    assert out[1] == {"message": "1;2;3;4;5", "a": "1", "b": "2", "c": "3"}


def test_csv_empty_columns() -> None:
    stage = build(type="csv", columns=["a", "b", "n"], convert={"n": "int"})
    assert run(stage, {"message": ",x,"})[0] == {"message": ",x,", "a": "", "b": "x"}
    stage = build(type="csv", columns=["a", "b"], skip_empty_columns=True)
    assert run(stage, {"message": ",x"})[0] == {"message": ",x", "b": "x"}


@pytest.mark.parametrize("text", ['a,"b"c', 'a,"unclosed', "a,b\nc", ""])
def test_csv_bad_lines_are_tagged(text: str) -> None:
    (event,) = run(build(type="csv", columns=["a", "b"]), {"message": text})
    assert event["tags"] == ["_csvparsefailure"]


def test_csv_conversion_failure_tags_and_keeps_the_rest() -> None:
    stage = build(type="csv", columns=["n", "flag", "s"], convert={"n": "int", "flag": "bool"})
    (event,) = run(stage, {"message": "x,maybe,ok"})
    assert event == {"message": "x,maybe,ok", "s": "ok", "tags": ["_csvparsefailure"]}


def test_csv_configuration_errors() -> None:
    assert "not in columns: ['c']" in config_error(type="csv", columns=["a"], convert={"c": "int"})
    assert "columns named twice: a.b" in config_error(type="csv", columns=["a.b", "[a][b]"])
    assert "at most 1 character" in config_error(type="csv", columns=["a"], separator="||")
    assert "separator and quote must differ" in config_error(type="csv", columns=["a"], quote=",")
    assert "Input should be 'int', 'float' or 'bool'" in config_error(
        type="csv", columns=["a"], convert={"a": "date"}
    )
    assert "Field required" in config_error(type="csv")


# --- any input --------------------------------------------------------------------------


def test_no_stage_raises_on_arbitrary_text() -> None:
    stages = [
        build(type="json"),
        build(type="json", target="j"),
        build(
            type="grok", patterns=["%{COMBINEDAPACHELOG}", "%{SYSLOG5424LINE}", "%{NGINX_ERROR}"]
        ),
        build(type="kv"),
        build(type="kv", logfmt=True, target="l"),
        build(type="csv", columns=["a", "b"], convert={"b": "int"}),
        build(type="dissect", pattern='%{a} [%{b}] "%{c->}" %{d}'),
    ]
    rng = random.Random(3)
    pieces = [
        '"',
        "'",
        "\\",
        "=",
        " ",
        ",",
        "[",
        "]",
        "{",
        "}",
        "\x00",
        "\n",
        "\ud800",
        "é",
        "a",
        "1",
        "-",
        '{"a":',
        "%{",
        NGINX[:40],
    ]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(30)))
        for stage in stages:
            stage({"message": text})  # raises on a bug: tags, never exceptions, for bad input
