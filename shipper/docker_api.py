"""The Docker Engine API over aiohttp: where the daemon is, one session, and a small error tree.

    DockerError                  anything that went wrong talking to the Docker daemon
    ├── DockerUnavailable        no answer: no socket, no permission, refused, dropped
    └── DockerRefused            an answer that says no (HTTP status and the daemon's message)
        ├── DockerNotFound       404: no such container (it may have been removed meanwhile)
        └── DockerLogsUnsupported  501 on logs: the container's log driver keeps nothing to read

The API version is negotiated once (``GET /version``): the daemon's own, at most
``MAX_API_VERSION``; every later path is prefixed with it. Streaming responses (logs,
attach, events) have no overall time limit: they last as long as the container or the
subscription.
"""

from __future__ import annotations

import asyncio
import os
import re
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from urllib.parse import quote, urlsplit

import aiohttp
import orjson

__all__ = [
    "DEFAULT_DOCKER_HOST",
    "MAX_API_VERSION",
    "MIN_API_VERSION",
    "DockerClient",
    "DockerEndpoint",
    "DockerError",
    "DockerLogsUnsupported",
    "DockerNotFound",
    "DockerRefused",
    "DockerStream",
    "DockerUnavailable",
    "StreamRequest",
    "format_since",
    "timestamp_nanos",
]

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
MAX_API_VERSION = "1.45"  # the newest whose behaviour this client knows
MIN_API_VERSION = "1.24"  # Docker 1.12: nanosecond since, event filters, log timestamps
_MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes with the closing NUL
_MAX_EVENT_LINE = 1024 * 1024

T = TypeVar("T")


class DockerError(Exception):
    """Base of the errors met while talking to the Docker daemon."""


class DockerUnavailable(DockerError):
    """No answer from the daemon (or the stream broke off): try again later."""


class DockerRefused(DockerError):
    """The daemon answered with an error status."""

    def __init__(self, status: int, message: str, text: str | None = None) -> None:
        super().__init__(text or f"the Docker daemon answered HTTP {status}: {message}")
        self.status = status
        self.message = message  # the daemon's own words


class DockerNotFound(DockerRefused):
    """404: the container (or image) is not there, or no longer."""


class DockerLogsUnsupported(DockerRefused):
    """501 on logs: the container's log driver (``none``, or a remote one without the
    local cache) keeps no logs that can be read back."""


# --- where the daemon is -----------------------------------------------------------------


@dataclass(frozen=True)
class DockerEndpoint:
    """The daemon's address, as ``DOCKER_HOST`` and the TLS variables give it."""

    address: str  # for messages: unix:///var/run/docker.sock, tcp://host:2376, ...
    base_url: str  # what requests go to: http://docker for a socket, http(s)://host:port
    socket_path: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @classmethod
    def unix(cls, path: str | os.PathLike[str]) -> DockerEndpoint:
        return cls.from_env({"DOCKER_HOST": f"unix://{os.fspath(path)}"})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DockerEndpoint:
        """From ``DOCKER_HOST`` (default ``unix:///var/run/docker.sock``), ``DOCKER_TLS_VERIFY``
        and ``DOCKER_CERT_PATH`` (default ``~/.docker``), as the docker CLI reads them.

        Raises ``ValueError`` naming the variable and the fix when a value cannot be used.
        """
        environ = os.environ if environ is None else environ
        host = environ.get("DOCKER_HOST", "").strip() or DEFAULT_DOCKER_HOST
        scheme, separator, rest = host.partition("://")
        if not separator:  # the CLI takes a bare host:port for tcp
            scheme, rest = "tcp", host
        scheme = scheme.lower()
        verify = bool(environ.get("DOCKER_TLS_VERIFY", "").strip())
        if scheme == "unix":
            return cls._unix(host, rest or "/var/run/docker.sock")
        if scheme in ("tcp", "http", "https"):
            if scheme == "http" and verify:
                raise ValueError(
                    f"DOCKER_HOST={host} is plain http but DOCKER_TLS_VERIFY is set; "
                    "use tcp:// or https:// for TLS, or unset DOCKER_TLS_VERIFY"
                )
            tls = scheme == "https" or verify
            return cls._tcp(host, scheme, rest, tls, environ)
        if scheme == "ssh":
            raise ValueError(
                f"DOCKER_HOST={host}: ssh:// is not supported; forward the socket "
                "(ssh -NL /tmp/docker.sock:/var/run/docker.sock HOST) and set "
                "DOCKER_HOST=unix:///tmp/docker.sock"
            )
        raise ValueError(
            f"DOCKER_HOST={host} is not a Docker daemon address; use unix:///path/to/docker.sock, "
            "tcp://host:port or https://host:port"
        )

    @classmethod
    def _unix(cls, host: str, path: str) -> DockerEndpoint:
        if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
            raise ValueError(
                f"DOCKER_HOST={host}: a unix socket path may be at most {_MAX_SOCKET_PATH} "
                "bytes long; link the socket from a shorter path and use that"
            )
        return cls(address=f"unix://{path}", base_url="http://docker", socket_path=path)

    @classmethod
    def _tcp(
        cls, host: str, scheme: str, rest: str, tls: bool, environ: Mapping[str, str]
    ) -> DockerEndpoint:
        parts = urlsplit("//" + rest)
        try:
            port = parts.port or (2376 if tls else 2375)
        except ValueError:
            raise ValueError(
                f"DOCKER_HOST={host} has no valid port; write it as tcp://host:2376"
            ) from None
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ValueError(
                f"DOCKER_HOST={host} must be only a host and a port, like tcp://host:2376"
            )
        name = parts.hostname or "localhost"
        netloc = f"[{name}]:{port}" if ":" in name else f"{name}:{port}"
        endpoint = cls(
            address=f"{scheme}://{netloc}",
            base_url=f"{'https' if tls else 'http'}://{netloc}",
            tls=tls,
        )
        if not tls:
            return endpoint
        return cls._with_certificates(endpoint, environ)

    @classmethod
    def _with_certificates(
        cls, endpoint: DockerEndpoint, environ: Mapping[str, str]
    ) -> DockerEndpoint:
        given = environ.get("DOCKER_CERT_PATH", "").strip()
        home = environ.get("HOME") or os.path.expanduser("~")
        folder = Path(given) if given else Path(home) / ".docker"
        if given and not folder.is_dir():
            raise ValueError(
                f"DOCKER_CERT_PATH={given} is not a folder; point it at the folder holding "
                "ca.pem, cert.pem and key.pem"
            )
        # As the docker CLI does: each file is used when it is there.
        files = {name: folder / f"{name}.pem" for name in ("ca", "cert", "key")}
        found = {name: str(path) if path.is_file() else None for name, path in files.items()}
        if (found["cert"] is None) != (found["key"] is None):
            missing = files["key" if found["key"] is None else "cert"]
            raise ValueError(
                f"DOCKER_CERT_PATH={folder}: {missing.name} is missing; a client certificate "
                "needs both cert.pem and key.pem"
            )
        return replace(
            endpoint, ca_file=found["ca"], cert_file=found["cert"], key_file=found["key"]
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for a tcp endpoint with TLS; raises ``DockerError`` on bad files."""
        if not self.tls:
            return None
        try:
            context = ssl.create_default_context(cafile=self.ca_file)
            if self.cert_file is not None:
                context.load_cert_chain(self.cert_file, self.key_file)
        except (ssl.SSLError, OSError) as error:
            folder = Path(self.cert_file or self.ca_file or ".").parent
            raise DockerError(
                f"cannot load the TLS files in {folder} (DOCKER_CERT_PATH): {error}"
            ) from None
        return context


# --- timestamps ----------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"(\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?([Zz]|[+-]\d\d:\d\d)", re.ASCII
)
_EPOCH_SECONDS = re.compile(r"(\d+)(?:\.(\d{1,9}))?", re.ASCII)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp_nanos(timestamp: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp as Docker writes them
    (``2024-05-01T12:00:00.123456789Z``, fewer fraction digits, or an offset)."""
    match = _RFC3339.fullmatch(timestamp.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {timestamp!r}")
    main, fraction, zone = match.groups()
    moment = datetime.fromisoformat(main.upper() + ("+00:00" if zone in "Zz" else zone))
    seconds = (moment - _EPOCH) // timedelta(seconds=1)
    return seconds * 1_000_000_000 + int((fraction or "").ljust(9, "0"))


def format_since(timestamp: str | int) -> str:
    """A time as ``since``/``until`` want it: ``SECONDS.NANOS`` with exactly nine digits
    (the daemon scales the fraction by its length, so ``.5`` would not be 500 ms of nanos).

    ``timestamp`` is an RFC 3339 timestamp from Docker, ``SECONDS[.FRACTION]``, or an int of
    nanoseconds since the epoch (like the events' ``timeNano``).
    """
    if isinstance(timestamp, int):
        nanos = timestamp
    else:
        plain = _EPOCH_SECONDS.fullmatch(timestamp.strip())
        if plain is not None:
            nanos = int(plain[1]) * 1_000_000_000 + int((plain[2] or "").ljust(9, "0"))
        else:
            nanos = timestamp_nanos(timestamp)
    if nanos < 0:
        raise ValueError(f"a time before 1970 cannot be a since: {timestamp!r}")
    seconds, fraction = divmod(nanos, 1_000_000_000)
    return f"{seconds}.{fraction:09d}"


# --- streams -------------------------------------------------------------------------------


class DockerStream(Generic[T]):
    """An open streaming response: iterate it for its items; close it when done."""

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        items: Callable[[aiohttp.ClientResponse], AsyncIterator[T]],
        address: str,
        api_version: str,
    ) -> None:
        self.response = response
        self._items = items
        self._address = address
        self._api_version = api_version
        self.closed = False

    @property
    def tty(self) -> bool | None:
        """Whether the stream is raw (a TTY container) rather than multiplexed, when the
        daemon says so: API 1.42 and later. None before: ask inspect's ``Config.Tty``."""
        if _version_tuple(self._api_version) < (1, 42):
            return None
        kind = self.response.headers.get("Content-Type", "")
        if kind == "application/vnd.docker.multiplexed-stream":
            return False
        if kind == "application/vnd.docker.raw-stream":
            return True
        return None

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        try:
            async for item in self._items(self.response):
                yield item
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError) as error:
            if self.closed:
                return  # closed on purpose, by another task: the stream just ends
            raise DockerUnavailable(
                f"the Docker daemon at {self._address} broke off the stream: {_describe(error)}"
            ) from None

    def close(self) -> None:
        """Ends the stream; a task iterating it sees its end. An attach stream needs this:
        attached to a container that has exited, it waits for a restart that may never
        come, even after the container is removed."""
        # close, not release: a followed stream never ends, an attach is a hijacked socket
        self.closed = True
        self.response.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class StreamRequest(Generic[T]):
    """A streaming request not sent yet. ``await`` it for the open ``DockerStream`` (the
    daemon has answered: for attach, it is attached), ``async with`` it to close the stream
    on leaving, or ``async for`` over it directly."""

    def __init__(self, open_stream: Callable[[], Coroutine[Any, Any, DockerStream[T]]]) -> None:
        self._open = open_stream
        self._stream: DockerStream[T] | None = None

    def __await__(self) -> Generator[Any, None, DockerStream[T]]:
        return self._open().__await__()

    async def __aenter__(self) -> DockerStream[T]:
        self._stream = await self._open()
        return self._stream

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            self._stream.close()

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        stream = await self._open()
        try:
            async for item in stream:
                yield item
        finally:
            stream.close()


async def _chunks(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    async for data in response.content.iter_any():
        yield data


async def _json_lines(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """One JSON object per line (the events stream); a line may span chunks."""
    pending = b""
    async for data in response.content.iter_any():
        lines = (pending + data).split(b"\n")
        pending = lines.pop()
        if len(pending) > _MAX_EVENT_LINE:
            raise DockerError(f"an event of more than {_MAX_EVENT_LINE} bytes without a newline")
        for line in lines:
            if line.strip():
                yield orjson.loads(line)
    if pending.strip():
        yield orjson.loads(pending)


# --- the client ----------------------------------------------------------------------------


def _version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        raise DockerError(f"not an API version: {version!r}") from None


def _flag(value: bool) -> str:
    return "1" if value else "0"


class DockerClient:
    """One aiohttp session to the Docker daemon; use it as an async context manager."""

    def __init__(
        self,
        endpoint: DockerEndpoint | None = None,
        *,
        max_api_version: str = MAX_API_VERSION,
        request_timeout: float = 60.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.endpoint = endpoint if endpoint is not None else DockerEndpoint.from_env()
        self.max_api_version = max_api_version
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.api_version: str | None = None  # negotiated by version()
        self._session: aiohttp.ClientSession | None = None
        self._negotiation = asyncio.Lock()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector: aiohttp.BaseConnector
            if self.endpoint.socket_path is not None:
                connector = aiohttp.UnixConnector(path=self.endpoint.socket_path)
            else:
                context = self.endpoint.ssl_context()
                connector = aiohttp.TCPConnector(ssl=context if context is not None else True)
            # No total limit here: streams last; plain requests pass their own.
            timeout = aiohttp.ClientTimeout(
                total=None, connect=self.connect_timeout, sock_connect=self.connect_timeout
            )
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return self._session

    # --- requests ---

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        versioned: bool = True,
        stream: bool = False,
        container: str | None = None,
    ) -> aiohttp.ClientResponse:
        """The response, its status checked; the caller reads and closes it."""
        if versioned:
            path = f"/v{await self.negotiated_version()}{path}"
        timeout = None if stream else aiohttp.ClientTimeout(total=self.request_timeout)
        session = self._get_session()
        try:
            response = await session.request(
                method, self.endpoint.base_url + path, params=params, timeout=timeout
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise self._unreachable(error) from None
        if response.status < 300:
            return response
        try:
            body = await response.read()
        except (TimeoutError, aiohttp.ClientError, OSError):
            body = b""
        finally:
            response.release()
        raise _refusal(response.status, body, path, container)

    async def _json(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        versioned: bool = True,
        container: str | None = None,
    ) -> Any:
        response = await self._send("GET", path, params, versioned=versioned, container=container)
        try:
            body = await response.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise self._unreachable(error) from None
        finally:
            response.release()
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise DockerError(
                f"{self.endpoint.address} answered GET {path} with no JSON; is it a Docker "
                "daemon? check DOCKER_HOST"
            ) from None

    def _stream(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        items: Callable[[aiohttp.ClientResponse], AsyncIterator[T]],
        container: str | None = None,
    ) -> StreamRequest[T]:
        async def open_stream() -> DockerStream[T]:
            response = await self._send(method, path, params, stream=True, container=container)
            assert self.api_version is not None  # _send negotiated it
            return DockerStream(response, items, self.endpoint.address, self.api_version)

        return StreamRequest(open_stream)

    def _unreachable(self, error: BaseException) -> DockerUnavailable:
        where = f"cannot reach the Docker daemon at {self.endpoint.address}"
        unix = self.endpoint.socket_path is not None
        reason = _describe(error)
        cause = error.os_error if isinstance(error, aiohttp.ClientConnectorError) else error
        if isinstance(error, aiohttp.ClientConnectorCertificateError):
            reason = (
                f"its TLS certificate is not trusted ({error.certificate_error}); put the CA "
                "that signed it in DOCKER_CERT_PATH as ca.pem"
            )
        elif isinstance(error, aiohttp.ClientSSLError):
            reason = f"TLS failed ({cause}); check DOCKER_CERT_PATH and DOCKER_TLS_VERIFY"
        elif isinstance(cause, PermissionError):
            reason = "permission denied; run as a user in the docker group or mount the socket"
        elif isinstance(cause, FileNotFoundError) and unix:
            reason = "no such file (is dockerd running? set DOCKER_HOST)"
        elif isinstance(cause, ConnectionRefusedError):
            reason = (
                "connection refused (the socket is there but no daemon listens: is dockerd "
                "running?)"
                if unix
                else "connection refused (is dockerd listening there? check DOCKER_HOST)"
            )
        elif isinstance(error, TimeoutError):
            reason = "no answer in time (check DOCKER_HOST and the network)"
        elif isinstance(error, aiohttp.ServerDisconnectedError):
            reason = (
                "it closed the connection without answering (is it a Docker daemon? for TLS "
                "set DOCKER_TLS_VERIFY=1)"
            )
        return DockerUnavailable(f"{where}: {reason}")

    # --- the API ---

    async def ping(self) -> str:
        """``GET /_ping``: "OK" when the daemon is up."""
        response = await self._send("GET", "/_ping", versioned=False)
        try:
            return (await response.text()).strip()
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise self._unreachable(error) from None
        finally:
            response.release()

    async def version(self) -> dict[str, Any]:
        """``GET /version``; sets ``api_version`` to the daemon's, at most ``max_api_version``."""
        info = await self._json("/version", versioned=False)
        daemon = info.get("ApiVersion") if isinstance(info, dict) else None
        if not isinstance(daemon, str):
            raise DockerError(
                f"{self.endpoint.address} answered GET /version without an ApiVersion; is it "
                "a Docker daemon? check DOCKER_HOST"
            )
        chosen = min(_version_tuple(daemon), _version_tuple(self.max_api_version))
        if chosen < _version_tuple(MIN_API_VERSION):
            raise DockerError(
                f"the Docker daemon at {self.endpoint.address} speaks API {daemon}; logwharf "
                f"needs {MIN_API_VERSION} or newer (Docker 1.12 or later)"
            )
        self.api_version = ".".join(map(str, chosen))
        assert isinstance(info, dict)
        return info

    async def negotiated_version(self) -> str:
        """The API version every path is prefixed with; negotiated on first use."""
        if self.api_version is None:
            async with self._negotiation:
                if self.api_version is None:
                    await self.version()
        assert self.api_version is not None
        return self.api_version

    async def containers(
        self, *, all: bool = False, filters: Mapping[str, list[str]] | None = None
    ) -> list[dict[str, Any]]:
        """``GET /containers/json``: the running containers, or ``all`` of them."""
        params = {"all": _flag(all)}
        if filters:
            params["filters"] = orjson.dumps(filters).decode()
        result = await self._json("/containers/json", params)
        return list(result or [])

    async def inspect(self, container_id: str) -> dict[str, Any]:
        """``GET /containers/{id}/json``; ``DockerNotFound`` when it is gone."""
        path = f"/containers/{quote(container_id, safe='')}/json"
        result = await self._json(path, container=container_id)
        if not isinstance(result, dict):
            raise DockerError(f"inspect of {container_id} answered no object")
        return result

    def events(
        self,
        *,
        since: str | int | None = None,
        until: str | int | None = None,
        filters: Mapping[str, list[str]] | None = None,
    ) -> StreamRequest[dict[str, Any]]:
        """``GET /events``: one dict per event (``Action``, ``id``, ``Actor.Attributes``,
        ``timeNano``), container events unless ``filters`` say otherwise. Without ``until``
        the stream goes on until closed."""
        chosen = filters if filters is not None else {"type": ["container"]}
        params = {"filters": orjson.dumps(chosen).decode()}
        if since is not None:
            params["since"] = format_since(since)
        if until is not None:
            params["until"] = format_since(until)
        return self._stream("GET", "/events", params, _json_lines)

    def logs(
        self,
        container_id: str,
        *,
        follow: bool = False,
        stdout: bool = True,
        stderr: bool = True,
        timestamps: bool = False,
        since: str | int | None = None,
        until: str | int | None = None,
        tail: int | None = None,
    ) -> StreamRequest[bytes]:
        """``GET /containers/{id}/logs``: raw byte chunks, multiplexed frames for a non-TTY
        container and raw bytes for a TTY one (``frames.LogDecoder`` decodes both).

        ``since`` is inclusive: a line stamped exactly then comes again.
        ``DockerLogsUnsupported`` when the log driver keeps nothing to read.
        """
        params = {
            "follow": _flag(follow),
            "stdout": _flag(stdout),
            "stderr": _flag(stderr),
            "timestamps": _flag(timestamps),
        }
        if since is not None:
            params["since"] = format_since(since)
        if until is not None:
            params["until"] = format_since(until)
        if tail is not None:
            params["tail"] = str(tail)
        path = f"/containers/{quote(container_id, safe='')}/logs"
        return self._stream("GET", path, params, _chunks, container=container_id)

    def attach(
        self,
        container_id: str,
        *,
        logs: bool = True,
        stream: bool = True,
        stdout: bool = True,
        stderr: bool = True,
    ) -> StreamRequest[bytes]:
        """``POST /containers/{id}/attach``: the output from the container's start (``logs``)
        and as it comes (``stream``), without timestamps.

        Made for short-lived containers: opened on the ``create`` event it captures a
        ``--rm`` container whose logs are gone before a logs request could read them. On a
        stopped container, ``stream`` waits for it to start again.
        """
        params = {
            "logs": _flag(logs),
            "stream": _flag(stream),
            "stdout": _flag(stdout),
            "stderr": _flag(stderr),
        }
        path = f"/containers/{quote(container_id, safe='')}/attach"
        return self._stream("POST", path, params, _chunks, container=container_id)


def _refusal(status: int, body: bytes, path: str, container: str | None) -> DockerRefused:
    try:
        message = str(orjson.loads(body).get("message", ""))
    except (orjson.JSONDecodeError, AttributeError):
        message = body[:300].decode(errors="replace").strip()
    message = message or "(no message)"
    name = container[:12] if container and len(container) == 64 else container
    if status == 404:
        return DockerNotFound(status, message, f"not found: {message}")
    if status == 501 and path.endswith("/logs"):
        return DockerLogsUnsupported(
            status,
            message,
            f"cannot read the logs of container {name}: {message} (its log driver keeps no "
            "logs to read back; use json-file, local or journald, or leave it out)",
        )
    return DockerRefused(status, message)


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, aiohttp.ClientConnectorError):
        return error.os_error.strerror or str(error.os_error)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
