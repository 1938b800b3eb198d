"""Pipeline: per-event and batch stages, drops, failures."""

from __future__ import annotations

from typing import Any

from logwharf.processor.stage import PROCESSOR_FAILURE, Pipeline, add_tag, mark_failure


def events(n: int) -> list[dict[str, Any]]:
    return [{"message": f"m{i}", "n": i} for i in range(n)]


def test_per_event_stages_run_in_order() -> None:
    def first(event: dict[str, Any]) -> dict[str, Any]:
        event["trail"] = ["first"]
        return event

    def second(event: dict[str, Any]) -> dict[str, Any]:
        event["trail"].append("second")
        return event

    out = Pipeline([first, second]).process_batch(events(3))
    assert [e["trail"] for e in out] == [["first", "second"]] * 3


def test_a_stage_may_replace_the_event() -> None:
    out = Pipeline([lambda event: {"message": event["message"].upper()}]).process_batch(events(2))
    assert out == [{"message": "M0"}, {"message": "M1"}]


def test_returning_none_drops_the_event_and_is_counted() -> None:
    def odd_only(event: dict[str, Any]) -> dict[str, Any] | None:
        return event if event["n"] % 2 else None

    seen: list[int] = []

    def later(event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event["n"])
        return event

    pipeline = Pipeline([odd_only, later])
    out = pipeline.process_batch(events(5))
    assert [e["n"] for e in out] == [1, 3]
    assert seen == [1, 3]  # dropped events reach no later stage
    assert pipeline.stats.processed == 5
    assert pipeline.stats.dropped == 3
    assert pipeline.stats.dropped_by == {"odd_only": 3}
    pipeline.process_batch(events(2))
    assert pipeline.stats.processed == 7
    assert pipeline.stats.dropped_by == {"odd_only": 4}


def test_a_raising_stage_tags_the_event_and_the_pipeline_goes_on() -> None:
    def explode(event: dict[str, Any]) -> dict[str, Any]:
        if event["n"] == 1:
            event["half"] = "done"
            raise ValueError("bad input")
        return event

    def after(event: dict[str, Any]) -> dict[str, Any]:
        event["after"] = True
        return event

    pipeline = Pipeline([explode, after])
    out = pipeline.process_batch(events(3))
    assert len(out) == 3
    failed = out[1]
    assert failed["tags"] == [PROCESSOR_FAILURE]
    assert failed["error"]["message"] == "explode: ValueError: bad input"
    assert all(e["after"] for e in out)  # the failed event still goes through the rest
    assert "tags" not in out[0] and "error" not in out[2]
    assert pipeline.stats.failures == 1
    assert pipeline.stats.dropped == 0


def test_stage_names_come_from_name_then_function_then_class() -> None:
    class Named:
        name = "renamer"

        def __call__(self, event: dict[str, Any]) -> None:
            return None

    class Anonymous:
        def __call__(self, event: dict[str, Any]) -> None:
            raise RuntimeError("x")

    pipeline = Pipeline([Named()])
    pipeline.process_batch(events(1))
    assert pipeline.stats.dropped_by == {"renamer": 1}
    (event,) = Pipeline([Anonymous()]).process_batch(events(1))
    assert event["error"]["message"] == "Anonymous: RuntimeError: x"


def test_batch_stages_are_given_the_whole_batch() -> None:
    calls: list[int] = []

    class Batcher:
        def process_batch(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
            calls.append(len(batch))
            return batch[:1]

        def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
            raise AssertionError("the batch method is preferred")

    pipeline = Pipeline([Batcher()])
    out = pipeline.process_batch(events(4))
    assert calls == [4]
    assert len(out) == 1
    assert pipeline.stats.dropped == 3


def test_empty_pipeline_and_empty_batch() -> None:
    batch = events(2)
    assert Pipeline([]).process_batch(batch) == events(2)
    assert Pipeline([lambda e: e]).process_batch([]) == []


def test_add_tag_adds_once() -> None:
    event: dict[str, Any] = {}
    add_tag(event, "a")
    add_tag(event, "b")
    add_tag(event, "a")
    assert event["tags"] == ["a", "b"]


def test_mark_failure_keeps_other_error_fields_and_replaces_a_non_object() -> None:
    event: dict[str, Any] = {"error": {"type": "app", "message": "old"}}
    mark_failure(event, "stage", KeyError("k"))
    assert event["error"] == {"type": "app", "message": "stage: KeyError: 'k'"}
    other: dict[str, Any] = {"error": "a string", "tags": ["x"]}
    mark_failure(other, "s", ValueError("v"))
    assert other["error"] == {"message": "s: ValueError: v"}
    assert other["tags"] == ["x", PROCESSOR_FAILURE]
