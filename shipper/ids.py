"""Deterministic document ids: the same event always gets the same ``_id``.

Indexing with ``create`` and these ids makes a re-read harmless: Elasticsearch answers 409
for an event it already holds. Docker events are keyed by what Docker itself records
(container, timestamp, stream, position among lines with that timestamp), so the live
shipper and an offline replay of the same container's json-file log agree on every id.
Other files are keyed by their content identity, the event's byte offset and a checksum of
its line.
"""

from __future__ import annotations

from base64 import urlsafe_b64encode
from hashlib import blake2b
from zlib import adler32

__all__ = ["canonical_docker_time", "content_identity", "docker_event_id", "file_event_id"]

IDENTITY_BYTES = 1024


def content_identity(head: bytes) -> str:
    """Identity of a file from its first ``IDENTITY_BYTES`` (decompressed) bytes.

    Content, not inode or path: a file copied off a host, or compressed by logrotate, keeps
    its identity and so its events keep their ids.
    """
    return blake2b(head[:IDENTITY_BYTES], digest_size=8).hexdigest()


def file_event_id(identity: str, offset: int, line: bytes) -> str:
    """The line's own bytes are part of the id: two files that merely share their first KiB
    do not share ids beyond it, while a copy, a gzip or a grown file still do."""
    # adler32: 4x cheaper than crc32; in decimal, cheaper to format than in hex.
    return f"{identity}-{offset}-{adler32(line)}"


def canonical_docker_time(time: str) -> str:
    """Docker's time with exactly nine fraction digits: the json-file driver trims trailing
    zeros (``.12345Z``) where the logs API writes them (``.123450000Z``), and the live
    shipper and a replay of the same file must agree on every id."""
    if len(time) == 30 or time[-1:] != "Z":
        return time
    seconds, dot, fraction = time[:-1].partition(".")
    return f"{seconds}.{(fraction if dot else '').ljust(9, '0')[:9]}Z"


def docker_event_id(container_id: str, time: str, stream: str, position: int) -> str:
    if len(time) != 30:
        time = canonical_docker_time(time)
    key = f"{container_id}\x00{time}\x00{stream}\x00{position}".encode()
    return urlsafe_b64encode(blake2b(key, digest_size=15).digest()).decode()
