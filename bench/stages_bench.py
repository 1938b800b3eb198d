#!/usr/bin/env python3
"""Micro-benchmark of the processor stages: CPU µs per event, on one core.

    python bench/stages_bench.py [--events N] [--runs R]

Each case is a pipeline built from YAML exactly as ``--config`` builds it, run over
batches of 1,000 fresh events (copies made outside the timing). The figure is the best of
R runs of ``time.process_time`` (CPU time of this process only, so a busy neighbour on the
other core changes it less than wall time would). Cases: the default processor on JSON
application lines (95 %) and text (5 %), the nginx example on access lines, ``redact`` on
every string field of a processed event, and one case per other stage.

Targets (issue 4): default pipeline >= 250,000 events/s, nginx example >= 80,000 events/s,
redact >= 100,000 events/s.
"""

from __future__ import annotations

import argparse
import copy
import gc
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logwharf.config import validate_config  # noqa: E402
from logwharf.yaml_source import YamlSource  # noqa: E402

Event = dict[str, Any]
BATCH = 1000
TARGETS = {"default": 250_000, "nginx example": 80_000, "redact": 100_000}


def app_line(rng: random.Random, i: int) -> str:
    if i % 20 == 0:
        return f"2026-11-23 10:00:{i % 60:02d},123 WARNING worker-{i % 7}: retrying job {i}"
    level = rng.choice(["info", "info", "info", "debug", "warn", "error"])
    return (
        f'{{"ts":"2026-11-23T10:00:{i % 60:02d}.{i % 1000:03d}Z","level":"{level}",'
        f'"logger":"http","msg":"request completed","request_id":"req-{i:010d}",'
        f'"method":"GET","path":"/api/v1/orders/{i % 977}","status":200,'
        f'"latency_ms":{rng.random() * 100:.2f},"client_ip":"10.0.{i % 256}.{i % 13}"}}'
    )


def base_event(message: str, i: int, stream: str = "stdout") -> Event:
    return {
        "@timestamp": f"2026-11-23T10:00:{i % 60:02d}.000000000Z",
        "message": message,
        "stream": stream,
        "log": {"file": {"path": "/var/lib/docker/containers/x/x-json.log"}, "offset": i * 300},
        "host": {"name": "node-1"},
        "container": {"id": "c0ffee", "name": "api", "image": {"name": "api", "tag": ["1.4"]}},
        "_id": f"id-{i}",
    }


def access_line(rng: random.Random, i: int) -> str:
    status = rng.choice([200, 200, 200, 200, 301, 404, 500])
    path = "/healthz" if i % 25 == 0 else f"/api/v1/items/{i % 5000}?page={i % 9}"
    agent = "kube-probe/1.29" if i % 25 == 0 else "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0"
    return (
        f"198.51.100.{i % 250} - - [23/Nov/2026:10:{i % 60:02d}:{i % 57:02d} +0000] "
        f'"GET {path} HTTP/1.1" {status} {rng.randint(100, 90000)} '
        f'"https://shop.example.com/cart" "{agent}"'
    )


def processed_event(rng: random.Random, i: int) -> Event:
    """An event as the default processor leaves it, a few percent holding a secret."""
    event = base_event(f"request completed for order {i}", i)
    event["log"]["level"] = "info"
    event["app"] = {
        "request_id": f"req-{i:010d}",
        "method": "GET",
        "path": f"/api/v1/orders/{i % 977}",
        "status": 200,
        "client_ip": f"10.0.{i % 256}.{i % 13}",
        "user_agent": "okhttp/4.12.0",
        "trace_id": f"{rng.getrandbits(128):032x}",
    }
    if i % 33 == 0:
        event["message"] = f"login for user{i} with password=s3cr3t-{i} from 10.0.0.1"
    return event


def cases(rng: random.Random, n: int) -> dict[str, tuple[str, Callable[[int], Event]]]:
    nginx = (ROOT / "examples" / "nginx.yaml").read_text()
    simple = {
        "json": "- type: json\n  field: raw\n  target: parsed",
        "grok (COMBINEDAPACHELOG)": "- type: grok\n  patterns: ['^%{COMBINEDAPACHELOG}']",
        "dissect": "- type: dissect\n  pattern: '%{source.address} - %{user.name} [%{ts}] "
        '"%{http.request.method} %{url.original} HTTP/%{http.version}" '
        '%{http.response.status_code} %{size} "%{referrer}" "%{agent}"\'',
        "kv (logfmt)": "- type: kv\n  field: raw\n  logfmt: true\n  target: kv",
        "csv": "- type: csv\n  field: raw\n  columns: [a, b, c, d, e, f]",
        "date (strptime, cached)": "- type: date\n  field: ts\n  formats: ['%d/%b/%Y:%H:%M:%S %z']",
        "set + rename + remove": "- type: set\n  fields: {service.name: '%{container.name}'}\n"
        "- type: rename\n  fields: {stream: log.stream}\n- type: remove\n  fields: [host]",
        "http": "- type: http\n  field: status",
        "drop (condition)": "- type: drop\n  if: {field: log.level, equals: debug}",
        "sample": "- type: sample\n  rate: 10",
        "route": "- type: route\n  rules:\n    - if: {field: log.level, in: [error, fatal]}\n"
        "      index: errors",
        "fingerprint (errors)": "- type: fingerprint\n  levels: any",
    }
    raw = {
        "json": lambda i: {"raw": app_line(rng, i + 1)},
        "kv (logfmt)": lambda i: {
            "raw": f'level=info msg="request done" path=/api/{i % 97} status=200 dur={i % 50}ms'
        },
        "csv": lambda i: {"raw": f'{i},alpha,{i % 7},2026-11-23,ok,"x, y"'},
        "date (strptime, cached)": lambda i: {"ts": f"23/Nov/2026:10:{i % 60:02d}:00 +0000"},
        "http": lambda i: {"status": str(rng.choice([200, 404, 500]))},
        "drop (condition)": lambda i: {"log": {"level": rng.choice(["debug", "info"])}},
        "route": lambda i: {"log": {"level": rng.choice(["error", "info"])}},
        "fingerprint (errors)": lambda i: {
            "message": rng.choice(
                [
                    f"connection to 10.0.{i % 9}.{i % 7}:5432 refused after {i % 30} ms",
                    f"order {i} failed: payment declined for card ending {i % 9999:04d}",
                    f"timeout waiting for lock /var/lock/job-{i % 40}.lock",
                ]
            ),
            "log": {"level": "error"},
        },
    }
    out: dict[str, tuple[str, Callable[[int], Event]]] = {
        "default": ("- type: default", lambda i: base_event(app_line(rng, i), i)),
        "nginx example": (nginx, lambda i: base_event(access_line(rng, i), i)),
        "nginx example + redact": (
            nginx + "  - type: redact\n",
            lambda i: base_event(access_line(rng, i), i),
        ),
        "redact": ("- type: redact", lambda i: processed_event(rng, i)),
    }
    for label, stages in simple.items():
        make = raw.get(label, lambda i: base_event(access_line(rng, i), i))
        out[label] = (stages, make)
    return out


def build(text: str) -> Any:
    if not text.startswith("pipeline:") and "\npipeline:" not in text:
        text = "pipeline:\n" + "".join(f"  {line}\n" for line in text.splitlines())
    config = validate_config(YamlSource().load(text, "bench"))
    return config.build_pipeline(read_time="2026-11-23T10:00:00.000Z")


def measure(text: str, make: Callable[[int], Event], n: int, runs: int) -> float:
    events = [make(i) for i in range(n)]
    best = float("inf")
    for _ in range(runs):
        pipeline = build(text)  # fresh state (caches, templates) every run
        batches = [copy.deepcopy(events[i : i + BATCH]) for i in range(0, n, BATCH)]
        gc.collect()
        started = time.process_time()
        for batch in batches:
            pipeline.process_batch(batch)
        best = min(best, time.process_time() - started)
    return best / n * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", help="run the cases whose name contains this")
    args = parser.parse_args()
    rng = random.Random(7)
    print(f"{'case':28} {'µs/event':>9} {'events/s':>10}  target")
    for label, (text, make) in cases(rng, args.events).items():
        if args.only and args.only not in label:
            continue
        micros = measure(text, make, args.events, args.runs)
        target = TARGETS.get(label)
        verdict = ""
        if target:
            verdict = f">= {target:,}: {'met' if 1e6 / micros >= target else 'NOT met'}"
        print(f"{label:28} {micros:9.2f} {1e6 / micros:10,.0f}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
