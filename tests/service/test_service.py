"""The capture service end to end: simulated devices, catalog, storage, the HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from camfetch.media.jpeg import decode_check
from camfetch.service.config import Config, load_config
from camfetch.service.server import serve
from camfetch.service.service import CaptureService
from camfetch.sim.viewtron import ViewtronSimulator


def config_for(
    tmp_path: Path, sims: dict[str, ViewtronSimulator], extra: str = "", api: str = ""
) -> Config:
    devices = "".join(
        f"  - name: {name}\n    url: '{sim.secret_url()}'\n" for name, sim in sims.items()
    )
    text = (
        f"storage: {{root: {tmp_path / 'data'}}}\n"
        f"api: {{listen: '127.0.0.1:0', refresh: 1s{api}}}\n"
        f"devices:\n{devices}"
        "  - {name: ghost, url: 'viewtron://admin:x@127.0.0.1:9?timeout=1', channels: [1]}\n"
        f"jobs:\n{extra}"
    )
    path = tmp_path / "camfetch.yaml"
    path.write_text(text)
    return load_config(path)


@contextlib.asynccontextmanager
async def running(config: Config) -> AsyncIterator[tuple[CaptureService, str]]:
    service = CaptureService(config)
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(service, stop, on_ready=ready.set_result))
    address = await asyncio.wait_for(ready, 20)
    try:
        yield service, address
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@pytest.fixture
def two_sims(make_sim: Callable[..., Any]) -> dict[str, ViewtronSimulator]:
    return {
        "nvr": make_sim(api="2.0", kind="nvr", channels=2, name="Yard NVR", tz="Europe/Berlin"),
        "door": make_sim(api="1.9", kind="ipc", name="Door", tz="America/New_York"),
    }


async def test_timelapse_captures_are_stored_and_catalogued(tmp_path: Path, two_sims):
    job = "  - {name: tl, type: timelapse, interval: 1s, cameras: ['*']}\n"
    async with running(config_for(tmp_path, two_sims, job)) as (_, address):
        await asyncio.sleep(3.5)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{address}/api/devices/nvr/channels/2/captures?from=-1m") as r:
                listing = await r.json()
            async with http.get(f"{address}{listing['captures'][0]['url']}") as r:
                picture = await r.read()
            async with http.get(f"{address}/api/devices/ghost/channels/1/captures?from=-1m") as r:
                ghost = await r.json()
            async with http.get(f"{address}/api/jobs") as r:
                (jobs,) = await r.json()
    captures = listing["captures"]
    assert len(captures) >= 2
    for capture in captures:
        stamp = datetime.fromisoformat(capture["utc"])
        assert capture["path"].startswith("nvr/2/") and capture["path"].endswith(".jpg")
        assert capture["path"].split("/")[-1][:6] == f"{stamp:%H%M}" + capture["path"][-6:-4]
        assert capture["device_time"].endswith(("+01:00", "+02:00"))  # the device's own clock
    assert decode_check(picture) == (1280, 720)
    assert ghost["captures"] == [] and ghost["gaps"]
    assert {g["reason"] for g in ghost["gaps"]} <= {"unreachable", "timeout", "backoff"}
    assert jobs["targets"] == 4 and jobs["done"] >= 6 and jobs["lateness_p99"] < 1
    files = [p for p in (tmp_path / "data").rglob("*.jpg") if ".incoming" not in p.parts]
    assert len(files) >= 6


async def test_latest_picture_asks_each_camera_once_per_refresh(tmp_path: Path, two_sims):
    async with running(config_for(tmp_path, two_sims)) as (_, address):
        sim = two_sims["nvr"]
        before = sim.requests
        url = f"{address}/api/devices/nvr/channels/1/latest.jpg"
        sources: list[str] = []
        async with aiohttp.ClientSession() as http:

            async def client() -> None:
                for _ in range(12):
                    async with http.get(url) as response:
                        assert response.status == 200
                        assert (await response.read())[:2] == b"\xff\xd8"
                        sources.append(response.headers["X-Camfetch-Source"])
                    await asyncio.sleep(0.25)

            started = asyncio.get_running_loop().time()
            await asyncio.gather(*(client() for _ in range(50)))
            elapsed = asyncio.get_running_loop().time() - started
        asked = sim.requests - before
    assert len(sources) == 600 and set(sources) <= {"cache", "fresh"}
    assert 1 <= asked <= int(elapsed / 1.0) + 2  # at most once per 1 s refresh, for 50 clients


async def test_latest_falls_back_to_the_catalog_then_503(tmp_path: Path, two_sims, sim_loop):
    job = "  - {name: tl, type: timelapse, interval: 1s, cameras: ['door']}\n"
    async with running(config_for(tmp_path, two_sims, job)) as (service, address):
        await asyncio.sleep(1.6)
        sim_loop.stop(two_sims["door"])  # the camera goes away
        service.latest.refresh = 0.01
        await asyncio.sleep(0.1)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{address}/api/devices/door/channels/1/latest.jpg") as r:
                assert r.status == 200 and r.headers["X-Camfetch-Source"] == "catalog"
                assert "unreachable" in r.headers["X-Camfetch-Error"]
            async with http.get(f"{address}/api/devices/ghost/channels/1/latest.jpg") as r:
                assert r.status == 503 and (await r.json())["error"] in {"unreachable", "timeout"}
            async with http.get(f"{address}/api/devices/nobody/channels/1/latest.jpg") as r:
                assert r.status == 404


async def test_token_required_when_configured(tmp_path: Path, two_sims):
    config = config_for(tmp_path, two_sims, api=", token: t0k3n-value")
    async with running(config) as (_, address), aiohttp.ClientSession() as http:
        async with http.get(f"{address}/api/devices") as r:
            assert r.status == 401
        async with http.get(f"{address}/metrics", headers={"Authorization": "Bearer wrong"}) as r:
            assert r.status == 401
        headers = {"Authorization": "Bearer t0k3n-value"}
        async with http.get(f"{address}/api/devices", headers=headers) as r:
            devices = await r.json()
        async with http.get(f"{address}/metrics", headers=headers) as r:
            assert r.status == 200 and "camfetch_" in await r.text()
        async with http.get(f"{address}/openapi.json") as r:
            assert (
                "/api/devices/{device}/channels/{channel}/latest.jpg" in (await r.json())["paths"]
            )
    assert [d["name"] for d in devices] == ["door", "ghost", "nvr"]
    assert all("x@" not in d["url"] and "***" in d["url"] for d in devices if "ghost" in d["name"])


async def test_retention_deletes_old_pictures_but_never_kept_ones(tmp_path: Path, two_sims):
    service = CaptureService(config_for(tmp_path, two_sims))
    await service.start()
    try:
        from camfetch.service.fleet import Target

        target = Target("door", 1)
        channel = await service.channel_id(target)
        start = datetime.now(UTC)
        ids = []
        for n in range(6):
            ids.append(await service.capture("tl", target, start + timedelta(minutes=n)))
        await service.catalog.keep(ids[:2])
        # everything taken before tomorrow has expired: only kept pictures may stay
        removed = await service.prune("tl", datetime.now(UTC) + timedelta(days=1))
        assert removed == 4
        left = await service.catalog.captures(channel, start, start + timedelta(hours=1))
        assert [c.id for c in left] == ids[:2]
        for capture in left:
            assert (tmp_path / "data" / capture.path).exists()
        assert len(list((tmp_path / "data" / "door").rglob("*.jpg"))) == 2
    finally:
        await service.close()
