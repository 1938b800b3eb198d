"""A private Docker daemon for the test session, and a busybox image made without a registry.

The daemon has its own data, exec root and socket in a short folder under the system temp
folder (unix socket paths are limited to about 100 bytes), no iptables, no bridge and the
vfs storage driver, so it disturbs nothing on the machine; the system daemon's socket is
never used. When dockerd is missing or cannot start, the tests that need it are skipped with
the reason (the end of dockerd's own output).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from logwharf.shipper.docker_api import DockerClient, DockerEndpoint

IMAGE = "busybox:local"
APPLETS = ("sh", "echo", "sleep", "seq", "cat", "head", "tr", "printf", "yes", "true", "dd")
START_TIMEOUT = 30.0
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class PrivateDocker:
    """The running private daemon: where it listens, and the docker CLI pointed at it."""

    root: Path
    socket_path: str
    process: subprocess.Popen[bytes]

    @property
    def host(self) -> str:
        """The ``DOCKER_HOST`` value for this daemon."""
        return f"unix://{self.socket_path}"

    @property
    def endpoint(self) -> DockerEndpoint:
        return DockerEndpoint.unix(self.socket_path)

    def command(self, *args: str) -> list[str]:
        """A docker CLI command line for this daemon (to start with asyncio, say)."""
        return ["docker", "-H", self.host, *args]

    def cli_env(self) -> dict[str, str]:
        """The CLI's environment: nothing that could point it at another daemon."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("DOCKER_") or key == "DOCKER_BUILDKIT"
        }
        env["DOCKER_CONFIG"] = str(self.root / "cli")
        env["PATH"] = PATH
        return env

    def cli(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        """Runs the docker CLI; its stdout."""
        done = subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            env=self.cli_env(),
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} -> {done.returncode}\n{done.stderr}")
        return done.stdout

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        """``docker run --network none ARGS`` (there is no bridge); its stdout (the id with
        ``-d``)."""
        return self.cli("run", "--network", "none", *args, check=check, timeout=timeout)

    def restart(
        self,
        down_seconds: float = 0,
        stop_timeout: float = 90,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        """Stops the daemon with SIGTERM (it stops its containers first: those with a
        restart policy start again with it), waits for it to exit and ``down_seconds`` more,
        starts it again with the same arguments, socket and data, and returns once it
        answers ``/_ping``.

        ``process`` stays the same object and takes over the new daemon: the session
        fixture's teardown holds that object, and so stops the new daemon.
        """
        old = self.process
        log_path = self.root / "dockerd.log"
        if old.poll() is None:
            old.send_signal(signal.SIGTERM)
            try:
                old.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                raise AssertionError(
                    f"dockerd did not stop within {stop_timeout:g} s of SIGTERM:\n{_tail(log_path)}"
                ) from None
        time.sleep(down_seconds)
        with open(log_path, "ab") as log:
            new = subprocess.Popen(
                old.args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={"PATH": PATH, "HOME": str(self.root)},
                start_new_session=True,
            )
        vars(old).update(vars(new))
        vars(new)["_child_created"] = False  # `old` owns the child now, not this object
        deadline = time.monotonic() + start_timeout
        while not _ping(self.socket_path):
            if old.poll() is not None:
                raise AssertionError(
                    f"dockerd exited with {old.returncode} at restart:\n{_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"dockerd did not answer in {start_timeout:g} s after a restart:\n"
                    f"{_tail(log_path)}"
                )
            time.sleep(0.1)


def _ping(socket_path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as connection:
            connection.settimeout(2)
            connection.connect(socket_path)
            connection.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b"OK" in connection.recv(4096)
    except OSError:
        return False


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def _busybox() -> str:
    """A static busybox (the image has no libc): Debian's busybox-static."""
    for candidate in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if candidate and os.path.isfile(candidate):
            with open(candidate, "rb") as binary:
                if b"/ld-linux" not in binary.read(4096):  # no program interpreter
                    return candidate
    _cannot_run("no static busybox to make the test image; apt-get install busybox-static")


def _image_tar(busybox: str) -> bytes:
    """A root file system of busybox and its applet links, as ``docker import`` takes it."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        folder = tarfile.TarInfo("bin")
        folder.type = tarfile.DIRTYPE
        folder.mode = 0o755
        tar.addfile(folder)
        tar.add(busybox, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        tmp = tarfile.TarInfo("tmp")
        tmp.type = tarfile.DIRTYPE
        tmp.mode = 0o1777
        tar.addfile(tmp)
    return data.getvalue()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _remove(root: Path) -> None:
    """The daemon's folder, after unmounting whatever it left mounted below it."""
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    for point in sorted(points, reverse=True):
        if point.startswith(str(root) + "/"):
            subprocess.run(["umount", "-l", point], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def _cannot_run(reason: str) -> NoReturn:
    """Skip, with the reason, or fail where the Docker tests must run (CI sets
    ``LOGWHARF_REQUIRE_DOCKER=1``: a skipped test there would be a silent gap)."""
    if os.environ.get("LOGWHARF_REQUIRE_DOCKER") == "1":
        pytest.fail(f"the Docker tests must run here, but: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_daemon() -> Iterator[PrivateDocker]:
    """A private dockerd with the ``busybox:local`` image, for the whole session."""
    dockerd = shutil.which("dockerd", path=PATH)
    if dockerd is None:
        _cannot_run("dockerd is not installed (apt-get install docker.io busybox-static)")
    if shutil.which("docker", path=PATH) is None:
        _cannot_run("the docker CLI is not installed (apt-get install docker.io)")
    if os.geteuid() != 0:
        _cannot_run("a private dockerd needs root")
    busybox = _busybox()
    root = Path(tempfile.mkdtemp(prefix="lwd-", dir="/tmp"))  # short: socket path limit
    socket_path = str(root / "docker.sock")
    log_path = root / "dockerd.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                dockerd,
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--storage-driver=vfs",
                "--data-root",
                str(root / "data"),
                "--exec-root",
                str(root / "exec"),
                "-H",
                f"unix://{socket_path}",
                "--pidfile",
                str(root / "dockerd.pid"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PATH": PATH, "HOME": str(root)},
            start_new_session=True,  # a Ctrl-C of pytest does not reach it before teardown
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _ping(socket_path):
            if process.poll() is not None:
                _cannot_run(
                    f"dockerd exited with {process.returncode} at start:\n{_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                _cannot_run(f"dockerd did not answer in {START_TIMEOUT:g} s:\n{_tail(log_path)}")
            time.sleep(0.1)
        daemon = PrivateDocker(root, socket_path, process)
        imported = subprocess.run(
            daemon.command("import", "-", IMAGE),
            input=_image_tar(busybox),
            capture_output=True,
            env=daemon.cli_env(),
            timeout=120,
        )
        if imported.returncode != 0:
            _cannot_run(f"docker import of {IMAGE} failed: {imported.stderr.decode()[-2000:]}")
        yield daemon
    finally:
        _stop(process)
        _remove(root)


@pytest.fixture
async def docker_client(docker_daemon: PrivateDocker) -> AsyncIterator[DockerClient]:
    async with DockerClient(docker_daemon.endpoint) as client:
        yield client
