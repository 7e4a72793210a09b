"""Downloads with resume, and streams with idle timeouts, against a real local server."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from camfetch.errors import (
    AuthenticationError,
    DeviceRefusedError,
    DeviceTimeoutError,
    UnreachableError,
)
from camfetch.http import DeviceHttp, HttpPool, HttpSettings

DATA = os.urandom(3 * 1024 * 1024 + 17)


class Server:
    def __init__(self) -> None:
        self.cut_at: int | None = None  # drop the connection after this many bytes
        self.ranges = True
        self.stall = False
        self.requests: list[str | None] = []

    async def file(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.headers.get("Range"))
        start = 0
        status = 200
        header = request.headers.get("Range")
        if header and self.ranges:
            start = int(header.split("=")[1].split("-")[0])
            if start >= len(DATA):
                return web.Response(status=416, headers={"Content-Range": f"bytes */{len(DATA)}"})
            status = 206
        response = web.StreamResponse(status=status)
        response.content_length = len(DATA) - start
        if status == 206:
            response.headers["Content-Range"] = f"bytes {start}-{len(DATA) - 1}/{len(DATA)}"
        await response.prepare(request)
        end = len(DATA) if self.cut_at is None else max(start, self.cut_at)
        for pos in range(start, end, 65536):
            await response.write(DATA[pos : min(pos + 65536, end)])
            if self.stall:
                await asyncio.sleep(5)
        if self.cut_at is not None and request.transport is not None:
            request.transport.abort()
        return response

    async def secret(self, request: web.Request) -> web.Response:
        return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="x"'})

    async def missing(self, request: web.Request) -> web.Response:
        return web.Response(status=404, text="no such file")


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    state = Server()
    app = web.Application()
    app.router.add_get("/file", state.file)
    app.router.add_get("/secret", state.secret)
    app.router.add_get("/missing", state.missing)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield state, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def http(server: tuple[Server, str]) -> AsyncIterator[DeviceHttp]:
    pool = HttpPool()
    yield DeviceHttp(
        pool,
        server[1],
        label="test",
        username="u",
        password="p",
        auth_mode="basic",
        settings=HttpSettings(timeout=5),
    )
    await pool.close()


async def test_interrupted_download_resumes_to_identical_bytes(server, http, tmp_path: Path):
    state, _ = server
    target = tmp_path / "clip.part"
    state.cut_at = 1_000_000
    with pytest.raises(UnreachableError):
        await http.download("/file", target)
    assert 0 < target.stat().st_size <= 1_000_000
    partial = target.stat().st_size
    state.cut_at = None
    seen: list[tuple[int, int | None]] = []
    result = await http.download("/file", target, progress=lambda d, t: seen.append((d, t)))
    assert result.resumed and target.read_bytes() == DATA
    assert state.requests[-1] == f"bytes={partial}-"
    assert seen[-1] == (len(DATA), len(DATA))


async def test_server_without_ranges_sends_everything_again(server, http, tmp_path: Path):
    state, _ = server
    target = tmp_path / "clip.part"
    target.write_bytes(DATA[:5000])
    state.ranges = False
    result = await http.download("/file", target)
    assert not result.resumed and target.read_bytes() == DATA


async def test_complete_file_answered_416_is_done(server, http, tmp_path: Path):
    target = tmp_path / "clip.part"
    target.write_bytes(DATA)
    result = await http.download("/file", target)
    assert result.size == len(DATA) and target.read_bytes() == DATA


async def test_download_errors(server, http, tmp_path: Path):
    state, _ = server
    with pytest.raises(DeviceRefusedError, match="HTTP 404"):
        await http.download("/missing", tmp_path / "x")
    state.stall = True
    with pytest.raises(DeviceTimeoutError, match="stalled"):
        await http.download("/file", tmp_path / "z", idle_timeout=0.5)
    with pytest.raises(AuthenticationError):
        await http.download("/secret", tmp_path / "y")
    with pytest.raises(AuthenticationError, match="not retrying"):  # no lock-out by retries
        await http.download("/file", tmp_path / "w")


async def test_stream_reads_as_data_arrives_and_times_out_when_idle(server, http):
    state, _ = server
    async with http.stream("GET", "/file") as reply:
        assert reply.status == 200
        first = await reply.content.read(1000)
    assert first == DATA[:1000]
    state.stall = True
    with pytest.raises(DeviceTimeoutError, match=r"sent nothing for 0\.5 s"):
        async with http.stream("GET", "/file", idle_timeout=0.5) as reply:
            while await reply.content.read(65536):
                pass
