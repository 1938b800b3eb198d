"""The Engine API client against a real, private dockerd (see conftest.py): version
negotiation, listing, events, logs of non-TTY and TTY containers, Docker's 16 KiB pieces,
``since``, attach for ``--rm`` containers, the 501 of ``--log-driver none``, and the
messages a user gets when the daemon cannot be reached."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from logwharf.shipper.docker_api import (
    DockerClient,
    DockerEndpoint,
    DockerLogsUnsupported,
    DockerNotFound,
    DockerStream,
    DockerUnavailable,
    timestamp_nanos,
)
from logwharf.shipper.docker_logs import open_logs
from logwharf.shipper.frames import LogDecoder, LogRecord, MultiplexedDecoder

if TYPE_CHECKING:  # conftest is pytest's to import, not ours
    from conftest import PrivateDocker

IMAGE = "busybox:local"  # made by conftest

# --- helpers -------------------------------------------------------------------------------


def label() -> str:
    """A label of this test alone, to pick its containers and events out."""
    return f"logwharf.test={uuid.uuid4().hex[:12]}"


async def read_all(client: DockerClient, container: str, **options: Any) -> bytes:
    data = b""
    async for chunk in client.logs(container, **options):
        data += chunk
    return data


async def records(
    client: DockerClient, container: str, tty: bool = False, **options: Any
) -> list[LogRecord]:
    decoder = LogDecoder(tty, timestamps=options.get("timestamps", False))
    out: list[LogRecord] = []
    async with client.logs(container, **options) as stream:
        async for chunk in stream:
            out += decoder.feed(chunk)
    return out + decoder.finish()


async def start(docker: PrivateDocker, *args: str) -> asyncio.subprocess.Process:
    """``docker run`` in the background, its output discarded."""
    return await asyncio.create_subprocess_exec(
        *docker.command("run", "--network", "none", *args),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=docker.cli_env(),
    )


@pytest.fixture
def cleanup(docker_daemon: PrivateDocker) -> Iterator[list[str]]:
    """Names or ids to remove (with force) after the test."""
    names: list[str] = []
    yield names
    if names:
        docker_daemon.cli("rm", "-f", *names, check=False)


# --- the daemon ----------------------------------------------------------------------------


async def test_version_is_negotiated_and_prefixes_every_path(
    docker_daemon: PrivateDocker,
) -> None:
    async with DockerClient(docker_daemon.endpoint) as client:
        assert await client.ping() == "OK"
        assert client.api_version is None  # ping needs no version
        info = await client.version()
        assert info["ApiVersion"] == "1.41"  # dockerd 20.10, as on these machines
        assert client.api_version == "1.41"  # the daemon's: below our maximum
    async with DockerClient(docker_daemon.endpoint, max_api_version="1.40") as client:
        assert isinstance(await client.containers(), list)  # negotiates on first use
        assert client.api_version == "1.40"  # ours: the daemon speaks a newer one


async def test_containers_and_inspect(
    docker_client: DockerClient, docker_daemon: PrivateDocker, cleanup: list[str]
) -> None:
    mark = label()
    name = f"lw-running-{uuid.uuid4().hex[:8]}"
    cleanup += [name, f"{name}-done"]
    running = docker_daemon.run("-d", "--name", name, "--label", mark, IMAGE, "sleep", "30").strip()
    docker_daemon.run("--name", f"{name}-done", "--label", mark, IMAGE, "true")
    only = {"label": [mark]}
    listed = await docker_client.containers(filters=only)
    assert [c["Id"] for c in listed] == [running]
    assert {c["Names"][0] for c in await docker_client.containers(all=True, filters=only)} == {
        f"/{name}",
        f"/{name}-done",
    }
    assert running in {c["Id"] for c in await docker_client.containers()}
    details = await docker_client.inspect(name)
    assert details["Id"] == running
    assert details["Name"] == f"/{name}"
    assert details["Config"]["Labels"] == {"logwharf.test": mark.split("=")[1]}
    assert details["Config"]["Tty"] is False
    assert details["HostConfig"]["LogConfig"]["Type"] == "json-file"
    with pytest.raises(DockerNotFound, match="No such container: lw-never-was"):
        await docker_client.inspect("lw-never-was")


async def test_events_of_a_run(docker_client: DockerClient, docker_daemon: PrivateDocker) -> None:
    mark = label()
    seen: list[dict[str, Any]] = []
    async with docker_client.events(filters={"type": ["container"], "label": [mark]}) as events:
        run = await start(docker_daemon, "--rm", "--label", mark, IMAGE, "echo", "hello")

        async def until_destroyed() -> None:
            async for event in events:
                seen.append(event)
                if event["Action"] == "destroy":
                    return

        await asyncio.wait_for(until_destroyed(), 30)
        assert await run.wait() == 0
    actions = [event["Action"] for event in seen]
    assert [a for a in actions if a in ("create", "start", "die", "destroy")] == [
        "create",
        "start",
        "die",
        "destroy",
    ]
    assert len({event["id"] for event in seen}) == 1
    die = next(event for event in seen if event["Action"] == "die")
    assert die["Actor"]["Attributes"]["exitCode"] == "0"
    assert die["Actor"]["Attributes"]["logwharf.test"] == mark.split("=")[1]
    assert die["Actor"]["Attributes"]["image"] == IMAGE
    times = [event["timeNano"] for event in seen]
    assert times == sorted(times) and all(isinstance(t, int) for t in times)
    # The same events again from the past: with until, the stream ends by itself.
    replayed = [
        event["Action"]
        async for event in docker_client.events(
            since=times[0], until=times[-1], filters={"label": [mark]}
        )
    ]
    assert replayed == actions


# --- logs ------------------------------------------------------------------------------------


async def test_logs_of_a_non_tty_container_are_demultiplexed(
    docker_client: DockerClient, docker_daemon: PrivateDocker, cleanup: list[str]
) -> None:
    name = f"lw-mux-{uuid.uuid4().hex[:8]}"
    cleanup.append(name)
    script = (
        'echo \'{"level":"info","msg":"json on stdout"}\'; echo "plain on stderr" >&2; '
        'echo "second on stdout"; printf "no newline at the end" >&2'
    )
    docker_daemon.run("--name", name, IMAGE, "sh", "-c", script)
    got = await records(docker_client, name, timestamps=True)
    by_stream = {
        stream: [r.text for r in got if r.stream == stream] for stream in ("stdout", "stderr")
    }
    assert by_stream == {
        "stdout": ['{"level":"info","msg":"json on stdout"}', "second on stdout"],
        "stderr": ["plain on stderr", "no newline at the end"],
    }
    state = (await docker_client.inspect(name))["State"]
    started, finished = timestamp_nanos(state["StartedAt"]), timestamp_nanos(state["FinishedAt"])
    for record in got:
        assert record.timestamp is not None and not record.truncated
        # Stamped when the daemon read the line: that can be after FinishedAt.
        assert started - 10**9 < timestamp_nanos(record.timestamp) < finished + 10**9
    # one stream only, and no timestamps
    assert await records(docker_client, name, stdout=False) == [
        LogRecord("stderr", None, "plain on stderr"),
        LogRecord("stderr", None, "no newline at the end"),
    ]


async def test_logs_of_a_tty_container_are_raw_lines(
    docker_client: DockerClient, docker_daemon: PrivateDocker, cleanup: list[str]
) -> None:
    name = f"lw-tty-{uuid.uuid4().hex[:8]}"
    cleanup.append(name)
    docker_daemon.run("-t", "--name", name, IMAGE, "sh", "-c", "echo one; echo two >&2")
    assert (await docker_client.inspect(name))["Config"]["Tty"] is True
    async with docker_client.logs(name) as stream:
        assert stream.tty is None  # API 1.41 does not say: inspect's Config.Tty does
        raw = b"".join([chunk async for chunk in stream])
    assert raw == b"one\r\ntwo\r\n"  # a terminal has one stream, and ends lines with \r\n
    assert [(r.stream, r.text) for r in await records(docker_client, name, tty=True)] == [
        ("stdout", "one"),
        ("stdout", "two"),
    ]
    stamped = await records(docker_client, name, tty=True, timestamps=True)
    assert [r.text for r in stamped] == ["one", "two"]
    assert all(r.timestamp is not None for r in stamped)


LONG_LINE = "head -c 40000 /dev/zero | tr '\\0' x; echo; echo after"


async def test_a_40000_byte_line_comes_as_three_frames_and_is_rejoined(
    docker_client: DockerClient, docker_daemon: PrivateDocker, cleanup: list[str]
) -> None:
    name = f"lw-long-{uuid.uuid4().hex[:8]}"
    cleanup.append(name)
    docker_daemon.run("--name", name, IMAGE, "sh", "-c", LONG_LINE)
    raw = await read_all(docker_client, name, timestamps=True)
    decoder = MultiplexedDecoder()
    frames = decoder.feed(raw) + decoder.finish()
    assert len(frames) == 4  # three pieces and "after"
    stamps = {frame.payload.split(b" ", 1)[0] for frame in frames[:3]}
    assert len(stamps) == 1  # every piece has the first piece's timestamp
    pieces = [frame.payload.split(b" ", 1)[1] for frame in frames[:3]]
    assert [len(piece) for piece in pieces] == [16384, 16384, 40000 - 2 * 16384 + 1]
    assert [piece.endswith(b"\n") for piece in pieces] == [False, False, True]
    got = await records(docker_client, name, timestamps=True)
    assert [(r.stream, len(r.text), r.truncated) for r in got] == [
        ("stdout", 40000, False),
        ("stdout", 5, False),
    ]
    assert got[0].text == "x" * 40000
    assert got[0].timestamp == stamps.pop().decode()


async def test_a_40000_byte_line_of_a_tty_container_is_rejoined(
    docker_client: DockerClient, docker_daemon: PrivateDocker, cleanup: list[str]
) -> None:
    name = f"lw-longtty-{uuid.uuid4().hex[:8]}"
    cleanup.append(name)
    docker_daemon.run("-t", "--name", name, IMAGE, "sh", "-c", LONG_LINE)
    raw = await read_all(docker_client, name, timestamps=True)
    assert raw.count(b"Z x") >= 3  # a timestamp before each 16 KiB piece, inside the line
    got = await records(docker_client, name, tty=True, timestamps=True)
    assert [r.text for r in got] == ["x" * 40000, "after"]


async def test_since_is_inclusive_and_to_the_nanosecond(
    docker_client: DockerClient, docker_daemon: PrivateDocker, cleanup: list[str]
) -> None:
    name = f"lw-since-{uuid.uuid4().hex[:8]}"
    cleanup.append(name)
    docker_daemon.run("--name", name, IMAGE, "sh", "-c", "echo one; sleep 0.2; echo two; echo 3")
    everything = await records(docker_client, name, timestamps=True)
    assert [r.text for r in everything] == ["one", "two", "3"]
    second = everything[1].timestamp
    assert second is not None
    again = await records(docker_client, name, timestamps=True, since=second)
    assert [r.text for r in again] == ["two", "3"]  # the line stamped exactly then comes again
    after = await records(docker_client, name, timestamps=True, since=timestamp_nanos(second) + 1)
    assert [r.text for r in after] == ["3"]


async def test_follow_streams_lines_as_they_come_and_ends_with_the_container(
    docker_client: DockerClient, docker_daemon: PrivateDocker, cleanup: list[str]
) -> None:
    name = f"lw-follow-{uuid.uuid4().hex[:8]}"
    cleanup.append(name)
    script = "for i in 1 2 3; do echo line $i; sleep 0.3; done"
    docker_daemon.run("-d", "--name", name, IMAGE, "sh", "-c", script)
    got = await asyncio.wait_for(
        records(docker_client, name, follow=True, timestamps=True), timeout=20
    )
    assert [r.text for r in got] == ["line 1", "line 2", "line 3"]


async def test_logs_of_log_driver_none_raise_the_501_error(
    docker_client: DockerClient, docker_daemon: PrivateDocker, cleanup: list[str]
) -> None:
    name = f"lw-none-{uuid.uuid4().hex[:8]}"
    cleanup.append(name)
    docker_daemon.run("--log-driver", "none", "--name", name, IMAGE, "echo", "lost")
    with pytest.raises(DockerLogsUnsupported) as caught:
        await docker_client.logs(name, follow=True)
    assert caught.value.status == 501
    assert "does not support reading" in caught.value.message
    assert f"cannot read the logs of container {name}" in str(caught.value)
    with pytest.raises(DockerNotFound):
        await docker_client.logs("lw-never-was")


# --- the raw logs stream of the live shipper (docker_logs.open_logs) --------------------


async def raw_logs(client: DockerClient, container: str, **options: Any) -> bytes:
    stream = await open_logs(client, container, **options)
    try:
        return b"".join([chunk async for chunk in stream])
    finally:
        stream.close()


@pytest.mark.parametrize("tty", [False, True])
async def test_the_raw_logs_stream_is_the_clients_stream(
    docker_client: DockerClient, docker_daemon: PrivateDocker, cleanup: list[str], tty: bool
) -> None:
    name = f"lw-raw-{uuid.uuid4().hex[:8]}"
    cleanup.append(name)
    script = f"{LONG_LINE}; seq 1 3000; echo on stderr >&2; printf 'no newline'"
    docker_daemon.run(*(["-t"] if tty else []), "--name", name, IMAGE, "sh", "-c", script)
    for options in ({"timestamps": True}, {"timestamps": False}):
        assert await raw_logs(docker_client, name, **options) == await read_all(
            docker_client, name, **options
        )
    everything = await read_all(docker_client, name, timestamps=True)
    second = LogDecoder(tty, True).feed(everything)[1].timestamp
    assert second is not None
    assert await raw_logs(docker_client, name, timestamps=True, since=second) == await read_all(
        docker_client, name, timestamps=True, since=second
    )


async def test_the_raw_logs_stream_follows_until_the_container_ends(
    docker_client: DockerClient, docker_daemon: PrivateDocker, cleanup: list[str]
) -> None:
    name = f"lw-rawfollow-{uuid.uuid4().hex[:8]}"
    cleanup.append(name)
    script = "for i in 1 2 3; do echo line $i; sleep 0.3; done"
    docker_daemon.run("-d", "--name", name, IMAGE, "sh", "-c", script)
    decoder = LogDecoder(False, True)
    stream = await open_logs(docker_client, name, follow=True, timestamps=True)
    try:
        got = [r.text async for chunk in stream for r in decoder.feed(chunk)]
    finally:
        stream.close()
    assert got == ["line 1", "line 2", "line 3"]


async def test_the_raw_logs_stream_raises_the_clients_refusals(
    docker_client: DockerClient, docker_daemon: PrivateDocker, cleanup: list[str]
) -> None:
    name = f"lw-rawnone-{uuid.uuid4().hex[:8]}"
    cleanup.append(name)
    docker_daemon.run("--log-driver", "none", "--name", name, IMAGE, "echo", "lost")
    with pytest.raises(DockerLogsUnsupported) as caught:
        await open_logs(docker_client, name, follow=True)
    assert caught.value.status == 501
    assert f"cannot read the logs of container {name}" in str(caught.value)
    with pytest.raises(DockerNotFound):
        await open_logs(docker_client, "lw-never-was")


# --- short-lived containers --------------------------------------------------------------


async def test_attach_on_create_captures_rm_containers(
    docker_client: DockerClient, docker_daemon: PrivateDocker
) -> None:
    mark = label()
    count = 3
    captured: dict[str, list[tuple[str, str]]] = {}
    streams: dict[str, DockerStream[bytes]] = {}
    readers: list[asyncio.Task[None]] = []
    destroyed: set[str] = set()

    async def capture(container: str) -> None:
        # Opened on the create event; the daemon answers at once, attached.
        async with docker_client.attach(container) as stream:
            streams[container] = stream
            decoder = LogDecoder(tty=False, timestamps=False)
            got = [record for chunk in [c async for c in stream] for record in decoder.feed(chunk)]
        captured[container] = [(r.stream, r.text) for r in got + decoder.finish()]

    async def close_later(container: str) -> None:
        # Attached after the container exited, the stream would wait for a restart forever.
        await asyncio.sleep(1)
        if container in streams:
            streams[container].close()

    async with docker_client.events(filters={"type": ["container"], "label": [mark]}) as events:
        runs = [
            await start(docker_daemon, "--rm", "-d", "--label", mark, IMAGE, "sh", "-c", script)
            for script in (f"echo out {i}; echo err {i} >&2" for i in range(count))
        ]

        async def follow_events() -> None:
            async for event in events:
                if event["Action"] == "create":
                    readers.append(asyncio.create_task(capture(event["id"])))
                elif event["Action"] == "destroy":
                    destroyed.add(event["id"])
                    readers.append(asyncio.create_task(close_later(event["id"])))
                    if len(destroyed) == count:
                        return

        await asyncio.wait_for(follow_events(), 30)
        await asyncio.wait_for(asyncio.gather(*readers), 10)
        for run in runs:
            assert await run.wait() == 0
    assert set(captured) == destroyed
    indexes = set()
    for lines in captured.values():
        index = lines[0][1][-1]
        indexes.add(index)
        # Every line; twice when the attach came after the first output (logs=1 replays
        # what was logged, and the live stream was attached just before).
        assert set(lines) == {("stdout", f"out {index}"), ("stderr", f"err {index}")}, lines
        assert len(lines) in (2, 4), lines
    assert indexes == {str(i) for i in range(count)}
    # Their logs are gone with them: attach was the only way.
    with pytest.raises(DockerNotFound):
        await docker_client.logs(next(iter(destroyed)))


# --- messages when the daemon cannot be reached --------------------------------------------


async def test_no_such_socket() -> None:
    path = Path(tempfile.gettempdir()) / f"lw-missing-{uuid.uuid4().hex[:8]}.sock"
    async with DockerClient(DockerEndpoint.unix(path)) as client:
        with pytest.raises(DockerUnavailable) as caught:
            await client.ping()
    assert str(caught.value) == (
        f"cannot reach the Docker daemon at unix://{path}: no such file "
        "(is dockerd running? set DOCKER_HOST)"
    )


async def test_socket_without_a_listener_and_tcp_port_without_one() -> None:
    folder = Path(tempfile.mkdtemp(prefix="lw-", dir="/tmp"))
    try:
        with socket.socket(socket.AF_UNIX) as bound:
            bound.bind(str(folder / "s.sock"))  # bound, never listening: refused
            async with DockerClient(DockerEndpoint.unix(folder / "s.sock")) as client:
                with pytest.raises(DockerUnavailable, match=r"s\.sock: connection refused \("):
                    await client.ping()
    finally:
        shutil.rmtree(folder)
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))  # a port that is ours and has no listener
        port = bound.getsockname()[1]
        endpoint = DockerEndpoint.from_env({"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})
        async with DockerClient(endpoint) as client:
            with pytest.raises(DockerUnavailable) as caught:
                await client.version()
    assert str(caught.value) == (
        f"cannot reach the Docker daemon at tcp://127.0.0.1:{port}: connection refused "
        "(is dockerd listening there? check DOCKER_HOST)"
    )


PING_AS_USER = """
import asyncio, sys
from logwharf.shipper.docker_api import DockerClient, DockerEndpoint, DockerUnavailable

async def main():
    async with DockerClient(DockerEndpoint.unix(sys.argv[1])) as client:
        try:
            await client.ping()
        except DockerUnavailable as error:
            print(error)

asyncio.run(main())
"""


def test_socket_without_permission() -> None:
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to connect as another user")
    folder = Path(tempfile.mkdtemp(prefix="lw-", dir="/tmp"))
    try:
        folder.chmod(0o755)
        path = folder / "docker.sock"
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(path))
            server.listen()
            python = [sys.executable, "-c", PING_AS_USER, str(path)]
            # Another user's socket, as /var/run/docker.sock is to a user not in the docker
            # group; the client stays root (so it can read the project wherever it lies, a
            # private temporary folder in CI) but without the capabilities that let root
            # past file permissions.
            os.chown(path, 65534, 65534)
            path.chmod(0o600)
            done = subprocess.run(
                [setpriv, "--bounding-set=-dac_override,-dac_read_search", *python],
                capture_output=True,
                text=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(folder)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"cannot reach the Docker daemon at unix://{path}: permission denied; "
        "run as a user in the docker group or mount the socket"
    )
