"""Where the Docker daemon is (DOCKER_HOST and the TLS variables, as the docker CLI reads
them), and times in the ``SECONDS.NANOS`` form that ``since`` needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from logwharf.shipper.docker_api import (
    DockerEndpoint,
    DockerError,
    format_since,
    timestamp_nanos,
)

# --- DOCKER_HOST -------------------------------------------------------------------------


@pytest.mark.parametrize("environ", [{}, {"DOCKER_HOST": ""}, {"DOCKER_HOST": "  "}])
def test_default_is_the_standard_socket(environ: dict[str, str]) -> None:
    endpoint = DockerEndpoint.from_env(environ)
    assert endpoint.address == "unix:///var/run/docker.sock"
    assert endpoint.socket_path == "/var/run/docker.sock"
    assert endpoint.base_url == "http://docker"
    assert not endpoint.tls
    assert endpoint.ssl_context() is None


def test_unix_socket_path() -> None:
    endpoint = DockerEndpoint.from_env({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"})
    assert endpoint.socket_path == "/run/user/1000/docker.sock"
    assert endpoint.address == "unix:///run/user/1000/docker.sock"
    assert DockerEndpoint.unix("/tmp/d/docker.sock").socket_path == "/tmp/d/docker.sock"
    assert DockerEndpoint.from_env({"DOCKER_HOST": "unix://"}).socket_path == (
        "/var/run/docker.sock"
    )


def test_unix_socket_path_too_long_says_so() -> None:
    with pytest.raises(ValueError, match=r"DOCKER_HOST=.*at most 107 bytes"):
        DockerEndpoint.from_env({"DOCKER_HOST": "unix:///" + "d" * 120})


@pytest.mark.parametrize(
    ("host", "address", "base_url"),
    [
        ("tcp://docker.example:2375", "tcp://docker.example:2375", "http://docker.example:2375"),
        ("tcp://10.0.0.5", "tcp://10.0.0.5:2375", "http://10.0.0.5:2375"),
        ("tcp://:2375", "tcp://localhost:2375", "http://localhost:2375"),
        ("TCP://Docker.example:2375/", "tcp://docker.example:2375", "http://docker.example:2375"),
        ("docker.example:2375", "tcp://docker.example:2375", "http://docker.example:2375"),
        ("tcp://[::1]:2375", "tcp://[::1]:2375", "http://[::1]:2375"),
        ("http://127.0.0.1:2375", "http://127.0.0.1:2375", "http://127.0.0.1:2375"),
    ],
)
def test_tcp_without_tls(host: str, address: str, base_url: str) -> None:
    endpoint = DockerEndpoint.from_env({"DOCKER_HOST": host, "HOME": "/nonexistent"})
    assert (endpoint.address, endpoint.base_url, endpoint.tls) == (address, base_url, False)
    assert endpoint.socket_path is None


def write_certificates(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("not really PEM\n")


def test_tls_verify_uses_https_and_the_files_of_docker_cert_path(tmp_path: Path) -> None:
    write_certificates(tmp_path / "certs", "ca.pem", "cert.pem", "key.pem")
    endpoint = DockerEndpoint.from_env(
        {
            "DOCKER_HOST": "tcp://docker.example",
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": str(tmp_path / "certs"),
        }
    )
    assert endpoint.base_url == "https://docker.example:2376"  # TLS's default port
    assert endpoint.address == "tcp://docker.example:2376"
    assert endpoint.tls
    assert endpoint.ca_file == str(tmp_path / "certs" / "ca.pem")
    assert endpoint.cert_file == str(tmp_path / "certs" / "cert.pem")
    assert endpoint.key_file == str(tmp_path / "certs" / "key.pem")
    # files that are no certificates: a clear error naming the folder, not a traceback
    with pytest.raises(DockerError, match=r"cannot load the TLS files in .*certs"):
        endpoint.ssl_context()


def test_tls_cert_path_defaults_to_home_docker(tmp_path: Path) -> None:
    write_certificates(tmp_path / ".docker", "ca.pem")
    endpoint = DockerEndpoint.from_env(
        {"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1", "HOME": str(tmp_path)}
    )
    assert endpoint.ca_file == str(tmp_path / ".docker" / "ca.pem")
    assert endpoint.cert_file is None and endpoint.key_file is None


def test_https_without_any_files_uses_the_system_cas(tmp_path: Path) -> None:
    endpoint = DockerEndpoint.from_env({"DOCKER_HOST": "https://h:2376", "HOME": str(tmp_path)})
    assert endpoint.tls and endpoint.ca_file is None
    assert endpoint.ssl_context() is not None


def test_tls_verify_unset_or_empty_means_plain_tcp() -> None:
    endpoint = DockerEndpoint.from_env({"DOCKER_HOST": "tcp://h:2375", "DOCKER_TLS_VERIFY": ""})
    assert endpoint.base_url == "http://h:2375"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DOCKER_HOST": "ftp://h"}, r"DOCKER_HOST=ftp://h is not a Docker daemon address; use"),
        ({"DOCKER_HOST": "ssh://me@h"}, r"DOCKER_HOST=ssh://me@h: ssh:// is not supported"),
        ({"DOCKER_HOST": "npipe:////./pipe/docker_engine"}, r"not a Docker daemon address"),
        ({"DOCKER_HOST": "tcp://h:port"}, r"DOCKER_HOST=tcp://h:port has no valid port"),
        ({"DOCKER_HOST": "tcp://h:99999"}, r"has no valid port"),
        ({"DOCKER_HOST": "tcp://h:2375/some/path"}, r"only a host and a port"),
        ({"DOCKER_HOST": "tcp://user:pw@h:2375"}, r"only a host and a port"),
        (
            {"DOCKER_HOST": "http://h:2376", "DOCKER_TLS_VERIFY": "1"},
            r"plain http but DOCKER_TLS_VERIFY is set",
        ),
        (
            {"DOCKER_HOST": "tcp://h", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/nothing"},
            r"DOCKER_CERT_PATH=/nothing is not a folder",
        ),
    ],
)
def test_bad_settings_name_the_variable_and_the_fix(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DockerEndpoint.from_env(environ)


def test_client_certificate_without_its_key(tmp_path: Path) -> None:
    write_certificates(tmp_path, "cert.pem")
    with pytest.raises(ValueError, match=r"key.pem is missing"):
        DockerEndpoint.from_env(
            {"DOCKER_HOST": "tcp://h", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)}
        )


# --- since ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2024-05-01T12:00:00.123456789Z", "1714564800.123456789"),
        ("2024-05-01T12:00:00.000000001Z", "1714564800.000000001"),
        ("2024-05-01T12:00:00.5Z", "1714564800.500000000"),  # Go trims trailing zeros
        ("2024-05-01T12:00:00Z", "1714564800.000000000"),
        ("2024-05-01T14:00:00.25+02:00", "1714564800.250000000"),
        ("2024-05-01T10:30:00.25-01:30", "1714564800.250000000"),
        ("2024-05-01t12:00:00z", "1714564800.000000000"),
        ("1970-01-01T00:00:00Z", "0.000000000"),
        (1_714_564_800_123_456_789, "1714564800.123456789"),  # timeNano of an event
        (5, "0.000000005"),
        ("1714564800", "1714564800.000000000"),
        ("1714564800.5", "1714564800.500000000"),
        ("1714564800.000000042", "1714564800.000000042"),
    ],
)
def test_format_since(timestamp: str | int, expected: str) -> None:
    assert format_since(timestamp) == expected


@pytest.mark.parametrize(
    "timestamp",
    ["", "yesterday", "2024-05-01 12:00:00Z", "2024-05-01T12:00:00.1234567891Z", "1.2.3", -1],
)
def test_format_since_refuses_what_is_no_time(timestamp: str | int) -> None:
    with pytest.raises(ValueError):
        format_since(timestamp)


def test_timestamp_nanos_orders_like_the_timestamps() -> None:
    earlier = timestamp_nanos("2024-05-01T12:00:00.999999999Z")
    later = timestamp_nanos("2024-05-01T12:00:01Z")
    assert later - earlier == 1
