"""One container's logs stream, read straight off the connection: the live shipper's input.

``DockerClient.logs`` reads it through aiohttp, which is right for everything else but costs
2-4 µs a line here: the daemon flushes every log line as an HTTP chunk of its own, and aiohttp
handles each chunk in Python. Asked in HTTP/1.0, the daemon sends the stream itself, without
chunked framing, and closes the connection at its end; read in pieces of up to 256 KiB, that
costs next to nothing per line. This module opens that one request on the connection the
client would use (its endpoint, TLS context and negotiated API version) and raises the
client's errors; every other request stays with ``DockerClient``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import quote, urlencode, urlsplit

from .docker_api import (
    DockerClient,
    DockerError,
    DockerUnavailable,
    _refusal,  # the client's own reading of an error answer (404, 501 for logs...)
    format_since,
)

__all__ = ["READ_BYTES", "LogStream", "open_logs"]

READ_BYTES = 256 * 1024  # what one read takes at most: asyncio's own largest receive
_BUFFER_BYTES = 1024 * 1024  # read-ahead; beyond it reading pauses and the daemon waits
_MAX_HEAD_BYTES = 64 * 1024


class LogStream:
    """An open logs response: iterate it for byte chunks (the multiplexed or raw stream,
    as ``frames.LogDecoder`` takes it); ``close`` ends it, also for a task iterating it."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        address: str,
        *,
        length: int | None = None,
        chunked: bool = False,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._address = address
        self._length = length  # bytes of body left, when the answer said
        self._chunked = chunked  # never from dockerd itself for HTTP/1.0; a proxy may
        self.closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        try:
            if self._chunked:
                async for data in self._chunks():
                    yield data
                return
            left = self._length
            while left is None or left > 0:
                data = await self._reader.read(
                    READ_BYTES if left is None else min(left, READ_BYTES)
                )
                if not data:
                    if left is not None and not self.closed:
                        raise ConnectionResetError("the stream ended before its length")
                    return
                if left is not None:
                    left -= len(data)
                yield data
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            if self.closed:
                return  # closed on purpose, by another task: the stream just ends
            raise DockerUnavailable(
                f"the Docker daemon at {self._address} broke off the stream: {_reason(error)}"
            ) from None

    async def _chunks(self) -> AsyncIterator[bytes]:
        reader = self._reader
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                return
            data = await reader.readexactly(size)
            await reader.readexactly(2)
            yield data

    def close(self) -> None:
        self.closed = True
        self._writer.close()


async def open_logs(
    client: DockerClient,
    container_id: str,
    *,
    follow: bool = False,
    timestamps: bool = False,
    since: str | int | None = None,
) -> LogStream:
    """``GET /containers/{id}/logs`` (stdout and stderr) as ``DockerClient.logs`` sends it,
    read raw. Returns once the daemon has answered; raises ``DockerNotFound``,
    ``DockerLogsUnsupported`` and ``DockerRefused`` for its refusals and
    ``DockerUnavailable`` when it cannot be reached."""
    endpoint = client.endpoint
    version = await client.negotiated_version()
    params = {
        "follow": "1" if follow else "0",
        "stdout": "1",
        "stderr": "1",
        "timestamps": "1" if timestamps else "0",
    }
    if since is not None:
        params["since"] = format_since(since)
    path = f"/v{version}/containers/{quote(container_id, safe='')}/logs"
    url = urlsplit(endpoint.base_url)
    request = (
        f"GET {path}?{urlencode(params)} HTTP/1.0\r\nHost: {url.netloc}\r\n"
        "User-Agent: logwharf\r\n\r\n"
    ).encode()
    try:
        async with asyncio.timeout(client.connect_timeout):
            if endpoint.socket_path is not None:
                reader, writer = await asyncio.open_unix_connection(
                    endpoint.socket_path, limit=_BUFFER_BYTES
                )
            else:
                reader, writer = await asyncio.open_connection(
                    url.hostname,
                    url.port,
                    ssl=endpoint.ssl_context(),
                    limit=_BUFFER_BYTES,
                )
    except (OSError, TimeoutError) as error:
        raise DockerUnavailable(
            f"cannot reach the Docker daemon at {endpoint.address}: {_reason(error)}"
        ) from None
    try:
        writer.write(request)
        status, headers = await _read_head(reader)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
        writer.close()
        raise DockerUnavailable(
            f"the Docker daemon at {endpoint.address} did not answer GET {path}: {_reason(error)}"
        ) from None
    except BaseException:
        writer.close()
        raise
    length = int(headers["content-length"]) if "content-length" in headers else None
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    if status >= 300:
        body = b""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
            async with asyncio.timeout(client.request_timeout):
                body = await (reader.readexactly(length) if length is not None else reader.read())
        writer.close()
        raise _refusal(status, body, path, container_id)
    return LogStream(reader, writer, endpoint.address, length=length, chunked=chunked)


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > _MAX_HEAD_BYTES:
        raise ValueError("an answer head of more than 64 KiB")
    status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    protocol, _, rest = status_line.partition(" ")
    if not protocol.startswith("HTTP/"):
        raise DockerError(f"not an HTTP answer: {status_line[:100]!r}; is it a Docker daemon?")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(rest[:3]), headers


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, asyncio.IncompleteReadError):
        return "the connection closed"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
