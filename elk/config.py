"""Settings of the Elasticsearch side, validated once (pydantic), read from flags or env."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from .encoder import DEFAULT_INDEX_PATTERN

__all__ = ["DEFAULT_INDEX_PATTERN", "EsConfig", "redact_url"]


def redact_url(url: str) -> str:
    """The URL without user info, fit for a log line or an error message."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]  # keeps [::1] and the port as written
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class EsConfig(BaseModel):
    """Where and how to index. Credentials never appear in ``repr`` or logs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    urls: list[str] = Field(min_length=1)
    index: str | None = None  # a fixed index; None: daily ``logs-docker-YYYY.MM.DD``
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_file: Path | None = None
    verify_tls: bool = True
    gzip: bool = False
    batch_events: int = Field(default=5000, ge=1)
    batch_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    # For the live source (issue 3); replay sends each block as soon as it is encoded.
    flush_seconds: float = Field(default=1.0, gt=0)
    concurrency: int = Field(default=2, ge=1, le=64)
    request_timeout: float = Field(default=60.0, gt=0)
    max_item_retries: int = Field(default=8, ge=0)
    dead_letter_path: Path = Path("logwharf-dead-letters.ndjson")

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, urls: list[str]) -> list[str]:
        checked = []
        for url in urls:
            parts = urlsplit(url if "://" in url else f"http://{url}")
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"{redact_url(url)!r} is not an http(s) URL; give one like http://localhost:9200"
                )
            try:
                parts.port  # noqa: B018 - raises ValueError for a bad or out-of-range port
            except ValueError:
                raise ValueError(
                    f"{redact_url(url)!r} has no valid port (a number from 1 to 65535)"
                ) from None
            checked.append(urlunsplit(parts).rstrip("/"))
        return checked

    @field_validator("index")
    @classmethod
    def _check_index(cls, index: str | None) -> str | None:
        if index is None:
            return None
        bad = set(index) & set('\\/*?"<>| ,#:')
        if bad or index != index.lower() or index.startswith(("-", "_", "+")):
            raise ValueError(
                f"{index!r} is not a valid index name: use lower case, no spaces, none of "
                '\\ / * ? " < > | , # :, and do not start with -, _ or +'
            )
        return index
