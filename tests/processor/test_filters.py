"""Filter stages: drop, sample (deterministic) and route."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from logwharf.events import INDEX
from logwharf.processor.config import StageSpec
from logwharf.processor.stage import BatchStage
from logwharf.processor.stage_config import BuildContext

SPEC: TypeAdapter[Any] = TypeAdapter(StageSpec)


def stage(config: dict[str, Any]) -> BatchStage:
    spec = SPEC.validate_python(config)
    return spec.build(spec.stage_name(1), BuildContext())


def kept_ids(sampler: BatchStage, ids: list[str]) -> list[str]:
    return [event["_id"] for event in sampler.process_batch([{"_id": i} for i in ids])]


# drop


def test_drop_drops_everything_it_is_given() -> None:
    drop = stage({"type": "drop"})
    assert drop.process_batch([{"a": 1}, {"a": 2}]) == []
    assert drop.process_batch([]) == []


# sample


def test_sample_by_id_is_deterministic_across_fresh_stages() -> None:
    ids = [f"doc-{number}" for number in range(2000)]
    first = kept_ids(stage({"type": "sample", "rate": 7}), ids)
    second = kept_ids(stage({"type": "sample", "rate": 7}), ids)
    assert first == second
    assert 0 < len(first) < len(ids)
    # Batch boundaries and order do not change the decision about an id.
    again = stage({"type": "sample", "rate": 7})
    split = kept_ids(again, ids[1000:]) + kept_ids(again, ids[:1000])
    assert sorted(split) == sorted(first)


@pytest.mark.parametrize("rate", [2, 10, 100])
def test_sample_keeps_about_one_in_rate(rate: int) -> None:
    ids = [f"{number:08x}-event" for number in range(10_000)]
    kept = len(kept_ids(stage({"type": "sample", "rate": rate}), ids))
    expected = 10_000 / rate
    # Binomial spread: well within 5 standard deviations of 1/rate.
    spread = 5 * (10_000 * (1 / rate) * (1 - 1 / rate)) ** 0.5
    assert abs(kept - expected) <= spread, (kept, expected)


def test_sample_keeps_the_kept_events_in_order_and_unchanged() -> None:
    events = [{"_id": f"id-{number}", "n": number} for number in range(500)]
    originals = list(events)
    out = stage({"type": "sample", "rate": 3}).process_batch(events)
    positions = [originals.index(event) for event in out]
    assert positions == sorted(positions)
    assert all(any(event is original for original in originals) for event in out)
    assert all(set(event) == {"_id", "n"} for event in out)


def test_sample_rate_one_keeps_everything() -> None:
    events: list[dict[str, Any]] = [{"_id": str(number)} for number in range(50)] + [{}, {}]
    assert len(stage({"type": "sample", "rate": 1}).process_batch(events)) == 52


def test_sample_by_key_keeps_or_drops_all_events_of_a_key_together() -> None:
    sampler = stage({"type": "sample", "rate": 4, "key": "trace.id"})
    events = [
        {"trace": {"id": f"trace-{number % 200}"}, "_id": f"event-{number}"}
        for number in range(2000)
    ]
    kept = sampler.process_batch(list(events))
    kept_traces = {event["trace"]["id"] for event in kept}
    for event in events:
        assert (event in kept) is (event["trace"]["id"] in kept_traces)
    assert 0 < len(kept_traces) < 200
    assert len(kept) == 10 * len(kept_traces)  # each trace has 10 events
    # The same decision in a fresh stage (another worker, a restart).
    again = stage({"type": "sample", "rate": 4, "key": "trace.id"}).process_batch(list(events))
    assert {event["trace"]["id"] for event in again} == kept_traces


def test_sample_by_key_decides_numbers_and_strings_alike() -> None:
    sampler = stage({"type": "sample", "rate": 3, "key": "user"})
    numbers = [event["user"] for event in sampler.process_batch([{"user": n} for n in range(300)])]
    texts = [
        event["user"] for event in sampler.process_batch([{"user": str(n)} for n in range(300)])
    ]
    assert [str(n) for n in numbers] == texts


def test_sample_by_key_falls_back_to_the_id_when_the_key_is_missing() -> None:
    ids = [f"doc-{number}" for number in range(300)]
    by_id = kept_ids(stage({"type": "sample", "rate": 5}), ids)
    by_missing_key = kept_ids(stage({"type": "sample", "rate": 5, "key": "trace.id"}), ids)
    assert by_missing_key == by_id


def test_sample_without_key_or_id_keeps_every_rate_th_event() -> None:
    sampler = stage({"type": "sample", "rate": 3})
    first = sampler.process_batch([{"n": n} for n in range(7)])
    assert [event["n"] for event in first] == [0, 3, 6]
    # The count goes on across batches.
    later = sampler.process_batch([{"n": n} for n in range(7, 12)])
    assert [event["n"] for event in later] == [9]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "sample", "rate": 0}, "greater than or equal to 1"),
        ({"type": "sample"}, "Field required"),
        ({"type": "sample", "rate": 2, "key": "a..b"}, "not a field name"),
        ({"type": "sample", "rate": "often"}, "valid integer"),
    ],
)
def test_bad_sample_settings(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SPEC.validate_python(config)


# route

ROUTES = {
    "type": "route",
    "rules": [
        {"if": {"field": "log.level", "in": ["error", "fatal"]}, "index": "logs-errors"},
        {"if": {"field": "container.name", "equals": "api"}, "index": "logs-api"},
        {"if": {"exists": "log.level"}, "index": "logs-leveled"},
    ],
}


def test_route_the_first_matching_rule_wins() -> None:
    router = stage(ROUTES)
    error_in_api = {"log": {"level": "error"}, "container": {"name": "api"}}
    info_in_api = {"log": {"level": "info"}, "container": {"name": "api"}}
    info_elsewhere = {"log": {"level": "info"}, "container": {"name": "web"}}
    out = router.process_batch([error_in_api, info_in_api, info_elsewhere])
    assert [event[INDEX] for event in out] == ["logs-errors", "logs-api", "logs-leveled"]


def test_route_without_a_match_uses_the_default_or_leaves_the_index() -> None:
    (no_default,) = stage(ROUTES).process_batch([{"message": "m"}])
    assert INDEX not in no_default
    (kept,) = stage(ROUTES).process_batch([{"message": "m", INDEX: "given"}])
    assert kept[INDEX] == "given"
    (defaulted,) = stage({**ROUTES, "default": "logs-other"}).process_batch([{"message": "m"}])
    assert defaulted[INDEX] == "logs-other"
    (matched,) = stage({**ROUTES, "default": "logs-other"}).process_batch(
        [{"container": {"name": "api"}}]
    )
    assert matched[INDEX] == "logs-api"


def test_route_a_matching_rule_replaces_an_index_already_set() -> None:
    (event,) = stage(ROUTES).process_batch([{"log": {"level": "fatal"}, INDEX: "old"}])
    assert event[INDEX] == "logs-errors"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "route", "rules": []}, "at least 1 item"),
        ({"type": "route", "rules": [{"index": "a"}]}, "Field required"),
        ({"type": "route", "rules": [{"if": {"exists": "a"}}]}, "Field required"),
        ({"type": "route", "rules": [{"if": {"exists": "a"}, "index": "Logs"}]}, "valid index"),
        ({"type": "route", "rules": [{"if": {"exists": "a"}, "index": "a b"}]}, "valid index"),
        ({"type": "route", "rules": [{"if": {"exists": "a"}, "index": "_x"}]}, "valid index"),
        ({"type": "route", "rules": [{"if": {"exists": "a"}, "index": ".."}]}, "valid index"),
        ({"type": "route", "rules": [{"if": {"exists": "a"}, "index": "x" * 256}]}, "255 bytes"),
        (
            {"type": "route", "rules": [{"if": {"exists": "a"}, "index": "a"}], "default": "A"},
            "valid index",
        ),
        (
            {"type": "route", "rules": [{"if": {"field": "a"}, "index": "a"}]},
            "exactly one of",
        ),
        (
            {"type": "route", "rules": [{"if": {"exists": "a"}, "index": "a", "x": 1}]},
            "Extra inputs",
        ),
    ],
)
def test_bad_route_settings(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SPEC.validate_python(config)
