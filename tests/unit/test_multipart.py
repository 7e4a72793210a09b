"""The multipart reader on the stream shapes devices send."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp.base_protocol import BaseProtocol

from camfetch.errors import MalformedResponseError, ResponseTooLargeError
from camfetch.http.multipart import boundary_of, iter_parts


def reader(*chunks: bytes) -> aiohttp.StreamReader:
    loop = asyncio.get_running_loop()
    stream = aiohttp.StreamReader(BaseProtocol(loop), 2**16, loop=loop)
    for chunk in chunks:
        stream.feed_data(chunk)
    stream.feed_eof()
    return stream


async def collect(
    stream: aiohttp.StreamReader, boundary: str, **kw: int
) -> list[tuple[dict[str, str], bytes]]:
    return [(p.headers, p.body) async for p in iter_parts(stream, boundary, **kw)]


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("multipart/x-mixed-replace; boundary=myboundary", "myboundary"),
        ('multipart/x-mixed-replace;boundary="--frame"', "frame"),
        ("multipart/mixed; Boundary=abc123 ; charset=x", "abc123"),
        ("image/jpeg", None),
    ],
)
def test_boundary_of(header: str, token: str | None):
    assert boundary_of(header) == token


async def test_amcrest_event_stream_without_space_after_colon():
    body = (
        b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length:36\r\n\r\n"
        b"Code=VideoMotion;action=Start;index=0\r\n"
        b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length:9\r\n\r\n"
        b"Heartbeat\r\n"
    )
    parts = await collect(reader(body[:20], body[20:57], body[57:]), "myboundary")
    assert [b for _, b in parts] == [b"Code=VideoMotion;action=Start;index=0"[:36], b"Heartbeat"]
    assert parts[0][0]["content-length"] == "36"


async def test_parts_without_length_lf_endings_and_a_stray_header_block():
    body = (
        b"HTTP/1.1 200 OK\r\nServer: junk\r\n\r\n"  # stray block some firmware sends first
        b"--frame\nContent-Type: image/jpeg\n\n\xff\xd8AAA\xff\xd9\n"
        b"--frame\nContent-Type: image/jpeg\n\n\xff\xd8BBB\xff\xd9\n--frame--\n"
        b"--frame\nContent-Type: image/jpeg\n\nnever read\n"
    )
    parts = await collect(reader(body), "--frame")
    assert [b for _, b in parts] == [b"\xff\xd8AAA\xff\xd9", b"\xff\xd8BBB\xff\xd9"]


async def test_boundary_lines_without_dashes():
    body = b"frame\r\nContent-Length: 3\r\n\r\nabc\r\nframe\r\nContent-Length: 2\r\n\r\nde"
    assert [b for _, b in await collect(reader(body), "frame")] == [b"abc", b"de"]


async def test_truncated_stream_ends_without_a_half_part():
    body = b"--b\r\nContent-Length: 100\r\n\r\nonly part of it"
    assert await collect(reader(body), "b") == []


async def test_garbage_without_boundary_is_malformed():
    with pytest.raises(MalformedResponseError, match="no multipart boundary"):
        await collect(reader(b"x" * 5000), "b", max_part=1024)


async def test_oversized_part_is_refused():
    with pytest.raises(ResponseTooLargeError):
        await collect(reader(b"--b\r\nContent-Length: 99999999\r\n\r\n"), "b", max_part=1024)
