"""Log level normalisation to ``trace|debug|info|warn|error|fatal``.

Spellings differ by ecosystem: words (WARNING, ERR, CRITICAL), single letters (glog,
Android: E/W/I), syslog severities 0-7 and pino/bunyan numbers 10-60. Unknown values give
``None`` so the caller can leave ``log.level`` absent rather than guess.
"""

from __future__ import annotations

import re

__all__ = ["LEVEL_WORDS", "level_from_text_line", "normalize_level"]

_WORDS: dict[str, str] = {}
for _canonical, _spellings in {
    "trace": ("trace", "trc", "finest", "finer", "verbose", "t", "v"),
    "debug": ("debug", "dbg", "debg", "fine", "d", "config"),
    "info": ("info", "inf", "information", "informational", "notice", "i", "n"),
    "warn": ("warn", "warning", "wrn", "w"),
    "error": ("error", "err", "eror", "e", "severe", "exception"),
    "fatal": (
        "fatal",
        "ftl",
        "critical",
        "crit",
        "emerg",
        "emergency",
        "alert",
        "panic",
        "f",
        "c",
        "dpanic",
    ),
}.items():
    for _spelling in _spellings:
        _WORDS[_spelling] = _canonical
        _WORDS[_spelling.upper()] = _canonical
        _WORDS[_spelling.capitalize()] = _canonical

LEVEL_WORDS = _WORDS  # exact spellings -> canonical level, for callers' fast paths

# Syslog severities (RFC 5424): 0 emerg .. 7 debug.
_SYSLOG = ("fatal", "fatal", "fatal", "error", "warn", "info", "info", "debug")
# pino / bunyan: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal.
_PINO = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}


def normalize_level(value: object) -> str | None:
    """Map a level as found in a log record to its canonical name, or ``None``."""
    if type(value) is str:
        found = _WORDS.get(value)
        if found is not None:
            return found
        return _WORDS.get(value.strip().lower()) or _number_level(value.strip())
    if type(value) is int:
        return _int_level(value)
    if type(value) is float and value.is_integer():
        return _int_level(int(value))
    return None


def _number_level(text: str) -> str | None:
    return _int_level(int(text)) if text.isascii() and text.isdigit() and len(text) < 4 else None


def _int_level(number: int) -> str | None:
    if 0 <= number < len(_SYSLOG):
        return _SYSLOG[number]
    return _PINO.get(number)


# A level word at the start of a plain text line, optionally after one or two timestamp-like
# tokens ("2026-11-23 10:00:00,123 ERROR ...", "[WARN] ...", "E1123 10:00:00 ..." is glog and
# is left alone). Upper case words stand alone; other cases need brackets or a colon, so that
# ordinary prose ("Error handling was improved") is not taken for a level.
_UPPER = (
    r"TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|SEVERE|CRIT|CRITICAL|FATAL|PANIC|EMERG|ALERT"
)
_TEXT_LEVEL = re.compile(
    r"\s*(?:[\[(]?\d[\d\-:/.,T+Z]*[\])]?\s+){0,2}"
    r"(?:[\[<(](?P<bracketed>(?i:" + _UPPER + r"))[\]>)]"
    r"|(?P<upper>" + _UPPER + r")(?=[\s:|\]]|$)"
    r"|(?P<colon>(?i:" + _UPPER + r")):)"
)


def level_from_text_line(line: str) -> str | None:
    """The level named at the start of a plain text line, if any."""
    match = _TEXT_LEVEL.match(line)
    if match is None:
        return None
    word = match.group("bracketed") or match.group("upper") or match.group("colon")
    return _WORDS.get(word.lower())
