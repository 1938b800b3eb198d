"""Retry policy."""

from __future__ import annotations

import random

import pytest

from logwharf.elk.retry import Backoff, is_retryable_status, parse_retry_after


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 599])
def test_retryable_statuses(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [200, 201, 400, 401, 403, 404, 409, 413])
def test_statuses_that_never_succeed_later(status: int) -> None:
    assert not is_retryable_status(status)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (" 7 ", 7.0),
        ("3600", 3600.0),
        (None, None),
        ("", None),
        ("-1", None),
        ("3601", None),
        ("nan", None),
        ("inf", None),
        ("Wed, 21 Oct 2026 07:28:00 GMT", None),  # HTTP-date form is not used
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_backoff_grows_with_full_jitter_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    backoff = Backoff(first=0.2, cap=3.0, factor=2.0)
    assert [backoff.next_delay() for _ in range(6)] == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.0, 3.0])
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    fresh = Backoff(first=0.2, cap=3.0)
    assert [fresh.next_delay() for _ in range(3)] == pytest.approx([0.1, 0.2, 0.4])


def test_backoff_delays_stay_within_their_bounds() -> None:
    random.seed(7)
    backoff = Backoff(first=0.5, cap=10.0)
    for attempt in range(40):
        ceiling = min(10.0, 0.5 * 2**attempt)
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling


def test_at_least_raises_the_delay_but_not_lowers_it() -> None:
    backoff = Backoff(first=1.0, cap=1.0)
    assert backoff.next_delay(at_least=20.0) == 20.0
    assert 0.5 <= backoff.next_delay(at_least=0.0) <= 1.0
    assert 0.5 <= backoff.next_delay(at_least=None) <= 1.0


def test_reset_starts_over() -> None:
    backoff = Backoff(first=1.0, cap=100.0)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_backoff_keeps_working_after_many_attempts() -> None:
    backoff = Backoff(first=0.5, cap=10.0)
    delays = [backoff.next_delay() for _ in range(2000)]
    assert all(5.0 <= delay <= 10.0 for delay in delays[10:])
