"""``logwharf run --config`` on a real dockerd into the Elasticsearch-compatible server: the
configured stages run on live events, dropped lines still move the checkpoint, secrets are
masked before they leave, and a route picks the index."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipper_process import Es, Shipper
from test_live import IMAGE, name, wait_for_hits

if TYPE_CHECKING:
    from conftest import PrivateDocker

CONFIG = """\
pipeline:
  - type: default
  - type: drop
    if: {field: message, starts_with: "drop "}
  - type: redact
  - type: set
    fields:
      service.name: "%{container.name}"
  - type: route
    rules:
      - if: {field: log.level, equals: error}
        index: live-errors
"""


def _stopped_line(stderr: str) -> tuple[int, int, int]:
    found = re.search(
        r"(\d+) lines read, (\d+) events, (\d+) lines skipped as already shipped", stderr
    )
    assert found is not None, stderr
    read, events, skipped = (int(group) for group in found.groups())
    return read, events, skipped


def test_configured_stages_on_live_events_and_drops_move_the_checkpoint(
    docker_daemon: PrivateDocker, tmp_path: Path, osmem_clone: Any
) -> None:
    es = Es(osmem_clone.url)
    config = tmp_path / "logwharf.yaml"
    config.write_text(CONFIG)
    container = name("piped")
    docker_daemon.run(
        "-d", "--name", container, IMAGE, "sh", "-c",
        "i=0; while [ $i -lt 40 ]; do echo keep $i; i=$((i+1)); done; "
        "echo 'login failed: password=hunter2 for bob'; "
        "echo 'ERROR payment 7 failed'; "
        "i=0; while [ $i -lt 60 ]; do echo drop $i; i=$((i+1)); done; sleep 600",
    )  # fmt: skip
    flags = ("--es", osmem_clone.url, "--index", "live-main", "--include-name", container)
    state = tmp_path / "state"
    first = Shipper(docker_daemon.host, state, None, *flags, "--config", str(config))
    try:
        main = wait_for_hits(es, "live-main", 41, first, timeout=60)
        errors = wait_for_hits(es, "live-errors", 1, first, timeout=30)
        time.sleep(2.5)  # the checkpoint is saved within a second or two of the acks
    finally:
        assert first.stop(signal.SIGTERM) == 0, first.stderr()
    read, events, _ = _stopped_line(first.stderr())
    assert read == 102 and events == 42  # 60 dropped on purpose
    assert "dropped" not in {hit["_source"].get("message", "")[:4] for hit in main}
    sources = [hit["_source"] for hit in main + errors]
    assert sorted(s["message"] for s in sources if s["message"].startswith("keep")) == sorted(
        f"keep {i}" for i in range(40)
    )
    assert all(s["service"]["name"] == container for s in sources)
    assert not any("hunter2" in str(s) for s in sources)
    (secret,) = [s for s in sources if s["message"].startswith("login failed")]
    assert "password=[REDACTED]" in secret["message"]
    assert [hit["_source"]["message"] for hit in errors] == ["ERROR payment 7 failed"]

    # Restart: everything read again at the boundary was acknowledged before, the dropped
    # tail included (a checkpoint held back by dropped lines would re-read them as new).
    second = Shipper(docker_daemon.host, state, None, *flags, "--config", str(config))
    try:
        deadline = time.monotonic() + 20
        while "following 1 container" not in second.stderr():
            assert time.monotonic() < deadline, second.stderr()
            assert second.process.poll() is None, second.stderr()
            time.sleep(0.1)
        time.sleep(2)
    finally:
        assert second.stop(signal.SIGTERM) == 0, second.stderr()
    read, events, skipped = _stopped_line(second.stderr())
    # Lines read again and recognised count as skipped, not read.
    assert read == 0 and events == 0 and skipped > 0, second.stderr()
    assert len(es.hits("live-main")) == 41 and len(es.hits("live-errors")) == 1
