"""What every configured stage's model shares, and what building a stage may use.

Each stage type is one pydantic model, ``type: Literal["name"]`` plus its own keys (unknown
keys are refused), whose ``build`` compiles everything once (patterns, field paths) and
returns the runtime stage: an :class:`~logwharf.processor.stage.EventStage` that works on
plain dicts. The models are only for loading and checking; events never meet pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .conditions import ConditionSpec
from .fields import FieldPath
from .stage import BatchStage

__all__ = ["BuildContext", "FieldName", "StageConfig", "check_field_name"]


@dataclass(frozen=True)
class BuildContext:
    """What a stage may need beyond its own keys when it is built."""

    config_dir: Path | None = None  # where relative paths in the config point from
    state_dir: Path | None = None  # where a stateful stage keeps what must survive restarts
    read_time: str | None = None


def check_field_name(value: str) -> str:
    FieldPath(value)  # raises ValueError with the reason
    return value


FieldName = str  # a dotted field name; models check theirs with check_field_name


class StageConfig(BaseModel):
    """Keys of every stage: ``type``, an optional ``id`` and an optional ``if`` condition."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    type: str
    id: str | None = Field(default=None, description="name in errors, tags and counters")
    # Compiled by the pipeline builder, so that every stage gets its condition the same way.
    if_: ConditionSpec | None = Field(default=None, alias="if")

    @field_validator("id")
    @classmethod
    def _id_is_a_name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("id must not be empty")
        return value

    def stage_name(self, position: int) -> str:
        """``id`` when given, else the type and its place in the pipeline (``grok#2``)."""
        return self.id or f"{self.type}#{position}"

    def build(self, name: str, context: BuildContext) -> BatchStage:
        raise NotImplementedError(f"stage type {self.type!r} cannot be built")
