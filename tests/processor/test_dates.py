"""The ``date`` stage: times in the configured formats to UTC ISO 8601."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from logwharf.processor.dates import DATE_FAILURE, DateConfig, DateStage
from logwharf.processor.stage_config import BuildContext


def date_stage(**settings: Any) -> DateStage:
    stage = DateConfig.model_validate({"type": "date", **settings}).build("date", BuildContext())
    assert isinstance(stage, DateStage)
    return stage


def parsed(stage: DateStage, value: Any) -> Any:
    """What the stage writes to @timestamp for ``value`` (None: tagged as a failure)."""
    (event,) = stage.process_batch([{"timestamp": value}])
    if "@timestamp" in event:
        assert "tags" not in event
        return event["@timestamp"]
    assert event["tags"] == [DATE_FAILURE]
    assert event["timestamp"] is value  # left alone
    return None


# ISO 8601


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-07-01T12:00:00Z", "2026-07-01T12:00:00.000Z"),
        ("2026-07-01T12:00:00z", "2026-07-01T12:00:00.000Z"),
        ("2026-07-01 12:00:00 UTC", "2026-07-01T12:00:00.000Z"),
        ("2026-07-01T12:00:00+05:30", "2026-07-01T06:30:00.000Z"),
        ("2026-07-01T12:00:00-0800", "2026-07-01T20:00:00.000Z"),
        ("2026-07-01T00:30:00+01", "2026-06-30T23:30:00.000Z"),
        ("2026-07-01T12:00:00.5Z", "2026-07-01T12:00:00.500Z"),
        ("2026-07-01T12:00:00,25Z", "2026-07-01T12:00:00.250Z"),
        ("2026-07-01T12:00:00.123456Z", "2026-07-01T12:00:00.123456Z"),
        ("2026-07-01T12:00:00.123456789+02:00", "2026-07-01T10:00:00.123456789Z"),
        ("2026-07-01T12:00Z", "2026-07-01T12:00:00.000Z"),
        ("  2026-07-01T12:00:00Z ", "2026-07-01T12:00:00.000Z"),
    ],
)
def test_iso_with_a_zone_ignores_the_timezone_option(text: str, utc: str) -> None:
    assert parsed(date_stage(), text) == utc
    assert parsed(date_stage(timezone="Asia/Tokyo"), text) == utc


def test_iso_without_a_zone_is_read_in_the_timezone_option() -> None:
    assert parsed(date_stage(), "2026-07-01T12:00:00") == "2026-07-01T12:00:00.000Z"
    paris = date_stage(timezone="Europe/Paris")
    assert parsed(paris, "2026-07-01T12:00:00") == "2026-07-01T10:00:00.000Z"  # CEST, +2
    assert parsed(paris, "2026-01-01T12:00:00") == "2026-01-01T11:00:00.000Z"  # CET, +1
    assert parsed(paris, "2026-07-01") == "2026-06-30T22:00:00.000Z"  # a date is midnight
    tokyo = date_stage(timezone="Asia/Tokyo")
    assert parsed(tokyo, "2026-01-01 08:00:00.250") == "2025-12-31T23:00:00.250Z"


def test_the_timezone_option_follows_daylight_saving_time() -> None:
    new_york = date_stage(timezone="America/New_York")
    # 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
    assert parsed(new_york, "2026-03-07T12:00:00") == "2026-03-07T17:00:00.000Z"
    assert parsed(new_york, "2026-03-09T12:00:00") == "2026-03-09T16:00:00.000Z"
    assert parsed(new_york, "2026-03-08T01:59:59") == "2026-03-08T06:59:59.000Z"
    assert parsed(new_york, "2026-03-08T03:00:00") == "2026-03-08T07:00:00.000Z"
    assert parsed(new_york, "2026-10-31T12:00:00") == "2026-10-31T16:00:00.000Z"
    assert parsed(new_york, "2026-11-02T12:00:00") == "2026-11-02T17:00:00.000Z"
    # 01:30 happens twice that night: either reading is a correct one.
    assert parsed(new_york, "2026-11-01T01:30:00") in (
        "2026-11-01T05:30:00.000Z",
        "2026-11-01T06:30:00.000Z",
    )


@pytest.mark.parametrize(
    "text",
    ["garbage", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-07-01T25:00:00Z", ""],
)
def test_a_value_that_is_not_iso_is_tagged(text: str) -> None:
    assert parsed(date_stage(), text) is None


def test_rfc3339_is_another_name_for_iso() -> None:
    assert parsed(date_stage(formats=["RFC3339"]), "2026-07-01T12:00:00+02:00") == (
        "2026-07-01T10:00:00.000Z"
    )
    assert parsed(date_stage(formats=["iso8601"]), "2026-07-01T12:00:00Z") == (
        "2026-07-01T12:00:00.000Z"
    )


def test_iso_does_not_read_numbers() -> None:
    assert parsed(date_stage(), 1700000000) is None


# Epoch numbers

EPOCH = "2023-11-14T22:13:20"  # 1_700_000_000 s


@pytest.mark.parametrize(
    ("kind", "value", "utc"),
    [
        ("UNIX", 1700000000, f"{EPOCH}.000Z"),
        ("UNIX", "1700000000", f"{EPOCH}.000Z"),
        ("UNIX", 1700000000.5, f"{EPOCH}.500Z"),
        ("UNIX", "1700000000.25", f"{EPOCH}.250Z"),
        ("UNIX", " 1700000000 ", f"{EPOCH}.000Z"),
        ("UNIX", -1, "1969-12-31T23:59:59.000Z"),
        ("UNIX", "0", "1970-01-01T00:00:00.000Z"),
        ("UNIX_MS", 1700000000123, f"{EPOCH}.123Z"),
        ("UNIX_MS", "1700000000123", f"{EPOCH}.123Z"),
        ("UNIX_MS", 1700000000123.0, f"{EPOCH}.123Z"),
        ("UNIX_MS", -1, "1969-12-31T23:59:59.999Z"),
        ("UNIX_US", 1700000000123456, f"{EPOCH}.123456Z"),
        ("UNIX_US", "1700000000123456", f"{EPOCH}.123456Z"),
        ("UNIX_NS", 1700000000123456789, f"{EPOCH}.123456789Z"),
        ("UNIX_NS", "1700000000123456789", f"{EPOCH}.123456789Z"),
        ("UNIX_NS", 1700000000123000000, f"{EPOCH}.123Z"),
    ],
)
def test_epochs_as_numbers_and_strings(kind: str, value: Any, utc: str) -> None:
    assert parsed(date_stage(formats=[kind]), value) == utc


@pytest.mark.parametrize(
    "value",
    [True, False, "1.7e9", "12abc", "", None, [1], float("nan"), float("inf"), 10**30],
)
def test_what_is_not_an_epoch_is_tagged(value: Any) -> None:
    assert parsed(date_stage(formats=["UNIX", "UNIX_MS"]), value) is None


def test_formats_are_tried_in_order() -> None:
    # Milliseconds are out of range as seconds, so UNIX gives way to UNIX_MS.
    either = date_stage(formats=["UNIX", "UNIX_MS"])
    assert parsed(either, 1700000000123) == f"{EPOCH}.123Z"
    assert parsed(either, 1700000000) == f"{EPOCH}.000Z"
    day_first = date_stage(formats=["%d/%m/%Y", "%m/%d/%Y"])
    assert parsed(day_first, "01/02/2026") == "2026-02-01T00:00:00.000Z"
    assert parsed(day_first, "12/31/2026") == "2026-12-31T00:00:00.000Z"
    iso_then_unix = date_stage(formats=["ISO8601", "UNIX_MS"])
    assert parsed(iso_then_unix, "2026-07-01T12:00:00Z") == "2026-07-01T12:00:00.000Z"
    assert parsed(iso_then_unix, 1700000000123) == f"{EPOCH}.123Z"


# strptime patterns


def test_nginx_access_log_time() -> None:
    nginx = date_stage(formats=["%d/%b/%Y:%H:%M:%S %z"], timezone="Asia/Tokyo")
    assert parsed(nginx, "23/Nov/2026:10:00:00 +0100") == "2026-11-23T09:00:00.000Z"
    assert parsed(nginx, "23/Nov/2026:10:00:00 -0230") == "2026-11-23T12:30:00.000Z"
    assert parsed(nginx, "23/Nov/2026:10:00:00") is None  # the pattern wants the zone
    assert parsed(nginx, "2026-11-23T10:00:00Z") is None


def test_a_pattern_without_zone_uses_the_timezone_option() -> None:
    stage = date_stage(formats=["%Y-%m-%d %H:%M:%S.%f"], timezone="Europe/Paris")
    assert parsed(stage, "2026-01-15 08:00:00.123456") == "2026-01-15T07:00:00.123456Z"


def test_syslog_without_year_takes_the_current_year() -> None:
    syslog = date_stage(formats=["%b %d %H:%M:%S"], timezone="America/New_York")
    year = datetime.now(UTC).year
    assert parsed(syslog, "Nov 23 10:00:00") == f"{year}-11-23T15:00:00.000Z"  # EST
    assert parsed(syslog, "Jul  4 10:00:00") == f"{year}-07-04T14:00:00.000Z"  # EDT
    assert parsed(syslog, "Nov 23") is None


def test_a_pattern_year_of_1900_is_kept_when_the_pattern_has_a_year() -> None:
    stage = date_stage(formats=["%Y-%m-%d"])
    assert parsed(stage, "1900-03-01") == "1900-03-01T00:00:00.000Z"


# What the stage does with the event


def test_source_target_and_remove_source() -> None:
    stage = date_stage(field="app.time", target="event.created", remove_source=True)
    (event,) = stage.process_batch([{"app": {"time": "2026-07-01T12:00:00Z", "x": 1}}])
    assert event == {"app": {"x": 1}, "event": {"created": "2026-07-01T12:00:00.000Z"}}
    (failed,) = stage.process_batch([{"app": {"time": "nope"}}])
    assert failed == {"app": {"time": "nope"}, "tags": [DATE_FAILURE]}  # the source stays


def test_remove_source_is_ignored_when_source_is_target() -> None:
    stage = date_stage(field="@timestamp", target="@timestamp", remove_source=True)
    (event,) = stage.process_batch([{"@timestamp": "2026-07-01T14:00:00+02:00"}])
    assert event == {"@timestamp": "2026-07-01T12:00:00.000Z"}


def test_a_missing_field_is_not_a_failure() -> None:
    (event,) = date_stage().process_batch([{"message": "m"}])
    assert event == {"message": "m"}


def test_the_failure_tag_is_configurable() -> None:
    stage = date_stage(tag_on_failure="_badtime")
    (event,) = stage.process_batch([{"timestamp": "x", "tags": ["keep"]}])
    assert event["tags"] == ["keep", "_badtime"]


def test_a_cached_value_still_changes_every_event() -> None:
    stage = date_stage(remove_source=True)
    good = [{"timestamp": "2026-07-01T12:00:00Z"} for _ in range(3)]
    bad = [{"timestamp": "nope"} for _ in range(3)]
    out = stage.process_batch(good + bad)
    assert [e.get("@timestamp") for e in out[:3]] == ["2026-07-01T12:00:00.000Z"] * 3
    assert all("timestamp" not in e for e in out[:3])
    assert all(e["tags"] == [DATE_FAILURE] and e["timestamp"] == "nope" for e in out[3:])


@pytest.mark.parametrize(
    ("formats", "first", "then"),
    [
        (["UNIX"], 1, True),  # True == 1 and hash(True) == hash(1)
        (["UNIX"], 0, False),
        (["UNIX_NS"], 1, 1.0),  # 1.0 == 1 as a dict key
        (["UNIX_MS"], 1700000000123, 1700000000123.0),
        (["UNIX"], "1700000000", 1700000000),
    ],
)
def test_the_cache_does_not_confuse_values_that_compare_equal(
    formats: list[str], first: Any, then: Any
) -> None:
    fresh = parsed(date_stage(formats=formats), then)
    stage = date_stage(formats=formats)
    parsed(stage, first)
    assert parsed(stage, then) == fresh


def test_the_cache_is_bounded_and_stays_right() -> None:
    stage = date_stage(formats=["UNIX"])
    for second in range(5000):
        stamp = parsed(stage, second)
        assert stamp == datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert len(stage.cache) <= 4096
    assert parsed(stage, 4999) == "1970-01-01T01:23:19.000Z"


# Configuration


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"formats": ["FOO"]}, "unknown date format 'FOO'"),
        ({"formats": []}, "at least 1 item"),
        ({"timezone": "Mars/Base"}, "unknown time zone 'Mars/Base'"),
        ({"timezone": "../etc/passwd"}, "unknown time zone"),
        ({"field": "a..b"}, "not a field name"),
        ({"target": ""}, "not a field name"),
        ({"zone": "UTC"}, "Extra inputs"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        DateConfig.model_validate({"type": "date", **settings})


def test_defaults() -> None:
    config = DateConfig.model_validate({"type": "date"})
    assert (config.field, config.target, config.formats, config.timezone) == (
        "timestamp",
        "@timestamp",
        ["ISO8601"],
        "UTC",
    )
    assert parsed(date_stage(timezone="utc"), "2026-07-01T12:00:00") == "2026-07-01T12:00:00.000Z"
