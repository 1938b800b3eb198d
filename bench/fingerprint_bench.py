#!/usr/bin/env python3
"""Grouping accuracy, speed and memory of the ``fingerprint`` stage.

    python bench/fingerprint_bench.py [--data DIR] [--runs 3] [--distinct 200000]
                                      [--max-clusters N] [--similarity S]

1. Accuracy, on the Loghub-2k samples in DIR (default ``../shared/data/loghub-2k`` next to
   the repository): for each ``<name>/<name>_2k.log_structured.csv``, the ``Content`` of each
   line goes, in order, through a freshly built stage (default configuration) as the event
   ``{"message": content, "log": {"level": "error"}}``; the ``error.fingerprint`` it gets is
   its group, as emitted, event by event (no second pass over the miner's final state).
   Grouping accuracy as the benchmark's README defines it: a line is correct when the set of
   lines sharing its fingerprint is exactly the set sharing its ground-truth EventId;
   GA = correct lines / all lines.
2. Speed: CPU seconds (``time.process_time``) per event over all samples, best of --runs.
3. Memory: a stream of --distinct random messages, every one a kind of its own, through a
   stage capped at --max-clusters: the peak of what tracemalloc sees allocated while they
   pass (the messages themselves are made before it starts), the kinds kept, and the size
   of the saved state at the cap. Its speed is measured apart, without tracemalloc.

No setting depends on the data set: every sample runs with the same configuration.
"""

from __future__ import annotations

import argparse
import csv
import random
import string
import sys
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from logwharf.processor.fingerprint import FingerprintConfig, FingerprintStage  # noqa: E402
from logwharf.processor.stage_config import BuildContext  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "loghub-2k"
BATCH = 500
DRAIN_PUBLISHED = 0.865  # Drain's average over all sixteen Loghub-2k samples


def build(**keys: Any) -> FingerprintStage:
    config = FingerprintConfig.model_validate({"type": "fingerprint", **keys})
    return config.build("bench", BuildContext())


def read_sample(path: Path) -> tuple[list[str], list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [row["Content"] for row in rows], [row["EventId"] for row in rows]


def emitted(stage: FingerprintStage, messages: Sequence[str]) -> list[str | None]:
    found: list[str | None] = []
    for start in range(0, len(messages), BATCH):
        events = [
            {"message": message, "log": {"level": "error"}}
            for message in messages[start : start + BATCH]
        ]
        for event in stage.process_batch(events):
            error = event.get("error")
            found.append(error.get("fingerprint") if isinstance(error, dict) else None)
    return found


def feed(stage: FingerprintStage, messages: Sequence[str]) -> None:
    """Like :func:`emitted`, keeping nothing: what is traced is the stage's own memory."""
    for start in range(0, len(messages), BATCH):
        stage.process_batch(
            [
                {"message": message, "log": {"level": "error"}}
                for message in messages[start : start + BATCH]
            ]
        )


def grouping_accuracy(predicted: Sequence[str | None], truth: Sequence[str]) -> float:
    groups: dict[object, list[int]] = defaultdict(list)
    for line, label in enumerate(predicted):
        groups[label if label is not None else ("none", line)].append(line)  # alone if none
    truth_sizes = Counter(truth)
    correct = 0
    for lines in groups.values():
        kinds = {truth[line] for line in lines}
        if len(kinds) == 1 and truth_sizes[truth[lines[0]]] == len(lines):
            correct += len(lines)
    return correct / len(truth)


def cpu_per_event(samples: dict[str, list[str]], runs: int, **keys: Any) -> float:
    total = sum(len(messages) for messages in samples.values())
    best = float("inf")
    for _ in range(runs):
        stages = {name: build(**keys) for name in samples}
        started = time.process_time()
        for name, messages in samples.items():
            emitted(stages[name], messages)
        best = min(best, time.process_time() - started)
    return best / total * 1e6


def random_messages(count: int, seed: int = 42) -> list[str]:
    """Distinct messages of random words; the first two come from a small vocabulary, as
    real messages begin with a few common words, so that the tree spreads them over many
    leaves and the cap on clusters, not the one per leaf, is what binds."""
    rng = random.Random(seed)
    letters = string.ascii_lowercase

    def word() -> str:
        return "".join(rng.choice(letters) for _ in range(rng.randint(3, 10)))

    common = [word() for _ in range(60)]
    messages = []
    for number in range(count):
        words = [rng.choice(common), rng.choice(common)]
        words.extend(word() for _ in range(rng.randint(2, 14)))
        words.insert(rng.randrange(2, len(words) + 1), str(number))  # a value, masked as usual
        messages.append(" ".join(words))
    return messages


def memory_run(messages: list[str], runs: int, **keys: Any) -> dict[str, float]:
    best = float("inf")
    for _ in range(runs):
        stage = build(**keys)
        started = time.process_time()
        feed(stage, messages)
        best = min(best, time.process_time() - started)
    tracemalloc.start()
    stage = build(**keys)
    feed(stage, messages)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    started = time.process_time()
    state = stage.snapshot()
    snapshot_seconds = time.process_time() - started
    fresh = build(**keys)
    started = time.process_time()
    fresh.restore(state)
    restore_seconds = time.process_time() - started
    return {
        "us_per_event": best / len(messages) * 1e6,
        "peak_mb": peak / 2**20,
        "kept_mb": current / 2**20,
        "clusters": len(stage.miner),
        "evicted": stage.miner.evicted,
        "state_mb": len(state) / 2**20,
        "snapshot_ms": snapshot_seconds * 1e3,
        "restore_ms": restore_seconds * 1e3,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Loghub-2k folder")
    parser.add_argument("--runs", type=int, default=3, help="timed runs; the best counts")
    parser.add_argument("--distinct", type=int, default=200_000, help="messages, memory run")
    parser.add_argument("--max-clusters", type=int, default=None, help="default: the stage's")
    parser.add_argument("--similarity", type=float, default=None, help="default: the stage's")
    args = parser.parse_args(argv)
    keys: dict[str, Any] = {}
    if args.max_clusters is not None:
        keys["max_clusters"] = args.max_clusters
    if args.similarity is not None:
        keys["similarity"] = args.similarity
    settings = FingerprintConfig.model_validate({"type": "fingerprint", **keys})
    print(
        f"fingerprint stage: similarity {settings.similarity}, depth {settings.depth}, "
        f"max_clusters {settings.max_clusters}, default masks, the same for every sample"
    )

    samples: dict[str, list[str]] = {}
    truths: dict[str, list[str]] = {}
    for path in sorted(args.data.glob("*/*_2k.log_structured.csv")):
        name = path.parent.name
        samples[name], truths[name] = read_sample(path)
    if not samples:
        print(f"no <name>/<name>_2k.log_structured.csv under {args.data}", file=sys.stderr)
        return 1

    print(f"\n{'dataset':<12} {'lines':>6} {'kinds':>6} {'found':>6} {'GA':>7}")
    scores = []
    for name, messages in samples.items():
        stage = build(**keys)
        predicted = emitted(stage, messages)
        score = grouping_accuracy(predicted, truths[name])
        scores.append(score)
        kinds, found = len(set(truths[name])), len(set(predicted))
        print(f"{name:<12} {len(messages):>6} {kinds:>6} {found:>6} {score:>7.3f}")
    average = sum(scores) / len(scores)
    print(f"{'average':<12} {'':>6} {'':>6} {'':>6} {average:>7.3f}")
    print(f"(Drain's published average over all sixteen samples: {DRAIN_PUBLISHED})")

    speed = cpu_per_event(samples, args.runs, **keys)
    print(f"\nspeed on the samples: {speed:.1f} µs of CPU per event (best of {args.runs})")

    memory = memory_run(random_messages(args.distinct), args.runs, **keys)
    print(
        f"\n{args.distinct:,} distinct messages, cap {settings.max_clusters:,}: "
        f"{memory['us_per_event']:.1f} µs/event, "
        f"peak {memory['peak_mb']:.1f} MiB traced (kept {memory['kept_mb']:.1f} MiB), "
        f"{memory['clusters']:,} kinds kept, {memory['evicted']:,} evicted\n"
        f"state at the cap: {memory['state_mb']:.1f} MiB, snapshot "
        f"{memory['snapshot_ms']:.0f} ms, restore {memory['restore_ms']:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
