"""The dissect stage: the Elastic dissect examples, modifiers, failures and config errors."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from pydantic import ValidationError

from logwharf.processor.dissect import DissectConfig, Dissector
from logwharf.processor.stage import PROCESSOR_FAILURE, EventStage
from logwharf.processor.stage_config import BuildContext


def build(pattern: str, **options: Any) -> EventStage:
    config = DissectConfig.model_validate({"type": "dissect", "pattern": pattern, **options})
    return config.build("dissect", BuildContext())


def dissect(pattern: str, text: str, **options: Any) -> dict[str, Any]:
    (event,) = build(pattern, **options).process_batch([{"message": text}])
    del event["message"]
    return event


def test_access_line() -> None:
    pattern = (
        "%{clientip} %{ident} %{auth} [%{@timestamp}] "
        '"%{verb} %{request} HTTP/%{httpversion}" %{status} %{size}'
    )
    line = '1.2.3.4 - - [30/Apr/1998:22:00:52 +0000] "GET /english/venues/18.gif HTTP/1.0" 200 3171'
    assert dissect(pattern, line) == {
        "clientip": "1.2.3.4",
        "ident": "-",
        "auth": "-",
        "@timestamp": "30/Apr/1998:22:00:52 +0000",
        "verb": "GET",
        "request": "/english/venues/18.gif",
        "httpversion": "1.0",
        "status": "200",
        "size": "3171",
    }


def test_dotted_and_bracket_names_and_a_prefix() -> None:
    found = dissect("%{source.address} %{[http][request][method]}", "10.0.0.1 GET")
    assert found == {"source": {"address": "10.0.0.1"}, "http": {"request": {"method": "GET"}}}
    found = dissect("%{a} %{b.c}", "1 2", target_prefix="dissect")
    assert found == {"dissect": {"a": "1", "b": {"c": "2"}}}


def test_the_last_key_takes_the_rest_and_a_trailing_delimiter_ends_it() -> None:
    assert dissect("%{a} %{b},%{c}", "foo bar,baz  more here") == {
        "a": "foo",
        "b": "bar",
        "c": "baz  more here",
    }
    assert dissect("[%{a}]", "[x] [y]") == {"a": "x"}


def test_skip_keys() -> None:
    assert dissect("%{a} %{} %{?middle} %{d}", "1 2 3 4") == {"a": "1", "d": "4"}


def test_append_with_separator_and_order() -> None:
    line = "Mar 16 00:01:25 example postfix/smtpd[1713]: connect from example.com"
    pattern = "%{ts} %{+ts} %{+ts} %{host} %{program}[%{pid}]: %{text}"
    assert dissect(pattern, line, append_separator=" ") == {
        "ts": "Mar 16 00:01:25",
        "host": "example",
        "program": "postfix/smtpd",
        "pid": "1713",
        "text": "connect from example.com",
    }
    assert dissect("%{a} %{+a/2} %{+a/1}", "foo bar baz") == {"a": "foobazbar"}
    assert dissect("%{+a/2} %{+a/1}", "x y", append_separator="-") == {"a": "y-x"}


def test_reference_keys() -> None:
    assert dissect("%{*a} %{b} %{&a}", "foo bar baz") == {"foo": "baz", "b": "bar"}
    assert dissect("%{&a} %{*a}", "value key") == {"key": "value"}
    assert dissect("%{*k}=%{&k}", "_id=x") == {}  # a line cannot name its own _id
    assert dissect("%{*k}=%{&k}", "x=1", target_prefix="p") == {"p": {"x": "1"}}
    assert dissect("%{*k}=%{&k}", "=1") == {"tags": ["_dissectfailure"]}


def test_right_padding_and_repeated_delimiters() -> None:
    assert dissect("%{a->} %{b} %{c}", "foo         bar baz") == {
        "a": "foo",
        "b": "bar",
        "c": "baz",
    }
    assert dissect("%{a->},:%{b}", "foo,:,:,:bar") == {"a": "foo", "b": "bar"}
    assert dissect("%{->},%{b}", "foo,,,,bar") == {"b": "bar"}
    # Without the modifier, repeated delimiters are empty values.
    assert dissect("%{a},%{b},%{c},%{d}", "foo,,,bar") == {"a": "foo", "b": "", "c": "", "d": "bar"}


def test_values_may_hold_newlines_and_partial_delimiters() -> None:
    assert dissect("%{a} - %{b}", "x-y -z\nw - rest\nmore") == {"a": "x-y -z\nw", "b": "rest\nmore"}


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("%{a} %{b}", "nospace"),
        ("<%{a}>", "a>"),
        ("%{a}:%{b}:%{c}", "1:2"),
        ("[%{a}]", "[unclosed"),
    ],
)
def test_lines_that_do_not_fit_are_tagged(pattern: str, text: str) -> None:
    stage = build(pattern)
    (event,) = stage.process_batch([{"message": text}])
    assert event == {"message": text, "tags": ["_dissectfailure"]}
    assert stage.unparsed == 1  # type: ignore[attr-defined]


def test_missing_field_passes_and_a_conflict_fails_the_event() -> None:
    stage = build("%{message.a} %{b}")
    out = stage.process_batch([{"other": "x"}, {"message": "1 2"}])
    assert out[0] == {"other": "x"}
    assert out[1]["tags"] == [PROCESSOR_FAILURE]
    assert stage.failures == 1


def reference(pattern: str, text: str) -> dict[str, str] | None:
    """Dissect as specified, one find at a time (set and skip keys, padding)."""
    dissector = Dissector(pattern)  # for the parsed keys only
    bodies = re.findall(r"%\{([^{}]*)\}", pattern)
    delimiters = re.split(r"%\{[^{}]*\}", pattern)
    if not text.startswith(delimiters[0]):
        return None
    start, found = len(delimiters[0]), {}
    for body, delimiter in zip(bodies, delimiters[1:], strict=True):
        if delimiter:
            end = text.find(delimiter, start)
            if end < 0:
                return None
            value, start = text[start:end], end + len(delimiter)
            if body.endswith("->"):
                while text.startswith(delimiter, start):
                    start += len(delimiter)
        else:
            value = text[start:]
        name = body.removesuffix("->")
        if name and not name.startswith("?"):
            found[name] = value
    assert [key.name for key in dissector.keys] == list(found)
    return found


def test_matches_a_find_based_reference_on_random_lines() -> None:
    patterns = [
        "%{a} %{b}",
        "%{a->} %{b}:%{c}",
        "<%{a}> %{}, %{b->},%{c}",
        "%{a}ab%{b}aab%{c}",
        "%{?x}--%{a}-%{b->}--",
    ]
    rng = random.Random(11)
    for pattern in patterns:
        stage = build(pattern)
        for _ in range(2000):
            text = "".join(rng.choice("ab -:,<>\n") for _ in range(rng.randrange(16)))
            (event,) = stage.process_batch([{"message": text}])
            expected = reference(pattern, text)
            if expected is None:
                assert event.get("tags") == ["_dissectfailure"], (pattern, text)
            else:
                del event["message"]
                assert event == expected, (pattern, text)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("no keys", "at least one %{key}"),
        ("%{a}%{b}", "two keys need a delimiter between them"),
        ("%{a} %{a}", "%{a} is used twice"),
        ("%{*a} %{b}", "go in pairs"),
        ("%{*a} %{&a} %{&a}", "go in pairs"),
        ("%{a/2} %{b}", "/N orders appended keys only"),
        ("%{+} %{b}", "the key needs a name"),
        ("%{a..b} %{c}", "not a field name"),
        ("%{a?b} %{c}", "a key name cannot hold"),
    ],
)
def test_configuration_errors(pattern: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DissectConfig.model_validate({"type": "dissect", "pattern": pattern})
    assert message in str(caught.value)


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        DissectConfig.model_validate({"type": "dissect", "pattern": "%{a}", "mapping": {}})
