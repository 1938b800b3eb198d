"""The ``fingerprint`` stage: error events get a template and a stable fingerprint of their kind.

    - type: fingerprint
      levels: [error, fatal]      # or "any" (an empty list too): every event
      max_clusters: 10000
      masks: [{regex: "user=\\w+", replacement: "user=<USER>"}]

For each chosen event the message (its first line, see below) goes through the template miner
of :mod:`.templates`. ``error.template`` gets the kind's template as it stands, which improves
as the miner learns (``Login failed for alice from <IP>`` becomes ``Login failed for <*>
from <IP>``); ``error.fingerprint`` gets the kind's fingerprint, fixed when the kind was first
seen and never changed after, so that Kibana can count errors per kind over any span of time.

Only the first line of a multiline message is mined (``lines: first``): the first line of a
Java or Go stack trace names the exception, the frames below differ with every call site.
A Python traceback names it last, so for one starting ``Traceback (most recent call last)``
the last line is mined instead. ``lines: all`` mines the whole text.

The miner's state is saved with the shipper's checkpoints (``save_state`` when ``dirty``) and
loaded at start (``build`` reads ``fingerprint-<name>.json`` in the state directory), so kinds
keep their fingerprints across restarts. The stage does no I/O per event.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from logwharf.events import Event

from .fields import FieldPath
from .levels import normalize_level
from .stage import EventStage, mark_failure
from .stage_config import BuildContext, FieldName, StageConfig, check_field_name
from .templates import DEFAULT_MASKS, MAX_CHARS, Mask, Masker, TemplateMiner

__all__ = ["FingerprintConfig", "FingerprintStage", "MaskConfig", "state_file_name"]

STATE_VERSION = 1
_LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")
_PYTHON_TRACEBACK = "Traceback (most recent call last)"


def state_file_name(name: str) -> str:
    """The file in the state directory that keeps the kinds of the stage called ``name``."""
    return f"fingerprint-{name}.json"


class MaskConfig(BaseModel):
    """An extra mask: every match of ``regex`` becomes ``replacement``, taken literally (no
    group references). The built-in masks run after it and see its replacement too, so keep
    digits and quotes out of it: ``<TENANT>``, not ``<ID1>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regex: str
    replacement: str = "<*>"

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            pattern = re.compile(value)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
        if pattern.match(""):
            raise ValueError("the regex matches an empty text; it must match at least a char")
        return value


class FingerprintConfig(StageConfig):
    """Sets ``error.template`` and ``error.fingerprint`` on error events."""

    type: Literal["fingerprint"]
    field: FieldName = Field(default="message", description="the text to mine")
    levels: list[str] | Literal["any"] = Field(
        default=["error", "fatal"],
        description='the log.level values of the events to mine; "any" or [] for all',
    )
    level_field: FieldName = "log.level"
    template_field: FieldName = "error.template"
    fingerprint_field: FieldName = "error.fingerprint"
    lines: Literal["first", "all"] = Field(
        default="first", description="mine the first line of a multiline message, or all"
    )
    max_clusters: int = Field(
        default=10_000, ge=1, le=1_000_000, description="kinds kept; the least recent go"
    )
    similarity: float = Field(
        default=0.7, gt=0.0, le=1.0, description="share of equal tokens to join a kind"
    )
    depth: int = Field(default=4, ge=3, le=10, description="Drain's tree depth")
    masks: list[MaskConfig] = Field(default=[], description="applied before the built-in ones")
    default_masks: bool = Field(default=True, description="the built-in masks (numbers, ...)")

    @field_validator("field", "level_field", "template_field", "fingerprint_field")
    @classmethod
    def _field_name(cls, value: str) -> str:
        return check_field_name(value)

    @field_validator("levels", mode="before")
    @classmethod
    def _one_level(cls, value: object) -> object:
        return [value] if isinstance(value, str) and value != "any" else value

    @field_validator("levels")
    @classmethod
    def _known_levels(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, str):
            return value
        canonical = []
        for level in value:
            found = normalize_level(level)
            if found is None:
                raise ValueError(f"unknown level {level!r}: use {', '.join(_LEVELS)}, or any")
            canonical.append(found)
        return canonical

    def build(self, name: str, context: BuildContext) -> FingerprintStage:
        masks = [Mask(re.compile(mask.regex), mask.replacement) for mask in self.masks]
        if self.default_masks:
            masks.extend(DEFAULT_MASKS)
        miner = TemplateMiner(
            Masker(masks),
            max_clusters=self.max_clusters,
            similarity=self.similarity,
            depth=self.depth,
        )
        levels = None if self.levels == "any" or not self.levels else frozenset(self.levels)
        stage = FingerprintStage(
            name,
            miner,
            field=FieldPath(self.field),
            levels=levels,
            level_field=FieldPath(self.level_field),
            template_field=FieldPath(self.template_field),
            fingerprint_field=FieldPath(self.fingerprint_field),
            first_line=self.lines == "first",
        )
        if context.state_dir is not None:
            stage.state_path = context.state_dir / state_file_name(name)
            stage.load_state(stage.state_path)
        return stage


class FingerprintStage(EventStage):
    """The runtime stage: mines the chosen events' messages, keeps the kinds in memory."""

    def __init__(
        self,
        name: str,
        miner: TemplateMiner,
        *,
        field: FieldPath,
        levels: frozenset[str] | None,
        level_field: FieldPath,
        template_field: FieldPath,
        fingerprint_field: FieldPath,
        first_line: bool = True,
    ) -> None:
        super().__init__(name)
        self.miner = miner
        self.field = field
        self.levels = levels
        self.level_field = level_field
        self.template_field = template_field
        self.fingerprint_field = fingerprint_field
        self.first_line = first_line
        self.state_path: Path | None = None  # where build found (or would find) the state
        self.warning: str | None = None  # for the runtime to print: a state file not usable
        self._saved_changes = 0

    @property
    def dirty(self) -> bool:
        """Kinds made, dropped or generalised since the state was loaded or saved. Counts and
        recency alone do not count: a steady stream of known kinds needs no saving."""
        return self.miner.changes != self._saved_changes

    def __call__(self, event: Event) -> Event | None:
        levels = self.levels
        if levels is not None:
            level = self.level_field.get(event, None)
            if (
                not (type(level) is str and level in levels)
                and normalize_level(level) not in levels
            ):
                return event
        text = self.field.get(event)
        if type(text) is not str:
            return event  # no message, or not a text: nothing to group by
        line = self._line(text) if self.first_line else text
        cluster = self.miner.add(line)
        if cluster is None:
            return event  # empty or blank
        self.template_field.set(event, cluster.template)
        self.fingerprint_field.set(event, cluster.fingerprint)
        return event

    def process_batch(self, events: list[Event]) -> list[Event]:
        # Never drops: the same list comes back, each event changed in place or left alone.
        for event in events:
            try:
                self(event)
            except Exception as error:
                mark_failure(event, self.name, error)
                self.failures += 1
        return events

    @staticmethod
    def _line(text: str) -> str:
        """The line that names the kind of a possibly multiline message."""
        head = text[:MAX_CHARS]
        if "\n" not in head:
            return head
        for line in head.splitlines():
            if line.strip():
                break
        else:
            return ""
        if line.startswith(_PYTHON_TRACEBACK):
            # The exception comes last; the tail of a huge text is enough to find it.
            for last in reversed(text[-MAX_CHARS:].splitlines()):
                if last.strip() and not last[0].isspace():
                    return last
        return line

    def snapshot(self) -> bytes:
        """The kinds learnt, as JSON (orjson), for :meth:`restore`."""
        return orjson.dumps({"version": STATE_VERSION, "clusters": self.miner.snapshot()})

    def restore(self, data: bytes) -> None:
        """Takes the kinds of a :meth:`snapshot`; raises ValueError (keeping the current
        ones) when ``data`` is not one."""
        try:
            doc: Any = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise ValueError(f"not valid JSON: {error}") from None
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        version = doc.get("version")
        if version != STATE_VERSION:
            raise ValueError(f"format version {version!r}; this logwharf reads {STATE_VERSION}")
        self.miner.restore(doc.get("clusters"))
        self._saved_changes = self.miner.changes

    def load_state(self, path: Path) -> bool:
        """Loads the kinds saved in ``path``: True when it did. A missing file is a first
        start; a file that is not usable leaves the stage empty and sets :attr:`warning`."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return False
        except OSError as error:
            self.warning = f"cannot read {path}: {error.strerror or error}; {self._fresh}"
            return False
        try:
            self.restore(data)
        except ValueError as error:
            self.warning = f"{path} is not usable ({error}); {self._fresh}"
            return False
        return True

    @property
    def _fresh(self) -> str:
        return (
            f"the {self.name} stage starts with no error kinds, so kinds seen again get "
            "fingerprints anew (the same ones where their first message is the same)"
        )

    def save_state(self, path: Path | None = None) -> None:
        """Writes the kinds to ``path`` (default :attr:`state_path`) atomically: a temp file,
        fsync, rename, so a crash leaves the old file or the new one, never a mix."""
        target = path or self.state_path
        if target is None:
            raise ValueError(f"the {self.name} stage has no state file to save to")
        changes = self.miner.changes
        data = self.snapshot()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        _fsync_directory(target.parent)
        self._saved_changes = changes


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)
