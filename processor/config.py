"""Every stage type by its ``type`` name, and the pipeline built from a list of them.

``StageSpec`` is the discriminated union the configuration validates ``pipeline:`` items
against; ``build_pipeline`` compiles each item's condition and stage once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Discriminator, Tag

from logwharf.events import Event

from .conditions import compile_condition
from .dates import DateConfig
from .dissect import DissectConfig
from .enrich import (
    AddTagsConfig,
    CaseConfig,
    CopyConfig,
    DefaultConfig,
    HttpConfig,
    LevelConfig,
    RemoveConfig,
    RenameConfig,
    SetConfig,
)
from .filters import DropConfig, RouteConfig, SampleConfig
from .fingerprint import FingerprintConfig
from .parse import CsvConfig, GrokConfig, JsonConfig, KvConfig
from .redact import RedactConfig
from .stage import BatchStage, Conditional, EventStage, Pipeline
from .stage_config import BuildContext, StageConfig

__all__ = ["STAGE_TYPES", "StageSpec", "build_pipeline", "stage_type_of"]

_MODELS: tuple[type[StageConfig], ...] = (
    DefaultConfig,
    JsonConfig,
    GrokConfig,
    DissectConfig,
    KvConfig,
    CsvConfig,
    DateConfig,
    SetConfig,
    RenameConfig,
    CopyConfig,
    RemoveConfig,
    CaseConfig,
    AddTagsConfig,
    LevelConfig,
    HttpConfig,
    DropConfig,
    SampleConfig,
    RouteConfig,
    RedactConfig,
    FingerprintConfig,
)


def _type_names(model: type[StageConfig]) -> tuple[str, ...]:
    annotation = model.model_fields["type"].annotation
    return tuple(getattr(annotation, "__args__", ()))


STAGE_TYPES: dict[str, type[StageConfig]] = {
    name: model for model in _MODELS for name in _type_names(model)
}


def stage_type_of(value: Any) -> str | None:
    """The tag of a raw ``pipeline:`` item: its ``type``, when that names a stage."""
    if isinstance(value, StageConfig):
        return value.type
    if isinstance(value, dict):
        kind = value.get("type")
        if isinstance(kind, str):
            return kind  # an unknown one is reported as such, with the known ones
    return None


if TYPE_CHECKING:
    StageSpec = StageConfig  # a union built at run time is no type to mypy
else:
    StageSpec = Annotated[
        Union[tuple(Annotated[model, Tag(name)] for name, model in STAGE_TYPES.items())],  # noqa: UP007
        Discriminator(
            stage_type_of,
            custom_error_type="stage_type",
            custom_error_message="each stage needs a type: one of "
            + ", ".join(sorted(STAGE_TYPES)),
        ),
    ]


def build_pipeline(stages: list[StageConfig], context: BuildContext | None = None) -> Pipeline:
    """The stages compiled in order; with a read time, a last step gives every event still
    without ``@timestamp`` that time, as the default processor does."""
    context = context or BuildContext()
    built: list[BatchStage | Conditional] = []
    for position, spec in enumerate(stages, start=1):
        stage = spec.build(spec.stage_name(position), context)
        built.append(stage if spec.if_ is None else Conditional(stage, compile_condition(spec.if_)))
    if context.read_time is not None:
        built.append(ReadTime(context.read_time))
    return Pipeline(built)


class ReadTime(EventStage):
    name = "read_time"

    def __init__(self, read_time: str) -> None:
        super().__init__()
        self.read_time = read_time

    def process_batch(self, events: list[Event]) -> list[Event]:
        for event in events:
            if "@timestamp" not in event:
                event["@timestamp"] = self.read_time
        return events
