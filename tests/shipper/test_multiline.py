"""Multiline joining: stack traces, limits, flush timeout, modes, labels."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from logwharf.shipper.multiline import (
    MODE_LABEL,
    PATTERN_LABEL,
    Joined,
    Multiline,
    MultilineConfig,
    config_from_labels,
)

JAVA = [
    'Exception in thread "main" java.lang.IllegalStateException: A book has a null property',
    "\tat com.example.myproject.Author.getBookIds(Author.java:38)",
    "\tat com.example.myproject.Bootstrap.main(Bootstrap.java:14)",
    "Caused by: java.lang.NullPointerException",
    "\tat com.example.myproject.Book.getId(Book.java:22)",
    "\tat com.example.myproject.Author.getBookIds(Author.java:35)",
    "\t... 1 more",
]

PYTHON = [
    "Traceback (most recent call last):",
    '  File "/app/main.py", line 3, in <module>',
    "    parse(data)",
    '  File "/app/parse.py", line 9, in parse',
    "    raise ValueError('bad')",
    "ValueError: bad",
]

PYTHON_CHAINED = [
    "Traceback (most recent call last):",
    '  File "/app/main.py", line 2, in <module>',
    "    1 / 0",
    "    ~~^~~",
    "ZeroDivisionError: division by zero",
    "",
    "During handling of the above exception, another exception occurred:",
    "",
    "Traceback (most recent call last):",
    '  File "/app/main.py", line 4, in <module>',
    "    raise KeyError('x')",
    "KeyError: 'x'",
    "",
    "The above exception was the direct cause of the following exception:",
    "",
    "Traceback (most recent call last):",
    '  File "/app/main.py", line 6, in <module>',
    "    raise RuntimeError('failed') from error",
    "RuntimeError: failed",
]


def run(
    lines: list[str], config: MultilineConfig | None = None, key: str = "k"
) -> list[Joined[str, int]]:
    """Every event, flushed at the end; payloads are the lines' indexes, times ``t<index>``."""
    multiline: Multiline[str, int] = Multiline(config)
    out: list[Joined[str, int]] = []
    for index, text in enumerate(lines):
        out.extend(multiline.feed(key, f"t{index}", text, index, 0.0))
    out.extend(multiline.flush())
    assert len(multiline) == 0
    return out


def texts(events: list[Joined[str, int]]) -> list[str]:
    return [event.text for event in events]


def test_java_trace_with_caused_by_and_more_is_one_event() -> None:
    events = run(["12:00:01 INFO starting", *JAVA, "12:00:02 INFO next"])
    assert texts(events) == ["12:00:01 INFO starting", "\n".join(JAVA), "12:00:02 INFO next"]
    trace = events[1]
    assert trace.time == "t1"  # the first line's
    assert trace.payload == 1
    assert trace.payloads == list(range(1, 8))
    assert trace.lines == 7
    assert not trace.truncated


def test_java_spaces_suppressed_and_unindented_more() -> None:
    lines = [
        "java.io.IOException: closed",
        "    at com.example.Stream.read(Stream.java:10)",
        "    Suppressed: java.lang.IllegalStateException: also",
        "        at com.example.Stream.close(Stream.java:20)",
        "Suppressed: java.lang.RuntimeException: unindented",
        "... 3 more",
        "... 2 common frames omitted",
        "... not a frame count",
    ]
    assert texts(run(lines)) == ["\n".join(lines[:7]), lines[7]]


def test_caused_by_with_nothing_pending_starts_an_event() -> None:
    assert texts(run(["Caused by: x", "\tat y"])) == ["Caused by: x\n\tat y"]


def test_python_traceback_ends_with_its_exception_line() -> None:
    events = run(["INFO before", *PYTHON, "INFO after"])
    assert texts(events) == ["INFO before", "\n".join(PYTHON), "INFO after"]
    assert events[1].payloads == list(range(1, 7))


def test_python_exception_without_message_belongs_to_the_block() -> None:
    lines = ["Traceback (most recent call last):", '  File "a.py", line 1', "KeyboardInterrupt"]
    assert texts(run([*lines, "next"])) == ["\n".join(lines), "next"]


def test_python_chained_tracebacks_are_one_event_with_their_empty_lines() -> None:
    events = run(["INFO before", *PYTHON_CHAINED, "INFO after"])
    assert texts(events) == ["INFO before", "\n".join(PYTHON_CHAINED), "INFO after"]
    assert events[1].payloads == list(range(1, 1 + len(PYTHON_CHAINED)))


def test_python_chain_without_empty_lines_is_joined_too() -> None:
    # a caller that drops empty lines before joining, as replay does
    lines = [line for line in PYTHON_CHAINED if line]
    assert texts(run(lines)) == ["\n".join(lines)]


def test_empty_line_after_a_traceback_that_does_not_chain_is_its_own_event() -> None:
    events = run([*PYTHON, "", "INFO after"])
    assert texts(events) == ["\n".join(PYTHON), "", "INFO after"]
    assert [event.time for event in events] == ["t0", "t6", "t7"]
    assert [event.payloads for event in events] == [list(range(6)), [6], [7]]


def test_two_empty_lines_after_a_traceback_end_it() -> None:
    assert texts(run([*PYTHON, "", "", "x"])) == ["\n".join(PYTHON), "", "", "x"]


def test_chain_sentence_not_followed_by_a_traceback_ends_the_chain() -> None:
    lines = [*PYTHON, "", "During handling of the above exception, another exception occurred:"]
    assert texts(run([*lines, "", "INFO after"])) == ["\n".join(lines), "", "INFO after"]


def test_a_new_traceback_starts_a_new_event() -> None:
    assert texts(run(PYTHON + PYTHON)) == ["\n".join(PYTHON)] * 2
    # even before the first one's exception line
    assert texts(run(PYTHON[:3] + PYTHON)) == ["\n".join(PYTHON[:3]), "\n".join(PYTHON)]


def test_exception_group_starts_an_event_and_its_lines_continue_it() -> None:
    group = [
        "  + Exception Group Traceback (most recent call last):",
        '  |   File "a.py", line 1, in <module>',
        "  | ExceptionGroup: two (2 sub-exceptions)",
        "  +-+---------------- 1 ----------------",
        "    | ValueError: 1",
        "    +------------------------------------",
    ]
    assert texts(run(["INFO before", *group, "INFO after"])) == [
        "INFO before",
        "\n".join(group),
        "INFO after",
    ]


def test_indented_lines_continue_any_event() -> None:
    lines = ["config invalid:", "  port: not a number", "\thost: missing", "done"]
    assert texts(run(lines)) == ["config invalid:\n  port: not a number\n\thost: missing", "done"]


def test_empty_line_ends_the_event_and_is_its_own() -> None:
    events = run(["a", "  a2", "", "  b", "c", ""])
    assert texts(events) == ["a\n  a2", "", "  b", "c", ""]
    assert [event.payloads for event in events] == [[0, 1], [2], [3], [4], [5]]


def test_keys_are_joined_apart_however_they_interleave() -> None:
    multiline: Multiline[tuple[str, str], int] = Multiline()
    feed = [
        (("c1", "stdout"), JAVA[0]),
        (("c2", "stdout"), "c2 line"),
        (("c1", "stderr"), "c1 stderr line"),
        (("c1", "stdout"), JAVA[1]),
        (("c2", "stdout"), "  c2 detail"),
        (("c1", "stderr"), "\tc1 stderr detail"),
        (("c1", "stdout"), JAVA[2]),
        (("c1", "stdout"), "c1 next"),
    ]
    out: list[Joined[tuple[str, str], int]] = []
    for index, (key, text) in enumerate(feed):
        out.extend(multiline.feed(key, "t", text, index, 0.0))
    assert [(event.key, event.text) for event in out] == [
        (("c1", "stdout"), "\n".join(JAVA[:3])),
    ]
    assert len(multiline) == 3
    out = multiline.flush(("c1", "stderr"))
    assert [(event.text, event.payloads) for event in out] == [
        ("c1 stderr line\n\tc1 stderr detail", [2, 5])
    ]
    assert multiline.flush(("c1", "stderr")) == []
    rest = multiline.flush()
    assert {event.key: (event.text, event.payloads) for event in rest} == {
        ("c2", "stdout"): ("c2 line\n  c2 detail", [1, 4]),
        ("c1", "stdout"): ("c1 next", [7]),
    }
    assert len(multiline) == 0


def test_max_lines_emits_at_once_and_loses_no_line() -> None:
    config = MultilineConfig(max_lines=3)
    multiline: Multiline[str, int] = Multiline(config)
    out: list[Joined[str, int]] = []
    for index, text in enumerate(JAVA):
        out.extend(multiline.feed("k", "t", text, index, 0.0))
    assert [event.payloads for event in out] == [[0, 1, 2], [3, 4, 5]]  # the third waits
    out.extend(multiline.flush())
    assert [event.payloads for event in out] == [[0, 1, 2], [3, 4, 5], [6]]
    assert "\n".join(texts(out)) == "\n".join(JAVA)


def test_max_lines_one_joins_nothing() -> None:
    assert texts(run(JAVA, MultilineConfig(max_lines=1))) == JAVA


def test_max_lines_reached_by_a_held_empty_line() -> None:
    lines = ["Traceback (most recent call last):", "ValueError: x", "", PYTHON_CHAINED[6]]
    events = run(lines, MultilineConfig(max_lines=3))
    assert [event.payloads for event in events] == [[0, 1, 2], [3]]


def test_max_event_bytes_cuts_text_and_keeps_every_payload() -> None:
    config = MultilineConfig(max_event_bytes=50)
    lines = ["E" * 20, "\t" + "a" * 20, "\t" + "b" * 20, "\tc", "next"]
    events = run(lines, config)
    trace = events[0]
    assert trace.truncated
    assert trace.text == "E" * 20 + "\n\t" + "a" * 20 + "\n\t" + "b" * 6
    assert len(trace.text.encode()) == 50
    assert trace.payloads == [0, 1, 2, 3]  # the line that did not fit still belongs to it
    assert (events[1].text, events[1].truncated) == ("next", False)


def test_max_event_bytes_never_cuts_inside_a_character() -> None:
    config = MultilineConfig(max_event_bytes=10)
    events = run(["abc", "  é€€€"], config)
    # 6 bytes are left after "abc\n": "  é" takes 4, "€" (3 bytes) would end inside itself
    assert events[0].text == "abc\n  é"
    assert events[0].text.encode() == b"abc\n  \xc3\xa9"
    assert events[0].truncated


def test_a_single_line_over_the_cap_is_cut() -> None:
    for mode in ("auto", "off"):
        config = MultilineConfig(mode=mode, max_event_bytes=8)
        events = run(["0123456789", "ok"], config)
        assert [(e.text, e.truncated) for e in events] == [("01234567", True), ("ok", False)]
        events = run(["€€€€"], config)  # 12 bytes
        assert [(e.text, e.truncated) for e in events] == [("€€", True)]


def test_cap_exactly_reached_is_not_truncated() -> None:
    events = run(["abcd", " efg"], MultilineConfig(max_event_bytes=9))
    assert (events[0].text, events[0].truncated) == ("abcd\n efg", False)


def test_flush_expired_uses_the_last_line_time() -> None:
    multiline: Multiline[str, int] = Multiline(MultilineConfig(flush_seconds=1.0))
    assert multiline.feed("a", "t0", JAVA[0], 0, 10.0) == ()
    assert multiline.feed("a", "t1", JAVA[1], 1, 10.8) == ()
    assert multiline.feed("b", "t2", "b line", 2, 10.5) == ()
    assert multiline.flush_expired(11.4) == []
    expired = multiline.flush_expired(11.5)
    assert [(event.key, event.payloads) for event in expired] == [("b", [2])]
    assert multiline.flush_expired(11.79) == []
    expired = multiline.flush_expired(11.8)
    assert [(event.key, event.payloads) for event in expired] == [("a", [0, 1])]
    assert len(multiline) == 0
    # a continuation after the flush starts an event of its own
    assert multiline.feed("a", "t3", JAVA[2], 3, 12.0) == ()
    assert texts(multiline.flush()) == [JAVA[2]]


def test_flush_expired_releases_a_held_empty_line_too() -> None:
    multiline: Multiline[str, int] = Multiline()
    for index, text in enumerate([*PYTHON, ""]):
        assert multiline.feed("k", f"t{index}", text, index, 0.0) == ()
    events = multiline.flush_expired(1.0)
    assert [(e.text, e.time, e.payloads) for e in events] == [
        ("\n".join(PYTHON), "t0", list(range(6))),
        ("", "t6", [6]),
    ]


def test_off_mode_passes_every_line_through() -> None:
    multiline: Multiline[str, int] = Multiline(MultilineConfig(mode="off"))
    for index, text in enumerate([*JAVA, ""]):
        (event,) = multiline.feed("k", f"t{index}", text, index, 0.0)
        assert (event.text, event.time, event.payloads) == (text, f"t{index}", [index])
    assert len(multiline) == 0
    assert multiline.flush() == []
    assert multiline.flush_expired(1e9) == []


def test_start_pattern_mode() -> None:
    config = MultilineConfig(mode="pattern", start_pattern=r"^\d{4}-\d{2}-\d{2} ")
    lines = [
        "continuation before any start",
        "2026-01-02 10:00:00 ERROR failed",
        "not indented detail",
        "",
        "Traceback (most recent call last):",
        "2026-01-02 10:00:01 INFO ok",
    ]
    assert texts(run(lines, config)) == [
        lines[0],
        "\n".join(lines[1:5]),  # the empty line continues: only the pattern decides
        lines[5],
    ]


def test_continue_pattern_mode() -> None:
    config = MultilineConfig(mode="pattern", continue_pattern=r"^(\s|\\$)|^>")
    lines = ["first", "> quoted", "  indented", "", "second", "\\", "third"]
    assert texts(run(lines, config)) == ["first\n> quoted\n  indented", "", "second\n\\", "third"]


def test_pattern_is_searched_anywhere_in_the_line() -> None:
    config = MultilineConfig(mode="pattern", start_pattern="BEGIN")
    assert texts(run(["x BEGIN", "y", "z BEGIN"], config)) == ["x BEGIN\ny", "z BEGIN"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "smart"}, "mode must be one of auto, off, pattern"),
        ({"mode": "pattern"}, "needs start_pattern or continue_pattern"),
        ({"mode": "pattern", "start_pattern": "a", "continue_pattern": "b"}, "needs start"),
        ({"start_pattern": "a"}, "need multiline mode 'pattern'"),
        ({"mode": "pattern", "start_pattern": "(unclosed"}, "not a valid regular expression"),
        ({"mode": "pattern", "start_pattern": ""}, "would match every line"),
        ({"max_lines": 0}, "max_lines must be at least 1"),
        ({"max_event_bytes": 0}, "max_event_bytes must be at least 1"),
        ({"flush_seconds": 0}, "flush_seconds must be positive"),
    ],
)
def test_config_is_validated(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MultilineConfig(**kwargs)  # type: ignore[arg-type]


def test_config_defaults() -> None:
    config = MultilineConfig()
    assert (config.mode, config.max_lines, config.max_event_bytes, config.flush_seconds) == (
        "auto",
        500,
        1024 * 1024,
        1.0,
    )


DEFAULT = MultilineConfig(max_lines=40, flush_seconds=2.5)


def test_labels_absent_keep_the_default() -> None:
    assert config_from_labels({"other": "x"}, DEFAULT) is DEFAULT


def test_label_off_and_auto() -> None:
    assert config_from_labels({MODE_LABEL: "off"}, DEFAULT) == replace(DEFAULT, mode="off")
    assert config_from_labels({MODE_LABEL: " OFF "}, DEFAULT).mode == "off"
    off = MultilineConfig(mode="off")
    assert config_from_labels({MODE_LABEL: "auto"}, off) == replace(off, mode="auto")
    pattern = MultilineConfig(mode="pattern", start_pattern="x")
    assert config_from_labels({MODE_LABEL: "auto"}, pattern) == MultilineConfig()


def test_label_pattern() -> None:
    config = config_from_labels({PATTERN_LABEL: r"^\[\d"}, DEFAULT)
    assert config == replace(DEFAULT, mode="pattern", start_pattern=r"^\[\d")
    assert config.max_lines == 40 and config.flush_seconds == 2.5
    both = config_from_labels({MODE_LABEL: "auto", PATTERN_LABEL: "^x"}, DEFAULT)
    assert both.mode == "pattern"


def test_label_off_wins_over_a_pattern() -> None:
    labels = {MODE_LABEL: "off", PATTERN_LABEL: "^x"}
    assert config_from_labels(labels, DEFAULT).mode == "off"


def test_bad_labels_name_the_label() -> None:
    with pytest.raises(ValueError, match=r"label logwharf\.multiline='sometimes': use off or auto"):
        config_from_labels({MODE_LABEL: "sometimes"}, DEFAULT)
    with pytest.raises(
        ValueError,
        match=r"label logwharf\.multiline\.pattern '\(oops' is not a valid regular expression",
    ):
        config_from_labels({PATTERN_LABEL: "(oops"}, DEFAULT)
    with pytest.raises(ValueError, match=r"label logwharf\.multiline\.pattern is empty"):
        config_from_labels({PATTERN_LABEL: ""}, DEFAULT)


VOCABULARY = [
    "plain line",
    "\tat x.y(Z.java:1)",
    "    indented",
    "Caused by: java.lang.X",
    "Suppressed: y",
    "... 4 more",
    "Traceback (most recent call last):",
    "ValueError: bad",
    PYTHON_CHAINED[6],
    PYTHON_CHAINED[13],
    "",
    "  + Exception Group Traceback (most recent call last):",
    "é€ non-ascii " * 3,
]

CONFIGS = [
    MultilineConfig(),
    MultilineConfig(max_lines=2),
    MultilineConfig(max_lines=7, max_event_bytes=40),
    MultilineConfig(mode="off", max_event_bytes=10),
    MultilineConfig(mode="pattern", start_pattern="^[A-Z]"),
    MultilineConfig(mode="pattern", continue_pattern=r"^\s"),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_every_line_comes_out_once_in_order_per_key(config: MultilineConfig) -> None:
    rng = random.Random(7)
    multiline: Multiline[str, int] = Multiline(config)
    out: list[Joined[str, int]] = []
    keys = ["a", "b", "c"]
    sent: dict[str, list[int]] = {key: [] for key in keys}
    now = 0.0
    for index in range(5000):
        key = rng.choice(keys)
        now += rng.random() * 0.3
        sent[key].append(index)
        out.extend(multiline.feed(key, f"t{index}", rng.choice(VOCABULARY), index, now))
        if rng.random() < 0.05:
            out.extend(multiline.flush_expired(now))
    out.extend(multiline.flush())
    got: dict[str, list[int]] = {key: [] for key in keys}
    for event in out:
        got[event.key].extend(event.payloads)
        assert event.time == f"t{event.payloads[0]}"
        assert 1 <= event.lines <= config.max_lines
        assert len(event.text.encode()) <= config.max_event_bytes
    assert got == sent
