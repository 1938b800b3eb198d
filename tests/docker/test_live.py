"""``logwharf run`` on a real, private dockerd (see conftest.py), to NDJSON: what it ships
from running containers, containers started later, TTY containers, long lines, short-lived
``--rm`` containers, stack traces, opt-outs, and restarts of the shipper."""

from __future__ import annotations

import re
import signal
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from shipper_process import Es, Gate, Shipper, messages

if TYPE_CHECKING:  # conftest is pytest's to import, not ours
    from conftest import PrivateDocker

IMAGE = "busybox:local"


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def shipper_dirs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "state", tmp_path / "events.ndjson"


def test_running_and_later_containers_stdout_json_and_stderr_text(
    docker_daemon: PrivateDocker, shipper_dirs: tuple[Path, Path]
) -> None:
    state, output = shipper_dirs
    before = name("before")
    docker_daemon.run(
        "-d",
        "--name",
        before,
        "--label",
        "com.docker.compose.project=shop",
        IMAGE,
        "sh",
        "-c",
        'echo \'{"level":"warn","msg":"json line","user":"ann"}\'; '
        "echo plain on stderr >&2; sleep 600",
    )
    shipper = Shipper(docker_daemon.host, state, output)
    try:
        events = shipper.wait_for(lambda e: len(messages(e, before)) >= 2, what="first lines")
        by_message = {e["message"]: e for e in events if e["container"]["name"] == before}
        json_event = by_message["json line"]
        assert json_event["stream"] == "stdout"
        assert json_event["log"]["level"] == "warn"
        assert json_event["app"] == {"user": "ann"}
        assert json_event["container"]["image"] == {"name": "busybox", "tag": ["local"]}
        assert json_event["container"]["labels"]["com_docker_compose_project"] == "shop"
        assert json_event["docker"]["compose"] == {"project": "shop"}
        assert json_event["host"]["name"]
        assert by_message["plain on stderr"]["stream"] == "stderr"
        # A container started after the shipper is followed too.
        later = name("later")
        docker_daemon.run("-d", "--name", later, IMAGE, "sh", "-c", "echo hello; sleep 600")
        shipper.wait_for(lambda e: "hello" in messages(e, later), timeout=10, what="later")
    finally:
        assert shipper.stop() == 0, shipper.stderr()


def test_tty_long_lines_and_stack_traces(
    docker_daemon: PrivateDocker, shipper_dirs: tuple[Path, Path]
) -> None:
    state, output = shipper_dirs
    shipper = Shipper(docker_daemon.host, state, output)
    try:
        tty = name("tty")
        docker_daemon.run("-d", "-t", "--name", tty, IMAGE, "sh", "-c", "echo on a tty; sleep 600")
        long = name("long")
        script = (
            "head -c 40000 /dev/zero | tr '\\0' x; echo; "
            "echo 'Exception in thread \"main\" java.lang.IllegalStateException: boom'; "
            "echo '\tat com.example.Main.run(Main.java:10)'; "
            "echo '\tat com.example.Main.main(Main.java:5)'; "
            "echo 'Caused by: java.io.IOException: disk'; "
            "echo '\t... 2 more'; echo after the trace; sleep 600"
        )
        docker_daemon.run("-d", "--name", long, IMAGE, "sh", "-c", script)
        events = shipper.wait_for(
            lambda e: "on a tty" in messages(e, tty) and "after the trace" in messages(e, long),
            what="tty and trace lines",
        )
        long_messages = messages(events, long)
        assert long_messages[0] == "x" * 40000  # three 16 KiB frames, one event
        trace = long_messages[1]
        assert trace.startswith('Exception in thread "main"') and trace.endswith("... 2 more")
        assert trace.count("\n") == 4
        traced = next(e for e in events if e["message"] == trace)
        assert traced["log"]["flags"] == ["multiline"]
        assert long_messages[2] == "after the trace"
    finally:
        assert shipper.stop() == 0, shipper.stderr()


def test_fifty_short_lived_rm_containers_are_all_captured(
    docker_daemon: PrivateDocker, shipper_dirs: tuple[Path, Path]
) -> None:
    state, output = shipper_dirs
    shipper = Shipper(docker_daemon.host, state, output)
    try:
        time.sleep(1)  # the shipper is listening for events
        run_id = uuid.uuid4().hex[:8]
        for n in range(50):
            docker_daemon.run("--rm", IMAGE, "echo", f"short {run_id} {n}")
        wanted = {f"short {run_id} {n}" for n in range(50)}
        events = shipper.wait_for(
            lambda e: wanted <= set(messages(e)), timeout=60, what="all 50 lines"
        )
        counts = Counter(m for m in messages(events) if m in wanted)
        assert set(counts.values()) == {1}
    finally:
        assert shipper.stop() == 0, shipper.stderr()


def test_label_opt_out_and_name_exclusion(
    docker_daemon: PrivateDocker, shipper_dirs: tuple[Path, Path]
) -> None:
    state, output = shipper_dirs
    shipper = Shipper(docker_daemon.host, state, output, "--exclude-name", "secret-*")
    try:
        out = name("optout")
        docker_daemon.run(
            "-d", "--name", out, "--label", "logwharf.enable=false", IMAGE,
            "sh", "-c", "echo not shipped; sleep 600",
        )  # fmt: skip
        hidden = name("secret")
        docker_daemon.run("-d", "--name", hidden, IMAGE, "sh", "-c", "echo hidden; sleep 600")
        shown = name("shown")
        docker_daemon.run("-d", "--name", shown, IMAGE, "sh", "-c", "echo shown; sleep 600")
        events = shipper.wait_for(lambda e: "shown" in messages(e, shown), what="shown")
        assert not messages(events, out)
        assert not messages(events, hidden)
    finally:
        assert shipper.stop() == 0, shipper.stderr()


def steady_writer(docker_daemon: PrivateDocker, lines: int, pause_every: int = 100) -> str:
    """A container writing ``line 0`` .. ``line N-1``, pausing briefly now and then."""
    container = name("steady")
    docker_daemon.run(
        "-d", "--name", container, IMAGE, "sh", "-c",
        f"i=0; while [ $i -lt {lines} ]; do echo line $i; i=$((i+1)); "
        f"[ $((i % {pause_every})) -eq 0 ] && sleep 0.1; done; sleep 600",
    )  # fmt: skip
    return container


def wait_for_hits(
    es: Es, index: str, wanted: int, shipper: Shipper, timeout: float
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        hits = es.hits(index)
        if len(hits) >= wanted:
            return hits
        if shipper.process.poll() is not None:
            raise AssertionError(f"the shipper exited early:\n{shipper.stderr()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(hits)} of {wanted} documents:\n{shipper.stderr()}")
        time.sleep(0.5)


def assert_exactly_once(hits: list[dict[str, Any]], container: str, lines: int) -> None:
    mine = [hit for hit in hits if hit["_source"]["container"]["name"] == container]
    assert len({hit["_id"] for hit in mine}) == len(mine) == lines
    assert sorted(hit["_source"]["message"] for hit in mine) == sorted(
        f"line {n}" for n in range(lines)
    )


def test_sigkill_in_a_steady_stream_then_restart_loses_and_duplicates_nothing(
    docker_daemon: PrivateDocker, tmp_path: Path, osmem_clone: Any
) -> None:
    es = Es(osmem_clone.url)
    container = steady_writer(docker_daemon, 3000)
    flags = ("--es", osmem_clone.url, "--index", "live-kill", "--include-name", container)
    first = Shipper(docker_daemon.host, tmp_path / "state", None, *flags)
    wait_for_hits(es, "live-kill", 800, first, timeout=60)
    state_file = tmp_path / "state" / "checkpoints.json"
    deadline = time.monotonic() + 10  # saved within a second or two of the acknowledgement
    while not (state_file.exists() and b'"containers"' in state_file.read_bytes()):
        assert time.monotonic() < deadline, first.stderr()
        time.sleep(0.05)
    first.stop(signal.SIGKILL)  # in the middle of the stream, no chance to save anything
    second = Shipper(docker_daemon.host, tmp_path / "state", None, *flags)
    try:
        hits = wait_for_hits(es, "live-kill", 3000, second, timeout=120)
    finally:
        assert second.stop() == 0, second.stderr()
    assert_exactly_once(hits, container, 3000)
    # The second run resumed from the checkpoint: it re-read a little (Docker's since is
    # inclusive, and a second is re-read for the other stream) and recognised it.
    skipped = re.search(r"(\d+) lines skipped as already shipped", second.stderr())
    assert skipped is not None and int(skipped.group(1)) > 0
    assert int(skipped.group(1)) < 3000


def test_elasticsearch_down_for_30_seconds_loses_nothing(
    docker_daemon: PrivateDocker, tmp_path: Path, osmem_clone: Any
) -> None:
    es = Es(osmem_clone.url)
    gate = Gate(int(osmem_clone.url.rsplit(":", 1)[1].rstrip("/")))
    # 1,500 lines over about 30 s: most of them are written while Elasticsearch is away.
    container = steady_writer(docker_daemon, 1500, pause_every=5)
    flags = ("--es", gate.url, "--index", "live-outage", "--include-name", container)
    shipper = Shipper(docker_daemon.host, tmp_path / "state", None, *flags)
    try:
        wait_for_hits(es, "live-outage", 100, shipper, timeout=60)
        gate.shut()
        time.sleep(30)
        assert shipper.process.poll() is None, shipper.stderr()
        gate.open()
        wait_for_hits(es, "live-outage", 1500, shipper, timeout=120)
    finally:
        assert shipper.stop() == 0, shipper.stderr()
        gate.shut()
    assert_exactly_once(es.hits("live-outage"), container, 1500)
    assert "retrying" in shipper.stderr()


def test_a_rename_is_followed_by_the_events_that_come_after(
    docker_daemon: PrivateDocker, shipper_dirs: tuple[Path, Path]
) -> None:
    state, output = shipper_dirs
    old, new = name("old"), name("new")
    docker_daemon.run(
        "-d", "--name", old, IMAGE, "sh", "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done",
    )  # fmt: skip
    shipper = Shipper(docker_daemon.host, state, output)
    try:
        shipper.wait_for(lambda e: len(messages(e, old)) >= 3, what="ticks under the old name")
        docker_daemon.cli("rename", old, new)
        events = shipper.wait_for(lambda e: len(messages(e, new)) >= 3, what="the new name")
    finally:
        assert shipper.stop() == 0, shipper.stderr()
        docker_daemon.cli("rm", "-f", new, check=False)
    ids = {event["container"]["id"] for event in events if event["container"]["name"] in (old, new)}
    assert len(ids) == 1  # one container, one follower, under both names


def test_lines_written_while_the_shipper_was_away_by_a_container_that_then_exited(
    docker_daemon: PrivateDocker, tmp_path: Path, osmem_clone: Any
) -> None:
    es = Es(osmem_clone.url)
    container = name("batch")
    docker_daemon.run(
        "-d", "--name", container, IMAGE, "sh", "-c",
        "i=0; while [ $i -lt 50 ]; do echo line $i; i=$((i+1)); done; "
        "sleep 4; i=50; while [ $i -lt 100 ]; do echo line $i; i=$((i+1)); done",
    )  # fmt: skip
    flags = ("--es", osmem_clone.url, "--index", "live-away", "--include-name", container)
    first = Shipper(docker_daemon.host, tmp_path / "state", None, *flags)
    wait_for_hits(es, "live-away", 50, first, timeout=60)
    time.sleep(1.5)  # the checkpoint is saved
    first.stop(signal.SIGKILL)
    deadline = time.monotonic() + 30
    while "Exited" not in docker_daemon.cli("ps", "-a", "--filter", f"name={container}"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    second = Shipper(docker_daemon.host, tmp_path / "state", None, *flags)
    try:
        hits = wait_for_hits(es, "live-away", 100, second, timeout=60)
    finally:
        assert second.stop() == 0, second.stderr()
    assert_exactly_once(hits, container, 100)
