"""The Flussonic simulator on the wire, as any HTTP client sees it."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import quote

import aiohttp
import pytest

from camfetch.media.mp4 import inspect_mp4
from camfetch.registry import open_device
from camfetch.sim.flussonic import FlussonicSimulator, fleet_member_jpeg, fleet_member_mp4
from tests.conftest import PASSWORD, SimLoop
from tests.flussonic.conftest import SIZE, gap_after, recorded_start
from tests.flussonic.test_wire import SEED_CAMERA


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def base(sim: FlussonicSimulator) -> str:
    return f"http://127.0.0.1:{sim.port}"


async def test_watcher_login_json_and_form_and_camera_fields(
    http: aiohttp.ClientSession, watcher: FlussonicSimulator
):
    url = base(watcher) + "/vsaas/api/v2/auth/login"
    async with http.post(url, json={"login": "admin", "password": PASSWORD}) as r:
        session = (await r.json())["session"]
        assert r.status == 200 and session
    async with http.post(url, data={"login": "admin", "password": PASSWORD}) as r:
        assert r.status == 200 and (await r.json())["login"] == "admin"
    async with http.post(url, json={"login": "admin", "password": "no"}) as r:
        assert r.status == 401
    headers = {"x-vsaas-session": session}
    async with http.get(base(watcher) + "/vsaas/api/v2/cameras", headers=headers) as r:
        cameras = await r.json()
    assert isinstance(cameras, list) and len(cameras) == 3
    camera = cameras[0]
    assert set(SEED_CAMERA) <= set(camera)  # every documented field
    assert camera["stream_url"].endswith(" ") and camera["stream_status"]["server"] == "localhost"
    assert camera["playback_config"]["token"].startswith("2.")
    assert len(camera["playback_config"]["token"]) == len(SEED_CAMERA["playback_config"]["token"])
    name = camera["name"]
    async with http.get(f"{base(watcher)}/vsaas/api/v2/cameras/{name}", headers=headers) as r:
        assert (await r.json())["name"] == name
    async with http.get(base(watcher) + "/vsaas/api/v2/auth/whoami", headers=headers) as r:
        assert (await r.json())["login"] == "admin"
    async with http.get(base(watcher) + "/vsaas/api/v2/cameras") as r:
        assert r.status == 401


async def test_tokens_are_checked_per_stream(
    http: aiohttp.ClientSession, streamer: FlussonicSimulator
):
    first, second = streamer.streams
    path = f"{base(streamer)}/{first}/preview.jpg"
    for token in (None, "2.forged", streamer.token_for(second), streamer.token_for(first, ttl=-5)):
        params = {"token": token} if token else {}
        async with http.get(path, params=params) as r:
            assert r.status == 403 and len(await r.read()) < 64
    async with http.get(path, params={"token": streamer.token_for(first)}) as r:
        assert r.status == 200 and r.content_type == "image/jpeg"
    async with http.get(f"{base(streamer)}/nosuch/preview.jpg", params={"token": "x"}) as r:
        assert r.status == 404


async def test_three_archive_forms_answer_the_same_frame(
    http: aiohttp.ClientSession, streamer: FlussonicSimulator
):
    name = streamer.streams[0]
    token = {"token": streamer.token_for(name)}
    gap_start, _ = gap_after(streamer, 1)
    ts = gap_start + 30  # in a gap: the closest frame, 31 s back
    moment = datetime.fromtimestamp(ts, UTC)
    urls = [
        (f"{base(streamer)}/{name}/preview.mp4", {"from": str(ts), **token}),
        (f"{base(streamer)}/{name}/{ts}-preview.mp4", token),
        (f"{base(streamer)}/{name}/{moment:%Y/%m/%d/%H/%M/%S}-preview.mp4", token),
    ]
    bodies = []
    for url, params in urls:
        async with http.get(url, params=params) as r:
            assert r.status == 200 and r.content_type == "video/mp4"
            bodies.append(await r.read())
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0][4:8] == b"ftyp" and bodies[0].index(b"moov") < bodies[0].index(b"mdat")
    old = int(time.time()) - 40 * 86400
    async with http.get(urls[1][0].replace(str(ts), str(old)), params=token) as r:
        assert r.status == 404


async def test_recording_status_and_v3_ranges(
    http: aiohttp.ClientSession, streamer: FlussonicSimulator
):
    name = streamer.streams[0]
    now = int(time.time())
    spans = streamer.ranges(1, now - 86400, now)
    asked = spans[1][0] + 60  # inside the second range
    params = {"from": str(asked), "to": "now", "request": "ranges,locks"}
    params["token"] = streamer.token_for(name)
    async with http.get(f"{base(streamer)}/{name}/recording_status.json", params=params) as r:
        document = await r.json()
    assert document[0]["stream"] == name and document[0]["locks"] == []
    first = document[0]["ranges"][0]
    assert first["from"] == spans[1][0] < asked  # whole ranges, as documented
    v3 = f"{base(streamer)}/streamer/api/v3/streams/{name}/dvr/ranges"
    auth = {"Authorization": aiohttp.encode_basic_auth("admin", PASSWORD)}
    seen: list[int] = []
    cursor = None
    while True:
        query = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        async with http.get(v3, params=query, headers=auth) as r:
            page = await r.json()
        seen += [item["from"] for item in page["ranges"]]
        cursor = page["next"]
        if cursor is None:
            break
        assert base64.b64decode(cursor).startswith(b"%24position_gt=")
    assert seen == sorted(seen) and len(seen) == page["estimated_count"] > 3
    async with http.get(v3) as r:
        body = await r.json()
        assert r.status == 401 and body["errors"][0]["status"] == "401"
    async with http.get(v3, params={"cursor": "!!"}, headers=auth) as r:
        assert r.status == 400 and (await r.json())["errors"][0]["source"]["parameter"]


async def test_export_ranges_and_determinism(
    http: aiohttp.ClientSession, streamer: FlussonicSimulator, tmp_path
):
    name = streamer.streams[1]
    start = int(recorded_start(streamer, 2, 6).timestamp())
    url = f"{base(streamer)}/{name}/archive-{start}-6.mp4"
    token = {"token": streamer.token_for(name)}
    async with http.get(url, params=token) as r:
        whole = await r.read()
        assert r.status == 200 and r.headers["Accept-Ranges"] == "bytes"
    async with http.get(url, params=token, headers={"Range": "bytes=1000-1999"}) as r:
        assert r.status == 206 and r.headers["Content-Range"] == f"bytes 1000-1999/{len(whole)}"
        assert await r.read() == whole[1000:2000]
    async with http.get(url, params=token, headers={"Range": "bytes=-10"}) as r:
        assert r.status == 206 and await r.read() == whole[-10:]
    async with http.get(url, params=token, headers={"Range": f"bytes={len(whole)}-"}) as r:
        assert r.status == 416 and r.headers["Content-Range"] == f"bytes */{len(whole)}"
    streamer._exports.clear()  # rendered again from scratch: the same bytes
    async with http.get(url, params=token) as r:
        assert await r.read() == whole
    (tmp_path / "a.mp4").write_bytes(whole)
    info = inspect_mp4(tmp_path / "a.mp4")
    assert info.video is not None and (info.video.width, info.video.height) == SIZE
    assert abs(info.duration - 6) < 0.2 and [t.kind for t in info.tracks] == ["video"]


@pytest.mark.parametrize("member", [fleet_member_jpeg, fleet_member_mp4])
async def test_fleet_members(sim_loop: SimLoop, http: aiohttp.ClientSession, member):
    sim = member(7, latency=0.05, size=(320, 240))
    sim_loop.start(sim)
    try:
        sim_loop.call(sim.warm_up())
        bare = sim.snapshot_request(1)
        assert bare.auth == "none" and "token=" in bare.url
        async with http.get(bare.url) as r:
            body = await r.read()
        kind = "jpg" if member is fleet_member_jpeg else "mp4"
        assert r.status == 200 and bare.url.split("?")[0].endswith(f"preview.{kind}")
        assert (body[:3] == b"\xff\xd8\xff") if kind == "jpg" else (body[4:8] == b"ftyp")
        async with open_device(sim.secret_url()) as dev:
            snap = await dev.snapshot(1)
        assert (snap.width, snap.height) == (320, 240)
        assert snap.original_format == ("jpeg" if kind == "jpg" else "mp4")
    finally:
        sim_loop.stop(sim)


def test_sim_command_and_urls(cli, make_flussonic):
    result = cli("sim", "flussonic", "--help")
    assert result.exit_code == 0 and "--watcher" in result.stdout
    assert cli("sim", "flussonic", "--archive-form", "weekly").exit_code == 2
    sim = make_flussonic(watcher=True)  # a password of its own: masked where shown
    assert sim.device_url() == f"watcher://admin:***@127.0.0.1:{sim.port}?tz=Europe/Berlin"
    assert f"admin:{quote(PASSWORD, safe='')}@" in sim.secret_url()
    plain = make_flussonic(cameras=2)
    assert "token=***" in plain.device_url() and "token=2." in plain.secret_url()
    assert "each has a token of its own" in plain.describe()
