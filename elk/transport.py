"""HTTP to Elasticsearch: one aiohttp session, host failover, and a small error tree.

    EsError                    anything that went wrong talking to Elasticsearch
    ├── EsUnavailable          no answer: refused, reset, timed out, DNS (retry later)
    └── EsRefused              an answer that says no to the whole request
        └── EsAuthError        401 / 403: credentials or privileges (retrying cannot help)

Headers are plain ``application/json`` / ``application/x-ndjson``: the compatibility media
type of the official clients is refused by OpenSearch and other compatible servers.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp
import orjson

from .config import EsConfig, redact_url

__all__ = ["EsAuthError", "EsError", "EsRefused", "EsTransport", "EsUnavailable", "Response"]


class EsError(Exception):
    """Base of the errors met while talking to Elasticsearch."""


class EsUnavailable(EsError):
    """No answer from any host: the request may be retried later."""


class EsRefused(EsError):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


class EsAuthError(EsRefused):
    """401 or 403: the credentials are wrong or lack a privilege."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    retry_after: str | None

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None

    def reason(self) -> str:
        """Elasticsearch's own explanation of an error response, short."""
        try:
            error = orjson.loads(self.body).get("error")
        except (orjson.JSONDecodeError, AttributeError):
            return self.body[:300].decode(errors="replace").strip() or "(empty body)"
        if isinstance(error, dict):
            root = (error.get("root_cause") or [error])[0]
            return (
                f"{root.get('type', error.get('type'))}: {root.get('reason', error.get('reason'))}"
            )
        return str(error)


def _split_credentials(url: str) -> tuple[str, str | None, str | None]:
    parts = urlsplit(url)
    if parts.username is None:
        return url, None, None
    return redact_url(url), unquote(parts.username), unquote(parts.password or "")


class EsTransport:
    """Sends requests to the first host that answers; moves on when one does not."""

    def __init__(self, config: EsConfig) -> None:
        self.config = config
        self.hosts: list[str] = []
        username = config.username
        password = config.password.get_secret_value() if config.password else None
        for url in config.urls:
            bare, url_user, url_password = _split_credentials(url)
            self.hosts.append(urlunsplit(urlsplit(bare)).rstrip("/"))
            if url_user is not None and username is None:
                username, password = url_user, url_password
        self.headers: dict[str, str] = {}
        if config.api_key is not None:
            self.headers["Authorization"] = "ApiKey " + config.api_key.get_secret_value()
        elif username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self.headers["Authorization"] = "Basic " + token
        self.current = 0
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return self.hosts[self.current]

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self.config.verify_tls:
            return False
        if not any(host.startswith("https:") for host in self.hosts):
            return True  # plain http: no context to build (loading the CA store takes time)
        cafile = str(self.config.ca_file) if self.config.ca_file else None
        return ssl.create_default_context(cafile=cafile)

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self._ssl(), limit=self.config.concurrency + 2)
            timeout = aiohttp.ClientTimeout(total=self.config.request_timeout)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                headers=self.headers,
                auto_decompress=True,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        compress: bool = False,
        compressed: bytes | None = None,
    ) -> Response:
        """One request, tried on each host in turn until one answers."""
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if body is not None and compress:
            # zlib lets go of the GIL: a thread compresses while the loop goes on.
            body = compressed or await asyncio.to_thread(gzip.compress, body, 1, mtime=0)
            headers["Content-Encoding"] = "gzip"
        session = await self.session()
        problems = []
        for _ in range(len(self.hosts)):
            url = self.hosts[self.current] + path
            try:
                async with session.request(method, url, data=body, headers=headers) as answer:
                    payload = await answer.read()
                    response = Response(answer.status, payload, answer.headers.get("Retry-After"))
            except (TimeoutError, aiohttp.ClientConnectionError, OSError) as error:
                problems.append(f"{self.hosts[self.current]}: {_describe(error)}")
                self.current = (self.current + 1) % len(self.hosts)
                continue
            if response.status in (401, 403):
                raise EsAuthError(response.status, response.reason())
            return response
        raise EsUnavailable("; ".join(problems))

    async def info(self) -> dict[str, Any]:
        response = await self.request("GET", "/")
        if response.status != 200:
            raise EsRefused(response.status, response.reason())
        try:
            info = response.json()
        except orjson.JSONDecodeError:
            info = None
        if not isinstance(info, dict) or "version" not in info:
            raise EsRefused(
                response.status,
                f"{self.url} answered GET / but not as Elasticsearch does; check --es",
            )
        return info

    async def bulk(self, body: bytes, compressed: bytes | None = None) -> Response:
        """``compressed``: ``body`` already gzipped (by a worker process), if at hand."""
        return await self.request(
            "POST",
            "/_bulk",
            body,
            "application/x-ndjson",
            compress=self.config.gzip,
            compressed=compressed,
        )


def _describe(error: BaseException) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return "timed out"
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate not trusted ({error.certificate_error}); give the CA file"
    if isinstance(error, aiohttp.ClientConnectorError):
        return error.os_error.strerror or str(error.os_error)
    return str(error) or type(error).__name__
