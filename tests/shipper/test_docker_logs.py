"""``open_logs`` against a small fake daemon on a unix socket: the HTTP/1.0 request it
sends, the raw body (and the chunked or sized bodies something in between might send), the
daemon's refusals as the client's errors, and the ends of a stream. The real daemon is in
tests/docker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from logwharf.shipper.docker_api import (
    DockerClient,
    DockerEndpoint,
    DockerError,
    DockerLogsUnsupported,
    DockerNotFound,
    DockerRefused,
    DockerUnavailable,
)
from logwharf.shipper.docker_logs import open_logs

CID = "ab" * 32
Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]


class FakeDaemon:
    def __init__(self, path: Path, answer: Answer) -> None:
        self.path = path
        self.answer = answer
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests.append(await reader.readuntil(b"\r\n\r\n"))
        try:
            await self.answer(writer)
        finally:
            writer.close()


@pytest.fixture
def socket_path(tmp_path: Path) -> Path:
    return tmp_path / "d.sock"


async def serve(path: Path, answer: Answer) -> tuple[FakeDaemon, asyncio.Server]:
    daemon = FakeDaemon(path, answer)
    server = await asyncio.start_unix_server(daemon.handle, str(path))
    return daemon, server


def client(path: Path) -> DockerClient:
    client = DockerClient(DockerEndpoint.unix(path))
    client.api_version = "1.41"  # as negotiated: no /version request to fake
    return client


async def read_all(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


HEAD = b"HTTP/1.0 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n\r\n"


async def test_raw_body_in_pieces_and_the_request_sent(socket_path: Path) -> None:
    body = [b"\x01\x00\x00\x00\x00\x00\x00\x03ab\n", b"\x02\x00\x00\x00", b"\x00\x00\x00\x02x\n"]

    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(HEAD)
        for piece in body:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)

    daemon, server = await serve(socket_path, answer)
    async with server:
        stream = await open_logs(
            client(socket_path), CID, follow=True, timestamps=True, since="1763892000.5"
        )
        assert await read_all(aiter(stream)) == b"".join(body)
    request = daemon.requests[0].decode()
    assert request.startswith(
        f"GET /v1.41/containers/{CID}/logs?follow=1&stdout=1&stderr=1&timestamps=1"
        "&since=1763892000.500000000 HTTP/1.0\r\n"
    )
    assert "\r\nHost: docker\r\n" in request


async def test_a_chunked_body_is_taken_apart(socket_path: Path) -> None:
    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")

    _, server = await serve(socket_path, answer)
    async with server:
        stream = await open_logs(client(socket_path), CID)
        assert await read_all(aiter(stream)) == b"hello world"


async def test_a_sized_body_ends_at_its_length(socket_path: Path) -> None:
    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nabcd")
        await writer.drain()
        await asyncio.sleep(5)  # the connection stays open: the length tells the end

    _, server = await serve(socket_path, answer)
    async with server:
        stream = await open_logs(client(socket_path), CID)
        assert await asyncio.wait_for(read_all(aiter(stream)), 2) == b"abcd"
        stream.close()


async def test_a_sized_body_cut_short_is_a_broken_stream(socket_path: Path) -> None:
    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nabcd")

    _, server = await serve(socket_path, answer)
    async with server:
        stream = await open_logs(client(socket_path), CID)
        with pytest.raises(DockerUnavailable, match="broke off the stream"):
            await read_all(aiter(stream))


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (404, DockerNotFound, "No such container: abab"),
        (501, DockerLogsUnsupported, "configured logging driver does not support reading"),
        (500, DockerRefused, "something else"),
    ],
)
async def test_refusals_are_the_clients_errors(
    socket_path: Path, status: int, error: type[Exception], words: str
) -> None:
    async def answer(writer: asyncio.StreamWriter) -> None:
        body = b'{"message":"%s"}' % words.encode()
        writer.write(
            b"HTTP/1.0 %d Refused\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"\r\n%s" % (status, len(body), body)
        )

    _, server = await serve(socket_path, answer)
    async with server:
        with pytest.raises(error, match=words):
            await open_logs(client(socket_path), CID)


async def test_no_daemon_is_unavailable(socket_path: Path) -> None:
    with pytest.raises(DockerUnavailable, match="cannot reach the Docker daemon"):
        await open_logs(client(socket_path), CID)


async def test_closing_ends_the_stream_of_a_task_reading_it(socket_path: Path) -> None:
    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(HEAD + b"first")
        await writer.drain()
        await asyncio.sleep(10)  # a followed container that prints nothing more

    _, server = await serve(socket_path, answer)
    async with server:
        stream = await open_logs(client(socket_path), CID, follow=True)
        got: list[bytes] = []

        async def reading() -> None:
            async for chunk in stream:
                got.append(chunk)

        task = asyncio.create_task(reading())
        await asyncio.sleep(0.1)
        stream.close()
        await asyncio.wait_for(task, 2)  # ends, without an error
        assert b"".join(got) == b"first"


async def test_a_daemon_that_hangs_up_mid_stream_ends_it(socket_path: Path) -> None:
    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(HEAD + b"partial")

    _, server = await serve(socket_path, answer)
    async with server:
        stream = await open_logs(client(socket_path), CID)
        # HTTP/1.0 without a length: the daemon's closing is the stream's end
        assert await read_all(aiter(stream)) == b"partial"


async def test_an_answer_that_is_not_http(socket_path: Path) -> None:
    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")

    _, server = await serve(socket_path, answer)
    async with server:
        with pytest.raises(DockerError, match="not an HTTP answer"):
            await open_logs(client(socket_path), CID)
