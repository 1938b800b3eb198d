"""LineSplitter and read_chunks: lines and offsets independent of chunking, gzip handling."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from logwharf.shipper.reader import LineSplitter, ReadError, read_chunks

# --- helpers ---------------------------------------------------------------------------


def split(chunks: list[bytes], limit: int) -> tuple[list[bytes], list[int], set[int]]:
    """Feed ``chunks`` to a fresh splitter, then finish it; everything it produced."""
    splitter = LineSplitter(limit)
    lines: list[bytes] = []
    offsets: list[int] = []
    truncated: set[int] = set()
    for chunk in [*chunks, None]:
        batch = splitter.feed(chunk) if chunk is not None else splitter.finish()
        assert len(batch.lines) == len(batch.offsets)
        lines += batch.lines
        offsets += batch.offsets
        truncated |= batch.truncated
    return lines, offsets, truncated


def reference(data: bytes, limit: int) -> tuple[list[bytes], list[int], set[int]]:
    """The specification: every line (also a last one without ``\\n``) at its byte offset,
    cut to ``limit`` bytes, the offsets of cut lines in ``truncated``."""
    lines: list[bytes] = []
    offsets: list[int] = []
    truncated: set[int] = set()
    position = 0
    pieces = data.split(b"\n")
    last = pieces.pop()
    for piece in [*pieces, last] if last else pieces:
        lines.append(piece[:limit])
        offsets.append(position)
        if len(piece) > limit:
            truncated.add(position)
        position += len(piece) + 1
    return lines, offsets, truncated


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def random_chunks(data: bytes, rng: random.Random, largest: int) -> list[bytes]:
    chunks = []
    i = 0
    while i < len(data):
        n = rng.randint(1, largest)
        chunks.append(data[i : i + n])
        i += n
    return chunks


SAMPLE = b"first\nsecond line\r\n\n\nx\n" + b"long-" * 5 + b"\nend without newline"


# --- LineSplitter ----------------------------------------------------------------------


def test_one_chunk_matches_the_specification() -> None:
    lines, offsets, truncated = split([SAMPLE], 1000)
    assert lines[0] == b"first"
    assert offsets[:2] == [0, 6]
    assert lines[1] == b"second line\r"  # CR is the decoder's business, not the splitter's
    assert lines[2:4] == [b"", b""]
    assert lines[-1] == b"end without newline"
    assert (lines, offsets, truncated) == reference(SAMPLE, 1000)
    # each offset points at the line in the original data
    for line, offset in zip(lines, offsets, strict=True):
        assert SAMPLE[offset : offset + len(line)] == line


@pytest.mark.parametrize("limit", [1000, 8, 5])
def test_split_at_every_position_gives_the_same_lines(limit: int) -> None:
    expected = reference(SAMPLE, limit)
    assert split([SAMPLE], limit) == expected
    for i in range(len(SAMPLE) + 1):
        assert split([SAMPLE[:i], SAMPLE[i:]], limit) == expected, i


def test_split_at_every_pair_of_positions() -> None:
    data = b"ab\ncd\r\n\nefghij\nk"
    limit = 4
    expected = reference(data, limit)
    for i in range(len(data) + 1):
        for j in range(i, len(data) + 1):
            assert split([data[:i], data[i:j], data[j:]], limit) == expected, (i, j)


@pytest.mark.parametrize("size", [1, 7])
@pytest.mark.parametrize("limit", [1000, 6])
def test_small_fixed_chunks(size: int, limit: int) -> None:
    assert split(chunked(SAMPLE, size), limit) == split([SAMPLE], limit)
    assert split(chunked(SAMPLE, size), limit) == reference(SAMPLE, limit)


@pytest.mark.parametrize("seed", range(20))
def test_random_chunks_give_the_same_lines_and_offsets(seed: int) -> None:
    rng = random.Random(seed)
    lines = [
        bytes(rng.choice(b"abcdefghij \r\t{}") for _ in range(rng.choice([0, 1, 5, 30, 90])))
        for _ in range(200)
    ]
    data = b"\n".join(lines) + rng.choice([b"", b"\n", b"tail"])
    limit = 40
    expected = reference(data, limit)
    assert split([data], limit) == expected
    for largest in (1, 3, 17, 64, 500):
        assert split(random_chunks(data, rng, largest), limit) == expected, largest


def test_five_megabyte_line_is_cut_at_the_limit_and_the_next_lines_survive() -> None:
    mib = 1024 * 1024
    huge = b"x" * (5 * mib)
    data = b"before\n" + huge + b"\nafter\nlast\n"
    for chunks in (chunked(data, 64 * 1024), chunked(data, 1_000_003), [data]):
        lines, offsets, truncated = split(chunks, mib)
        assert lines == [b"before", b"x" * mib, b"after", b"last"]
        assert offsets == [0, 7, 7 + len(huge) + 1, 7 + len(huge) + 7]
        assert truncated == {7}
        assert data[offsets[2] : offsets[2] + 5] == b"after"


def test_over_long_last_line_without_newline_is_emitted_once() -> None:
    data = b"ok\n" + b"y" * 50
    for chunks in ([data], chunked(data, 1), chunked(data, 7)):
        lines, offsets, truncated = split(chunks, 10)
        assert lines == [b"ok", b"y" * 10]
        assert offsets == [0, 3]
        assert truncated == {3}


def test_line_of_exactly_the_limit_is_not_truncated() -> None:
    for chunks in ([b"abcd\nabcde\n"], chunked(b"abcd\nabcde\n", 1)):
        lines, _, truncated = split(chunks, 4)
        assert lines == [b"abcd", b"abcd"]
        assert truncated == {5}


def test_crlf_lines_keep_their_offsets() -> None:
    data = b"a\r\nbb\r\nccc\r\n"
    lines, offsets, _ = split(chunked(data, 2), 100)
    assert lines == [b"a\r", b"bb\r", b"ccc\r"]
    assert offsets == [0, 3, 7]


def test_empty_input_gives_nothing() -> None:
    assert split([], 10) == ([], [], set())
    assert split([b"", b""], 10) == ([], [], set())


def test_only_newlines_gives_empty_lines() -> None:
    assert split([b"\n\n\n"], 10) == ([b"", b"", b""], [0, 1, 2], set())


def test_finish_without_pending_data_is_empty() -> None:
    splitter = LineSplitter(10)
    assert splitter.feed(b"a\n").lines == [b"a"]
    last = splitter.finish()
    assert last.lines == [] and last.offsets == []


def test_truncation_does_not_split_a_utf8_character() -> None:
    data = "€".encode() * 10 + b"\n"  # 3 bytes per character, limit 10 falls inside one
    lines, _, truncated = split([data], 10)
    assert truncated == {0}
    lines[0].decode()  # must not raise
    assert lines[0] == "€".encode() * 3


# --- read_chunks -----------------------------------------------------------------------


async def read_all(path: Path, chunk_bytes: int) -> tuple[list[bytes], int]:
    progress = [0]
    pieces = [piece async for piece in read_chunks(path, chunk_bytes, progress)]
    return pieces, progress[0]


@pytest.mark.parametrize("chunk_bytes", [1, 7, 4096])
async def test_plain_file_is_read_whole(tmp_path: Path, chunk_bytes: int) -> None:
    content = b"".join(b"line %d\n" % i for i in range(300)) + b"no newline"
    path = tmp_path / "a.log"
    path.write_bytes(content)
    pieces, raw = await read_all(path, chunk_bytes)
    assert b"".join(pieces) == content
    # bounded by the chunk size (the first read may take the 2 bytes of the gzip magic)
    assert all(len(piece) <= max(chunk_bytes, 2) for piece in pieces)
    assert raw == len(content)


async def test_empty_file_gives_no_chunks(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    assert await read_all(path, 1024) == ([], 0)


@pytest.mark.parametrize("chunk_bytes", [2, 3, 7, 100, 65536])
async def test_gzip_is_inflated_and_progress_counts_raw_bytes(
    tmp_path: Path, chunk_bytes: int
) -> None:
    content = b"".join(b"event number %d\n" % i for i in range(2000))
    packed = gzip.compress(content)
    path = tmp_path / "a.log.gz"
    path.write_bytes(packed)
    pieces, raw = await read_all(path, chunk_bytes)
    assert b"".join(pieces) == content
    assert raw == len(packed)


async def test_concatenated_gzip_members_are_all_read(tmp_path: Path) -> None:
    first = gzip.compress(b"one\ntwo\n")
    empty = gzip.compress(b"")
    second = gzip.compress(b"three\nfour\n")
    path = tmp_path / "cat.log.gz"
    path.write_bytes(first + empty + second)  # as `cat a.gz b.gz` makes
    # chunk sizes that end a read exactly at a member boundary, and ones that do not
    for chunk_bytes in (2, 3, 5, len(first), len(first) + 1, len(first) + len(empty), 4096):
        pieces, _ = await read_all(path, chunk_bytes)
        assert b"".join(pieces) == b"one\ntwo\nthree\nfour\n", chunk_bytes


async def test_gzip_is_detected_with_one_byte_chunks(tmp_path: Path) -> None:
    path = tmp_path / "a.log.gz"
    path.write_bytes(gzip.compress(b"hello\n"))
    pieces, _ = await read_all(path, 1)
    assert b"".join(pieces) == b"hello\n"


async def test_highly_compressed_data_is_inflated_in_bounded_pieces(tmp_path: Path) -> None:
    content = b"\0" * (8 * 1024 * 1024)
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(content))
    assert path.stat().st_size < 64 * 1024
    total = 0
    largest = 0
    async for piece in read_chunks(path, 1024):
        total += len(piece)
        largest = max(largest, len(piece))
    assert total == len(content)
    assert largest <= 64 * 1024  # never the whole member at once


@pytest.mark.parametrize("keep", [0.5, 0.9, -1, -8])
async def test_truncated_gzip_raises_read_error(tmp_path: Path, keep: float) -> None:
    packed = gzip.compress(b"".join(b"line %d\n" % i for i in range(1000)))
    cut = int(len(packed) * keep) if keep > 0 else len(packed) + int(keep)
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[:cut])
    with pytest.raises(ReadError, match="truncated"):
        await read_all(path, 256)


async def test_truncated_second_member_raises_read_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.gz"
    second = gzip.compress(b"more\n" * 100)
    path.write_bytes(gzip.compress(b"ok\n") + second[: len(second) // 2])
    with pytest.raises(ReadError, match="truncated"):
        await read_all(path, 7)


async def test_corrupt_gzip_raises_read_error(tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(b"some text\n" * 50))
    packed[3] = 0xFF  # reserved flag bits: not a valid gzip header
    path = tmp_path / "bad.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(ReadError, match="not valid gzip"):
        await read_all(path, 64)


async def test_missing_file_and_directory_raise_read_error(tmp_path: Path) -> None:
    with pytest.raises(ReadError):
        await read_all(tmp_path / "nope.log", 64)
    with pytest.raises(ReadError):
        await read_all(tmp_path, 64)
