"""The live runtime keeps the fingerprint miner's state in the state directory, so that an
error kind keeps its fingerprint across a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from logwharf.config import validate_config
from logwharf.stage_state import PersistentPipeline
from logwharf.yaml_source import YamlSource

CONFIG = "pipeline:\n  - type: fingerprint\n    id: kinds\n"


def pipeline(state_dir: Path, interval: float = 0.0) -> PersistentPipeline:
    config = validate_config(YamlSource().load(CONFIG, "test.yaml"))
    built = config.build_pipeline(state_dir=state_dir)
    assert built is not None
    return PersistentPipeline(built.stages, interval=interval)


def error(message: str) -> dict[str, Any]:
    return {"message": message, "log": {"level": "error"}}


def fingerprint(stages: PersistentPipeline, message: str) -> str:
    (event,) = stages.process_batch([error(message)])
    return str(event["error"]["fingerprint"])


def test_a_kind_keeps_its_fingerprint_after_a_restart(tmp_path: Path) -> None:
    first = pipeline(tmp_path)
    original = fingerprint(first, "connection reset by peer alice during handshake")
    assert fingerprint(first, "connection reset by peer bob during handshake") == original
    assert list(tmp_path.glob("fingerprint-*.json")), "saved after the batch"

    # A fresh miner would take bob's line as the kind's first template: another hash.
    fresh = pipeline(tmp_path / "elsewhere")
    assert fingerprint(fresh, "connection reset by peer bob during handshake") != original
    restarted = pipeline(tmp_path)
    assert fingerprint(restarted, "connection reset by peer carol during handshake") == original


def test_nothing_is_written_before_the_interval_and_close_writes_it(tmp_path: Path) -> None:
    stages = pipeline(tmp_path, interval=3600)
    fingerprint(stages, "disk /dev/sda1 is full")
    assert not list(tmp_path.glob("fingerprint-*.json"))
    stages.close()
    assert list(tmp_path.glob("fingerprint-*.json"))
