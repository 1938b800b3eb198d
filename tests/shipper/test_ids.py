"""Deterministic ids."""

from __future__ import annotations

import re

from logwharf.shipper.ids import (
    IDENTITY_BYTES,
    content_identity,
    docker_event_id,
    file_event_id,
)


def test_content_identity_uses_only_the_head() -> None:
    head = bytes(range(256)) * 4
    assert len(head) == IDENTITY_BYTES
    assert content_identity(head) == content_identity(head + b"anything appended")
    assert content_identity(head) != content_identity(b"!" + head[1:])
    assert content_identity(b"a") != content_identity(b"b")
    assert re.fullmatch(r"[0-9a-f]{16}", content_identity(head))


def test_file_event_id_is_identity_offset_and_line() -> None:
    assert file_event_id("abc", 0, b"x") != file_event_id("abc", 1, b"x")
    assert file_event_id("abc", 12, b"x") == file_event_id("abc", 12, b"x")
    assert file_event_id("abc", 12, b"x") != file_event_id("abd", 12, b"x")
    # two files that share their first KiB differ beyond it: their lines tell them apart
    assert file_event_id("abc", 12, b"x") != file_event_id("abc", 12, b"y")


def test_docker_event_id_is_deterministic_and_url_safe() -> None:
    one = docker_event_id("c" * 64, "2026-11-23T10:00:00.1Z", "stdout", 0)
    assert one == docker_event_id("c" * 64, "2026-11-23T10:00:00.1Z", "stdout", 0)
    assert re.fullmatch(r"[A-Za-z0-9_-]{20}", one)  # 15 bytes: no padding


def test_docker_event_id_depends_on_every_part() -> None:
    base = ("c" * 64, "2026-11-23T10:00:00.1Z", "stdout", 0)
    variants = [
        ("d" * 64, *base[1:]),
        (base[0], "2026-11-23T10:00:00.2Z", *base[2:]),
        (*base[:2], "stderr", 0),
        (*base[:3], 1),
    ]
    ids = {docker_event_id(*base)} | {docker_event_id(*v) for v in variants}
    assert len(ids) == 5


def test_docker_event_id_parts_cannot_run_into_each_other() -> None:
    assert docker_event_id("c", "t1", "stdout", 0) != docker_event_id("c", "t", "1stdout", 0)
    assert docker_event_id("c", "t", "stdout", 10) != docker_event_id("c", "t", "stdout1", 0)
