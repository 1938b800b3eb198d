#!/usr/bin/env python3
"""Measures ``logwharf run`` (the live shipper) on a private Docker daemon.

    python bench/live_bench.py                         # all three scenarios, ~2 minutes
    python bench/live_bench.py --throughput 300000     # one container, as fast as it prints
    python bench/live_bench.py --latency               # 1,000 lines/s for 20 s: p50, p99
    python bench/live_bench.py --containers 50         # 50 containers, a line every 100 ms
    python bench/live_bench.py --sparse                # opt-in: one line every 2.5 s

A private dockerd (vfs, no iptables, no bridge, its own socket in a short folder under /tmp,
as the project's Docker tests start it) is started and stopped around the scenarios, and a
``busybox:local`` image made with ``docker import``. For each scenario a fresh discarding
``_bulk`` sink (bench/sink.py --verify, --latency where latency is measured) and a fresh
shipper run as child processes:

    python -m logwharf run --es http://127.0.0.1:PORT --index bench --state-dir TMP
                           --flush-seconds 1 --dead-letter-file ...

with DOCKER_HOST pointed at the private daemon. The shipper is measured while it runs
(its whole process tree's RSS and its VmHWM, sampled every 50 ms: the peak RSS figure; its
CPU from /proc when the last document arrived) and when it exits after SIGTERM (os.wait4's
rusage: CPU of the process and of the children it reaped). Every line carries a
``req-NNNNNNNNNN`` marker (bench/gen.py's scheme) and the sink checks that each arrived
exactly once. Latency is the sink's arrival time of a bulk request minus Docker's timestamp
of each line in it (sink.py --latency).

Results: a table on stdout and everything as JSON in bench/out/live-<stamp>.json; the
shipper's stderr in bench/out/live-<stamp>-<scenario>.stderr. Exit status 0 when every
scenario delivered every line exactly once and met no error, 1 otherwise. Needs root,
dockerd and a static busybox (apt-get install docker.io busybox-static).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from replay_bench import SinkProcess  # noqa: E402 - the bench folder is no package
from replay_bench import machine as replay_machine  # noqa: E402

ROOT = BENCH.parent
OUT = BENCH / "out"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IMAGE = "busybox:local"
APPLETS = ("sh", "echo", "sleep", "cat", "seq", "head", "true", "wc")
TICK = os.sysconf("SC_CLK_TCK")


# -- the private Docker daemon (as tests/docker/conftest.py starts it, in short) -----------


class PrivateDocker:
    def __init__(self) -> None:
        dockerd = shutil.which("dockerd", path=PATH)
        if dockerd is None or shutil.which("docker", path=PATH) is None:
            raise SystemExit("dockerd or docker missing: apt-get install docker.io busybox-static")
        if os.geteuid() != 0:
            raise SystemExit("a private dockerd needs root")
        self.root = Path(tempfile.mkdtemp(prefix="lwb-", dir="/tmp"))  # socket path limit
        self.socket = str(self.root / "docker.sock")
        self.host = f"unix://{self.socket}"
        self.log_path = self.root / "dockerd.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    dockerd,
                    "--iptables=false",
                    "--ip6tables=false",
                    "--bridge=none",
                    "--storage-driver=vfs",
                    "--data-root",
                    str(self.root / "data"),
                    "--exec-root",
                    str(self.root / "exec"),
                    "-H",
                    self.host,
                    "--pidfile",
                    str(self.root / "dockerd.pid"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={"PATH": PATH, "HOME": str(self.root)},
                start_new_session=True,  # a Ctrl-C of the bench does not reach it first
            )
        deadline = time.monotonic() + 30
        while not self._ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace").splitlines()[-15:]
                self.stop()
                raise SystemExit("dockerd did not start:\n" + "\n".join(tail))
            time.sleep(0.1)
        self.cli("import", "-", IMAGE, stdin=_image_tar(_busybox()))

    def _ping(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as connection:
                connection.settimeout(2)
                connection.connect(self.socket)
                connection.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                return b"OK" in connection.recv(4096)
        except OSError:
            return False

    def env(self) -> dict[str, str]:
        """The environment for the CLI and the shipper: only this daemon."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = self.host
        env["DOCKER_CONFIG"] = str(self.root / "cli")
        return env

    def cli(self, *args: str, stdin: bytes | None = None, timeout: float = 120) -> str:
        done = subprocess.run(
            ["docker", "-H", self.host, *args],
            input=stdin,
            capture_output=True,
            env=self.env(),
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"docker {shlex.join(args)}: {done.stderr.decode()[-2000:]}")
        return done.stdout.decode()

    def run(self, *args: str) -> str:
        return self.cli("run", "-d", "--network", "none", *args).strip()

    def remove_all(self) -> None:
        ids = self.cli("ps", "-aq").split()
        if ids:
            self.cli("rm", "-f", *ids)

    def cpu_seconds(self) -> float:
        """CPU of dockerd, containerd, the shims and runc of this daemon (not the CLI)."""
        total = 0.0
        for pid in _pids():
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
                if not comm.startswith(("dockerd", "containerd", "runc")):
                    continue
                if str(self.root) not in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                    continue
            except OSError:
                continue
            total += _proc_cpu(pid)
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        with open("/proc/self/mounts") as mounts:
            points = [line.split()[1] for line in mounts]
        for point in sorted(points, reverse=True):
            if point.startswith(str(self.root) + "/"):
                subprocess.run(["umount", "-l", point], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _busybox() -> str:
    for candidate in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if candidate and os.path.isfile(candidate):
            with open(candidate, "rb") as binary:
                if b"/ld-linux" not in binary.read(4096):  # static: no program interpreter
                    return candidate
    raise SystemExit("no static busybox for the image: apt-get install busybox-static")


def _image_tar(busybox: str) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name, mode in (("bin", 0o755), ("tmp", 0o1777)):
            folder = tarfile.TarInfo(name)
            folder.type = tarfile.DIRTYPE
            folder.mode = mode
            tar.addfile(folder)
        tar.add(busybox, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
    return data.getvalue()


# -- /proc -------------------------------------------------------------------------------


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (all threads)


def _busy_seconds() -> float:
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICK


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            continue
    return found


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class Sampler(threading.Thread):
    """Every 50 ms: the RSS of the shipper's process tree (summed) and its VmHWM; every
    second a [seconds since start, RSS MB] point for the JSON."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.tree_rss_mb = 0.0
        self.vm_hwm_mb = 0.0
        self.samples = 0
        self.timeline: list[tuple[float, float]] = []
        self.done = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.done.is_set():
            rss = sum(_status_kb(pid, "VmRSS:") for pid in _tree(self.pid)) / 1024
            self.tree_rss_mb = max(self.tree_rss_mb, rss)
            if self.samples % 20 == 0 and rss:
                self.timeline.append((round(time.monotonic() - started, 2), round(rss, 1)))
            self.vm_hwm_mb = max(self.vm_hwm_mb, _status_kb(self.pid, "VmHWM:") / 1024)
            self.samples += 1
            self.done.wait(0.05)


# -- the sink ----------------------------------------------------------------------------


# -- the shipper -------------------------------------------------------------------------


# ``python -m logwharf`` under cProfile timed by CPU time: the machine is shared, and wall
# time would charge the shipper for the moments another process had the CPU.
PROFILED = """
import cProfile, runpy, sys, time
profile = cProfile.Profile(time.process_time)
path, sys.argv = sys.argv[1], ["logwharf", *sys.argv[2:]]
profile.enable()
try:
    runpy.run_module("logwharf", run_name="__main__", alter_sys=True)
finally:
    profile.disable()
    profile.dump_stats(path)
"""


class Shipper:
    def __init__(
        self, docker: PrivateDocker, sink: SinkProcess, args: argparse.Namespace, prefix: Path
    ) -> None:
        self.state_dir = Path(tempfile.mkdtemp(prefix="lwb-state-", dir="/tmp"))
        self.stderr_path = Path(f"{prefix}.stderr")
        command = [sys.executable, "-m", "logwharf"]
        self.profile_path = None
        if args.profile:
            self.profile_path = Path(f"{prefix}.prof")
            command = [sys.executable, "-c", PROFILED, str(self.profile_path)]
        command += [
            "run",
            "--es",
            sink.url,
            "--index",
            "bench",
            "--state-dir",
            str(self.state_dir),
            "--flush-seconds",
            str(args.flush_seconds),
            "--dead-letter-file",
            f"{prefix}-dead-letters.ndjson",
            *shlex.split(args.extra_args),
        ]
        self.command = command
        self.started = time.time()
        env = docker.env()
        cwd = ROOT
        if args.source_stage is not None:  # logwharf imported from another checkout
            cwd = args.source_stage
            env["PYTHONPATH"] = str(args.source_stage)
        with open(self.stderr_path, "wb") as err, open(f"{prefix}.stdout", "wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, cwd=cwd, env=env)
        self.sampler = Sampler(self.process.pid)
        self.sampler.start()

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the shipper says it follows the daemon ("following N containers")."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "following " in self.stderr_path.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"logwharf run did not start following; see {self.stderr_path}")

    def cpu_now(self) -> float:
        return sum(_proc_cpu(pid) for pid in _tree(self.process.pid))

    def stop(self, timeout: float = 30) -> dict[str, Any]:
        """SIGTERM, then os.wait4: exit code, rusage, sampled memory, stderr findings."""
        stopped = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        killed = False
        while True:
            pid, status, rusage = os.wait4(self.process.pid, os.WNOHANG)
            if pid == self.process.pid:
                break
            if time.monotonic() > deadline and not killed:
                self.process.kill()
                killed = True
            time.sleep(0.02)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self.sampler.done.set()
        self.sampler.join()
        shutil.rmtree(self.state_dir, ignore_errors=True)
        lines = self.stderr_path.read_text(errors="replace").splitlines()
        noteworthy = [
            line
            for line in lines
            if ": WARNING: " in line or ": ERROR: " in line or "Trace" in line
        ]
        summary = next((line for line in lines if line.startswith("logwharf: stopped:")), "")
        return {
            "exit_code": self.process.returncode,
            "killed_after_sigterm": killed,
            "stop_seconds": round(time.monotonic() - stopped, 2),
            "cpu_seconds": round(rusage.ru_utime + rusage.ru_stime, 3),
            "cpu_user_seconds": round(rusage.ru_utime, 3),
            "cpu_sys_seconds": round(rusage.ru_stime, 3),
            "ru_maxrss_mb": round(rusage.ru_maxrss / 1024, 1),
            "tree_rss_mb_sampled": round(self.sampler.tree_rss_mb, 1),
            "vm_hwm_mb_sampled": round(self.sampler.vm_hwm_mb, 1),
            "rss_samples": self.sampler.samples,
            "rss_timeline_mb": self.sampler.timeline,
            "summary": summary,
            "warnings_and_errors": len(noteworthy),
            "first_warnings": noteworthy[:10],
            "stderr_file": str(self.stderr_path.relative_to(ROOT)),
            "command": shlex.join(self.command),
        }


# -- input lines -------------------------------------------------------------------------

LEVELS = ["info"] * 14 + ["debug"] * 3 + ["warn"] * 2 + ["error"]
LOGGERS = ["http", "db", "auth", "cache", "worker", "billing", "api", "scheduler"]
MESSAGES = [
    "request completed",
    "user signed in",
    "order created",
    "cache refreshed",
    "slow request",
    "upstream responded slowly",
    "database timeout",
    "payment declined by provider",
]
METHODS = ["GET"] * 6 + ["POST", "PUT"]
PATHS = ["/api/v1/users/%d", "/api/v1/orders/%d", "/api/v2/search", "/api/v1/cart/%d/items"]
PLAIN = [
    "WARNING: worker %d restarted after %d s, req-%010d was in flight",
    "INFO: %d connections accepted, worker %d healthy, req-%010d",
    "[ERROR] upstream connect error or disconnect/reset, retried %d/%d req-%010d",
]
TS = '"ts":"2026-11-23T%02d:%02d:%02d.%03dZ",'
APP = (
    '{%s"level":"%s","logger":"%s","msg":"%s","request_id":"req-%010d",'
    '"method":"%s","path":"%s","status":%d,"latency_ms":%.1f}'
)


def make_lines(first: int, count: int, with_ts: bool, seed: int) -> Iterator[str]:
    """``count`` log lines of 150-200 bytes numbered ``first``.. (the req- marker): JSON
    application lines (with the application's own ``ts`` when ``with_ts``: it then becomes
    @timestamp; without it @timestamp is Docker's time of the line) and ~5 % plain text."""
    rnd = random.Random(seed)
    for seq in range(first, first + count):
        if rnd.random() < 0.05:
            yield rnd.choice(PLAIN) % (rnd.randint(1, 9), rnd.randint(1, 999), seq)
            continue
        ts = ""
        if with_ts:
            ms = seq * 3  # the application's clock: 3 ms per line
            ts = TS % (
                ms // 3_600_000 % 24,
                ms // 60_000 % 60,
                ms // 1000 % 60,
                ms % 1000,
            )
        path = rnd.choice(PATHS)
        if "%d" in path:
            path %= rnd.randint(1, 999_999)
        yield (
            APP
            % (
                ts,
                rnd.choice(LEVELS),
                rnd.choice(LOGGERS),
                rnd.choice(MESSAGES),
                seq,
                rnd.choice(METHODS),
                path,
                rnd.choice((200, 200, 200, 201, 204, 404, 500)),
                rnd.lognormvariate(3.0, 1.0),
            )
        )


def write_lines(path: Path, lines: Iterator[str]) -> None:
    """Streamed: the bench stays small (its memory would count in a child's ru_maxrss)."""
    with open(path, "w") as out:
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) == 10_000:
                out.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            out.write("\n".join(batch) + "\n")


# -- scenarios ---------------------------------------------------------------------------


class Context:
    def __init__(self, args: argparse.Namespace, docker: PrivateDocker, stamp: str) -> None:
        self.args = args
        self.docker = docker
        self.stamp = stamp
        self.data = docker.root / "in"  # bind-mounted read-only as /data
        self.data.mkdir()
        self.mount = f"{self.data}:/data:ro"
        self.used: dict[str, int] = {}

    def prefix(self, name: str) -> Path:
        runs = self.used[name] = self.used.get(name, 0) + 1  # --runs: one set of files each
        return OUT / f"live-{self.stamp}-{name}{'' if runs == 1 else f'-{runs}'}"


def _wait_docs(
    sink: SinkProcess, n: int, timeout: float, stall: float = 30.0, tick: float = 0.1
) -> tuple[dict[str, Any], float | None]:
    """Polls the sink until it has ``n`` documents (returns the time it saw them), no new
    document came for ``stall`` seconds, or ``timeout``."""
    deadline = time.monotonic() + timeout
    last_docs, last_change = -1, time.monotonic()
    while True:
        stats = sink.get("/_stats")
        if stats["docs"] >= n:
            return stats, time.time()
        if stats["docs"] != last_docs:
            last_docs, last_change = stats["docs"], time.monotonic()
        if time.monotonic() > deadline or time.monotonic() - last_change > stall:
            return stats, None
        time.sleep(tick)


def _finish(
    ctx: Context,
    name: str,
    n: int,
    sink: SinkProcess,
    shipper: Shipper,
    stats: dict[str, Any],
    complete_at: float | None,
    cpu_at_complete: float,
    docker_cpu: float,
    busy: float,
    wall: float,
    extra: dict[str, Any],
) -> dict[str, Any]:
    time.sleep(0.5)  # anything sent twice after the last document would show now
    verify = sink.get(f"/_verify?n={n}")
    stats = sink.get("/_stats")
    timeline = sink.get("/_timeline")
    latency = sink.get("/_latency") if stats.get("latency") else None
    sink_cpu = _proc_cpu(sink.process.pid)
    process = shipper.stop()
    sink.stop()
    first, last = stats["first_request_wall"], stats["last_request_wall"]
    first_docs = timeline[0][1] if timeline else 0
    span = (last - first) if first is not None and last is not None else 0.0
    result: dict[str, Any] = {
        "scenario": name,
        "n": n,
        "complete": complete_at is not None,
        "sink": {
            k: stats[k] for k in ("docs", "actions", "requests", "bytes", "slow_path_requests")
        },
        "verify": verify,
        "sink_span_seconds": round(span, 3),
        # documents after the first request, over the time from the first request to the last
        "events_per_second_sink": round((stats["docs"] - first_docs) / span, 1) if span else None,
        "cpu_seconds_to_last_doc": round(cpu_at_complete, 3),
        "cpu_seconds_per_million": round(process["cpu_seconds"] / n * 1e6, 2),
        "cpu_seconds_per_million_to_last_doc": round(cpu_at_complete / n * 1e6, 2),
        "docker_cpu_seconds": round(docker_cpu, 2),
        "sink_cpu_seconds": round(sink_cpu, 2),
        "machine_busy_cores": round(busy / wall, 2) if wall else None,
        "shipper": process,
        "latency": latency,
        "requests_timeline": timeline[:200],
        **extra,
    }
    result["problems"] = _problems(result)
    return result


def _problems(result: dict[str, Any]) -> list[str]:
    problems = []
    n, verify, shipper = result["n"], result["verify"], result["shipper"]
    if not result["complete"]:
        problems.append(f"the sink got {result['sink']['docs']:,} documents of {n:,} in time")
    if result["sink"]["docs"] != n:
        problems.append(f"sink accepted {result['sink']['docs']:,} documents, expected {n:,}")
    if not verify["exactly_once"]:
        problems.append(
            "not exactly once: "
            + ", ".join(
                f"{key} {verify[key]}"
                for key in ("duplicates", "missing", "no_marker", "out_of_range", "first_missing")
                if verify.get(key)
            )
        )
    if shipper["exit_code"] != 0:
        problems.append(f"logwharf run exited {shipper['exit_code']}")
    if shipper["killed_after_sigterm"]:
        problems.append("logwharf run did not exit after SIGTERM: killed")
    if shipper["warnings_and_errors"]:
        problems.append(f"{shipper['warnings_and_errors']} warnings/errors on logwharf's stderr")
    return problems


def _measure(
    ctx: Context,
    name: str,
    n: int,
    latency: bool,
    start_load: Callable[[], dict[str, Any]],
    timeout: float,
    before_shipper: Callable[[], dict[str, Any]] | None = None,
    after: Callable[[], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One scenario: sink, (``before_shipper``), shipper, ``start_load``, wait for ``n``
    documents, (``after``), stop, collect."""
    print(f"== {name}: {n:,} lines", file=sys.stderr, flush=True)
    prefix = ctx.prefix(name)
    extra: dict[str, Any] = {}
    sink = SinkProcess(
        verify=True, reject_fraction=0.0, log=Path(f"{prefix}-sink.log"), latency=latency
    )
    if before_shipper is not None:
        extra.update(before_shipper())
    docker_before, busy_before = ctx.docker.cpu_seconds(), _busy_seconds()
    started = time.time()
    shipper = Shipper(ctx.docker, sink, ctx.args, prefix)
    try:
        shipper.wait_ready()
        extra["shipper_ready_seconds"] = round(time.time() - started, 2)
        load_started = time.time()
        extra.update(start_load())
        stats, complete_at = _wait_docs(sink, n, timeout)
        cpu_at_complete = shipper.cpu_now()
        docker_cpu = ctx.docker.cpu_seconds() - docker_before
        wall = time.time() - started
        busy = _busy_seconds() - busy_before
        if complete_at is not None:
            extra["seconds_load_start_to_last_doc"] = round(complete_at - load_started, 3)
            extra["seconds_shipper_start_to_last_doc"] = round(complete_at - started, 3)
            # the shipper's CPU over its life up to the last document, in cores on average
            extra["shipper_cores"] = round(cpu_at_complete / (complete_at - started), 2)
        if after is not None:
            extra.update(after())
    except BaseException:
        shipper.stop()
        sink.stop()
        raise
    result = _finish(
        ctx,
        name,
        n,
        sink,
        shipper,
        stats,
        complete_at,
        cpu_at_complete,
        docker_cpu,
        busy,
        wall,
        extra,
    )
    ctx.docker.remove_all()
    return result


def _log_lines(docker: PrivateDocker, container: str) -> int:
    path = docker.cli("inspect", "-f", "{{.LogPath}}", container).strip()
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _run_seconds(docker: PrivateDocker, container: str) -> float | None:
    """How long the container ran (StartedAt to FinishedAt), if it has finished."""
    from datetime import datetime

    out = docker.cli("inspect", "-f", "{{.State.StartedAt}} {{.State.FinishedAt}}", container)
    started, finished = out.split()
    if finished.startswith("0001"):
        return None
    return (
        datetime.fromisoformat(finished.replace("Z", "+00:00"))
        - datetime.fromisoformat(started.replace("Z", "+00:00"))
    ).total_seconds()


def _docker_logs_baseline(docker: PrivateDocker, container: str) -> dict[str, Any]:
    """Docker's own speed: the logs API read to its end (timestamps, no follow) by a client
    that discards the bytes; how long it takes and the daemon's CPU for it."""
    cpu, started = docker.cpu_seconds(), time.monotonic()
    size = 0
    with socket.socket(socket.AF_UNIX) as connection:
        connection.connect(docker.socket)
        connection.sendall(
            f"GET /containers/{container}/logs?stdout=1&stderr=1&timestamps=1 HTTP/1.1\r\n"
            "Host: docker\r\nConnection: close\r\n\r\n".encode()
        )
        while data := connection.recv(1 << 20):
            size += len(data)
    seconds = time.monotonic() - started
    return {
        "seconds": round(seconds, 3),
        "bytes": size,
        "docker_cpu_seconds": round(docker.cpu_seconds() - cpu, 2),
    }


def throughput_live(ctx: Context, n: int) -> dict[str, Any]:
    """The shipper follows one container that cats N lines as fast as Docker takes them."""
    write_lines(ctx.data / "tp.txt", make_lines(0, n, True, seed=1))

    def start() -> dict[str, Any]:
        ctx.docker.run("--name", "tp-live", "-v", ctx.mount, IMAGE, "cat", "/data/tp.txt")
        return {}

    def after() -> dict[str, Any]:
        return {"container_write_seconds": _run_seconds(ctx.docker, "tp-live")}

    return _measure(ctx, "throughput-live", n, False, start, timeout=60 + n / 5000, after=after)


def throughput_backlog(ctx: Context, n: int) -> dict[str, Any]:
    """A running container has already written N lines; then the shipper starts and reads
    them all (its own speed, with Docker only serving the logs)."""
    if not (ctx.data / "tp.txt").exists():
        write_lines(ctx.data / "tp.txt", make_lines(0, n, True, seed=1))

    def before() -> dict[str, Any]:
        ctx.docker.run(
            "--name", "tp-backlog", "-v", ctx.mount, IMAGE, "sh", "-c",
            "cat /data/tp.txt; exec sleep 3600",
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while _log_lines(ctx.docker, "tp-backlog") < n and time.monotonic() < deadline:
            time.sleep(0.2)
        return {"docker_logs_baseline": _docker_logs_baseline(ctx.docker, "tp-backlog")}

    return _measure(
        ctx, "throughput-backlog", n, False, dict, timeout=60 + n / 5000, before_shipper=before
    )


# A paced writer for busybox sh: {per_tick} lines, then a pause of {pause} s, until {end}.
# ${m#1}: the line number as 10 digits, for the req- marker (the shell has no printf here).
WRITER_SCRIPT = (
    r"i={first}; while [ $i -lt {end} ]; do j=0; "
    r"while [ $j -lt {per_tick} ] && [ $i -lt {end} ]; do m=$((10000000000+i)); "
    r'echo "{\"level\":\"info\",\"logger\":\"http\",\"msg\":\"request completed\",'
    r"\"request_id\":\"req-${m#1}\",\"method\":\"GET\",\"path\":\"/api/v1/users/$i\","
    r'\"status\":200,\"latency_ms\":$((i % 997))}"; i=$((i+1)); j=$((j+1)); done; '
    r"read -t {pause} x; done"
)


def writer_script(first: int, count: int, per_tick: int, pause: float) -> str:
    """Lines ``first``..``first+count-1``, ``per_tick`` at a time, ``pause`` s apart.

    The lines (~150 bytes of JSON without a time field, so that @timestamp is Docker's
    time of the line) are made by the shell itself: reading them from a file, busybox
    ``read`` takes one system call per byte. The pause is the shell's own ``read -t`` on
    the container's stdin, kept open and empty by ``docker run -i``: no process is started
    per pause (``sleep`` would cost a fork and an exec each time). Either would make a
    1,000 lines/s writer fall 20-30 % short."""
    values = {"first": first, "end": first + count, "per_tick": per_tick, "pause": pause}
    script = WRITER_SCRIPT
    for key, value in values.items():
        script = script.replace("{" + key + "}", str(value))
    return script


def latency(ctx: Context, rate: int, seconds: float) -> dict[str, Any]:
    """One container writes ``rate`` lines/s (rate/100 lines every 10 ms) for ``seconds``;
    the sink keeps arrival - @timestamp (Docker's time of the line) per document."""
    n = int(rate * seconds)
    script = writer_script(0, n, max(1, rate // 100), 0.01)

    def start() -> dict[str, Any]:
        ctx.docker.run("-i", "--name", "lat", IMAGE, "sh", "-c", script)
        return {}

    def after() -> dict[str, Any]:
        ran = _run_seconds(ctx.docker, "lat")
        return {
            "container_write_seconds": ran,
            "lines_per_second_written": round(n / ran, 1) if ran else None,
        }

    return _measure(ctx, "latency", n, True, start, timeout=seconds * 3 + 60, after=after)


def sparse(ctx: Context, lines: int, interval: float) -> dict[str, Any]:
    """One container writes one line every ``interval`` seconds: the latency of a line that
    no other line follows soon (multiline joining holds the last line of a stream until the
    next line shows whether it continues it, or until its timeout)."""

    def start() -> dict[str, Any]:
        script = writer_script(0, lines, 1, interval)
        ctx.docker.run("-i", "--name", "sparse", IMAGE, "sh", "-c", script)
        return {}

    return _measure(ctx, "sparse", lines, True, start, timeout=lines * interval + 60)


def containers(ctx: Context, count: int, seconds: float) -> dict[str, Any]:
    """``count`` containers each print a line every 100 ms for ``seconds``."""
    per = int(seconds * 10)
    n = count * per

    def start_one(c: int) -> str:
        script = writer_script(c * per, per, 1, 0.1)
        return ctx.docker.run("-i", "--name", f"c{c:03d}", IMAGE, "sh", "-c", script)

    def start() -> dict[str, Any]:
        began = time.time()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(start_one, range(count)))
        return {"containers_started_in_seconds": round(time.time() - began, 2)}

    return _measure(ctx, f"containers-{count}", n, True, start, timeout=seconds * 3 + 120)


# -- report ------------------------------------------------------------------------------

COLUMNS = [
    ("scenario", "{}"),
    ("lines", "{:,}"),
    ("sink docs", "{:,}"),
    ("exactly once", "{}"),
    ("events/s", "{:,.0f}"),
    ("start→last s", "{:.2f}"),
    ("CPU s", "{:.2f}"),
    ("CPU-s/1M", "{:.1f}"),
    ("cores", "{:.2f}"),
    ("peak RSS MB", "{:.0f}"),
    ("p50 s", "{:.3f}"),
    ("p99 s", "{:.3f}"),
    ("max s", "{:.3f}"),
    ("docker CPU s", "{:.2f}"),
    ("warn/err", "{}"),
]


def _row(r: dict[str, Any]) -> list[str]:
    lat = r.get("latency") or {}
    values = [
        r["scenario"],
        r["n"],
        r["sink"]["docs"],
        "yes"
        if r["verify"]["exactly_once"]
        else f"NO (dup {r['verify']['duplicates']}, missing {r['verify']['missing']})",
        r["events_per_second_sink"] if r["scenario"].startswith("throughput") else "-",
        r.get("seconds_load_start_to_last_doc", "-"),
        r["shipper"]["cpu_seconds"],
        r["cpu_seconds_per_million"] if r["scenario"].startswith("throughput") else "-",
        r.get("shipper_cores", "-"),
        r["shipper"]["vm_hwm_mb_sampled"],
        lat.get("p50", "-"),
        lat.get("p99", "-"),
        lat.get("max", "-"),
        r["docker_cpu_seconds"],
        r["shipper"]["warnings_and_errors"],
    ]
    return [
        fmt.format(v) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)
        for (_, fmt), v in zip(COLUMNS, values, strict=True)
    ]


def print_table(results: list[dict[str, Any]]) -> None:
    rows = [[name for name, _ in COLUMNS]] + [_row(r) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for i, row in enumerate(rows):
        print("| " + " | ".join(cell.rjust(widths[j]) for j, cell in enumerate(row)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def machine() -> dict[str, Any]:
    info = replay_machine()
    try:
        info["dockerd"] = subprocess.run(
            ["dockerd", "--version"],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": PATH},
        ).stdout.strip()
    except OSError:
        pass
    return info


def print_profile(path: Path, top: int = 25) -> None:
    import pstats

    print(f"\nprofile {path.relative_to(ROOT)} (top {top} by own time):")
    pstats.Stats(str(path)).sort_stats("tottime").print_stats(top)


# -- main --------------------------------------------------------------------------------


def stage_source(source: Path) -> Path:
    """A folder from which ``import logwharf`` finds another checkout laid out as this one
    (its top-level shipper/, processor/ and elk/ are subpackages), for side-by-side runs."""
    stage = Path(tempfile.mkdtemp(prefix="lwb-src-", dir="/tmp"))
    package = stage / "logwharf"
    shutil.copytree(source / "logwharf", package, symlinks=True)
    for sub in ("shipper", "processor", "elk"):
        (package / sub).symlink_to(source.resolve() / sub)
    return stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Measure `logwharf run` on a private Docker daemon.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--throughput",
        type=int,
        nargs="?",
        const=300_000,
        metavar="N",
        help="one container printing N lines as fast as it can (N: 300000)",
    )
    parser.add_argument(
        "--throughput-mode",
        choices=["live", "backlog", "both"],
        default="both",
        help="live: the shipper follows while the container prints; backlog: the lines "
        "are written before the shipper starts",
    )
    parser.add_argument(
        "--latency", action="store_true", help="end-to-end latency at --rate lines/s"
    )
    parser.add_argument("--rate", type=int, default=1000, help="lines/s of --latency")
    parser.add_argument(
        "--containers",
        type=int,
        nargs="?",
        const=50,
        metavar="C",
        help="C containers, a line every 100 ms each (C: 50)",
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="duration of --latency and --containers"
    )
    parser.add_argument(
        "--sparse",
        type=float,
        nargs="?",
        const=2.5,
        metavar="S",
        help="not in the default set: 8 lines, one every S seconds (S: 2.5); latency of lines "
        "that no other line follows soon",
    )
    parser.add_argument("--flush-seconds", type=float, default=1.0, help="logwharf --flush-seconds")
    parser.add_argument("--extra-args", default="", help="more `logwharf run` flags")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the shipper under cProfile (CPU time) and print the top",
    )
    parser.add_argument("--label", default="", help="a note stored in the JSON")
    parser.add_argument(
        "--source",
        type=Path,
        help="run the shipper from this checkout instead (e.g. `git archive` of a commit): "
        "before/after figures from one session",
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="run each chosen scenario this many times"
    )
    args = parser.parse_args(argv)
    args.source_stage = stage_source(args.source) if args.source is not None else None
    if (
        args.throughput is None
        and not args.latency
        and args.containers is None
        and args.sparse is None
    ):
        args.throughput, args.latency, args.containers = 300_000, True, 50

    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    info = machine()
    results: list[dict[str, Any]] = []
    began = time.monotonic()
    docker = PrivateDocker()
    try:
        ctx = Context(args, docker, stamp)
        for _ in range(args.runs):
            if args.throughput is not None:
                if args.throughput_mode in ("live", "both"):
                    results.append(throughput_live(ctx, args.throughput))
                if args.throughput_mode in ("backlog", "both"):
                    results.append(throughput_backlog(ctx, args.throughput))
            if args.latency:
                results.append(latency(ctx, args.rate, args.seconds))
            if args.containers is not None:
                results.append(containers(ctx, args.containers, args.seconds))
            if args.sparse is not None:
                results.append(sparse(ctx, 8, args.sparse))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        docker.stop()
        if args.source_stage is not None:
            shutil.rmtree(args.source_stage, ignore_errors=True)

    report = {
        "stamp": stamp,
        "label": args.label,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": info,
        "total_seconds": round(time.monotonic() - began, 1),
        "results": results,
    }
    report_path = OUT / f"live-{stamp}.json"
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"logwharf run, --flush-seconds {args.flush_seconds:g}, {os.cpu_count()} CPUs")
    print_table(results)
    for r in results:
        extra = []
        if r.get("container_write_seconds") is not None:
            extra.append(f"container wrote for {r['container_write_seconds']:.2f} s")
        if r.get("lines_per_second_written"):
            extra.append(f"{r['lines_per_second_written']:,.0f} lines/s written")
        base = r.get("docker_logs_baseline")
        if base:
            extra.append(
                f"Docker's logs API alone, read and discarded: {base['seconds']:.2f} s "
                f"({r['n'] / base['seconds']:,.0f} lines/s), daemon CPU "
                f"{base['docker_cpu_seconds']:.2f} s"
            )
        lat = r.get("latency")
        if lat:
            extra.append(f"latency over {lat['count']:,} documents, mean {lat['mean']} s")
        extra.append(
            f"RSS sampled: tree {r['shipper']['tree_rss_mb_sampled']} MB, "
            f"VmHWM {r['shipper']['vm_hwm_mb_sampled']} MB"
        )
        extra.append(f"CPU to last doc {r['cpu_seconds_to_last_doc']} s")
        extra.append(f"machine busy {r['machine_busy_cores']} cores")
        print(f"  {r['scenario']}: " + "; ".join(extra))
        print(f"    {r['shipper']['summary']}")
        for problem in r["problems"]:
            print(f"    PROBLEM: {problem}")
        for line in r["shipper"]["first_warnings"]:
            print(f"    stderr: {line}")
    if args.profile:
        for r in results:
            path = OUT / f"live-{stamp}-{r['scenario']}.prof"
            if path.exists():
                print_profile(path)
    print(f"JSON: {report_path.relative_to(ROOT)} ({report['total_seconds']} s in all)")
    return 0 if results and all(not r["problems"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
