"""expand_inputs: files, directories, globs, and what cannot be used."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from logwharf.shipper.inputs import InputProblem, expand_inputs, looks_like_log


def touch(path: Path, content: bytes = b"x\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    "name",
    [
        "app.log",
        "APP.LOG",
        "app.log.1",
        "app.log.12.gz",
        "app.log.gz",
        "events.ndjson",
        "events.jsonl.gz",
        "notes.txt",
        "job.out",
        "job.err",
        "abc-json.log",
        "abc-json.log.3",
    ],
)
def test_log_names(name: str) -> None:
    assert looks_like_log(name)


@pytest.mark.parametrize(
    "name",
    ["config.v2.json", "hostname", "hosts", "resolv.conf", "app.logger", "app.log.x", "log"],
)
def test_names_that_are_not_logs(name: str) -> None:
    assert not looks_like_log(name)


def test_a_named_file_is_read_whatever_its_name(tmp_path: Path) -> None:
    path = touch(tmp_path / "hostname")
    found = expand_inputs([str(path)])
    assert found.files == [path]
    assert found.problems == []


def test_directory_gives_its_logs_recursively_in_a_stable_order(tmp_path: Path) -> None:
    cid = "a" * 64
    container = tmp_path / "containers" / cid
    touch(container / f"{cid}-json.log")
    touch(container / f"{cid}-json.log.1")
    touch(container / "config.v2.json", b"{}")
    touch(container / "hostname")
    touch(tmp_path / "b.log")
    touch(tmp_path / "a.txt")
    touch(tmp_path / "z" / "deep.log.gz")
    touch(tmp_path / "image.png")
    found = expand_inputs([str(tmp_path)])
    names = [p.relative_to(tmp_path).as_posix() for p in found.files]
    assert names == [
        "a.txt",
        "b.log",
        f"containers/{cid}/{cid}-json.log",
        f"containers/{cid}/{cid}-json.log.1",
        "z/deep.log.gz",
    ]
    assert found.problems == []


def test_each_file_is_listed_once(tmp_path: Path) -> None:
    log = touch(tmp_path / "a.log")
    touch(tmp_path / "b.log")
    link = tmp_path / "link.log"
    os.symlink(log, link)
    found = expand_inputs([str(log), str(tmp_path), str(tmp_path / "*.log"), str(log)])
    resolved = [p.resolve() for p in found.files]
    assert len(resolved) == len(set(resolved)) == 2
    assert found.files[0] == log  # the order the user gave is kept


def test_glob_patterns_including_recursive(tmp_path: Path) -> None:
    touch(tmp_path / "one" / "a.log")
    touch(tmp_path / "two" / "deeper" / "b.log")
    touch(tmp_path / "two" / "c.txt")
    (tmp_path / "dir.log").mkdir()  # a directory matching the pattern is not a file
    found = expand_inputs([str(tmp_path / "**" / "*.log")])
    assert sorted(p.name for p in found.files) == ["a.log", "b.log"]
    assert found.problems == []


def test_problems_are_reported_with_the_path_given(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    touch(tmp_path / "empty" / "hostname")
    good = touch(tmp_path / "ok.log")
    missing = str(tmp_path / "missing.log")
    pattern = str(tmp_path / "*.nothing")
    found = expand_inputs([missing, str(tmp_path / "empty"), pattern, str(good)])
    assert found.files == [good]
    reasons = {problem.path: problem.reason for problem in found.problems}
    assert reasons[missing] == "no such file or directory"
    assert reasons[pattern] == "pattern matches no files"
    assert "holds no log files" in reasons[str(tmp_path / "empty")]
    assert len(found.problems) == 3


def test_input_problem_str() -> None:
    assert str(InputProblem("/x", "nope")) == "/x: nope"


def test_existing_file_with_glob_characters_in_its_name(tmp_path: Path) -> None:
    odd = touch(tmp_path / "we[ir]d.log")
    found = expand_inputs([str(odd)])
    assert found.files == [odd]
    assert found.problems == []
