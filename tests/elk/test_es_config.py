"""EsConfig validation and redact_url."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from logwharf.elk.config import DEFAULT_INDEX_PATTERN, EsConfig, redact_url


def messages(error: ValidationError) -> list[str]:
    return [item["msg"] for item in error.errors()]


def test_defaults() -> None:
    config = EsConfig(urls=["http://localhost:9200"])
    assert config.index is None
    assert config.verify_tls is True
    assert config.batch_events >= 1
    assert config.dead_letter_path == Path("logwharf-dead-letters.ndjson")
    assert DEFAULT_INDEX_PATTERN == "logs-docker-%Y.%m.%d"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://localhost:9200", "http://localhost:9200"),
        ("http://localhost:9200/", "http://localhost:9200"),
        ("localhost:9200", "http://localhost:9200"),
        ("es.example", "http://es.example"),
        ("HTTPS://es.example:443/prefix/", "https://es.example:443/prefix"),
        ("http://user:pw@es.example:9200", "http://user:pw@es.example:9200"),
    ],
)
def test_urls_are_normalised(given: str, expected: str) -> None:
    assert EsConfig(urls=[given]).urls == [expected]


@pytest.mark.parametrize("url", ["ftp://es.example", "http://", "https:///path", "file:///etc"])
def test_bad_urls_are_explained(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        EsConfig(urls=[url])
    (message,) = messages(caught.value)
    assert "is not an http(s) URL" in message
    assert "http://localhost:9200" in message


def test_bad_url_message_does_not_show_the_password() -> None:
    with pytest.raises(ValidationError) as caught:
        EsConfig(urls=["ftp://elastic:s3cret@es.example"])
    (message,) = messages(caught.value)
    assert "s3cret" not in message
    assert "elastic" not in message
    assert "es.example" in message


def test_at_least_one_url() -> None:
    with pytest.raises(ValidationError) as caught:
        EsConfig(urls=[])
    assert caught.value.errors()[0]["loc"] == ("urls",)


@pytest.mark.parametrize("index", ["logs", "incident-4711", "a.b_c+d", "日志"])
def test_good_index_names(index: str) -> None:
    assert EsConfig(urls=["localhost"], index=index).index == index


@pytest.mark.parametrize(
    "index", ["Logs", "with space", "a/b", "a*", "a,b", "a#b", "a:b", '"q"', "-x", "_x", "+x"]
)
def test_bad_index_names_are_explained(index: str) -> None:
    with pytest.raises(ValidationError) as caught:
        EsConfig(urls=["localhost"], index=index)
    (message,) = messages(caught.value)
    assert f"{index!r} is not a valid index name" in message
    assert "lower case" in message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("batch_events", 0),
        ("batch_bytes", 1023),
        ("flush_seconds", 0),
        ("concurrency", 0),
        ("concurrency", 65),
        ("request_timeout", -1),
        ("max_item_retries", -1),
    ],
)
def test_limits(field: str, value: float) -> None:
    with pytest.raises(ValidationError) as caught:
        EsConfig(urls=["localhost"], **{field: value})
    assert caught.value.errors()[0]["loc"] == (field,)


def test_unknown_settings_are_refused_and_config_is_frozen() -> None:
    with pytest.raises(ValidationError):
        EsConfig(urls=["localhost"], batch_size=10)  # type: ignore[call-arg]
    config = EsConfig(urls=["localhost"])
    with pytest.raises(ValidationError):
        config.index = "x"  # type: ignore[misc]


def test_secrets_stay_out_of_repr() -> None:
    config = EsConfig(
        urls=["localhost"], username="elastic", password=SecretStr("pw-123"), api_key="key-456"
    )
    assert "pw-123" not in repr(config) and "pw-123" not in str(config)
    assert "key-456" not in repr(config)
    assert config.password is not None and config.password.get_secret_value() == "pw-123"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:9200", "http://localhost:9200"),
        ("https://elastic:secret@es.example:9243/p?q=1", "https://es.example:9243/p?q=1"),
        ("https://elastic@es.example", "https://es.example"),
        ("http://:secret@es.example/", "http://es.example/"),
        ("not a url", "not a url"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_url_keeps_ipv6_brackets() -> None:
    assert redact_url("http://u:p@[::1]:9200/x") == "http://[::1]:9200/x"
