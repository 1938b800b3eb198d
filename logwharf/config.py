"""The service configuration file (``--config FILE`` or ``LOGWHARF_CONFIG``).

    pipeline:            # stages, in order; without it the default processor runs
      - type: grok
        patterns: ["%{COMBINEDAPACHELOG}"]
    elasticsearch:       # the same settings as the --es* flags
      url: ${ES_URL:-http://localhost:9200}
      index: logs-web
    run:                 # settings of `logwharf run`
      state_dir: /var/lib/logwharf

Flags and ``LOGWHARF_*`` variables given for a run win over the file. Every problem is
reported at once, each with its line, column and key; a configuration with any problem is
refused before anything starts (exit code 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from logwharf.processor.config import STAGE_TYPES, StageSpec, build_pipeline
from logwharf.processor.stage import Pipeline
from logwharf.processor.stage_config import BuildContext, StageConfig

from .yaml_source import Located, Problem, load_yaml

__all__ = [
    "ConfigError",
    "ElasticsearchSection",
    "RunSection",
    "ServiceConfig",
    "check_config",
    "load_config",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ElasticsearchSection(_Section):
    url: str | list[str] | None = None
    index: str | None = None
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    api_key: str | None = Field(default=None, repr=False)
    ca_file: Path | None = None
    verify_tls: bool = True
    gzip: bool | None = None
    batch_events: int | None = Field(default=None, ge=1)
    batch_bytes: int | None = Field(default=None, ge=1024)
    concurrency: int | None = Field(default=None, ge=1, le=64)
    dead_letter_file: Path | None = None


class Selectors(_Section):
    names: list[str] = []
    images: list[str] = []
    labels: list[str] = []


class RunSection(_Section):
    state_dir: Path | None = None
    include: Selectors = Selectors()
    exclude: Selectors = Selectors()
    ship_self: bool | None = None
    multiline: Literal["auto", "off"] | None = None
    multiline_pattern: str | None = None
    flush_seconds: float | None = Field(default=None, gt=0)
    grace_seconds: float | None = Field(default=None, gt=0)


class ServiceConfig(_Section):
    pipeline: list[StageSpec] | None = None
    elasticsearch: ElasticsearchSection = ElasticsearchSection()
    run: RunSection = RunSection()
    max_event_bytes: int | None = Field(default=None, ge=1)

    # Where the file was, for paths in it (custom pattern files, a relative state dir);
    # private, so that no key of the file can set it.
    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def stages(self) -> list[StageConfig]:
        return list(self.pipeline or [])

    def build_pipeline(
        self, state_dir: Path | None = None, read_time: str | None = None
    ) -> Pipeline | None:
        """The configured stages, compiled; ``None`` when the file configures none."""
        if self.pipeline is None:
            return None
        context = BuildContext(
            config_dir=self.source.parent if self.source else None,
            state_dir=state_dir,
            read_time=read_time,
        )
        return build_pipeline(self.stages, context)


class ConfigError(Exception):
    """A configuration that cannot be used; ``problems`` says every reason, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def check_config(path: Path, environ: Mapping[str, str] | None = None) -> list[Problem]:
    try:
        load_config(path, environ)
    except ConfigError as error:
        return error.problems
    return []


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> ServiceConfig:
    located = load_yaml(path, environ)
    return validate_config(located, path)


def validate_config(located: Located, path: Path | None = None) -> ServiceConfig:
    problems = list(located.problems)
    if located.data is None and problems:
        raise ConfigError(problems)
    data = located.data
    if not isinstance(data, dict):
        problems.append(located.problem((), "the configuration must be a mapping of sections"))
        raise ConfigError(problems)
    config = None
    try:
        config = ServiceConfig.model_validate(data)
    except ValidationError as error:
        problems.extend(_problems(located, error))
    if config is not None and not problems:
        # Compile every stage now, each on its own, so that a bad pattern is reported at
        # its stage and every bad one at once.
        context = BuildContext(config_dir=path.parent if path else None)
        for position, stage in enumerate(config.stages):
            try:
                stage.build(stage.stage_name(position + 1), context)
            except (ValueError, OSError) as error:
                problems.append(located.problem(("pipeline", position), str(error)))
    if problems:
        problems.sort(key=lambda problem: (problem.line, problem.column))
        raise ConfigError(problems)
    assert config is not None
    config._source = path
    return config


def _problems(located: Located, error: ValidationError) -> list[Problem]:
    out = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        message = _message(item)
        problem = located.problem(loc, message)
        out.append(problem)
    return out


def _message(item: Mapping[str, Any]) -> str:
    kind = item["type"]
    message = str(item["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return "unknown key; check its spelling against the documented keys"
    if kind == "stage_type":
        known = ", ".join(sorted(STAGE_TYPES))
        given = item["input"].get("type") if isinstance(item["input"], dict) else None
        if given is None:
            return f"each stage needs a type: one of {known}"
        return f"unknown stage type {given!r}; the types are: {known}"
    if kind == "missing":
        return f"missing: {item['loc'][-1]} is required here"
    return message
