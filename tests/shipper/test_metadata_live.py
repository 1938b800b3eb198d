"""What the live shipper adds to each event and how it keys it: the Compose and Swarm fields
from a container's labels (``orchestration_fields``), and Docker times made canonical so
that the json-file log (trailing zeros trimmed) and the logs API (nine digits) give one id."""

from __future__ import annotations

from typing import Any

import pytest

from logwharf.shipper.ids import canonical_docker_time, docker_event_id
from logwharf.shipper.metadata import orchestration_fields

CID = "0123456789abcdef" * 4

# --- orchestration_fields --------------------------------------------------------------


def test_compose_project_and_service() -> None:
    labels = {
        "com.docker.compose.project": "shop",
        "com.docker.compose.service": "web",
        "com.docker.compose.container-number": "1",
        "com.docker.compose.version": "2.29.1",
    }
    assert orchestration_fields(labels) == {"compose": {"project": "shop", "service": "web"}}


def test_compose_project_alone() -> None:
    assert orchestration_fields({"com.docker.compose.project": "shop"}) == {
        "compose": {"project": "shop"}
    }


def test_swarm_service_task_and_node() -> None:
    labels = {
        "com.docker.swarm.service.name": "shop_web",
        "com.docker.swarm.service.id": "kq0y3v9c5n8t",
        "com.docker.swarm.task.id": "x1a2b3c4d5e6",
        "com.docker.swarm.task.name": "shop_web.1.x1a2b3c4d5e6",
        "com.docker.swarm.node.id": "n0d3n0d3n0d3",
    }
    assert orchestration_fields(labels) == {
        "swarm": {"service": "shop_web", "task": "x1a2b3c4d5e6", "node": "n0d3n0d3n0d3"}
    }


def test_compose_and_swarm_together() -> None:
    # A stack deployed from a Compose file carries both kinds of labels.
    labels = {
        "com.docker.compose.project": "shop",
        "com.docker.swarm.service.name": "shop_web",
        "com.docker.swarm.task.id": "t1",
    }
    assert orchestration_fields(labels) == {
        "compose": {"project": "shop"},
        "swarm": {"service": "shop_web", "task": "t1"},
    }


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {"maintainer": "someone", "org.opencontainers.image.version": "1.0"},
        {"com.docker.compose.project": ""},  # empty: nothing to say
        {"com.docker.swarm.node.id": None},
        {"com.docker.compose.service": 3},  # not a string: not trusted
        {"com_docker_compose_project": "shop"},  # dedotted keys are not Docker's labels
    ],
)
def test_absent_labels_give_no_fields(labels: dict[str, Any]) -> None:
    assert orchestration_fields(labels) == {}


def test_the_labels_are_not_changed() -> None:
    labels = {"com.docker.compose.project": "shop"}
    orchestration_fields(labels)
    assert labels == {"com.docker.compose.project": "shop"}


# --- canonical Docker times and ids ------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        # json-file trims trailing zeros of the fraction
        ("2026-11-23T10:00:00.12345Z", "2026-11-23T10:00:00.123450000Z"),
        ("2026-11-23T10:00:00.1Z", "2026-11-23T10:00:00.100000000Z"),
        ("2026-11-23T10:00:00.000000001Z", "2026-11-23T10:00:00.000000001Z"),
        # a whole second has no fraction at all
        ("2026-11-23T10:00:00Z", "2026-11-23T10:00:00.000000000Z"),
        ("2026-11-23T10:00:00.Z", "2026-11-23T10:00:00.000000000Z"),
        # nine digits already: unchanged
        ("2026-11-23T10:00:00.123456789Z", "2026-11-23T10:00:00.123456789Z"),
        ("2026-11-23T10:00:00.100000000Z", "2026-11-23T10:00:00.100000000Z"),
    ],
)
def test_canonical_docker_time(written: str, canonical: str) -> None:
    assert canonical_docker_time(written) == canonical
    assert len(canonical_docker_time(written)) == 30
    assert canonical_docker_time(canonical) == canonical  # idempotent


def test_a_thirty_character_time_is_returned_as_it_is() -> None:
    time = "2026-11-23T10:00:00.123456789Z"
    assert len(time) == 30
    assert canonical_docker_time(time) is time


def test_times_that_are_not_utc_are_left_alone() -> None:
    for time in ("2026-11-23T11:00:00.5+01:00", "", "not a time"):
        assert canonical_docker_time(time) == time


@pytest.mark.parametrize(
    ("json_file", "logs_api"),
    [
        ("2026-11-23T10:00:00.12345Z", "2026-11-23T10:00:00.123450000Z"),
        ("2026-11-23T10:00:00.1Z", "2026-11-23T10:00:00.100000000Z"),
        ("2026-11-23T10:00:00.98765432Z", "2026-11-23T10:00:00.987654320Z"),
        ("2026-11-23T10:00:00Z", "2026-11-23T10:00:00.000000000Z"),
    ],
)
def test_both_spellings_of_a_time_give_the_same_id(json_file: str, logs_api: str) -> None:
    for stream, position in (("stdout", 0), ("stderr", 0), ("stdout", 3)):
        assert docker_event_id(CID, json_file, stream, position) == docker_event_id(
            CID, logs_api, stream, position
        )


def test_different_instants_keep_different_ids() -> None:
    times = [
        "2026-11-23T10:00:00Z",
        "2026-11-23T10:00:00.1Z",
        "2026-11-23T10:00:00.01Z",
        "2026-11-23T10:00:00.000000001Z",
        "2026-11-23T10:00:01Z",
        "2026-11-23T10:00:00.123456789Z",
        "2026-11-23T10:00:00.12345678Z",
    ]
    ids = {docker_event_id(CID, time, "stdout", 0) for time in times}
    assert len(ids) == len(times)


def test_the_id_of_a_nine_digit_time_is_unchanged_by_canonicalising() -> None:
    time = "2026-11-23T10:00:00.123450000Z"
    assert docker_event_id(CID, time, "stdout", 1) == docker_event_id(
        CID, canonical_docker_time("2026-11-23T10:00:00.12345Z"), "stdout", 1
    )
