"""Stages with state that must survive a restart (the ``fingerprint`` miner), kept on disk
by the live runtime: stages themselves do no I/O.

``PersistentPipeline`` saves every such stage that changed, at most every ``interval``
seconds after a batch (a crash loses at most that much learning, and the fingerprints of
kinds already known never depend on it), and once more on ``close``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from logwharf.events import Event
from logwharf.processor.stage import Conditional, Pipeline

__all__ = ["PersistentPipeline", "StatefulStage"]

log = logging.getLogger("logwharf")


@runtime_checkable
class StatefulStage(Protocol):
    warning: str | None

    @property
    def dirty(self) -> bool: ...

    def save_state(self) -> None: ...


class PersistentPipeline(Pipeline):
    def __init__(self, stages: Iterable[Any], interval: float = 2.0) -> None:
        super().__init__(stages)
        self.interval = interval
        self._saved_at = time.monotonic()
        self.stateful: list[StatefulStage] = []
        for stage in self.stages:
            inner = stage.stage if isinstance(stage, Conditional) else stage
            if isinstance(inner, StatefulStage) and getattr(inner, "state_path", None):
                self.stateful.append(inner)
                if inner.warning:
                    log.warning("%s", inner.warning)

    def process_batch(self, events: list[Event]) -> list[Event]:
        out = super().process_batch(events)
        if self.stateful and time.monotonic() - self._saved_at >= self.interval:
            self.save()
        return out

    def save(self) -> None:
        self._saved_at = time.monotonic()
        for stage in self.stateful:
            if stage.dirty:
                try:
                    stage.save_state()
                except OSError as error:
                    log.warning("cannot save the state of a stage: %s", error)

    def close(self) -> None:
        self.save()
