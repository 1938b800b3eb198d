"""The stage contract and the pipeline that runs stages over batches.

A stage is a plain, synchronous callable: it takes an event and returns it (changed or not)
or ``None`` to drop it. A stage may also offer ``process_batch`` to work on a whole batch in
one loop, which the pipeline then prefers. A stage that raises does not stop the pipeline:
the event is tagged ``_processorfailure``, the reason goes to ``error.message``, and it goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from logwharf.events import Event

__all__ = [
    "PROCESSOR_FAILURE",
    "BatchStage",
    "Condition",
    "Conditional",
    "EventStage",
    "Pipeline",
    "PipelineStats",
    "Stage",
    "add_tag",
    "mark_failure",
    "stage_name",
]

PROCESSOR_FAILURE = "_processorfailure"


class Stage(Protocol):
    def __call__(self, event: Event) -> Event | None: ...


@runtime_checkable
class BatchStage(Protocol):
    def process_batch(self, events: list[Event]) -> list[Event]: ...


TAGS_FAILURE = "_tagsparsefailure"


def add_tag(event: Event, tag: str) -> None:
    tags = event.get("tags")
    if type(tags) is list:
        if tag not in tags:
            tags.append(tag)
    elif tags is None:
        event["tags"] = [tag]
    elif type(tags) is str:
        event["tags"] = [tags] if tags == tag else [tags, tag]
    else:
        # Not a list of tags (an application's own object or number): kept aside, as
        # Logstash does, so that tagging never fails.
        event["_tags"] = tags
        event["tags"] = [TAGS_FAILURE, tag]


def mark_failure(event: Event, stage_name: str, error: Exception) -> None:
    add_tag(event, PROCESSOR_FAILURE)
    error_field = event.get("error")
    if not isinstance(error_field, dict):
        error_field = event["error"] = {}
    error_field["message"] = f"{stage_name}: {type(error).__name__}: {error}"


@dataclass
class PipelineStats:
    processed: int = 0
    dropped: int = 0
    failures: int = 0
    dropped_by: dict[str, int] = field(default_factory=dict)


class EventStage:
    """Base of the configured stages: ``__call__`` for one event, ``process_batch`` for many.

    A subclass writes ``__call__`` (return the event, changed in place, or ``None`` to drop
    it), or overrides ``process_batch`` for speed, keeping its contract: change events in
    place, return the kept ones in their order (the same objects, no copies), and turn an
    exception on one event into :func:`mark_failure` and ``failures += 1``, never a raise.
    """

    name: str = "stage"

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self.failures = 0

    def __call__(self, event: Event) -> Event | None:
        raise NotImplementedError

    def process_batch(self, events: list[Event]) -> list[Event]:
        kept: list[Event] = []
        append = kept.append
        for event in events:
            try:
                result = self(event)
            except Exception as error:
                mark_failure(event, self.name, error)
                self.failures += 1
                append(event)
                continue
            if result is not None:
                append(result)
        return kept


Condition = Callable[[Event], bool]


class Conditional:
    """A stage that applies only to the events its condition holds for; the rest pass by."""

    def __init__(self, stage: Stage | BatchStage, condition: Condition) -> None:
        self.stage = stage
        self.condition = condition
        self.name = stage_name(stage)

    @property
    def failures(self) -> int:
        return int(getattr(self.stage, "failures", 0))


def stage_name(stage: object) -> str:
    return str(getattr(stage, "name", None) or getattr(stage, "__name__", type(stage).__name__))


class Pipeline:
    """Runs stages in order over batches of events."""

    def __init__(self, stages: Iterable[Stage | BatchStage | Conditional]) -> None:
        self.stages = list(stages)
        self.stats = PipelineStats()

    def process_batch(self, events: list[Event]) -> list[Event]:
        before = len(events)
        failures_before = self._stage_failures()
        for stage in self.stages:
            count = len(events)
            if not count:
                break
            if isinstance(stage, Conditional):
                events = self._run_where(stage, events)
            elif isinstance(stage, BatchStage):
                events = stage.process_batch(events)
            else:
                events = self._run_each(stage, events)
            if len(events) != count:
                name = stage_name(stage)
                self.stats.dropped_by[name] = (
                    self.stats.dropped_by.get(name, 0) + count - len(events)
                )
        self.stats.processed += before
        self.stats.dropped += before - len(events)
        self.stats.failures += self._stage_failures() - failures_before
        return events

    def _stage_failures(self) -> int:
        return sum(int(getattr(stage, "failures", 0)) for stage in self.stages)

    def _run_where(self, conditional: Conditional, events: list[Event]) -> list[Event]:
        test, stage = conditional.condition, conditional.stage
        if not isinstance(stage, BatchStage):
            # One by one: a per-event stage may hand back a new object in the event's place.
            out: list[Event] = []
            for event in events:
                if not test(event):
                    out.append(event)
                    continue
                out.extend(self._run_each(stage, [event]))
            return out
        chosen = [event for event in events if test(event)]
        if not chosen:
            return events
        if len(chosen) == len(events):
            return stage.process_batch(events)
        kept = stage.process_batch(chosen)
        if len(kept) == len(chosen):
            return events  # changed in place, none dropped
        gone = {id(event) for event in chosen} - {id(event) for event in kept}
        return [event for event in events if id(event) not in gone]

    def _run_each(self, stage: Stage, events: list[Event]) -> list[Event]:
        kept = []
        name = stage_name(stage)
        for event in events:
            try:
                result = stage(event)
            except Exception as error:
                mark_failure(event, name, error)
                self.stats.failures += 1
                result = event
            if result is not None:
                kept.append(result)
        return kept
