"""The fingerprint stage and its template miner, on small synthetic logs."""

from __future__ import annotations

import copy
import json
import random
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from logwharf.processor.fingerprint import (
    FingerprintConfig,
    FingerprintStage,
    state_file_name,
)
from logwharf.processor.stage import PROCESSOR_FAILURE, Pipeline
from logwharf.processor.stage_config import BuildContext
from logwharf.processor.templates import DEFAULT_MASKS, Masker, TemplateMiner

Event = dict[str, Any]


def make(context: BuildContext | None = None, **keys: Any) -> FingerprintStage:
    config = FingerprintConfig.model_validate({"type": "fingerprint", **keys})
    return config.build("fp", context or BuildContext())


def error(message: Any, level: Any = "error") -> Event:
    return {"message": message, "log": {"level": level}}


def fingerprints(stage: FingerprintStage, messages: list[str]) -> list[str]:
    events = [error(message) for message in messages]
    stage.process_batch(events)
    return [event["error"]["fingerprint"] for event in events]


def random_word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))


# --- masks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("connect to 10.0.3.7:5432 failed", "connect to <IP> failed"),
        ("from fe80::1ff:fe23:4567:890a and ::1", "from <IP> and <IP>"),
        ("at 10:21:45 exactly", "at <NUM> exactly"),
        ("job 3f2b8a1c-0d4e-4f6a-9b7c-2e1d0c9b8a7f died", "job <UUID> died"),
        ("fault at 0x7ffd1234 in libc", "fault at <HEX> in libc"),
        ("commit 9fceb02d0ae598e95dc970b74767f19372d61af8", "commit <NUM>"),
        ("open /var/lib/app/data.db: denied", "open <PATH>: denied"),
        (r"open C:\Users\bob\app.ini failed", "open <PATH> failed"),
        ('unknown column "user name" in table', 'unknown column "<*>" in table'),
        ("can't find 'settings.yaml'", "can't find '<*>'"),
        ("GET https://api.example.com/v1/x?y=2 gave 503", "GET <URL> gave <NUM>"),
        ("mail to ops@example.com bounced", "mail to <EMAIL> bounced"),
        ("block blk_-4242 on node-12 took 35ms", "block blk_<NUM> on node-<NUM> took <NUM>ms"),
        ("retry -3 of +7, sizes 1,024 and 2.5", "retry <NUM> of <NUM>, sizes <NUM> and <NUM>"),
        ("a word - a dash", "a word - a dash"),
        ("the facade is deadbeef", "the facade is deadbeef"),
    ],
)
def test_default_masks(text: str, masked: str) -> None:
    assert Masker(DEFAULT_MASKS)(text) == masked


# --- kinds and fingerprints ---------------------------------------------------------------


def test_one_kind_one_fingerprint_across_its_variable_parts() -> None:
    stage = make()
    found = fingerprints(
        stage,
        [
            "Connection to 10.0.0.1:5432 refused after 3 retries",
            "Connection to 192.168.7.20:6379 refused after 12 retries",
            "Connection to [fe80::1]:80 refused after 1 retries",
        ],
    )
    assert len(set(found)) == 1
    assert len(found[0]) == 16 and int(found[0], 16) >= 0


def test_different_kinds_differ() -> None:
    stage = make()
    messages = [
        "Connection to 10.0.0.1:5432 refused after 3 retries",
        "Disk /dev/sda1 is 97% full",
        "User 'bob' not found in directory ldap",
        "Timeout waiting for lock on table orders",
        "Connection to 10.0.0.2:5432 refused after 5 retries",
    ]
    found = fingerprints(stage, messages)
    assert found[0] == found[4]
    assert len(set(found[:4])) == 4


def test_the_fingerprint_stays_while_the_template_improves() -> None:
    stage = make()
    first = error("Payment failed for merchant acme with code E42 in region west")
    second = error("Payment failed for merchant globex with code E42 in region west")
    third = error("Payment failed for merchant initech with code E42 in region east")
    stage.process_batch([first, second, third])
    assert first["error"]["template"] == (
        "Payment failed for merchant acme with code E<NUM> in region west"
    )
    assert second["error"]["template"] == (
        "Payment failed for merchant <*> with code E<NUM> in region west"
    )
    assert third["error"]["template"] == (
        "Payment failed for merchant <*> with code E<NUM> in region <*>"
    )
    assert first["error"]["fingerprint"] == second["error"]["fingerprint"]
    assert second["error"]["fingerprint"] == third["error"]["fingerprint"]


def test_an_exact_repeat_keeps_its_kind_while_others_grow_around_it() -> None:
    miner = TemplateMiner(Masker(DEFAULT_MASKS))
    seen = miner.add("job build stopped on worker alpha in queue main")
    assert seen is not None
    for name in ("beta", "gamma", "delta"):
        assert miner.add(f"job build stopped on worker {name} in queue main") is seen
    assert seen.template == "job build stopped on worker <*> in queue main"
    again = miner.add("job build stopped on worker alpha in queue main")
    assert again is seen
    assert seen.size == 5
    assert len(miner) == 1


def test_fingerprints_agree_between_processes() -> None:
    # Replay runs several worker processes, each with its own miner: a kind met first in the
    # same form must get the same fingerprint in each (no per-process hash seed).
    script = (
        "from logwharf.processor.templates import DEFAULT_MASKS, Masker, TemplateMiner\n"
        "miner = TemplateMiner(Masker(DEFAULT_MASKS))\n"
        "print(miner.add('Query timeout after 30s on shard 7').fingerprint)\n"
    )
    found = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    miner = TemplateMiner(Masker(DEFAULT_MASKS))
    cluster = miner.add("Query timeout after 45s on shard 2")
    assert cluster is not None
    assert found == {cluster.fingerprint}


def test_lists_of_any_length_make_one_kind() -> None:
    stage = make()
    found = fingerprints(
        stage,
        [
            "cannot reach hosts an14 an15 an16",
            "cannot reach hosts an3 an4 an5 an6 an7 an8",
            "cannot reach hosts an9",
        ],
    )
    assert len(set(found)) == 1


# --- which events -------------------------------------------------------------------------


def test_events_of_other_levels_are_untouched() -> None:
    stage = make()
    events = [
        error("disk almost full on /dev/sda1", "warn"),
        {"message": "no level at all"},
        error("a level that is no text", {"odd": 1}),
        error("a level that is a list", ["error"]),
    ]
    before = copy.deepcopy(events)
    assert stage.process_batch(events) == before
    assert stage.failures == 0
    assert len(stage.miner) == 0


def test_levels_are_matched_in_any_spelling() -> None:
    stage = make(levels=["error"])
    events = [error("boom 1", "ERROR"), error("boom 2", "err"), error("boom 3", "fatal")]
    stage.process_batch(events)
    assert ["error" in event for event in events] == [True, True, False]


def test_levels_any_mines_every_event() -> None:
    for levels in ("any", []):
        stage = make(levels=levels)
        events: list[Event] = [{"message": "started worker 3"}, error("boom", "info")]
        stage.process_batch(events)
        assert all("fingerprint" in event["error"] for event in events)


def test_other_field_and_targets() -> None:
    stage = make(
        field="app.err",
        template_field="kind.text",
        fingerprint_field="kind.id",
        levels="any",
    )
    event: Event = {"app": {"err": "bad token 1234"}}
    stage.process_batch([event])
    assert event["kind"]["text"] == "bad token <NUM>"
    assert len(event["kind"]["id"]) == 16
    assert "error" not in event


# --- multiline messages -------------------------------------------------------------------

JAVA = (
    "java.lang.IllegalStateException: pool exhausted after {n} ms\n"
    "\tat com.acme.Pool.take(Pool.java:{line})\n"
    "\tat com.acme.{caller}.run({caller}.java:88)\n"
)
PYTHON = (
    "Traceback (most recent call last):\n"
    '  File "/app/{module}.py", line {line}, in handle\n'
    "    value = int(text)\n"
    "ValueError: invalid literal for int() with base 10: '{text}'\n"
)


def test_a_stack_trace_is_known_by_its_first_line() -> None:
    stage = make()
    first = error(JAVA.format(n=30, line=12, caller="Api"))
    second = error(JAVA.format(n=95, line=40, caller="Batch"))
    stage.process_batch([first, second])
    assert first["error"]["fingerprint"] == second["error"]["fingerprint"]
    assert first["error"]["template"] == (
        "java.lang.IllegalStateException: pool exhausted after <NUM> ms"
    )


def test_a_python_traceback_is_known_by_its_exception() -> None:
    stage = make()
    first = error(PYTHON.format(module="api", line=12, text="x"))
    second = error(PYTHON.format(module="jobs", line=99, text="abc"))
    other = error(PYTHON.replace("ValueError: invalid literal", "KeyError: missing"))
    stage.process_batch([first, second, other])
    assert first["error"]["fingerprint"] == second["error"]["fingerprint"]
    assert first["error"]["fingerprint"] != other["error"]["fingerprint"]
    assert first["error"]["template"].startswith("ValueError: invalid literal")


def test_lines_all_mines_the_whole_text() -> None:
    stage = make(lines="all")
    first = error(JAVA.format(n=30, line=12, caller="Api"))
    stage.process_batch([first])
    assert "Pool.take" in first["error"]["template"]


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("message", [None, 42, 3.5, {"text": "x"}, ["a"], b"bytes", "", " \n\t "])
def test_no_text_to_mine_leaves_the_event_alone(message: Any) -> None:
    stage = make()
    event = error(message)
    before = copy.deepcopy(event)
    assert stage.process_batch([event]) == [before]
    assert stage.failures == 0


def test_a_missing_message_leaves_the_event_alone() -> None:
    stage = make()
    event: Event = {"log": {"level": "error"}}
    assert stage.process_batch([event]) == [{"log": {"level": "error"}}]


def test_a_huge_line_is_mined_by_its_start() -> None:
    stage = make()
    rng = random.Random(1)
    huge = "Overflow in parser: " + " ".join(random_word(rng) for _ in range(200_000))
    assert len(huge) > 1_000_000
    events = [error(huge), error(huge[:-5000] + " tail")]
    stage.process_batch(events)
    assert stage.failures == 0
    template = events[0]["error"]["template"]
    assert template.startswith("Overflow in parser: ") and len(template) <= 2048
    assert events[0]["error"]["fingerprint"] == events[1]["error"]["fingerprint"]


def test_a_target_that_cannot_be_set_is_a_failure_of_that_event_only() -> None:
    stage = make()
    events = [{**error("boom 1"), "error": "already a text"}, error("boom 2")]
    out = Pipeline([stage]).process_batch(events)
    assert out == events
    assert PROCESSOR_FAILURE in out[0]["tags"]
    assert "fingerprint" in out[1]["error"]
    assert stage.failures == 1


# --- bounded memory -----------------------------------------------------------------------


def count_nodes(miner: TemplateMiner) -> int:
    pending, count = [miner.root], 0
    while pending:
        node = pending.pop()
        count += 1
        pending.extend(node.children.values())
    return count


def test_the_cap_bounds_clusters_tree_and_cache() -> None:
    stage = make(max_clusters=50)
    rng = random.Random(7)
    for _ in range(40):
        batch = [
            error(" ".join(random_word(rng) for _ in range(rng.randint(2, 12)))) for _ in range(50)
        ]
        stage.process_batch(batch)
    miner = stage.miner
    assert len(miner) == 50
    assert miner.evicted == 2000 - 50
    assert count_nodes(miner) <= 1 + 50 * 3  # root, then at most depth-1 nodes per cluster
    assert len(miner._seen) <= 50


def test_recent_kinds_survive_eviction_and_an_evicted_kind_comes_back_the_same() -> None:
    stage = make(max_clusters=3)
    kinds = [f"{word} failed on host 1" for word in ("alpha", "bravo", "charlie", "delta")]
    first = fingerprints(stage, [kinds[0], kinds[1], kinds[2], kinds[0]])
    second = fingerprints(stage, [kinds[3], kinds[0], kinds[1]])  # delta evicts bravo
    assert second[1] == first[0]
    assert second[2] == first[1]  # made anew from the same first form: the same fingerprint
    assert len(stage.miner) == 3


# --- state --------------------------------------------------------------------------------


def corpus(seed: int) -> list[str]:
    rng = random.Random(seed)
    shapes = [
        "Connection to {ip}:{port} refused",
        "User {word} has no permission for {word}",
        "Request {n} took {n}ms over budget {word}",
        "Cannot allocate {n} bytes in pool {word}",
        "{word} worker crashed with exit code {n}",
    ]

    def fill(shape: str) -> str:
        return shape.format_map(
            {
                "ip": ".".join(str(rng.randint(1, 254)) for _ in range(4)),
                "port": rng.randint(1, 65535),
                "n": rng.randint(0, 10**6),
                "word": random_word(rng),
            }
        )

    return [fill(rng.choice(shapes)) for _ in range(300)]


def test_snapshot_and_restore_keep_fingerprints_identical() -> None:
    messages = corpus(3)
    stage = make()
    fingerprints(stage, messages[:150])
    data = stage.snapshot()
    restored = make()
    restored.restore(data)
    assert restored.snapshot() == data
    ahead = [error(message) for message in messages[150:]]
    behind = copy.deepcopy(ahead)
    stage.process_batch(ahead)
    restored.process_batch(behind)
    assert ahead == behind


def test_the_state_file_is_saved_atomically_and_loaded_by_build(tmp_path: Path) -> None:
    messages = corpus(5)
    context = BuildContext(state_dir=tmp_path / "state")
    stage = make(context)
    assert stage.state_path == tmp_path / "state" / state_file_name("fp")
    first = fingerprints(stage, messages)
    assert stage.dirty
    stage.save_state()
    assert not stage.dirty
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["fingerprint-fp.json"]
    assert json.loads(stage.state_path.read_bytes())["version"] == 1

    again = make(context)
    assert again.warning is None and len(again.miner) == len(stage.miner)
    assert fingerprints(again, messages) == first
    assert not again.dirty  # known kinds only: nothing new to save
    fingerprints(again, ["A kind never seen before"])
    assert again.dirty


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[]",
        b'{"version": 99, "clusters": []}',
        b'{"version": 1, "clusters": [{"fingerprint": "x", "template": "a b", "path": []}]}',
        b'{"version": 1, "clusters": [{"fingerprint": "x", "template": ["a"], "path": ["9"]}]}',
    ],
)
def test_a_corrupt_state_file_starts_empty_with_a_warning(tmp_path: Path, content: bytes) -> None:
    (tmp_path / state_file_name("fp")).write_bytes(content)
    stage = make(BuildContext(state_dir=tmp_path))
    assert stage.warning is not None and "not usable" in stage.warning
    assert len(stage.miner) == 0
    assert fingerprints(stage, ["still works 1", "still works 2"])[0]
    stage.save_state()
    assert make(BuildContext(state_dir=tmp_path)).warning is None


def test_restore_keeps_the_most_recent_kinds_within_a_smaller_cap() -> None:
    stage = make()
    found = fingerprints(stage, [f"{word} is broken" for word in ("alpha", "bravo", "charlie")])
    smaller = make(max_clusters=2)
    smaller.restore(stage.snapshot())
    assert [c.fingerprint for c in smaller.miner.clusters.values()] == found[1:]


# --- configuration ------------------------------------------------------------------------


def test_extra_masks_come_first_and_are_literal() -> None:
    stage = make(masks=[{"regex": r"tenant=\w+", "replacement": r"tenant=<TENANT:\g<name>>"}])
    event = error("quota exceeded for tenant=acme2 at 80%")
    stage.process_batch([event])
    assert event["error"]["template"] == r"quota exceeded for tenant=<TENANT:\g<name>> at <NUM>%"


def test_without_default_masks_only_the_extra_ones_apply() -> None:
    stage = make(default_masks=False, masks=[{"regex": r"\d+"}])
    event = error("quota 10.0.0.1 at 80%")
    stage.process_batch([event])
    assert event["error"]["template"] == "quota <*>.<*>.<*>.<*> at <*>%"


@pytest.mark.parametrize(
    ("keys", "complaint"),
    [
        ({"masks": [{"regex": "(unclosed"}]}, "not a valid regular expression"),
        ({"masks": [{"regex": "x*"}]}, "matches an empty text"),
        ({"masks": [{"regex": "x", "flags": "i"}]}, "Extra inputs"),
        ({"levels": ["error", "loud"]}, "unknown level 'loud'"),
        ({"field": "a..b"}, "not a field name"),
        ({"similarity": 0}, "greater than 0"),
        ({"max_clusters": 0}, "greater than or equal to 1"),
        ({"depth": 2}, "greater than or equal to 3"),
        ({"lines": "last"}, "'first' or 'all'"),
        ({"state_file": "x"}, "Extra inputs"),
    ],
)
def test_bad_configuration_says_what_to_fix(keys: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError) as caught:
        FingerprintConfig.model_validate({"type": "fingerprint", **keys})
    assert complaint in str(caught.value)


def test_configuration_defaults_and_level_spellings() -> None:
    config = FingerprintConfig.model_validate({"type": "fingerprint", "levels": ["ERR", "Fatal"]})
    assert config.levels == ["error", "fatal"]
    assert FingerprintConfig.model_validate({"type": "fingerprint", "levels": "err"}).levels == [
        "error"
    ]
    default = FingerprintConfig.model_validate({"type": "fingerprint"})
    assert (default.field, default.levels, default.max_clusters) == (
        "message",
        ["error", "fatal"],
        10_000,
    )
