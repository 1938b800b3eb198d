"""The redact stage: secrets masked everywhere in the event, ordinary text left alone."""

from __future__ import annotations

import copy
import hashlib
import hmac
import random
import re
import time
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from redact_corpus import NEGATIVE, POSITIVE, Case

from logwharf.processor.redact import RedactConfig, Redactor
from logwharf.processor.secret_finders import (
    EVERY_FINDER,
    LONG_KEY_NAMES,
    SHORT_KEY_NAMES,
    KeyNames,
    SecretFinder,
    card_number_ok,
    luhn_ok,
)
from logwharf.processor.stage import PROCESSOR_FAILURE, Pipeline
from logwharf.processor.stage_config import BuildContext

HASH_KEY = "k" * 24
FINDER = SecretFinder(KeyNames(LONG_KEY_NAMES, SHORT_KEY_NAMES))


def build(**keys: Any) -> Redactor:
    return RedactConfig.model_validate({"type": "redact", **keys}).build("redact", BuildContext())


def redacted(event: dict[str, Any], **keys: Any) -> dict[str, Any]:
    stage = build(**keys)
    out = stage.process_batch([copy.deepcopy(event)])
    assert len(out) == 1 and stage.failures == 0
    return out[0]


def serialized(event: dict[str, Any]) -> str:
    """The event as shipped, and each of its keys and values as is (JSON escapes quotes)."""
    return orjson.dumps(event).decode() + "\n" + "\n".join(_texts(event))


@pytest.mark.parametrize("case", POSITIVE, ids=lambda case: case.name)
def test_no_trace_of_a_secret_is_left(case: Case) -> None:
    stage = build()
    (out,) = stage.process_batch([copy.deepcopy(case.event)])
    dumped = serialized(out)
    for secret in case.secrets:
        assert secret not in dumped
    for kept in case.kept:
        assert kept in dumped
    assert "[REDACTED]" in dumped
    assert stage.masked >= 1


@pytest.mark.parametrize("case", POSITIVE, ids=lambda case: case.name)
def test_no_trace_is_left_with_hashing_either(case: Case) -> None:
    dumped = serialized(redacted(case.event, hash_key=HASH_KEY))
    for secret in case.secrets:
        assert secret not in dumped
    assert re.search(r"\[REDACTED:[0-9a-f]{12}\]", dumped)


@pytest.mark.parametrize("case", NEGATIVE, ids=lambda case: case.name)
def test_ordinary_text_comes_out_unchanged(case: Case) -> None:
    stage = build()
    (out,) = stage.process_batch([copy.deepcopy(case.event)])
    assert out == case.event
    assert stage.masked == 0
    # Not thanks to the cheap test: every finder run on every string leaves it too.
    for text in _strings(case.event):
        assert FINDER.redact(text, _mask, EVERY_FINDER) == text


def test_the_negative_card_numbers_would_pass_luhn_alone() -> None:
    # So that they test the network prefix check, not the Luhn check.
    for name in ("luhn_valid_epoch_like", "luhn_valid_prefix_7", "luhn_valid_prefix_9"):
        (case,) = [case for case in NEGATIVE if case.name == name]
        digits = re.sub(r"\D", "", case.event["message"])
        assert luhn_ok(digits)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("https://user:hunter2@host/", "https://user:[REDACTED]@host/"),
        ("password=hunter2&user=bob", "password=[REDACTED]&user=bob"),
        ('{"api_key": "abc123", "n": 1}', '{"api_key": "[REDACTED]", "n": 1}'),
        ("Authorization: Bearer abc.def", "Authorization: Bearer [REDACTED]"),
        ("token: 'a b c' rest", "token: '[REDACTED]' rest"),
        ("{user=bob, password=pw1}", "{user=bob, password=[REDACTED]}"),
        ("card 4111-1111-1111-1111.", "card [REDACTED]."),
        (
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----",
            "-----BEGIN EC PRIVATE KEY-----[REDACTED]-----END EC PRIVATE KEY-----",
        ),
    ],
)
def test_only_the_secret_part_is_masked(message: str, expected: str) -> None:
    assert redacted({"message": message})["message"] == expected


def test_a_sensitive_keys_value_is_masked_whole_whatever_its_type() -> None:
    event = {
        "app": {
            "password": "pw",
            "pin_token": 1234,
            "secrets": ["a", "b"],
            "credentials": {"user": "u", "pass": "p"},
            "passwd": None,
            "secret": False,
            "token": "",
        }
    }
    stage = build()
    (out,) = stage.process_batch([copy.deepcopy(event)])
    assert out["app"] == {
        "password": "[REDACTED]",
        "pin_token": "[REDACTED]",
        "secrets": "[REDACTED]",
        "credentials": "[REDACTED]",
        "passwd": None,
        "secret": False,
        "token": "",
    }
    assert stage.masked == 4


def test_key_names_match_at_the_end_of_a_key_and_case_insensitively() -> None:
    names = KeyNames(LONG_KEY_NAMES, SHORT_KEY_NAMES)
    secret = [
        "password", "DB_PASSWORD", "dbPassword", "x-api-key", "X-Api-Key", "apiKey", "api.key",
        "client_secret", "clientSecret", "access_token", "refresh_token", "csrftoken",
        "aws_secret_access_key", "SecretAccessKey", "private_key", "Authorization", "auth",
        "x-auth", "basic_auth", "smtpPass", "db_pass", "pwd", "passphrase", "credentials",
        "cvv", "card.cvc",
    ]  # fmt: skip
    plain = [
        "passport", "passing", "bypass", "compass", "tokenizer", "token_count", "tokens",
        "secretary", "secret_name", "oauth", "author", "authority", "AccessKeyId",
        "private_key_id", "password_hash", "key", "keyboard", "monkey", "",
    ]  # fmt: skip
    assert [key for key in secret if not names.is_secret_key(key)] == []
    assert [key for key in plain if names.is_secret_key(key)] == []


def test_hashing_keeps_equal_secrets_correlatable() -> None:
    stage = build(hash_key=HASH_KEY)
    events = [
        {"message": "password=same-one"},
        {"message": "login", "app": {"password": "same-one"}},
        {"message": "password=another"},
    ]
    first, second, third = stage.process_batch(copy.deepcopy(events))
    expected = hmac.new(HASH_KEY.encode(), b"same-one", hashlib.sha256).hexdigest()[:12]
    assert first["message"] == f"password=[REDACTED:{expected}]"
    assert second["app"]["password"] == f"[REDACTED:{expected}]"
    assert expected not in third["message"]
    assert re.fullmatch(r"password=\[REDACTED:[0-9a-f]{12}\]", third["message"])


def test_hashing_depends_on_the_key() -> None:
    one = redacted({"message": "token=abc"}, hash_key="a" * 16)["message"]
    other = redacted({"message": "token=abc"}, hash_key="b" * 16)["message"]
    assert one != other


def test_hashing_a_whole_structured_value() -> None:
    out = redacted({"app": {"credentials": {"b": 2, "a": 1}}}, hash_key=HASH_KEY)
    again = redacted({"app": {"credentials": {"a": 1, "b": 2}}}, hash_key=HASH_KEY)
    assert out == again  # the same value in another key order: the same mask
    assert re.fullmatch(r"\[REDACTED:[0-9a-f]{12}\]", out["app"]["credentials"])


def test_hash_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDACT_TEST_KEY", HASH_KEY)
    from_env = redacted({"message": "token=abc"}, hash_key="${REDACT_TEST_KEY}")
    literal = redacted({"message": "token=abc"}, hash_key=HASH_KEY)
    assert from_env == literal


def test_hash_key_problems_are_explained_without_quoting_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REDACT_MISSING_KEY", raising=False)
    config = RedactConfig.model_validate({"type": "redact", "hash_key": "${REDACT_MISSING_KEY}"})
    with pytest.raises(ValueError, match="REDACT_MISSING_KEY is not set"):
        config.build("redact", BuildContext())
    monkeypatch.setenv("REDACT_MISSING_KEY", "shortkey9")
    with pytest.raises(ValueError, match="at least 16") as short_env:
        config.build("redact", BuildContext())
    assert "shortkey9" not in str(short_env.value)
    literal = RedactConfig.model_validate({"type": "redact", "hash_key": "tooshort-k3y"})
    with pytest.raises(ValueError, match="hash_key must hold at least 16") as short:
        literal.build("redact", BuildContext())
    assert "tooshort-k3y" not in str(short.value)
    with pytest.raises(ValidationError) as wrong_type:
        RedactConfig.model_validate({"type": "redact", "hash_key": 12345678901234567})
    assert "12345678901234567" not in str(wrong_type.value)
    assert HASH_KEY not in repr(RedactConfig.model_validate({"hash_key": HASH_KEY}))


def test_fields_limit_the_scan() -> None:
    event = {
        "message": "password=in-message",
        "app": {"note": "token=in-note", "other": "token=in-other"},
        "log": {"password": "key-named"},
    }
    out = redacted(event, fields=["message", "app.note"])
    assert out["message"] == "password=[REDACTED]"
    assert out["app"] == {"note": "token=[REDACTED]", "other": "token=in-other"}
    assert out["log"] == {"password": "key-named"}


def test_fields_find_keys_that_hold_dots_and_lists_of_objects() -> None:
    event = {"app": {"db.url": "redis://:pw1@h/", "hosts": [{"dsn": "x://u:pw2@h/"}]}}
    out = redacted(event, fields=["app.db.url", "app.hosts.dsn"])
    assert "pw1" not in serialized(out) and "pw2" not in serialized(out)


def test_a_field_whose_name_is_sensitive_is_masked_when_selected() -> None:
    out = redacted({"app": {"token": 42, "x": "token=1"}}, fields=["app.token"])
    assert out["app"] == {"token": "[REDACTED]", "x": "token=1"}


def test_excluded_fields_are_never_scanned() -> None:
    event = {"_id": "password=id-like", "trace": {"id": "token=t1", "other": "token=t2"}}
    out = redacted(event, exclude_fields=["_id", "trace.id"])
    assert out == {
        "_id": "password=id-like",
        "trace": {"id": "token=t1", "other": "token=[REDACTED]"},
    }
    by_default = redacted({"_id": "password=x", "@timestamp": "token=y", "m": "token=z"})
    assert by_default == {"_id": "password=x", "@timestamp": "token=y", "m": "token=[REDACTED]"}
    everything = redacted({"_id": "password=x", "m": "token=z"}, exclude_fields=[])
    assert everything == {"_id": "password=[REDACTED]", "m": "token=[REDACTED]"}


def test_extra_patterns_and_keys() -> None:
    event = {
        "message": "ticket TKT-123456 for ssn=078-05-1120 ref ABC-42",
        "app": {"employee_ssn": "078-05-1120", "x_vault_token": "v1"},
    }
    out = redacted(
        event,
        patterns=[
            {"name": "ticket", "regex": r"TKT-(\d{6})", "group": 1},
            {"name": "ref", "regex": r"ref (?P<id>[A-Z]+-\d+)", "group": "id"},
        ],
        keys=["ssn"],
    )
    assert out["message"] == "ticket TKT-[REDACTED] for ssn=[REDACTED] ref [REDACTED]"
    assert out["app"] == {"employee_ssn": "[REDACTED]", "x_vault_token": "[REDACTED]"}


def test_an_extra_pattern_anchored_at_the_start_of_a_field() -> None:
    event = {"message": "m", "app": {"code": "SEC-991", "other": "x SEC-992"}}
    out = redacted(event, patterns=[{"name": "code", "regex": r"^SEC-\d+"}])
    assert out["app"] == {"code": "[REDACTED]", "other": "x SEC-992"}


def test_builtin_false_keeps_only_the_configured_patterns() -> None:
    event = {"message": "password=pw AKIAIOSFODNN7EXAMPLE TKT-123456", "app": {"password": "p"}}
    out = redacted(event, builtin=False, patterns=[{"name": "t", "regex": r"TKT-\d+"}])
    assert out == {
        "message": "password=pw AKIAIOSFODNN7EXAMPLE [REDACTED]",
        "app": {"password": "p"},
    }
    only_keys = redacted(event, builtin=False, keys=["password"])
    assert only_keys["app"] == {"password": "[REDACTED]"}
    assert only_keys["message"].startswith("password=[REDACTED] AKIA")


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"builtin": False}, "nothing to find"),
        ({"patterns": [{"name": "bad", "regex": "(unclosed"}]}, "'bad': not a valid regular"),
        ({"patterns": [{"name": "g", "regex": "a(b)", "group": 2}]}, "group 2 does not exist"),
        ({"patterns": [{"name": "n", "regex": "a(b)", "group": "x"}]}, "no group named 'x'"),
        ({"patterns": [{"name": "e", "regex": "a*"}]}, "matches the empty string"),
        ({"patterns": [{"name": " ", "regex": "a"}]}, "needs a name"),
        ({"keys": ["pass=word"]}, "use letters, digits"),
        ({"replacement": " "}, "must not be empty"),
        ({"fields": []}, "name at least one field"),
        ({"exclude_fields": ["a..b"]}, "not a field name"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_configuration_is_refused_with_a_reason(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RedactConfig.model_validate({"type": "redact", **keys})


def test_custom_replacement_and_masking_twice_changes_nothing() -> None:
    stage = build(replacement="***")
    (once,) = stage.process_batch([{"message": "password=pw1 4111111111111111"}])
    assert once["message"] == "password=*** ***"
    assert stage.masked == 2
    (twice,) = stage.process_batch([copy.deepcopy(once)])
    assert twice == once
    assert stage.masked == 2
    (looks_masked,) = stage.process_batch([{"message": 'password="*** hunter2"'}])
    assert looks_masked == {"message": 'password="***"'}
    hashed = build(hash_key=HASH_KEY)
    (first,) = hashed.process_batch([{"message": "token=t1", "app": {"secret": "s"}}])
    (again,) = hashed.process_batch([copy.deepcopy(first)])
    assert again == first and hashed.masked == 2


def test_a_failing_event_is_stripped_not_shipped_half_redacted() -> None:
    deep: dict[str, Any] = {"leaf": "token=deep-secret"}
    for _ in range(5000):
        deep = {"next": deep}
    event = {
        "@timestamp": "2024-06-10T12:00:00Z",
        "_id": "abc",
        "message": "password=top-secret",
        "app": deep,
        "tags": ["t"],
    }
    stage = build()
    out = stage.process_batch([event, {"message": "token=fine"}])
    assert out[0] is event
    assert stage.failures == 1
    assert set(event) == {"@timestamp", "_id", "tags", "message", "error"}
    assert event["message"] == "[REDACTED]"
    assert event["tags"] == ["t", PROCESSOR_FAILURE]
    assert "secret" not in serialized(event)
    assert event["error"]["message"] == "redact: _RedactionFailed: RecursionError"
    assert out[1] == {"message": "token=[REDACTED]"}


def test_the_batch_is_changed_in_place_and_kept_in_order() -> None:
    events = [{"message": f"token=t{n}"} for n in range(5)] + [{"message": "plain"}]
    originals = list(events)
    out = build().process_batch(events)
    assert [id(event) for event in out] == [id(event) for event in originals]
    assert [event["message"] for event in out] == ["token=[REDACTED]"] * 5 + ["plain"]


def test_runs_in_a_pipeline_as_a_stage() -> None:
    stage = build()
    assert stage.name == "redact"
    pipeline = Pipeline([stage])
    out = pipeline.process_batch([{"message": "secret=s1"}, {"message": "ok"}])
    assert [event["message"] for event in out] == ["secret=[REDACTED]", "ok"]
    assert pipeline.stats.failures == 0
    single = build()({"message": "Bearer abcdefgh12345678"})
    assert single == {"message": "Bearer [REDACTED]"}


def test_strings_seen_clean_before_do_not_hide_new_secrets() -> None:
    stage = build()
    shared = {"name": "api-1", "image": "registry/api:1"}
    stage.process_batch([{"message": "hello", "container": shared} for _ in range(3)])
    (out,) = stage.process_batch(
        [{"message": "hello", "container": shared, "app": {"hello": "password=pw9"}}]
    )
    assert out["app"]["hello"] == "password=[REDACTED]"
    assert out["message"] == "hello"


@pytest.mark.parametrize("case", POSITIVE + NEGATIVE, ids=lambda case: case.name)
def test_the_cheap_test_sees_what_each_finder_finds(case: Case) -> None:
    # The stage tests an event's strings joined, and runs only the finders the test names:
    # whatever a finder masks in one string, the test on the joined strings must name it.
    strings = _strings(case.event)
    joined = "\n".join(["GET /health 200 in 3ms trace=4bf92f3577b34da6", *strings, "x"])
    hinted = FINDER.hints(joined)
    for bit in (1 << n for n in range(EVERY_FINDER.bit_length())):
        if any(FINDER.redact(text, _mask, bit) != text for text in strings):
            assert hinted & bit


def test_the_stage_finds_what_each_string_alone_would_show() -> None:
    # The joined test and the cache of clean strings must never hide a secret: the stage
    # must mask exactly what every finder, run on each string alone, masks.
    pieces = [value for case in POSITIVE + NEGATIVE for value in _strings(case.event)]
    pieces += ["web-1", "info", "nginx:1.25", "GET / 200", "x" * 200, ""]
    rng = random.Random(5)
    stage = build()
    for _ in range(400):
        parts = [rng.choice(pieces) for _ in range(5)]
        event = {
            "message": f"{parts[0]} {parts[1]}",
            "app": {"note": parts[2], "list": [parts[3], {"inner": parts[4]}]},
            "container": {"name": rng.choice(["web-1", "db-1"]), "image": "nginx:1.25"},
        }
        expected = _map_strings(
            copy.deepcopy(event), lambda s: FINDER.redact(s, _mask, EVERY_FINDER)
        )
        (out,) = stage.process_batch([event])
        assert out == expected


def test_unicode_text_keeps_its_offsets() -> None:
    # U+0130 lowercases to two characters, the Kelvin sign U+212A to "k".
    out = redacted({"message": "İstanbul İİ user password=pw1 \u212a token=t2 ok"})
    assert out["message"] == "İstanbul İİ user password=[REDACTED] \u212a token=[REDACTED] ok"
    surrogate = redacted({"message": "password=\ud800x1 ok"}, hash_key=HASH_KEY)
    assert re.fullmatch(r"password=\[REDACTED:[0-9a-f]{12}\] ok", surrogate["message"])
    big = redacted({1: "password=p", "app": {"token": 2**70}}, hash_key=HASH_KEY)
    assert big[1].startswith("password=[REDACTED:")
    assert re.fullmatch(r"\[REDACTED:[0-9a-f]{12}\]", big["app"]["token"])


def test_hostile_text_costs_linear_time() -> None:
    size = 20_000
    messages = [
        "password=" + "," * size + "x",
        "--" + "a-" * size,
        "eyJ" + "a." * size,
        "://" + "a:b" * size + "@",
        " " * size + "password=",
        "-----BEGIN " + "A " * size,
        'token="' + "\\x" * size,
        "4111 " * size,
        "token:" * size,
    ]
    stage = build()
    started = time.process_time()
    stage.process_batch([{"message": message} for message in messages])
    assert time.process_time() - started < 5  # about 0.1 s; quadratic would be minutes
    assert stage.failures == 0


def test_card_number_checks() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert card_number_ok("3782 822463 10005")
    assert not card_number_ok("1718020800000001")  # Luhn-valid epoch-like number
    assert not card_number_ok("2024061012345672")  # a 2-series outside 2221-2720


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def _mask(secret: str) -> str:
    return "[REDACTED]"


def _map_strings(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    return value


def _texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (str(key), *_texts(item))]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return [str(value)]
