"""Multiline joining: the continuation lines of a stack trace join the event they belong to.

Lines arrive per key (one container's stream: stdout and stderr are never mixed) in arrival
order; each carries Docker's timestamp, its text and an opaque payload of the caller's (the
record, its sequence number...). A joined event has the first line's timestamp, the lines'
texts joined by ``\\n`` and every line's payload, so that the caller can acknowledge every
record it consumed.

``auto`` mode, the rules of Filebeat's Java pattern (``^[[:space:]]``, match after) and of
Fluent Bit's python parser:

- a line starting with a space or a tab continues the event before it: Java's ``\\tat ...``,
  ``\\t... 5 more`` and ``\\tSuppressed: ...``, Python's ``  File ...`` and code lines, any
  indented detail;
- ``Caused by: ...``, ``Suppressed: ...`` and ``... N more`` continue it, indented or not;
- ``Traceback (most recent call last):`` starts a Python block. Its first non-indented line is
  the exception (``ValueError: bad``, or a bare ``KeyboardInterrupt``): it belongs to the block
  and ends it. A chained traceback (``During handling of the above exception, another
  exception occurred:`` or ``The above exception was the direct cause of the following
  exception:``, then the next ``Traceback``) stays in the same event, with the empty lines
  Python prints around that sentence;
- any other line starts a new event. ``  + Exception Group Traceback`` (indented, Python 3.11)
  starts one too; its ``|``-prefixed lines are indented and continue it.

Empty lines: an empty line ends the event before it and is an event of its own, as with
Filebeat's default patterns (``^[[:space:]]`` does not match an empty line, so it starts a new
event). Only the empty lines around a chained traceback's sentence are held, until the next
line says whether the chain goes on; when it does not, they leave as events of their own after
the traceback. Unlike Filebeat, an indented line after an empty line starts a new event
instead of joining the empty one.

``pattern`` mode, Filebeat's ``negate``/``match: after`` in one regex searched in each line,
empty lines included: with ``start_pattern`` a matching line starts a new event and any other
continues; with ``continue_pattern`` a matching line continues and any other starts one.
``off``: every line is an event.

Every line but in ``off`` mode is held until the next line of its key shows whether it
continues, or until ``flush_expired`` finds it ``flush_seconds`` old (a monotonic clock passed
in). Limits: an event that reaches ``max_lines`` leaves at once and the next continuation line
starts a new one (Filebeat discards such lines; nothing is discarded here); text beyond
``max_event_bytes`` (UTF-8) is cut, never inside a character, and the event marked
``truncated``; its later lines still join it (their payloads are kept, their text is not).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from typing import Generic, Literal, TypeVar

__all__ = [
    "MODE_LABEL",
    "PATTERN_LABEL",
    "PLAIN",
    "Joined",
    "Multiline",
    "MultilineConfig",
    "config_from_labels",
]

K = TypeVar("K", bound=Hashable)
P = TypeVar("P")

Mode = Literal["auto", "off", "pattern"]
MODES: tuple[Mode, ...] = ("auto", "off", "pattern")

MODE_LABEL = "logwharf.multiline"
PATTERN_LABEL = "logwharf.multiline.pattern"

_TRACEBACK = "Traceback (most recent call last):"
_CHAIN = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
_EXCEPTION_GROUP = "  + Exception Group Traceback"
_JAVA_MORE = re.compile(r"\.\.\. \d+ (?:more|common frames omitted)")

# What the pending event expects next (auto mode).
_PLAIN = PLAIN = 0  # a plain line: any line but a continuation ends it
_PY_FRAMES = 1  # after "Traceback ...": frames, then the exception line
_PY_DONE = 2  # after the exception line: maybe a chain sentence
_PY_CHAIN = 3  # after a chain sentence: the next "Traceback ..."


@dataclass(frozen=True, slots=True)
class MultilineConfig:
    """How lines are joined; ``config_from_labels`` derives a container's own."""

    mode: Mode = "auto"
    start_pattern: str | None = None  # pattern mode: a matching line starts an event
    continue_pattern: str | None = None  # pattern mode: a matching line continues one
    max_lines: int = 500
    max_event_bytes: int = 1 << 20
    flush_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"multiline mode must be one of {', '.join(MODES)}: {self.mode!r}")
        patterns = [p for p in (self.start_pattern, self.continue_pattern) if p is not None]
        if self.mode == "pattern" and len(patterns) != 1:
            raise ValueError("multiline mode 'pattern' needs start_pattern or continue_pattern")
        if self.mode != "pattern" and patterns:
            raise ValueError("start_pattern and continue_pattern need multiline mode 'pattern'")
        for pattern in patterns:
            _compile(pattern, "multiline pattern")
        if self.max_lines < 1:
            raise ValueError(f"multiline max_lines must be at least 1: {self.max_lines}")
        if self.max_event_bytes < 1:
            raise ValueError(f"max_event_bytes must be at least 1: {self.max_event_bytes}")
        if not self.flush_seconds > 0:
            raise ValueError(f"multiline flush_seconds must be positive: {self.flush_seconds}")


def _compile(pattern: str, what: str) -> re.Pattern[str]:
    if not pattern:
        raise ValueError(f"{what} is empty: it would match every line")
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ValueError(f"{what} {pattern!r} is not a valid regular expression: {error}") from None


def config_from_labels(labels: Mapping[str, str], default: MultilineConfig) -> MultilineConfig:
    """A container's configuration from its Docker labels (raw keys, dots kept).

    ``logwharf.multiline=off|auto`` and ``logwharf.multiline.pattern=REGEX`` (a line matching
    it starts an event); ``off`` wins over a pattern, so that the off switch always works.
    Limits and the flush timeout stay those of ``default``. A bad value raises ``ValueError``
    naming the label.
    """
    mode = labels.get(MODE_LABEL)
    pattern = labels.get(PATTERN_LABEL)
    if mode is not None:
        mode = mode.strip().lower()
        if mode not in ("off", "auto"):
            raise ValueError(f"label {MODE_LABEL}={labels[MODE_LABEL]!r}: use off or auto")
        if mode == "off":
            return replace(default, mode="off", start_pattern=None, continue_pattern=None)
    if pattern is not None:
        _compile(pattern, f"label {PATTERN_LABEL}")
        return replace(default, mode="pattern", start_pattern=pattern, continue_pattern=None)
    if mode == "auto":
        return replace(default, mode="auto", start_pattern=None, continue_pattern=None)
    return default


@dataclass(slots=True)
class Joined(Generic[K, P]):
    """One event: the first line's timestamp, the joined text, every line's payload."""

    key: K
    time: str
    text: str
    payloads: list[P]
    truncated: bool = False  # text was cut at max_event_bytes

    @property
    def lines(self) -> int:
        return len(self.payloads)

    @property
    def payload(self) -> P:
        return self.payloads[0]


class _Pending(Generic[P]):
    __slots__ = ("gap", "parts", "payloads", "seen", "size", "state", "time", "truncated")

    def __init__(self, time: str, seen: float, state: int) -> None:
        self.time = time
        self.seen = seen  # monotonic time of the last line
        self.state = state
        self.parts: list[str] = []
        self.payloads: list[P] = []
        self.size = 0  # UTF-8 bytes of the joined text
        self.truncated = False
        self.gap: tuple[str, P] | None = None  # (time, payload) of an empty line held


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    if text.isascii():
        return text[:limit]
    return text.encode("utf-8", "surrogatepass")[:limit].decode("utf-8", "ignore")


Emitted = tuple[Joined[K, P], ...]


class Multiline(Generic[K, P]):
    """Joins continuation lines per key; state is kept only for keys with a pending event.

    One instance serves every key with the same configuration (a container whose labels set
    its own needs its own instance). Memory per key is bounded by ``max_event_bytes`` of text
    and ``max_lines`` payloads.
    """

    def __init__(self, config: MultilineConfig | None = None) -> None:
        self.config = config = config or MultilineConfig()
        self.max_lines = config.max_lines
        self.max_event_bytes = config.max_event_bytes
        self.flush_seconds = config.flush_seconds
        self._pending: dict[K, _Pending[P]] = {}
        self._starts: Callable[[str], bool] | None = None
        self._feed: Callable[[K, str, str, P, float], Emitted[K, P]]
        if config.mode == "off":
            self._feed = self._feed_off
        elif config.mode == "auto":
            self._feed = self._feed_auto
        else:
            self._feed = self._feed_pattern
            if config.start_pattern is not None:
                search = re.compile(config.start_pattern).search
                self._starts = lambda text: search(text) is not None
            else:
                assert config.continue_pattern is not None  # checked by the config
                search = re.compile(config.continue_pattern).search
                self._starts = lambda text: search(text) is None

    def __len__(self) -> int:
        """Keys with an event pending."""
        return len(self._pending)

    @property
    def pending(self) -> Mapping[K, _Pending[P]]:
        """The events held back, per key (live, not a copy). A fused reader may take over
        auto mode's common case (``_feed_auto``'s last branch): a single-line ``PLAIN`` event
        with no gap leaves when a line that clearly starts an event comes, and that line
        takes its place. The reader must refill the same object before anything else reads
        it (``feed``, ``flush``)."""
        return self._pending

    def feed(self, key: K, time: str, text: str, payload: P, now: float) -> Emitted[K, P]:
        """The events that one line completes (often none, often the previous line's).

        ``text`` has no trailing newline; ``now`` is a monotonic clock reading.
        """
        return self._feed(key, time, text, payload, now)

    def flush_expired(self, now: float) -> list[Joined[K, P]]:
        """Pending events whose last line came ``flush_seconds`` or more before ``now``."""
        limit = now - self.flush_seconds
        expired = [key for key, pending in self._pending.items() if pending.seen <= limit]
        out: list[Joined[K, P]] = []
        for key in expired:
            out.extend(self._release(key, self._pending.pop(key)))
        return out

    def flush(self, key: K | None = None) -> list[Joined[K, P]]:
        """Every pending event, or only that of ``key`` (its stream ended)."""
        if key is not None:
            pending = self._pending.pop(key, None)
            return list(self._release(key, pending)) if pending is not None else []
        out: list[Joined[K, P]] = []
        for each, pending in self._pending.items():
            out.extend(self._release(each, pending))
        self._pending.clear()
        return out

    # -- the modes

    def _feed_off(self, key: K, time: str, text: str, payload: P, now: float) -> Emitted[K, P]:
        if len(text) > self.max_event_bytes // 4 and _utf8_size(text) > self.max_event_bytes:
            return (Joined(key, time, _cut(text, self.max_event_bytes), [payload], True),)
        return (Joined(key, time, text, [payload]),)

    def _feed_pattern(self, key: K, time: str, text: str, payload: P, now: float) -> Emitted[K, P]:
        assert self._starts is not None
        pending = self._pending.get(key)
        if pending is None:
            return self._begin(key, time, text, payload, now, _PLAIN)
        if self._starts(text):
            del self._pending[key]
            return self._release(key, pending) + self._begin(key, time, text, payload, now, _PLAIN)
        return self._join(key, pending, time, text, payload, now, _PLAIN)

    def _feed_auto(self, key: K, time: str, text: str, payload: P, now: float) -> Emitted[K, P]:
        pending = self._pending.get(key)
        first = text[:1]
        if pending is None:
            if not first:
                return (Joined(key, time, text, [payload]),)
            state = _PY_FRAMES if first == "T" and text.startswith(_TRACEBACK) else _PLAIN
            return self._begin(key, time, text, payload, now, state)
        if first == " " or first == "\t":
            if pending.gap is None and not text.startswith(_EXCEPTION_GROUP):
                state = pending.state
                # An indented line after the exception is detail of the same event; the
                # frames of a traceback stay frames until its exception line.
                return self._join(key, pending, time, text, payload, now, state)
            return self._restart(key, pending, time, text, payload, now, _PLAIN)
        if not first:
            if pending.state >= _PY_DONE and pending.gap is None:
                pending.gap = (time, payload)
                pending.seen = now
                return ()
            del self._pending[key]
            return (*self._release(key, pending), Joined(key, time, text, [payload]))
        state = pending.state
        if state == _PY_FRAMES:
            if text.startswith(_TRACEBACK):
                return self._restart(key, pending, time, text, payload, now, _PY_FRAMES)
            return self._join(key, pending, time, text, payload, now, _PY_DONE)
        if state == _PY_DONE and text in _CHAIN:
            return self._join(key, pending, time, text, payload, now, _PY_CHAIN)
        if state == _PY_CHAIN and text.startswith(_TRACEBACK):
            return self._join(key, pending, time, text, payload, now, _PY_FRAMES)
        if pending.gap is None and (
            (first == "C" and text.startswith("Caused by: "))
            or (first == "S" and text.startswith("Suppressed: "))
            or (first == "." and _JAVA_MORE.match(text) is not None)
        ):
            return self._join(key, pending, time, text, payload, now, _PLAIN)
        state = _PY_FRAMES if first == "T" and text.startswith(_TRACEBACK) else _PLAIN
        if pending.gap is not None or not text.isascii() or len(text) > self.max_event_bytes:
            return self._restart(key, pending, time, text, payload, now, state)
        # The common case, spelled out: the pending event is complete and this line takes
        # its place (the same object, refilled).
        parts = pending.parts
        joined = Joined(
            key,
            pending.time,
            parts[0] if len(parts) == 1 else "\n".join(parts),
            pending.payloads,
            pending.truncated,
        )
        pending.time = time
        pending.seen = now
        pending.state = state
        pending.parts = [text]
        pending.payloads = [payload]
        pending.size = len(text)
        pending.truncated = False
        return (joined,)

    # -- events

    def _begin(
        self, key: K, time: str, text: str, payload: P, now: float, state: int
    ) -> Emitted[K, P]:
        pending: _Pending[P] = _Pending(time, now, state)
        self._add(pending, text, payload)
        if self.max_lines == 1:
            return (self._joined(key, pending),)
        self._pending[key] = pending
        return ()

    def _restart(
        self, key: K, pending: _Pending[P], time: str, text: str, payload: P, now: float, state: int
    ) -> Emitted[K, P]:
        del self._pending[key]
        return self._release(key, pending) + self._begin(key, time, text, payload, now, state)

    def _join(
        self, key: K, pending: _Pending[P], time: str, text: str, payload: P, now: float, state: int
    ) -> Emitted[K, P]:
        gap = pending.gap
        if gap is not None:
            pending.gap = None
            self._add(pending, "", gap[1])
            if len(pending.payloads) >= self.max_lines:
                del self._pending[key]
                return (
                    self._joined(key, pending),
                    *self._begin(key, time, text, payload, now, state),
                )
        self._add(pending, text, payload)
        if len(pending.payloads) >= self.max_lines:
            del self._pending[key]
            return (self._joined(key, pending),)
        pending.state = state
        pending.seen = now
        return ()

    def _add(self, pending: _Pending[P], text: str, payload: P) -> None:
        pending.payloads.append(payload)
        if pending.truncated:
            return  # the cap was reached: the line is part of the event, its text is not kept
        separator = 1 if pending.parts else 0
        size = separator + _utf8_size(text)
        room = self.max_event_bytes - pending.size
        if size <= room:
            pending.parts.append(text)
            pending.size += size
            return
        pending.truncated = True
        if room > separator:
            piece = _cut(text, room - separator)
            pending.parts.append(piece)
            pending.size += separator + _utf8_size(piece)

    def _joined(self, key: K, pending: _Pending[P]) -> Joined[K, P]:
        parts = pending.parts
        text = parts[0] if len(parts) == 1 else "\n".join(parts)
        return Joined(key, pending.time, text, pending.payloads, pending.truncated)

    def _release(self, key: K, pending: _Pending[P]) -> Emitted[K, P]:
        """The pending event, then the empty line it held, as an event of its own."""
        joined = self._joined(key, pending)
        gap = pending.gap
        if gap is None:
            return (joined,)
        return (joined, Joined(key, gap[0], "", [gap[1]]))
