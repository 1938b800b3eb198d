"""``logwharf run`` as the user runs it: a child process, pointed at the private daemon."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson


class Shipper:
    """One ``logwharf run`` process; events go to ``output`` (NDJSON) unless ``--es``."""

    def __init__(
        self, docker_host: str, state_dir: Path, output: Path | None, *args: str, **env: str
    ) -> None:
        self.output = output
        self.log_path = state_dir.parent / f"shipper-{time.monotonic_ns()}.log"
        command = [
            sys.executable,
            "-m",
            "logwharf",
            "run",
            "--state-dir",
            str(state_dir),
            "--flush-seconds",
            "0.2",
            *(["--output", str(output)] if output is not None else []),
            *args,
        ]
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "LOGWHARF_"))},
            "DOCKER_HOST": docker_host,
            **env,
        }
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=self._log, env=environment
        )

    def events(self) -> list[dict[str, Any]]:
        assert self.output is not None
        try:
            data = self.output.read_bytes()
        except FileNotFoundError:
            return []
        return [orjson.loads(line) for line in data.splitlines() if line.strip()]

    def wait_for(
        self,
        condition: Callable[[list[dict[str, Any]]], bool],
        timeout: float = 30.0,
        what: str = "the expected events",
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if condition(events):
                return events
            if self.process.poll() is not None:
                raise AssertionError(f"the shipper exited early:\n{self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {what} after {timeout:g} s; {len(events)} events:\n"
                    f"{events[-5:]}\n{self.stderr()}"
                )
            time.sleep(0.1)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._log.close()
        return code

    def stderr(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def messages(events: list[dict[str, Any]], container: str | None = None) -> list[str]:
    return [
        event["message"]
        for event in events
        if container is None or event.get("container", {}).get("name") == container
    ]


class Es:
    """The few requests the tests make of the Elasticsearch-compatible server (urllib)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def hits(self, index: str) -> list[dict[str, Any]]:
        import json
        import urllib.request

        request = urllib.request.Request(f"{self.url}/_refresh", method="POST")
        urllib.request.urlopen(request, timeout=60).close()
        body = json.dumps({"size": 10_000, "query": {"match_all": {}}}).encode()
        request = urllib.request.Request(
            f"{self.url}/{index}/_search",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return []
            raise
        hits: list[dict[str, Any]] = answer["hits"]["hits"]
        return hits


class Gate:
    """A TCP forwarder to the server that can be shut (connections refused, open ones cut)
    and opened again on the same port: Elasticsearch going down and coming back."""

    def __init__(self, upstream_port: int) -> None:
        import socket
        import threading

        self.upstream_port = upstream_port
        self._socket = socket
        self._threading = threading
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: Any = None
        self._connections: list[Any] = []
        self.open()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def open(self) -> None:
        listener = self._socket.socket()
        listener.setsockopt(self._socket.SOL_SOCKET, self._socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def shut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # close() alone does not end an accept() blocked in another thread (Linux):
            # the socket would go on taking connections.
            try:
                listener.shutdown(self._socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        for connection in self._connections:
            try:
                connection.shutdown(self._socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()
        self._connections.clear()

    def _accept(self, listener: Any) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = self._socket.create_connection(("127.0.0.1", self.upstream_port))
            self._connections += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                self._threading.Thread(
                    target=self._pipe, args=(source, target), daemon=True
                ).start()

    @staticmethod
    def _pipe(source: Any, target: Any) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.close()
                except OSError:
                    pass
