"""Timestamps of any common shape to UTC ISO 8601 (``2026-11-23T10:00:00.123Z``).

Accepted: ISO 8601 / RFC 3339 strings (``T`` or space, any fraction, ``Z`` or an offset;
zone-less times are taken as UTC), and epoch numbers in seconds, milliseconds,
microseconds or nanoseconds (told apart by magnitude), as numbers or numeric strings.
The common case, a string that is already UTC with ``Z``, is returned unchanged.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["epoch_iso", "is_utc_iso", "normalize_timestamp", "utc_iso"]

_from_iso = datetime.fromisoformat


def is_utc_iso(value: str) -> bool:
    """Is ``value`` already a valid UTC ISO 8601 time with ``Z`` (kept as it is)?

    ``datetime.fromisoformat`` checks digits and values (month days, leap years, hours) in
    C; what it accepts beyond ``YYYY-MM-DDTHH:MM:SS[.F{1,9}]Z`` (no seconds, a comma, a
    space, week dates) differs in length or at a position checked here. This runs once per
    application line; a regular expression costs twice as much.
    """
    size = len(value)
    if size != 20 and not 22 <= size <= 30:
        return False
    if value[-1] != "Z" or value[10] != "T" or value[19] not in ".Z" or value[7] != "-":
        return False
    try:
        _from_iso(value)
    except ValueError:
        return False
    return True


_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d{1,9}))?)?"
    r"\s*(Z|z|UTC|[+-]\d\d:?\d\d|[+-]\d\d)?"
).fullmatch
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?").fullmatch

# Epoch magnitudes: seconds until year 5138, then ms, µs, ns.
_MS, _US, _NS = 1e11, 1e14, 1e17


def utc_iso(moment: datetime) -> str:
    """Format an aware datetime as UTC ISO 8601 with millisecond or microsecond precision."""
    moment = moment.astimezone(UTC)
    micros = moment.microsecond
    fraction = f"{micros // 1000:03d}" if micros % 1000 == 0 else f"{micros:06d}"
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction}Z"


def normalize_timestamp(value: object) -> str | None:
    """UTC ISO 8601 for ``value``, or ``None`` when it is not a recognisable time."""
    if type(value) is str:
        if is_utc_iso(value):
            return value
        return _from_string(value)
    if type(value) is int or type(value) is float:
        return _from_epoch(value)
    return None


def _from_string(text: str) -> str | None:
    text = text.strip()
    match = _ISO(text)
    if match is not None:
        return _from_iso_parts(match)
    if _NUMBER(text):
        return _from_epoch(float(text) if "." in text else int(text))
    return None


def _from_iso_parts(match: re.Match[str]) -> str | None:
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    nanos = (fraction or "").ljust(9, "0")
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int(nanos[:6]),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    if zone and zone not in ("Z", "z", "UTC"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset_minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
        if offset_minutes >= 24 * 60:
            return None
        moment = moment.replace(tzinfo=timezone(sign * timedelta(minutes=offset_minutes)))
    utc = moment.astimezone(UTC)
    # Keep the input's precision (up to nanoseconds) rather than rounding it away.
    digits = (fraction or "").rstrip("0")
    if len(digits) > 6:
        return f"{utc:%Y-%m-%dT%H:%M:%S}.{nanos}Z"
    return utc_iso(utc)


def _from_epoch(number: int | float) -> str | None:
    if number != number or number in (float("inf"), float("-inf")):
        return None
    magnitude = abs(number)
    scale = (
        10**9
        if magnitude >= _NS
        else 10**6
        if magnitude >= _US
        else 10**3
        if magnitude >= _MS
        else 1
    )
    return epoch_iso(number, scale)


def epoch_iso(number: int | float, scale: int) -> str | None:
    """An epoch in units of 1/``scale`` second as UTC ISO 8601, or ``None`` out of range."""
    if number != number or number in (float("inf"), float("-inf")):
        return None
    try:
        if type(number) is int:
            # Integer arithmetic keeps nanosecond epochs exact.
            seconds, rest = divmod(number, scale)
            nanos = rest * (10**9 // scale)
            moment = datetime.fromtimestamp(seconds, UTC)
            if nanos % 1000:
                return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"
            return utc_iso(moment.replace(microsecond=nanos // 1000))
        return utc_iso(datetime.fromtimestamp(number / scale, UTC))
    except (OverflowError, OSError, ValueError):
        return None
