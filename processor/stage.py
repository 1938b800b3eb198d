"""The stage contract and the pipeline that runs stages over batches.

A stage is a plain, synchronous callable: it takes an event and returns it (changed or not)
or ``None`` to drop it. A stage may also offer ``process_batch`` to work on a whole batch in
one loop, which the pipeline then prefers. A stage that raises does not stop the pipeline:
the event is tagged ``_processorfailure``, the reason goes to ``error.message``, and it goes on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from logwharf.events import Event

__all__ = [
    "PROCESSOR_FAILURE",
    "BatchStage",
    "Pipeline",
    "PipelineStats",
    "Stage",
    "add_tag",
    "mark_failure",
]

PROCESSOR_FAILURE = "_processorfailure"


class Stage(Protocol):
    def __call__(self, event: Event) -> Event | None: ...


@runtime_checkable
class BatchStage(Protocol):
    def process_batch(self, events: list[Event]) -> list[Event]: ...


def add_tag(event: Event, tag: str) -> None:
    tags = event.get("tags")
    if tags is None:
        event["tags"] = [tag]
    elif tag not in tags:
        tags.append(tag)


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


class Pipeline:
    """Runs stages in order over batches of events."""

    def __init__(self, stages: Iterable[Stage | BatchStage]) -> None:
        self.stages = list(stages)
        self.stats = PipelineStats()

    def process_batch(self, events: list[Event]) -> list[Event]:
        before = len(events)
        for stage in self.stages:
            if isinstance(stage, BatchStage):
                events = stage.process_batch(events)
            else:
                events = self._run_each(stage, events)
        self.stats.processed += before
        self.stats.dropped += before - len(events)
        return events

    def _run_each(self, stage: Stage, events: list[Event]) -> list[Event]:
        kept = []
        name = str(getattr(stage, "name", None) or getattr(stage, "__name__", type(stage).__name__))
        for event in events:
            try:
                result = stage(event)
            except Exception as error:
                mark_failure(event, name, error)
                self.stats.failures += 1
                result = event
            if result is None:
                self.stats.dropped_by[name] = self.stats.dropped_by.get(name, 0) + 1
            else:
                kept.append(result)
        return kept
