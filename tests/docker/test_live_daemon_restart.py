"""``logwharf run`` while the Docker daemon itself restarts (see conftest.py: the session's
private dockerd, stopped with SIGTERM and started again): the shipper stays up, reconnects,
and follows again from its checkpoints, so the lines written before and after the restart
all arrive, each once, in order.

The container has ``--restart always`` and prints a fresh boot marker each time it starts,
then ``tick 0``, ``tick 1``, ...: the daemon stops it on the way down and starts it again on
the way up, so its log holds two runs, and each must arrive whole.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from shipper_process import Shipper, messages

if TYPE_CHECKING:  # conftest is pytest's to import, not ours
    from conftest import PrivateDocker

IMAGE = "busybox:local"
# PID 1 ignores SIGTERM unless it traps it: the trap lets the daemon stop it at once.
BOOTING_TICKER = (
    "trap 'exit 0' TERM; "
    "echo boot $(cat /proc/sys/kernel/random/uuid); "
    "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"
)


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def runs(lines: list[str]) -> list[tuple[str, list[str]]]:
    """The container's lines cut at each boot marker: (marker, the lines after it)."""
    cut: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("boot "):
            cut.append((line, []))
        else:
            assert cut, f"a line before the first boot marker: {line!r}"
            cut[-1][1].append(line)
    return cut


def ticks_after_boot(events: list[dict[str, Any]], container: str, boot: int) -> int:
    found = runs(messages(events, container))
    return len(found[boot][1]) if len(found) > boot else 0


def assert_whole_run(lines: list[str], at_least: int) -> None:
    """``tick 0`` .. ``tick N``, every one once, in order: nothing lost, nothing twice."""
    assert len(lines) >= at_least, lines
    assert lines == [f"tick {n}" for n in range(len(lines))], lines


def test_docker_daemon_restart_following_resumes(
    docker_daemon: PrivateDocker, tmp_path: Path
) -> None:
    container = name("reboot")
    later = name("after-restart")
    state = tmp_path / "state"
    output = tmp_path / "events.ndjson"
    docker_daemon.run(
        "-d", "--name", container, "--restart", "always", IMAGE, "sh", "-c", BOOTING_TICKER
    )
    shipper = Shipper(
        docker_daemon.host, state, output, "--include-name", container, "--include-name", later
    )
    try:
        before = shipper.wait_for(
            lambda e: ticks_after_boot(e, container, 0) >= 10, what="ticks before the restart"
        )
        first_boot = runs(messages(before, container))[0][0]
        ours = next(e for e in before if e["container"]["name"] == container)
        container_id = ours["container"]["id"]

        docker_daemon.restart(down_seconds=3)  # long enough for a few failed attempts

        assert shipper.process.poll() is None, shipper.stderr()
        shipper.wait_for(
            lambda e: ticks_after_boot(e, container, 1) >= 10,
            timeout=90,  # the shipper's reconnect backoff grows while the daemon is down
            what="ticks after the restart",
        )
        # The daemon works for others too, and a container started now is followed.
        assert docker_daemon.run("--rm", "--name", later, IMAGE, "echo", "alive") == "alive\n"
        shipper.wait_for(lambda e: "alive" in messages(e, later), timeout=30, what="later")
        assert shipper.process.poll() is None, shipper.stderr()
    finally:
        code = shipper.stop()
        docker_daemon.cli("rm", "-f", container, check=False)
    stderr = shipper.stderr()
    assert code == 0, stderr
    # It noticed, said why, kept trying while the daemon was away, and stayed up.
    assert "reconnecting in" in stderr
    assert f"cannot reach the Docker daemon at {docker_daemon.host}" in stderr
    assert "Traceback" not in stderr

    events = shipper.events()
    mine = [e for e in events if e["container"]["name"] == container]
    assert {e["container"]["id"] for e in mine} == {container_id}
    found = runs(messages(events, container))
    assert [marker for marker, _ in found][:1] == [first_boot]
    assert len(found) == 2, [marker for marker, _ in found]  # one start, one restart
    (marker_1, run_1), (marker_2, run_2) = found
    assert marker_2 != marker_1 and len(marker_2) > len("boot ")
    # The first run whole: the lines written while the shipper was cut off, up to the
    # container's stop, were read after the reconnect, and none of those read before the
    # restart came twice (the checkpoint covered them).
    assert_whole_run(run_1, at_least=10)
    assert_whole_run(run_2, at_least=10)
    # The checkpoint kept the container (it still existed at the reconnect) until the end.
    saved = orjson.loads((state / "checkpoints.json").read_bytes())
    assert container_id in saved["containers"]
