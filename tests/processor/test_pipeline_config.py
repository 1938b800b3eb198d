"""Configured pipelines: the registry, conditions on stages, failures, drops, read time."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from logwharf.processor.config import STAGE_TYPES, StageSpec, build_pipeline
from logwharf.processor.filters import SampleConfig
from logwharf.processor.stage import PROCESSOR_FAILURE, Conditional, Pipeline
from logwharf.processor.stage_config import BuildContext, StageConfig

STAGES: TypeAdapter[Any] = TypeAdapter(list[StageSpec])
READ_TIME = "2000-01-01T00:00:00.000Z"


def pipeline(*configs: dict[str, Any], read_time: str | None = None) -> Pipeline:
    return build_pipeline(STAGES.validate_python(list(configs)), BuildContext(read_time=read_time))


def numbered(count: int, **fields: Any) -> list[dict[str, Any]]:
    return [{"n": number, **fields} for number in range(count)]


def test_the_registry_names_every_stage_type_of_this_module_set() -> None:
    assert {
        "add_tags",
        "copy",
        "date",
        "default",
        "drop",
        "http",
        "level",
        "lowercase",
        "remove",
        "rename",
        "route",
        "sample",
        "set",
        "uppercase",
    } <= set(STAGE_TYPES)
    assert STAGE_TYPES["sample"] is SampleConfig
    assert all(issubclass(model, StageConfig) for model in STAGE_TYPES.values())


def test_items_validate_to_their_models_by_type() -> None:
    (sample, drop) = STAGES.validate_python([{"type": "sample", "rate": 2}, {"type": "drop"}])
    assert isinstance(sample, SampleConfig) and sample.rate == 2
    assert drop.type == "drop"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"type": "grokk"}, "each stage needs a type: one of"),
        ({"fields": ["a"]}, "each stage needs a type: one of"),
        ("set", "each stage needs a type: one of"),
    ],
)
def test_an_unknown_or_missing_type_is_refused(item: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        STAGES.validate_python([item])
    assert "sample" in str(caught.value)  # the known types are listed


def test_stages_run_in_order() -> None:
    out = pipeline(
        {"type": "set", "fields": {"a": "first"}},
        {"type": "set", "fields": {"b": "%{a} then"}},
        {"type": "rename", "fields": {"b": "c"}},
    ).process_batch([{}])
    assert out == [{"a": "first", "c": "first then"}]


def test_a_condition_on_a_batch_stage_drops_only_the_chosen_in_order() -> None:
    drop_odd = pipeline({"type": "drop", "if": {"field": "odd", "equals": True}})
    events = [{"n": number, "odd": bool(number % 2)} for number in range(10)]
    originals = list(events)
    out = drop_odd.process_batch(events)
    assert [event["n"] for event in out] == [0, 2, 4, 6, 8]
    assert all(event is originals[event["n"]] for event in out)  # the same objects
    assert drop_odd.stats.dropped_by == {"drop#1": 5}


def test_a_condition_changes_only_the_chosen_events() -> None:
    tagger = pipeline(
        {"type": "add_tags", "tags": ["slow"], "if": {"field": "ms", "gte": 1000}},
        {"type": "uppercase", "fields": ["m"], "if": {"not": {"exists": "tags"}}},
    )
    out = tagger.process_batch(
        [{"ms": 5, "m": "a"}, {"ms": 1500, "m": "b"}, {"m": "c"}, {"ms": 1000, "m": "d"}]
    )
    assert out == [
        {"ms": 5, "m": "A"},
        {"ms": 1500, "m": "b", "tags": ["slow"]},
        {"m": "C"},
        {"ms": 1000, "m": "d", "tags": ["slow"]},
    ]


def test_a_condition_that_holds_for_none_or_all() -> None:
    none = pipeline({"type": "drop", "if": {"exists": "nothing"}})
    events = numbered(4)
    assert none.process_batch(events) == numbered(4)
    assert none.stats.dropped == 0 and none.stats.dropped_by == {}
    every = pipeline({"type": "drop", "if": {"exists": "n"}})
    assert every.process_batch(numbered(4)) == []
    assert every.stats.dropped_by == {"drop#1": 4}


def test_a_conditional_sample_keeps_order_and_leaves_the_others() -> None:
    sampled = pipeline(
        {"type": "sample", "rate": 2, "key": "user", "if": {"field": "level", "equals": "debug"}}
    )
    events = [
        {"n": n, "user": f"u{n % 10}", "level": "debug" if n % 3 else "info"} for n in range(300)
    ]
    out = sampled.process_batch(list(events))
    assert [event["n"] for event in out] == sorted(event["n"] for event in out)
    assert all(event in out for event in events if event["level"] == "info")
    debug_kept = [event for event in out if event["level"] == "debug"]
    assert 0 < len(debug_kept) < 200
    assert sampled.stats.dropped_by == {"sample#1": 300 - len(out)}


def test_conditions_are_wrapped_once_and_stages_without_one_are_not() -> None:
    built = pipeline(
        {"type": "drop", "if": {"exists": "x"}},
        {"type": "set", "fields": {"a": 1}},
    )
    assert isinstance(built.stages[0], Conditional)
    assert not isinstance(built.stages[1], Conditional)


def test_failures_are_tagged_with_the_stage_name_and_counted() -> None:
    failing = pipeline(
        {"type": "set", "fields": {"a": 1}},
        {"type": "set", "id": "nest", "fields": {"message.text": "x"}},
        {"type": "set", "fields": {"after": True}},
    )
    out = failing.process_batch([{"message": "plain"}, {"message": {"k": 1}}])
    assert len(out) == 2
    failed, fine = out
    assert failed["tags"] == [PROCESSOR_FAILURE]
    assert failed["error"]["message"].startswith("nest: FieldConflict:")
    assert failed["after"] is True  # the event goes on through the later stages
    assert "tags" not in fine and fine["message"] == {"k": 1, "text": "x"}
    assert failing.stats.failures == 1
    failing.process_batch([{"message": "again"}])
    assert failing.stats.failures == 2


def test_an_unnamed_stage_fails_under_its_type_and_position() -> None:
    failing = pipeline(
        {"type": "set", "fields": {"a": 1}},
        {"type": "copy", "fields": {"a": "a.b"}},
    )
    (event,) = failing.process_batch([{}])
    assert event["error"]["message"].startswith("copy#2: FieldConflict:")


def test_failures_of_a_conditional_stage_are_counted() -> None:
    failing = pipeline(
        {"type": "set", "fields": {"message.x": 1}, "if": {"field": "kind", "equals": "bad"}}
    )
    out = failing.process_batch([{"message": "t", "kind": "bad"}, {"message": "t", "kind": "ok"}])
    assert [PROCESSOR_FAILURE in event.get("tags", []) for event in out] == [True, False]
    assert failing.stats.failures == 1
    assert failing.stats.dropped == 0


def test_dropped_by_counts_per_stage_name() -> None:
    dropping = pipeline(
        {"type": "drop", "id": "health", "if": {"field": "path", "equals": "/health"}},
        {"type": "drop", "if": {"field": "level", "equals": "debug"}},
        {"type": "sample", "rate": 1},
        {"type": "drop", "if": {"field": "level", "equals": "trace"}},
    )
    events = [
        {"path": "/health", "level": "debug"},
        {"path": "/", "level": "debug"},
        {"path": "/", "level": "debug"},
        {"path": "/health", "level": "info"},
        {"path": "/", "level": "trace"},
        {"path": "/", "level": "info"},
    ]
    out = dropping.process_batch(events)
    assert out == [{"path": "/", "level": "info"}]
    assert dropping.stats.dropped_by == {"health": 2, "drop#2": 2, "drop#4": 1}
    assert dropping.stats.dropped == 5
    assert dropping.stats.processed == 6
    dropping.process_batch([{"path": "/health"}])
    assert dropping.stats.dropped_by["health"] == 3


def test_read_time_fills_only_events_without_a_timestamp() -> None:
    timed = pipeline(
        {"type": "date", "field": "t", "if": {"exists": "t"}},
        read_time=READ_TIME,
    )
    out = timed.process_batch(
        [{"t": "2026-07-01T12:00:00+02:00"}, {"message": "no time"}, {"@timestamp": "kept"}]
    )
    assert [event["@timestamp"] for event in out] == ["2026-07-01T10:00:00.000Z", READ_TIME, "kept"]


def test_read_time_comes_after_the_stages() -> None:
    # A stage that looks for @timestamp must not see the read time.
    out = pipeline(
        {"type": "add_tags", "tags": ["untimed"], "if": {"not": {"exists": "@timestamp"}}},
        read_time=READ_TIME,
    ).process_batch([{}])
    assert out == [{"tags": ["untimed"], "@timestamp": READ_TIME}]


def test_without_read_time_no_timestamp_is_invented() -> None:
    assert pipeline({"type": "set", "fields": {"a": 1}}).process_batch([{}]) == [{"a": 1}]
    assert pipeline().process_batch([{}]) == [{}]
    assert pipeline(read_time=READ_TIME).process_batch([{}]) == [{"@timestamp": READ_TIME}]


def test_the_default_stage_in_a_pipeline() -> None:
    out = pipeline(
        {"type": "default"},
        {"type": "drop", "if": {"field": "log.level", "equals": "debug"}},
        {"type": "set", "fields": {"service.name": "%{app.svc}"}},
        read_time=READ_TIME,
    ).process_batch(
        [
            {"message": '{"level":"debug","msg":"noise","svc":"a"}'},
            {"message": '{"level":"error","msg":"boom","svc":"b"}'},
        ]
    )
    assert out == [
        {
            "message": "boom",
            "log": {"level": "error"},
            "app": {"svc": "b"},
            "@timestamp": READ_TIME,
            "service": {"name": "b"},
        }
    ]


def test_each_build_is_fresh() -> None:
    specs = STAGES.validate_python([{"type": "sample", "rate": 2}])
    first = build_pipeline(specs)
    second = build_pipeline(specs)
    assert [len(first.process_batch(numbered(1))) for _ in range(3)] == [1, 0, 1]
    assert len(second.process_batch(numbered(1))) == 1  # its own count, from the start
