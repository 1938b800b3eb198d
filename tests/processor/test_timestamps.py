"""Timestamps of any common shape to UTC ISO 8601."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from logwharf.processor.timestamps import is_utc_iso, normalize_timestamp, utc_iso

# 2026-11-23T10:00:00Z as epoch seconds
EPOCH = int(datetime(2026, 11, 23, 10, tzinfo=UTC).timestamp())


def test_utc_iso_keeps_milliseconds_or_microseconds() -> None:
    moment = datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=UTC)
    assert utc_iso(moment) == "2026-11-23T10:00:00.123Z"
    assert utc_iso(moment.replace(microsecond=123456)) == "2026-11-23T10:00:00.123456Z"
    assert utc_iso(moment.replace(microsecond=0)) == "2026-11-23T10:00:00.000Z"
    cet = moment.astimezone(timezone(timedelta(hours=1)))
    assert utc_iso(cet) == "2026-11-23T10:00:00.123Z"


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-23T10:00:00Z",
        "2026-11-23T10:00:00.1Z",
        "2026-11-23T10:00:00.123456789Z",  # Docker's nanoseconds are kept as they are
    ],
)
def test_utc_with_z_is_returned_unchanged(value: str) -> None:
    assert normalize_timestamp(value) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-23T11:00:00+01:00", "2026-11-23T10:00:00.000Z"),
        ("2026-11-23T11:00:00+0100", "2026-11-23T10:00:00.000Z"),
        ("2026-11-23T11:00:00+01", "2026-11-23T10:00:00.000Z"),
        ("2026-11-23T04:30:00-05:30", "2026-11-23T10:00:00.000Z"),
        ("2026-11-24T00:30:00+14:30", "2026-11-23T10:00:00.000Z"),  # crosses the date
        ("2026-11-23 10:00:00", "2026-11-23T10:00:00.000Z"),  # no zone: UTC
        ("2026-11-23 10:00:00,250", "2026-11-23T10:00:00.250Z"),  # comma fraction
        ("2026-11-23T10:00", "2026-11-23T10:00:00.000Z"),  # no seconds
        ("2026-11-23T10:00:00 UTC", "2026-11-23T10:00:00.000Z"),
        ("2026-11-23T10:00:00z", "2026-11-23T10:00:00.000Z"),
        ("2026-11-23T10:00:00.5+00:00", "2026-11-23T10:00:00.500Z"),
        ("2026-11-23T10:00:00.123456+00:00", "2026-11-23T10:00:00.123456Z"),
        ("2026-11-23T11:00:00.123456789+01:00", "2026-11-23T10:00:00.123456789Z"),
        ("2026-11-23T10:00:00.123456000+00:00", "2026-11-23T10:00:00.123456Z"),
        ("  2026-11-23T10:00:00+00:00  ", "2026-11-23T10:00:00.000Z"),
    ],
)
def test_iso_strings(value: str, expected: str) -> None:
    assert normalize_timestamp(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (EPOCH, "2026-11-23T10:00:00.000Z"),
        (EPOCH + 0.5, "2026-11-23T10:00:00.500Z"),
        (EPOCH * 1000 + 123, "2026-11-23T10:00:00.123Z"),
        (float(EPOCH * 1000 + 123), "2026-11-23T10:00:00.123Z"),
        (EPOCH * 10**6 + 123456, "2026-11-23T10:00:00.123456Z"),
        (EPOCH * 10**9 + 123456789, "2026-11-23T10:00:00.123456789Z"),  # exact nanoseconds
        (EPOCH * 10**9 + 123456000, "2026-11-23T10:00:00.123456Z"),
        (str(EPOCH), "2026-11-23T10:00:00.000Z"),
        (f"{EPOCH}.25", "2026-11-23T10:00:00.250Z"),
        (str(EPOCH * 1000), "2026-11-23T10:00:00.000Z"),
        (0, "1970-01-01T00:00:00.000Z"),
        (-1500, "1969-12-31T23:35:00.000Z"),  # seconds, before the epoch
    ],
)
def test_epoch_numbers(value: object, expected: str) -> None:
    assert normalize_timestamp(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "",
        "2026-13-01T10:00:00+00:00",
        "2026-11-23T25:00:00",
        "2026-02-30T10:00:00+00:00",
        "2026-11-23T10:00:00+24:00",  # no such offset
        "2026-11-23T10:00:00.1234567890Z",  # more than nanoseconds
        "23/11/2026 10:00",
        "1e9",
        True,
        None,
        [EPOCH],
        float("nan"),
        float("inf"),
        10**40,  # beyond any datetime
        1e300,
    ],
)
def test_unreadable_times_give_none(value: object) -> None:
    assert normalize_timestamp(value) is None


@pytest.mark.parametrize(
    "value", ["2026-02-30T10:00:00Z", "2026-04-31T10:00:00.5Z", "2025-02-29T00:00:00Z"]
)
def test_impossible_dates_with_z_give_none(value: str) -> None:
    assert normalize_timestamp(value) is None


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("2026-11-23T10:00:00Z", True),
        ("2026-11-23T10:00:00.1Z", True),
        ("2026-11-23T10:00:00.123Z", True),
        ("2026-11-23T10:00:00.123456789Z", True),
        ("2024-02-29T23:59:59.999Z", True),  # a leap day
        ("2026-11-23T10:00:00.1234567890Z", False),  # finer than nanoseconds
        ("2026-11-23T10:00:00.Z", False),
        ("2026-11-23T10:00:00,5Z", False),
        ("2026-11-23T10:00Z", False),  # no seconds
        ("2026-11-23 10:00:00Z", False),
        ("2026-11-23t10:00:00Z", False),
        ("2026-11-23T10:00:00z", False),
        ("2026-11-23T10:00:00+00:00", False),
        ("2026-11-23T24:00:00Z", False),
        ("2026-11-23T10:60:00Z", False),
        ("2026-11-23T10:00:60Z", False),
        ("2026-00-23T10:00:00Z", False),
        ("2025-02-29T10:00:00Z", False),
        ("2026-W47-1T10:00:00Z", False),  # a week date
        ("2026-11-2３T10:00:00Z", False),  # a digit that is not ASCII
        (" 2026-11-23T10:00:00Z", False),
        ("2026-11-23T10:00:00.12a4Z", False),
    ],
)
def test_which_times_are_kept_as_they_are(value: str, kept: bool) -> None:
    assert is_utc_iso(value) is kept
