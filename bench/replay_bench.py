#!/usr/bin/env python3
"""Times ``logwharf replay`` into a discarding Elasticsearch ``_bulk`` sink.

    python bench/replay_bench.py [--n 1000000] [--gzip] [--gz-input] [--runs 1]
                                 [--input FILE] [--reject-fraction 0.01] [--no-verify]
                                 [--extra-args "--concurrency 4"]

1. The input is made once with bench/gen.py and kept in bench/out/ (git-ignored).
2. bench/sink.py starts on a free port (with --verify unless --no-verify).
3. For each run: the input is read once (warm page cache), then
   ``python -m logwharf replay INPUT --es http://127.0.0.1:PORT --index bench --no-progress``
   runs as a child process (stdout/stderr to files in bench/out/). Measured for the child:
   wall seconds from start to exit, events/s (N / wall), CPU seconds (user + sys from
   os.wait4's rusage), CPU seconds per million events, peak RSS (ru_maxrss). The sink's
   counts (and its exactly-once check) are read after the child exits, as deltas of this run.
4. A table on stdout, and everything as JSON in bench/out/replay-<stamp>.json.

Exit status: 0 when every run exited 0 with the right counts (and exactly once); 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"


# -- input -------------------------------------------------------------------------------


def make_input(n: int, seed: int, gz: bool) -> Path:
    path = OUT / f"input-{n}-seed{seed}.log{'.gz' if gz else ''}"
    if path.is_file() and path.stat().st_size > 0:
        return path
    print(f"generating {path.name} ...", file=sys.stderr, flush=True)
    subprocess.run(
        [sys.executable, str(BENCH / "gen.py"), str(n), str(path), "--seed", str(seed)],
        check=True,
    )
    return path


def count_lines(path: Path) -> int:
    """Lines of a plain or gzip file, without holding it in memory."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    count = 0
    with opener(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
    return count


def warm(path: Path) -> None:
    with open(path, "rb", buffering=0) as handle:
        while handle.read(1 << 20):
            pass


# -- sink --------------------------------------------------------------------------------


class SinkProcess:
    """``sink.py`` on a free port, as a child process (also used by ``live_bench.py``)."""

    def __init__(
        self, verify: bool, reject_fraction: float, log: Path, latency: bool = False
    ) -> None:
        args = [sys.executable, str(BENCH / "sink.py"), "--port", "0"]
        if verify:
            args.append("--verify")
        if reject_fraction:
            args += ["--reject-fraction", str(reject_fraction)]
        if latency:
            args.append("--latency")
        self.log = open(log, "wb")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()
        if not line.startswith("port "):
            self.stop()
            raise RuntimeError(f"the sink did not start (see {log}): {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def get(self, path: str, timeout: float = 600.0) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as answer:
            return json.loads(answer.read())

    def cpu_seconds(self) -> float:
        return _proc_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def _proc_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def _busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all CPUs), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_seconds: float, threshold: float = 0.15) -> float:
    """Waits until the machine is nearly idle for 2 s (at most max_seconds); returns the load."""
    deadline = time.monotonic() + max_seconds
    while True:
        busy, started = _busy_seconds(), time.monotonic()
        time.sleep(2.0)
        load = (_busy_seconds() - busy) / (time.monotonic() - started)
        if load < threshold or time.monotonic() >= deadline:
            if load >= threshold:
                print(
                    f"note: the machine is busy ({load:.2f} cores used by others); running anyway",
                    file=sys.stderr,
                    flush=True,
                )
            return load


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# -- one run -----------------------------------------------------------------------------


def run_once(
    args: argparse.Namespace, sink: SinkProcess, input_path: Path, n: int, number: int, stamp: str
) -> dict[str, Any]:
    prefix = OUT / f"replay-{stamp}-run{number}"
    dead_letters = Path(f"{prefix}-dead-letters.ndjson")
    command = [
        sys.executable,
        "-m",
        "logwharf",
        "replay",
        str(input_path),
        "--es",
        sink.url,
        "--index",
        "bench",
        "--no-progress",
        "--dead-letter-file",
        str(dead_letters),
    ]
    if args.gzip:
        command.append("--gzip")
    command += shlex.split(args.extra_args)
    code = code_state()
    warm(input_path)
    quiet_load = wait_for_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
    before = sink.get("/_stats")
    sink_cpu_before = sink.cpu_seconds()
    busy_before = _busy_seconds()
    self_before = _self_cpu_seconds()
    stdout_path, stderr_path = Path(f"{prefix}.stdout"), Path(f"{prefix}.stderr")
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT)
        status, rusage, hwm, timed_out = _wait(child, args.timeout)
        wall = time.perf_counter() - started
    sink_cpu = sink.cpu_seconds() - sink_cpu_before
    busy = _busy_seconds() - busy_before
    own = _self_cpu_seconds() - self_before
    after = sink.get("/_stats")
    sink_counts = {
        key: after[key] - before[key]
        for key in ("docs", "actions", "requests", "bytes", "wire_bytes", "rejected")
    }
    sink_counts["gzip_requests"] = after["gzip_requests"] - before["gzip_requests"]
    sink_counts["slow_path_requests"] = after["slow_path_requests"] - before["slow_path_requests"]
    cpu = rusage.ru_utime + rusage.ru_stime
    stderr_lines = stderr_path.read_text(errors="replace").splitlines()
    summary = _summary(stderr_lines)
    result: dict[str, Any] = {
        "run": number,
        "command": shlex.join(command),
        "code": code,
        "exit_code": os.waitstatus_to_exitcode(status),
        "timed_out": timed_out,
        "n": n,
        "wall_seconds": round(wall, 3),
        "events_per_second": round(n / wall, 1) if wall else None,
        "cpu_seconds": round(cpu, 3),
        "cpu_user_seconds": round(rusage.ru_utime, 3),
        "cpu_sys_seconds": round(rusage.ru_stime, 3),
        "cpu_seconds_per_million": round(cpu / n * 1e6, 3) if n else None,
        "cores_used": round(cpu / wall, 3) if wall else None,
        "peak_rss_mb": round(rusage.ru_maxrss / 1024, 1),
        "peak_rss_total_mb": round(TREE_RSS[0], 1),
        "vm_hwm_mb_polled": round(hwm, 1) if hwm is not None else None,
        "sink": sink_counts,
        "sink_cpu_seconds": round(sink_cpu, 3),
        # CPU used by everything else on the machine during the run, in cores on average
        # (the harness's own polling included); above ~0.1 the figures are disturbed.
        "other_load_cores": round((busy - cpu - sink_cpu - own) / wall, 3) if wall else None,
        "load_before_run_cores": round(quiet_load, 3) if quiet_load is not None else None,
        "logwharf_summary": summary,
        "stderr_tail": stderr_lines[-15:],
        "stdout_bytes": stdout_path.stat().st_size,
        "stderr_file": str(stderr_path.relative_to(ROOT)),
        "dead_letters": dead_letters.stat().st_size if dead_letters.exists() else 0,
    }
    if args.verify:
        result["verify"] = sink.get(f"/_verify?n={n}")
    result["problems"] = _problems(result, args)
    return result


def _self_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (worker processes), summed."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            continue
    return total


TREE_RSS: list[float] = [0.0]  # the largest sum seen during the last _wait


def _wait(child: subprocess.Popen[bytes], timeout: float) -> tuple[int, Any, float | None, bool]:
    """os.wait4 for the child's rusage (its reaped worker processes included: CPU summed,
    ru_maxrss the largest single process); polls VmHWM and the whole tree's RSS on the way."""
    deadline = time.monotonic() + timeout
    hwm: float | None = None
    TREE_RSS[0] = 0.0
    timed_out = False
    signalled = 0
    while True:
        pid, status, rusage = os.wait4(child.pid, os.WNOHANG)
        if pid == child.pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            return status, rusage, hwm, timed_out
        TREE_RSS[0] = max(TREE_RSS[0], _tree_rss_mb(child.pid))
        sample = _vm_hwm_mb(child.pid)
        if sample is not None:
            hwm = sample if hwm is None else max(hwm, sample)
        if time.monotonic() > deadline and signalled < 2:
            timed_out = True
            child.send_signal(signal.SIGTERM if signalled == 0 else signal.SIGKILL)
            signalled += 1
            deadline = time.monotonic() + 30
        time.sleep(0.05)


def _summary(lines: list[str]) -> dict[str, float]:
    """The numbers of logwharf's end-of-run summary ("  indexed   1,000,000")."""
    wanted = {
        "read",
        "parsed",
        "dropped",
        "indexed",
        "duplicates",
        "dead-lettered",
        "retried",
        "NOT DELIVERED",
        "seconds",
        "events/s",
    }
    found: dict[str, float] = {}
    for line in lines:
        stripped = line.strip()
        for key in wanted:
            if stripped.startswith(key + " "):
                token = stripped[len(key) :].split()[0].replace(",", "")
                try:
                    found[key] = float(token)
                except ValueError:
                    pass
    return found


def _problems(result: dict[str, Any], args: argparse.Namespace) -> list[str]:
    problems = []
    n = result["n"]
    summary = result["logwharf_summary"]
    if result["timed_out"]:
        problems.append(f"timed out after {args.timeout:.0f} s")
    if result["exit_code"] != 0:
        problems.append(f"exit code {result['exit_code']}")
    if result["sink"]["docs"] != n:
        problems.append(f"sink accepted {result['sink']['docs']:,} documents, expected {n:,}")
    if summary.get("indexed") != n:
        problems.append(f"logwharf reports indexed {summary.get('indexed')}, expected {n:,}")
    for key in ("dead-lettered", "NOT DELIVERED", "duplicates"):
        if summary.get(key):
            problems.append(f"logwharf reports {key} {summary[key]:,.0f}")
    rejected = result["sink"]["rejected"]
    if args.reject_fraction and summary.get("retried", 0) != rejected:
        problems.append(
            f"sink refused {rejected:,} items with 429, logwharf reports "
            f"{summary.get('retried', 0):,.0f} retried"
        )
    if args.reject_fraction and result["sink"]["actions"] != n + rejected:
        problems.append(
            f"sink received {result['sink']['actions']:,} actions, expected "
            f"{n + rejected:,} (N + refused)"
        )
    verify = result.get("verify")
    if verify is not None and not verify.get("exactly_once"):
        problems.append(
            "not exactly once: "
            + ", ".join(
                f"{key} {verify[key]}"
                for key in ("duplicates", "missing", "no_marker", "out_of_range", "first_missing")
                if verify.get(key)
            )
        )
    return problems


# -- report ------------------------------------------------------------------------------

COLUMNS = [
    ("run", "{}"),
    ("exit", "{}"),
    ("wall s", "{:.2f}"),
    ("events/s", "{:,.0f}"),
    ("CPU s", "{:.2f}"),
    ("CPU-s/1M", "{:.2f}"),
    ("cores", "{:.2f}"),
    ("RSS MB", "{:.0f}"),
    ("RSS all MB", "{:.0f}"),
    ("sink docs", "{:,}"),
    ("reqs", "{:,}"),
    ("429s", "{:,}"),
    ("retried", "{:,.0f}"),
    ("sink CPU s", "{:.2f}"),
    ("others", "{:.2f}"),
    ("exactly once", "{}"),
]


def _cells(values: list[Any]) -> list[str]:
    return [
        fmt.format(value) if isinstance(value, int | float) else str(value)
        for (_, fmt), value in zip(COLUMNS, values, strict=True)
    ]


def _row(result: dict[str, Any]) -> list[str]:
    verify = result.get("verify")
    if verify is None:
        once = "-"
    elif verify["exactly_once"]:
        once = "yes"
    else:
        once = f"NO (dup {verify['duplicates']}, missing {verify['missing']})"
    return _cells(
        [
            result["run"],
            result["exit_code"],
            result["wall_seconds"],
            result["events_per_second"],
            result["cpu_seconds"],
            result["cpu_seconds_per_million"],
            result["cores_used"],
            result["peak_rss_mb"],
            result["peak_rss_total_mb"],
            result["sink"]["docs"],
            result["sink"]["requests"],
            result["sink"]["rejected"],
            result["logwharf_summary"].get("retried", 0),
            result["sink_cpu_seconds"],
            result["other_load_cores"],
            once,
        ]
    )


MEDIAN_OF = (
    "wall_seconds",
    "events_per_second",
    "cpu_seconds",
    "cpu_seconds_per_million",
    "cores_used",
    "peak_rss_mb",
    "peak_rss_total_mb",
)


def print_table(results: list[dict[str, Any]], title: str) -> None:
    rows = [[name for name, _ in COLUMNS]] + [_row(r) for r in results]
    if len(results) > 1:
        median = {key: statistics.median(r[key] for r in results) for key in MEDIAN_OF}
        sink_cpu = statistics.median(r["sink_cpu_seconds"] for r in results)
        others = statistics.median(r["other_load_cores"] for r in results)
        rows.append(
            _cells(
                ["median", ""]
                + [median[key] for key in MEDIAN_OF]
                + ["", "", "", "", sink_cpu, others, ""]
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    print(title)
    for i, row in enumerate(rows):
        print("| " + " | ".join(cell.rjust(widths[j]) for j, cell in enumerate(row)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def code_state() -> dict[str, str]:
    """The commit, and a digest of uncommitted changes outside bench/ (the code measured)."""
    state = {}
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        diff = subprocess.run(
            ["git", "-C", str(ROOT), "diff", "HEAD", "--", ".", ":(exclude)bench"],
            capture_output=True,
            check=False,
        ).stdout
        state["commit"] = head
        state["uncommitted"] = hashlib.sha1(diff).hexdigest()[:12] if diff else "none"
    except OSError:
        pass
    return state


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    try:
        import aiohttp
        import orjson

        from logwharf import __version__

        info.update(logwharf=__version__, aiohttp=aiohttp.__version__, orjson=orjson.__version__)
    except ImportError:
        pass
    try:
        info["git"] = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        pass
    try:
        info["loadavg_start"] = os.getloadavg()
    except OSError:
        pass
    return info


# -- main --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time `logwharf replay` into a discarding _bulk sink.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="lines to generate")
    parser.add_argument("--seed", type=int, default=42, help="generator seed")
    parser.add_argument("--input", type=Path, help="replay this file instead (N = its line count)")
    parser.add_argument(
        "--gz-input", action="store_true", help="generate a gzip-compressed input file"
    )
    parser.add_argument("--gzip", action="store_true", help="logwharf --gzip: gzip bulk bodies")
    parser.add_argument("--runs", type=int, default=1, help="runs (one sink each)")
    parser.add_argument(
        "--reject-fraction",
        type=float,
        default=0.0,
        help="the sink answers this fraction of documents 429 once (retry cost)",
    )
    parser.add_argument(
        "--verify",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="check exactly-once delivery of the req- markers",
    )
    parser.add_argument(
        "--extra-args", default="", help='more logwharf replay flags, e.g. "--concurrency 4"'
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="before each run, wait up to this long for other load < 0.15 cores (0: no wait)",
    )
    parser.add_argument("--label", default="", help="a note stored in the JSON")
    args = parser.parse_args(argv)

    OUT.mkdir(parents=True, exist_ok=True)
    if args.input is not None:
        input_path = args.input.resolve()
        n = count_lines(input_path)
    else:
        input_path = make_input(args.n, args.seed, args.gz_input)
        n = args.n
    stamp = time.strftime("%Y%m%d-%H%M%S")
    info = machine()
    results = []
    for number in range(1, args.runs + 1):
        # A fresh sink per run: its marker table and its 429 decisions start from zero.
        sink = SinkProcess(
            args.verify, args.reject_fraction, OUT / f"replay-{stamp}-run{number}-sink.log"
        )
        try:
            result = run_once(args, sink, input_path, n, number, stamp)
        finally:
            sink.stop()
        results.append(result)
        state = "ok" if not result["problems"] else "PROBLEMS: " + "; ".join(result["problems"])
        print(
            f"run {number}: {result['events_per_second']:,.0f} events/s, "
            f"exit {result['exit_code']}, {state}",
            file=sys.stderr,
            flush=True,
        )

    size = input_path.stat().st_size
    title = (
        f"logwharf replay, N={n:,}, input {input_path.name} ({size / 1e6:,.1f} MB)"
        f"{', --gzip' if args.gzip else ''}"
        f"{f', reject {args.reject_fraction:g}' if args.reject_fraction else ''}"
        f"{f', extra: {args.extra_args}' if args.extra_args else ''}"
    )
    report = {
        "stamp": stamp,
        "label": args.label,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "input": {"path": str(input_path), "bytes": size, "lines": n},
        "machine": info,
        "runs": results,
    }
    report_path = OUT / f"replay-{stamp}.json"
    report_path.write_text(json.dumps(report, indent=2) + "\n")

    print_table(results, title)
    for result in results:
        if result["problems"]:
            print(f"run {result['run']} problems: " + "; ".join(result["problems"]))
            print("  last lines of logwharf's stderr:")
            for line in result["stderr_tail"]:
                print("    " + line)
    if results:
        print("logwharf summary (run 1):")
        for line in results[0]["stderr_tail"]:
            if line.startswith("  ") or line.startswith("replayed"):
                print("  " + line)
    print(f"JSON: {report_path.relative_to(ROOT)}")
    return 0 if all(not r["problems"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
