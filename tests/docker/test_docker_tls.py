"""``DOCKER_HOST=tcp://...`` with ``DOCKER_TLS_VERIFY`` and ``DOCKER_CERT_PATH``, against a
second private dockerd that listens on TCP with mutual TLS (certificates made here with the
openssl command line): the client verifies the daemon and shows its own certificate, as the
docker CLI does; without a client certificate the daemon refuses it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from logwharf.shipper.docker_api import DockerClient, DockerEndpoint, DockerError, DockerNotFound
from logwharf.shipper.docker_logs import open_logs

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(folder: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as Docker's
    "protect the daemon socket" guide makes them."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout",
            "ca-key.pem", "-out", "ca.pem", "-subj", "/CN=test-ca", cwd=folder)  # fmt: skip
    for who, extension in (
        ("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        (folder / f"{who}.ext").write_text(extension + "\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{who}-key.pem",
                "-out", f"{who}.csr", "-subj", f"/CN={who}", cwd=folder)  # fmt: skip
        openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
                "-CAcreateserial", "-days", "2", "-out", f"{who}-cert.pem",
                "-extfile", f"{who}.ext", cwd=folder)  # fmt: skip
    # The names the docker CLI (and DOCKER_CERT_PATH) expect for the client.
    shutil.copy(folder / "client-cert.pem", folder / "cert.pem")
    shutil.copy(folder / "client-key.pem", folder / "key.pem")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def tls_daemon() -> Iterator[tuple[int, Path]]:
    dockerd = shutil.which("dockerd", path=PATH)
    if dockerd is None or shutil.which("openssl") is None or os.geteuid() != 0:
        reason = "dockerd, openssl and root are needed for a private TLS daemon"
        if os.environ.get("LOGWHARF_REQUIRE_DOCKER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="lwt-", dir="/tmp"))
    certs = root / "certs"
    certs.mkdir()
    make_certificates(certs)
    port = free_port()
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [dockerd, "--iptables=false", "--ip6tables=false", "--bridge=none",
         "--storage-driver=vfs", "--data-root", str(root / "data"),
         "--exec-root", str(root / "exec"), "--pidfile", str(root / "pid"),
         "-H", f"unix://{root}/d.sock", "-H", f"tcp://127.0.0.1:{port}", "--tlsverify",
         "--tlscacert", str(certs / "ca.pem"), "--tlscert", str(certs / "server-cert.pem"),
         "--tlskey", str(certs / "server-key.pem")],
        stdout=log, stderr=subprocess.STDOUT, env={"PATH": PATH, "HOME": str(root)},
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = (root / "dockerd.log").read_text(errors="replace")[-2000:]
                    pytest.fail(f"the TLS dockerd did not start:\n{tail}")
                time.sleep(0.1)
        yield port, certs
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        subprocess.run(["umount", "-R", str(root / "exec")], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


async def test_tcp_with_tls_verify_and_client_certificates(tls_daemon: tuple[int, Path]) -> None:
    port, certs = tls_daemon
    endpoint = DockerEndpoint.from_env(
        {
            "DOCKER_HOST": f"tcp://127.0.0.1:{port}",
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": str(certs),
        }
    )
    async with DockerClient(endpoint) as client:
        assert await client.ping() == "OK"
        assert (await client.negotiated_version()).startswith("1.")
        assert await client.containers(all=True) == []
        # the live shipper's raw logs stream goes over the same TLS connection
        with pytest.raises(DockerNotFound):
            await open_logs(client, "lw-never-was", follow=True, timestamps=True)


async def test_without_a_client_certificate_the_daemon_refuses(
    tls_daemon: tuple[int, Path], tmp_path: Path
) -> None:
    port, certs = tls_daemon
    shutil.copy(certs / "ca.pem", tmp_path / "ca.pem")  # trusts the daemon, shows no cert
    endpoint = DockerEndpoint.from_env(
        {
            "DOCKER_HOST": f"tcp://127.0.0.1:{port}",
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": str(tmp_path),
        }
    )
    with pytest.raises(DockerError) as caught:
        async with DockerClient(endpoint) as client:
            await client.ping()
    assert f"127.0.0.1:{port}" in str(caught.value)


async def test_a_daemon_certificate_from_another_ca_is_not_trusted(
    tls_daemon: tuple[int, Path], tmp_path: Path
) -> None:
    port, _ = tls_daemon
    make_certificates(tmp_path)  # a CA of its own, not the daemon's
    endpoint = DockerEndpoint.from_env(
        {
            "DOCKER_HOST": f"tcp://127.0.0.1:{port}",
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": str(tmp_path),
        }
    )
    with pytest.raises(DockerError) as caught:
        async with DockerClient(endpoint) as client:
            await client.ping()
    message = str(caught.value).lower()
    assert "certificate" in message or "tls" in message or "ssl" in message
