"""Shared helpers for the CLI tests and the integration tests: run ``logwharf`` in a
subprocess with a clean environment, and read its end-of-run summary."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Run:
    """One finished ``logwharf`` process."""

    args: list[str]
    returncode: int
    stdout: bytes
    stderr: str

    def __str__(self) -> str:  # shown by pytest when an assertion on a Run fails
        return f"logwharf {' '.join(self.args)} -> {self.returncode}\n{self.stderr[-3000:]}"

    @property
    def summary(self) -> Summary:
        return parse_summary(self.stderr)

    def assert_clean(self) -> None:
        assert_clean_stderr(self.stderr)

    @property
    def ndjson(self) -> list[dict[str, Any]]:
        """stdout as NDJSON: each line must be one JSON object."""
        events = []
        for line in self.stdout.splitlines():
            event = json.loads(line)
            assert isinstance(event, dict), line[:200]
            events.append(event)
        return events


@dataclass
class Summary:
    """The numbers of the end-of-run summary printed on stderr."""

    files: int
    events: int
    lines: int
    empty_lines: int
    parsed: int
    parse_failures: int
    written: int | None
    indexed: int | None
    duplicates: int | None
    dead_lettered: int | None
    not_delivered: int


def _number(pattern: str, text: str) -> int | None:
    match = re.search(pattern, text, re.M)
    return int(match.group(1).replace(",", "")) if match else None


def parse_summary(stderr: str) -> Summary:
    read = re.search(
        r"^\s+read\s+([\d,]+) events from ([\d,]+) lines(?: \(([\d,]+) empty lines skipped\))?",
        stderr,
        re.M,
    )
    assert read is not None, f"no summary on stderr:\n{stderr}"
    files = _number(r"^replayed (\d+) file\(s\)", stderr)
    assert files is not None, f"no summary header on stderr:\n{stderr}"
    return Summary(
        files=files,
        events=int(read.group(1).replace(",", "")),
        lines=int(read.group(2).replace(",", "")),
        empty_lines=int((read.group(3) or "0").replace(",", "")),
        parsed=_number(r"^\s+parsed\s+([\d,]+) JSON", stderr) or 0,
        parse_failures=_number(r"([\d,]+) tagged _jsonparsefailure", stderr) or 0,
        written=_number(r"^\s+written\s+([\d,]+)", stderr),
        indexed=_number(r"^\s+indexed\s+([\d,]+)", stderr),
        duplicates=_number(r"^\s+duplicates\s+([\d,]+)", stderr),
        dead_lettered=_number(r"^\s+dead-lettered\s+([\d,]+)", stderr),
        not_delivered=_number(r"^\s+NOT DELIVERED\s+([\d,]+)", stderr) or 0,
    )


def assert_clean_stderr(stderr: str) -> None:
    """What a user sees must be messages, never a Python traceback or a leaked resource."""
    assert "Traceback (most recent call last)" not in stderr, stderr
    assert "Unclosed client session" not in stderr, stderr
    assert "Task exception was never retrieved" not in stderr, stderr


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without any LOGWHARF_* setting of the machine running the tests."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOGWHARF_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


RunLogwharf = Callable[..., Run]


@pytest.fixture
def run_logwharf(tmp_path: Path) -> RunLogwharf:
    """``run_logwharf(args, env=..., timeout=..., prefix=...)``: ``logwharf`` in a subprocess.

    The working directory is the test's tmp_path, so that the default dead-letter file
    never lands in the repository. ``prefix`` runs it through another program (setpriv).
    """

    def run(
        args: Sequence[str | os.PathLike[str]],
        *,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        prefix: Sequence[str] = (),
        cwd: Path | None = None,
    ) -> Run:
        argv = [str(arg) for arg in args]
        completed = subprocess.run(
            [*prefix, sys.executable, "-m", "logwharf", *argv],
            capture_output=True,
            env=clean_env(env),
            cwd=cwd or tmp_path,
            timeout=timeout,
            check=False,
        )
        return Run(argv, completed.returncode, completed.stdout, completed.stderr.decode())

    return run


@pytest.fixture
def run_main(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[[Sequence[str | os.PathLike[str]]], Run]:
    """``run_main(args)``: ``logwharf.cli.main`` in this process, its output captured."""
    from logwharf.cli import main

    for key in list(os.environ):
        if key.startswith("LOGWHARF_"):
            monkeypatch.delenv(key)

    def run(args: Sequence[str | os.PathLike[str]]) -> Run:
        argv = [str(arg) for arg in args]
        capsys.readouterr()
        code = main(argv)
        out, err = capsys.readouterr()
        return Run(argv, code, out.encode(), err)

    return run
