"""Retry policy: which failures are worth another try, and how long to wait before it."""

from __future__ import annotations

import random

__all__ = ["Backoff", "is_retryable_status", "parse_retry_after"]


def is_retryable_status(status: int) -> bool:
    """429 (too many requests) and 5xx may succeed later; other rejections never will."""
    return status == 429 or status >= 500


def parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 3600 else None


class Backoff:
    """Exponential backoff with full jitter (AWS's recommendation), capped."""

    def __init__(self, first: float = 0.2, cap: float = 30.0, factor: float = 2.0) -> None:
        self.first = first
        self.cap = cap
        self.factor = factor
        self.attempt = 0

    def next_delay(self, at_least: float | None = None) -> float:
        ceiling = min(self.cap, self.first * self.factor**self.attempt)
        if ceiling < self.cap:  # past the cap, counting on would overflow the float
            self.attempt += 1
        delay = random.uniform(ceiling / 2, ceiling)
        return max(delay, at_least) if at_least is not None else delay

    def reset(self) -> None:
        self.attempt = 0
