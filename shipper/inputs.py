"""Turn the paths a user names (files, directories, globs) into the files to read."""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["InputProblem", "Inputs", "expand_inputs", "looks_like_log", "total_bytes"]

# In a directory, only these are read: a Docker container folder also holds hostname,
# hosts, resolv.conf and config.v2.json, which are not logs.
_LOG_NAME = re.compile(
    r".*(\.log|\.log\.\d+|\.ndjson|\.jsonl|\.txt|\.out|\.err)(\.gz)?$|.*-json\.log.*", re.I
)
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class InputProblem:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Inputs:
    files: list[Path] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)


def total_bytes(files: list[Path], gzip_factor: int = 1) -> int:
    """The files' sizes added up (a file that cannot be read counts 0); ``gzip_factor``
    weighs ``.gz`` files by how much they inflate."""
    total = 0
    for path in files:
        try:
            size = path.stat().st_size
        except OSError:
            continue
        total += size * (gzip_factor if path.name.endswith(".gz") else 1)
    return total


def looks_like_log(name: str) -> bool:
    return bool(_LOG_NAME.fullmatch(name))


def expand_inputs(paths: list[str]) -> Inputs:
    """Files to read, in a stable order and each once, and what could not be used."""
    found = Inputs()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            found.files.append(path)

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            logs = _logs_in(path)
            if not logs:
                found.problems.append(
                    InputProblem(
                        raw,
                        "directory holds no log files (*.log, *.log.N, *-json.log, *.ndjson, "
                        "*.jsonl, *.txt, and their .gz); name a file to read it whatever its name",
                    )
                )
            for log in logs:
                add(log)
        elif path.exists():
            add(path)
        elif _GLOB_CHARS.search(raw):
            matches = sorted(Path(m) for m in glob.glob(raw, recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                found.problems.append(InputProblem(raw, "pattern matches no files"))
            for match in files:
                add(match)
        else:
            found.problems.append(InputProblem(raw, "no such file or directory"))
    return found


def _logs_in(directory: Path) -> list[Path]:
    logs: list[Path] = []
    for root, dirs, names in os.walk(directory):
        dirs.sort()
        logs.extend(Path(root, name) for name in sorted(names) if looks_like_log(name))
    return logs
