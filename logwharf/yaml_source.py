"""YAML to plain data, remembering where each value was written, with ``${VAR}`` filled in.

pydantic reports a problem by its path in the data (``pipeline.2.patterns``); the user
needs the line and column in the file. The loader composes YAML nodes (which carry their
marks), builds the data itself and records a mark for every path. Environment references
are filled in string values only, after parsing, so they can never change the YAML's
structure: ``${VAR}``, ``${VAR:-default}`` (default when unset or empty), and ``$${`` for
a literal ``${``. A reference to an unset variable with no default is a problem at its place.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Located", "Problem", "YamlSource", "load_yaml"]

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration, where it is and what to do."""

    file: str
    line: int  # 1-based; 0 when unknown
    column: int
    key: str  # the path at fault, dotted (pipeline[2].patterns)
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


@dataclass
class Located:
    """Data from a YAML file and the place of each path in it."""

    data: Any
    file: str
    marks: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def place(self, path: Path_) -> tuple[Path_, tuple[int, int]]:
        """The longest prefix of ``path`` that is in the file, and its line and column.

        pydantic puts union tags into its paths (``pipeline.0.grok.patterns``); a step
        that is not a key of the data at that level is skipped."""
        node: Any = self.data
        found: list[str | int] = []
        for step in path:
            if _has(node, step):
                node = node[step]
                found.append(step)
        key = tuple(found)
        while key not in self.marks and key:
            key = key[:-1]
        return key, self.marks.get(key, (0, 0))

    def problem(self, path: Path_, message: str) -> Problem:
        key, (line, column) = self.place(path)
        return Problem(self.file, line, column, dotted(key), message)


def _has(node: Any, step: str | int) -> bool:
    if isinstance(node, Mapping):
        return isinstance(step, str) and step in node
    return isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)


def dotted(path: Path_) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


_MERGE = "tag:yaml.org,2002:merge"


def _problem_at(node: yaml.Node, located: Located, path: Path_, message: str) -> Problem:
    mark = node.start_mark
    return Problem(located.file, mark.line + 1, mark.column + 1, dotted(path), message)


_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{[^}]*\}?")


class YamlSource:
    """Reads one YAML document; ``environ`` is the environment to fill ``${VAR}`` from."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self._constructor = yaml.SafeLoader("")
        self._building: set[int] = set()  # nodes on the way down: an alias back is a loop

    def load(self, text: str, file: str) -> Located:
        located = Located(None, file)
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
            reason = " ".join(part for part in (error.context, error.problem) if part)
            located.problems.append(
                Problem(file, line, column, "", f"not valid YAML: {reason or error}")
            )
            return located
        except yaml.YAMLError as error:
            located.problems.append(Problem(file, 0, 0, "", f"not valid YAML: {error}"))
            return located
        located.data = {} if root is None else self._build(root, (), located)
        return located

    def _build(self, node: yaml.Node, path: Path_, located: Located) -> Any:
        located.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if id(node) in self._building:
            located.problems.append(_problem_at(node, located, path, "an alias refers to itself"))
            return None
        if isinstance(node, yaml.MappingNode):
            self._building.add(id(node))
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE:
                    located.problems.append(
                        _problem_at(key_node, located, path, "merge keys (<<) are not supported")
                    )
                    continue
                key = self._scalar(key_node, path, located)
                if not isinstance(key, str):
                    key = str(key)
                where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if key in out:
                    located.problems.append(
                        Problem(located.file, *where, dotted((*path, key)), "duplicate key")
                    )
                located.marks[(*path, key)] = where
                out[key] = self._build(value_node, (*path, key), located)
            self._building.discard(id(node))
            return out
        if isinstance(node, yaml.SequenceNode):
            self._building.add(id(node))
            items = [self._build(item, (*path, i), located) for i, item in enumerate(node.value)]
            self._building.discard(id(node))
            return items
        value = self._scalar(node, path, located)
        if isinstance(value, str) and "$" in value:
            value = self._fill(value, path, located)
        return value

    def _scalar(self, node: yaml.Node, path: Path_, located: Located) -> Any:
        if node.tag == _TIMESTAMP:
            # A date in a configuration is text to compare with or to set (events hold
            # strings), not a datetime object.
            return node.value
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as error:  # a tag the safe loader does not know (!custom)
            reason = getattr(error, "problem", None) or str(error)
            located.problems.append(_problem_at(node, located, path, f"not valid YAML: {reason}"))
            return None

    def _fill(self, text: str, path: Path_, located: Located) -> str:
        def problem(message: str) -> None:
            # The data is still being built: the place comes from the marks alone.
            line, column = located.marks.get(path, (0, 0))
            located.problems.append(Problem(located.file, line, column, dotted(path), message))

        def replace(match: re.Match[str]) -> str:
            whole = match.group(0)
            if whole == "$${":
                return "${"
            name = match.group(1)
            if name is None:
                problem(
                    f"{whole!r} is not a variable reference: write ${{NAME}} or "
                    "${NAME:-default}, or $${ for a literal ${"
                )
                return whole
            value = self.environ.get(name)
            if value:
                return value
            default = match.group(2)
            if default is not None:
                return default
            if value is not None:
                return value  # set but empty: only the :- form replaces it
            problem(
                f"environment variable {name} is not set; set it or give a default: "
                f"${{{name}:-VALUE}}"
            )
            return ""

        return _VARIABLE.sub(replace, text)


def load_yaml(path: Path, environ: Mapping[str, str] | None = None) -> Located:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        located = Located(None, str(path))
        reason = error.strerror or str(error)
        located.problems.append(Problem(str(path), 0, 0, "", f"cannot read: {reason}"))
        return located
    except UnicodeDecodeError as error:
        located = Located(None, str(path))
        located.problems.append(Problem(str(path), 0, 0, "", f"not UTF-8 text: {error.reason}"))
        return located
    return YamlSource(environ).load(text, str(path))
