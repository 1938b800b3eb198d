"""CPU time per event of the ``redact`` stage on a realistic mix (not collected by pytest).

Run: ``.venv/bin/python tests/processor/bench_redact.py [events] [secret_share]``.
The events are ECS-shaped container logs: 11 string fields (@timestamp and _id are not
scanned), a message of 100-200 characters, about 3% holding a secret. Prints the best of several
runs in CPU µs/event, once with each event's own objects and once with container and
host objects shared by the events of a container, as the live shipper builds them.
"""

from __future__ import annotations

import copy
import random
import sys
import time
from typing import Any

from logwharf.processor.redact import RedactConfig
from logwharf.processor.stage_config import BuildContext

_PLAIN = (
    "{ts} INFO [http-nio-8080-exec-{n}] c.e.shop.OrderController - GET /api/orders/{order} "
    "took {ms}ms status=200 user=u{n} trace_id={trace}",
    'level=info ts={ts} caller=server.go:{n} msg="request completed" method=POST '
    "path=/v1/items/{order} duration={ms}.2ms bytes={order}",
    '10.0.{n}.12 - - [10/Jun/2024:12:00:01 +0000] "GET /static/app.{trace}.js HTTP/1.1" 200 '
    '{order} "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0"',
    '{{"level":"debug","time":"{ts}","msg":"cache miss","key":"user:{n}","ttl":{ms},'
    '"trace_id":"{trace}"}}',
    "{ts} WARN  [scheduler] Job cleanup-{n} finished in {ms} ms; removed {order} expired "
    "sessions, next run at {ts}",
    "{ts} ERROR worker-{n}: connection to redis-{n}.cache.svc:6379 refused, retry {n}/5 "
    "in {ms}ms (epoch {epoch})",
)
_SECRET = (
    "{ts} INFO connecting to postgres://app:S3cr3t-{n}@db.internal:5432/orders",
    'level=debug msg="outgoing request" headers="Authorization: Bearer abc{trace}"',
    '{{"level":"info","msg":"login","user":"u{n}","password":"hunter{n}!"}}',
    "{ts} DEBUG payment card=4111 1111 1111 1111 amount={ms}.00 order={order}",
    "{ts} INFO aws config AKIAIOSFODNN7EXAMPL{n} loaded for region eu-west-1",
)


_CONTAINER_IDS = [f"{random.Random(n).getrandbits(256):064x}" for n in range(10)]


def _container(n: int) -> dict[str, Any]:
    return {
        "id": _CONTAINER_IDS[n],
        "name": f"shop-api-{n}",
        "image": {"name": "registry.local/shop/api:1.24.3"},
    }


_SHARED = [_container(n) for n in range(10)]
_HOST = {"name": "docker-host-07"}


def make_event(rng: random.Random, secret: bool, shared: bool = False) -> dict[str, Any]:
    """One event; ``shared``: the container and host objects are shared by the events of
    one container, as the live shipper builds them (otherwise each event has its own)."""
    values = {
        "ts": f"2024-06-10T12:{rng.randrange(3600) // 60:02d}:{rng.randrange(60):02d}.123Z",
        "n": rng.randrange(10),
        "order": rng.randrange(10**5, 10**7),
        "ms": rng.randrange(1, 900),
        "trace": f"{rng.getrandbits(128):032x}",
        "epoch": 1718020800000 + rng.randrange(10**6),
    }
    template = rng.choice(_SECRET if secret else _PLAIN)
    return {
        "@timestamp": values["ts"],
        "_id": f"{rng.getrandbits(160):040x}",
        "message": template.format(**values),
        "stream": rng.choice(("stdout", "stderr")),
        "log": {
            "level": rng.choice(("info", "debug", "warn")),
            "file": {"path": f"/var/lib/docker/containers/{values['n']}/json.log"},
            "offset": rng.randrange(10**9),
        },
        "container": _SHARED[values["n"]] if shared else _container(values["n"]),
        "host": _HOST if shared else {"name": "docker-host-07"},
        "tags": ["prod"],
    }


def run(
    count: int = 20_000, secret_share: float = 0.03, shared: bool = False, repeats: int = 5
) -> float:
    rng = random.Random(7)
    events = [make_event(rng, rng.random() < secret_share, shared) for _ in range(count)]
    best = float("inf")
    masked = 0
    for _ in range(repeats):
        # A new stage each run: its cache of clean strings starts empty.
        stage = RedactConfig(type="redact").build("redact", BuildContext())
        batch = copy.deepcopy(events)
        started = time.process_time()
        for start in range(0, count, 500):
            stage.process_batch(batch[start : start + 500])
        best = min(best, time.process_time() - started)
        masked = stage.masked
        assert stage.failures == 0
    per_event = best / count * 1e6
    kind = "shared container objects" if shared else "own objects"
    print(f"{count} events ({kind}), {secret_share:.0%} with a secret: {per_event:.2f} µs/event")
    print(f"{masked} values masked per run")
    return per_event


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    share = float(sys.argv[2]) if len(sys.argv) > 2 else 0.03
    run(size, share, shared=False)
    run(size, share, shared=True)
