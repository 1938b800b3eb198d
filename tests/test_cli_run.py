"""``logwharf run`` from the command line, without a Docker daemon: configuration it cannot
use is a usage error (exit 2) whose message names the problem, before anything is read or
sent; a daemon that is not there is waited for, with a clear warning, and SIGTERM still
stops the shipper cleanly (exit 0)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # conftest is pytest's to import, not ours (there are two)
    from conftest import Run, RunLogwharf

Popen = subprocess.Popen[bytes]
MISSING_SOCKET = "unix:///tmp/logwharf-test-no-such-dir/docker.sock"


def docker_env(host: str = MISSING_SOCKET, **more: str) -> dict[str, str]:
    """Only this DOCKER_HOST: nothing of the machine's Docker settings."""
    env = {key: "" for key in os.environ if key.startswith("DOCKER_")}
    return {**env, "DOCKER_HOST": host, **more}


def assert_clean(stderr: str) -> None:
    """Messages, never a traceback or a leaked resource."""
    for sign in ("Traceback (most recent call last)", "Unclosed client session", "never retrieved"):
        assert sign not in stderr, stderr


def assert_usage_error(run: Run, *words: str) -> None:
    assert run.returncode == 2, run
    stderr = run.stderr
    assert_clean(stderr)
    for word in words:
        assert word in stderr, run
    assert "reconnecting" not in stderr, run  # it stopped before trying the daemon


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ("ssh://me@docker-host", ["DOCKER_HOST=ssh://me@docker-host", "ssh:// is not supported"]),
        ("ftp://x", ["DOCKER_HOST=ftp://x", "is not a Docker daemon address"]),
        ("tcp://host:notaport", ["DOCKER_HOST=tcp://host:notaport", "port"]),
        ("unix:///" + "d" * 200 + "/docker.sock", ["unix socket path may be at most"]),
    ],
)
def test_a_docker_host_that_cannot_be_used(
    run_logwharf: RunLogwharf, tmp_path: Path, host: str, words: list[str]
) -> None:
    run = run_logwharf(
        ["run", "--state-dir", tmp_path / "state", "--output", tmp_path / "out.ndjson"],
        env=docker_env(host),
    )
    assert_usage_error(run, "logwharf: error:", *words)


def test_plain_http_with_tls_verify_is_refused(run_logwharf: RunLogwharf, tmp_path: Path) -> None:
    run = run_logwharf(
        ["run", "--state-dir", tmp_path / "state", "--output", tmp_path / "out.ndjson"],
        env=docker_env("http://127.0.0.1:2375", DOCKER_TLS_VERIFY="1"),
    )
    assert_usage_error(run, "DOCKER_TLS_VERIFY")


@pytest.mark.parametrize("pattern", ["(", "[a-", "*oops", "a{2,1}"])
def test_an_invalid_multiline_pattern(
    run_logwharf: RunLogwharf, tmp_path: Path, pattern: str
) -> None:
    run = run_logwharf(
        [
            "run",
            "--state-dir",
            tmp_path / "state",
            "--output",
            tmp_path / "out.ndjson",
            "--multiline-pattern",
            pattern,
        ],
        env=docker_env(),
    )
    assert_usage_error(run, "--multiline-pattern", repr(pattern), "not a valid regular expression")


def test_an_invalid_multiline_pattern_from_the_environment(
    run_logwharf: RunLogwharf, tmp_path: Path
) -> None:
    run = run_logwharf(
        ["run", "--state-dir", tmp_path / "state", "--output", tmp_path / "out.ndjson"],
        env=docker_env(LOGWHARF_MULTILINE_PATTERN="(unclosed"),
    )
    assert_usage_error(run, "--multiline-pattern", "not a valid regular expression")


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--flush-seconds", "0"),
        ("--flush-seconds", "-1"),
        ("--flush-seconds", "nan"),
        ("--grace-seconds", "0"),
        ("--grace-seconds", "-0.5"),
    ],
)
def test_seconds_that_are_not_above_zero(
    run_logwharf: RunLogwharf, tmp_path: Path, flag: str, value: str
) -> None:
    run = run_logwharf(
        [
            "run",
            "--state-dir",
            tmp_path / "state",
            "--output",
            tmp_path / "out.ndjson",
            flag,
            value,
        ],
        env=docker_env(),
    )
    assert_usage_error(run, flag, "above 0")


def test_seconds_that_are_not_a_number(run_logwharf: RunLogwharf, tmp_path: Path) -> None:
    run = run_logwharf(
        ["run", "--state-dir", tmp_path / "state", "--flush-seconds", "soon"], env=docker_env()
    )
    assert_usage_error(run, "--flush-seconds", "soon")


def test_es_and_output_together(run_logwharf: RunLogwharf, tmp_path: Path) -> None:
    run = run_logwharf(
        [
            "run",
            "--state-dir",
            tmp_path / "state",
            "--es",
            "http://127.0.0.1:9",
            "--output",
            tmp_path / "out.ndjson",
        ],
        env=docker_env(),
    )
    assert_usage_error(run, "--output", "--es")
    assert "Elasticsearch" not in run.stderr  # it did not try to reach it


def test_an_es_url_that_is_not_http(run_logwharf: RunLogwharf, tmp_path: Path) -> None:
    run = run_logwharf(
        ["run", "--state-dir", tmp_path / "state", "--es", "ftp://es.example:9200"],
        env=docker_env(),
    )
    assert_usage_error(run, "--es", "is not an http(s) URL")


def test_a_state_dir_below_a_regular_file(run_logwharf: RunLogwharf, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    state = blocker / "state"
    run = run_logwharf(
        ["run", "--state-dir", state, "--output", tmp_path / "out.ndjson"], env=docker_env()
    )
    assert_usage_error(run, "cannot create the state directory", str(state), "--state-dir")
    assert blocker.read_text() == "not a directory\n"


def test_a_state_dir_that_is_a_regular_file(run_logwharf: RunLogwharf, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.write_text("")
    run = run_logwharf(
        ["run", "--state-dir", state, "--output", tmp_path / "out.ndjson"], env=docker_env()
    )
    assert_usage_error(run, "the state directory", str(state))


def test_a_checkpoint_file_that_cannot_be_read(run_logwharf: RunLogwharf, tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "checkpoints.json").mkdir(parents=True)  # a directory where the file goes
    run = run_logwharf(
        ["run", "--state-dir", state, "--output", tmp_path / "out.ndjson"], env=docker_env()
    )
    assert_usage_error(run, "cannot read the checkpoint file", str(state / "checkpoints.json"))


def test_the_state_dir_from_the_environment(run_logwharf: RunLogwharf, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = run_logwharf(
        ["run", "--output", tmp_path / "out.ndjson"],
        env=docker_env(LOGWHARF_STATE_DIR=str(blocker / "state")),
    )
    assert_usage_error(run, "cannot create the state directory", str(blocker / "state"))


# --- no daemon at the socket -------------------------------------------------------------


def start_run(tmp_path: Path, *args: str, host: str = MISSING_SOCKET) -> tuple[Popen, Path]:
    log_path = tmp_path / "stderr.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "logwharf",
                "run",
                "--state-dir",
                str(tmp_path / "state"),
                *args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("LOGWHARF_")},
                **docker_env(host),
            },
            cwd=tmp_path,
        )
    return process, log_path


def wait_for_text(process: Popen, log_path: Path, text: str, count: int = 1) -> str:
    deadline = time.monotonic() + 30
    while True:
        stderr = log_path.read_text(errors="replace")
        if stderr.count(text) >= count:
            return stderr
        if process.poll() is not None:
            raise AssertionError(f"logwharf run exited with {process.returncode}:\n{stderr}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"no {text!r} {count} times within 30 s:\n{stderr}")
        time.sleep(0.1)


def stop(process: Popen, signum: int = signal.SIGTERM, timeout: float = 15) -> int:
    process.send_signal(signum)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        raise AssertionError(f"logwharf run did not stop within {timeout:g} s") from None


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_missing_socket_is_retried_with_a_warning_and_sigterm_exits_0(
    tmp_path: Path, signum: int
) -> None:
    output = tmp_path / "out.ndjson"
    process, log_path = start_run(tmp_path, "--output", str(output))
    try:
        # Several attempts: it keeps trying, it does not give up after the first.
        stderr = wait_for_text(process, log_path, "cannot reach the Docker daemon", count=3)
    finally:
        started = time.monotonic()
        code = stop(process, signum)
    stderr = log_path.read_text(errors="replace")
    assert code == 0, stderr
    assert time.monotonic() - started < 10, stderr  # no waiting out the backoff
    assert_clean(stderr)
    warning = next(line for line in stderr.splitlines() if "cannot reach" in line)
    assert "WARNING" in warning
    assert f"cannot reach the Docker daemon at {MISSING_SOCKET}" in warning
    assert "no such file" in warning  # the reason
    assert "reconnecting in" in warning
    assert "logwharf: stopped: 0 containers, 0 lines read" in stderr
    assert output.exists() and output.read_bytes() == b""
    assert (tmp_path / "state").is_dir()


def test_a_socket_path_that_is_not_a_socket(tmp_path: Path) -> None:
    """A regular file at DOCKER_HOST's path: the same patient retrying, the reason told."""
    not_a_socket = tmp_path / "docker.sock"
    not_a_socket.write_text("")
    process, log_path = start_run(
        tmp_path, "--output", str(tmp_path / "out.ndjson"), host=f"unix://{not_a_socket}"
    )
    try:
        wait_for_text(process, log_path, "cannot reach the Docker daemon", count=2)
    finally:
        code = stop(process)
    stderr = log_path.read_text(errors="replace")
    assert code == 0, stderr
    assert_clean(stderr)
    assert f"unix://{not_a_socket}" in stderr


# --- found while writing these: bugs, fixed since -------------------------------------------


def test_sigterm_while_elasticsearch_is_unreachable_at_start(tmp_path: Path) -> None:
    process, log_path = start_run(tmp_path, "--es", "http://127.0.0.1:9")
    try:
        wait_for_text(process, log_path, "cannot reach Elasticsearch")
    finally:
        code = stop(process, timeout=10)
    assert code == 0


def test_elasticsearch_refusing_the_credentials_at_start(
    run_logwharf: RunLogwharf, tmp_path: Path
) -> None:
    import http.server
    import threading

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"error":"unauthorized","status":401}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run = run_logwharf(
            [
                "run",
                "--state-dir",
                tmp_path / "state",
                "--es",
                f"http://127.0.0.1:{server.server_port}",
            ],
            env=docker_env(),
            timeout=60,
        )
    finally:
        server.shutdown()
    assert run.returncode in (1, 2), run
    assert_clean(run.stderr)
    assert "401" in run.stderr


def test_a_bad_flush_seconds_in_the_environment(run_logwharf: RunLogwharf, tmp_path: Path) -> None:
    run = run_logwharf(
        ["run", "--state-dir", tmp_path / "state", "--output", tmp_path / "out.ndjson"],
        env=docker_env(LOGWHARF_FLUSH_SECONDS="soon"),
    )
    assert_usage_error(run, "--flush-seconds", "soon")
