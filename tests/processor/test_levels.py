"""Log level normalisation."""

from __future__ import annotations

import pytest

from logwharf.processor.levels import level_from_text_line, normalize_level


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("info", "info"),
        ("INFO", "info"),
        ("Info", "info"),
        ("iNfO", "info"),  # any case
        (" warn ", "warn"),
        ("WARNING", "warn"),
        ("W", "warn"),
        ("err", "error"),
        ("Exception", "error"),
        ("severe", "error"),
        ("CRITICAL", "fatal"),
        ("emerg", "fatal"),
        ("panic", "fatal"),
        ("dpanic", "fatal"),
        ("notice", "info"),
        ("verbose", "trace"),
        ("finest", "trace"),
        ("fine", "debug"),
        ("dbg", "debug"),
        # syslog severities 0..7, as numbers and as strings
        (0, "fatal"),
        (2, "fatal"),
        (3, "error"),
        (4, "warn"),
        (5, "info"),
        (6, "info"),
        (7, "debug"),
        ("3", "error"),
        (" 7 ", "debug"),
        # pino / bunyan
        (10, "trace"),
        (20, "debug"),
        (30, "info"),
        ("40", "warn"),
        (50.0, "error"),
        (60, "fatal"),
    ],
)
def test_normalize_level(value: object, expected: str) -> None:
    assert normalize_level(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "loud",
        "",
        "  ",
        8,
        9,
        35,
        70,
        -1,
        "-1",
        "0030",  # four digits: not a level number
        30.5,
        True,  # bool is not a number here
        False,
        None,
        ["info"],
        {"level": "info"},
    ],
)
def test_unknown_levels_give_none(value: object) -> None:
    assert normalize_level(value) is None


@pytest.mark.parametrize("value", ["²", "3²", "①"])
def test_unicode_digits_that_are_not_decimal_give_none(value: str) -> None:
    assert normalize_level(value) is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ERROR something broke", "error"),
        ("INFO: started", "info"),
        ("WARNING disk almost full", "warn"),
        ("WARN| x", "warn"),
        ("[warn] lower case in brackets", "warn"),
        ("<crit> angle brackets", "fatal"),
        ("(Debug) parens", "debug"),
        ("error: lower case with colon", "error"),
        ("Notice: capitalised with colon", "info"),
        ("2026-11-23 10:00:00,123 ERROR after two time tokens", "error"),
        ("2026-11-23T10:00:00.123Z WARN after one", "warn"),
        ("[2026-11-23 10:00:00] [error] apache style", "error"),
        ("  SEVERE leading spaces", "error"),
        ("FATAL", "fatal"),
        ("ERR", "error"),
    ],
)
def test_level_from_text_line(line: str, expected: str) -> None:
    assert level_from_text_line(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "Error handling was improved",  # prose: capitalised word without colon or brackets
        "error handling",
        "INFORMATION is not INFO",
        "ERRORS: 3",
        "E1123 10:00:00.000 glog line",
        "user said ERROR later in the line",
        "",
        "1 2 3 ERROR after three number tokens",
        "[not a level] x",
    ],
)
def test_lines_without_a_level(line: str) -> None:
    assert level_from_text_line(line) is None
