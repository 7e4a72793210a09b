"""The simulated intercom on the wire, read by a plain aiohttp client: the reference's shapes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from camfetch.media.jpeg import decode_check
from camfetch.sim.two_n import ApiUser, Privilege, TwoNSimulator
from tests.conftest import PASSWORD
from tests.two_n.conftest import VIEWER


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def digest(user: str = "admin", password: str = PASSWORD) -> tuple[aiohttp.DigestAuthMiddleware]:
    return (aiohttp.DigestAuthMiddleware(user, password),)


async def get(
    session: aiohttp.ClientSession,
    sim: TwoNSimulator,
    path: str,
    *,
    auth: tuple[Any, ...] | None = None,
    https: bool = False,
    **params: str,
) -> tuple[int, dict[str, str], bytes]:
    base = f"https://127.0.0.1:{sim.https_port}" if https else f"http://127.0.0.1:{sim.port}"
    async with session.get(
        base + path,
        params=params,
        middlewares=digest() if auth is None else auth,
        ssl=False,
        timeout=aiohttp.ClientTimeout(total=10),
    ) as response:
        return response.status, dict(response.headers), await response.read()


async def error_of(session, sim, path, **params) -> tuple[int, str | None]:
    status, headers, body = await get(session, sim, path, **params)
    assert status == 200 and headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    assert doc["success"] is False and set(doc["error"]) <= {"code", "param", "description"}
    return doc["error"]["code"], doc["error"].get("param")


async def test_the_envelope_and_its_headers(session, intercom: TwoNSimulator):
    status, headers, body = await get(session, intercom, "/api/system/info")
    assert status == 200 and headers["Content-Type"] == "application/json"  # exactly (py2n)
    assert headers["Server"] == "HIP2.35.0.45.0"
    assert b'"success" : true' in body  # spaced like the wiki's examples
    result = json.loads(body)["result"]
    assert set(result) == {
        "devType", "variant", "variantId", "customerId", "serialNumber", "macAddr",
        "hwVersion", "swVersion", "buildType", "deviceName",
    }  # fmt: skip
    assert result["macAddr"].count("-") == 5 and result["buildType"] == "release"


async def test_older_firmware_info_as_printed_for_2_10(session, make_2n):
    sim = make_2n(firmware="2.10.0.19.2", variant="2N IP Vario")
    _, headers, body = await get(session, sim, "/api/system/info")
    result = json.loads(body)["result"]
    assert set(result) == {
        "variant", "serialNumber", "hwVersion", "swVersion", "buildType", "deviceName"
    }  # fmt: skip
    assert result["buildType"] == "" and headers["Server"] == "HIP2.10.0.19.2"


async def test_authentication_failures_come_with_401_a_challenge_and_an_envelope(
    session, intercom: TwoNSimulator
):
    status, headers, body = await get(session, intercom, "/api/system/info", auth=())
    assert status == 401 and headers["Content-Type"] == "application/json"
    assert headers["WWW-Authenticate"].startswith('Digest realm="HTTP API", qop="auth"')
    assert json.loads(body)["error"]["code"] == 9
    basic = aiohttp.encode_basic_auth("admin", PASSWORD)
    async with session.get(
        f"http://127.0.0.1:{intercom.port}/api/system/info", headers={"Authorization": basic}
    ) as response:
        assert response.status == 401 and (await response.json())["error"]["code"] == 8
    status, _, body = await get(session, intercom, "/api/system/info", auth=digest("admin", "nope"))
    assert status == 401 and json.loads(body)["error"]["code"] == 9


async def test_expired_nonces_are_reported_stale(session, make_2n, on_sim):
    sim = make_2n()
    auth = digest()
    assert (await get(session, sim, "/api/system/info", auth=auth))[0] == 200
    on_sim(lambda: setattr(sim.accounts, "nonce_lifetime", 0.0))
    async with session.get(
        f"http://127.0.0.1:{sim.port}/api/system/info", middlewares=auth
    ) as response:
        challenges = response.headers.getall("WWW-Authenticate")
    assert response.status == 401 and "stale=TRUE" in challenges[0]


@pytest.mark.parametrize(
    ("path", "params", "code", "param"),
    [
        ("/api/camera/snapshot", {}, 11, "width"),
        ("/api/camera/snapshot", {"width": "640"}, 11, "height"),
        ("/api/camera/snapshot", {"width": "641", "height": "480"}, 12, "width"),
        ("/api/camera/snapshot", {"width": "640", "height": "481"}, 12, "height"),
        ("/api/camera/snapshot", {"width": "wide", "height": "480"}, 12, "width"),
        ("/api/camera/snapshot", {"width": "640", "height": "480", "source": "rear"}, 12, "source"),
        ("/api/camera/snapshot", {"width": "640", "height": "480", "time": "-31"}, 12, "time"),
        ("/api/camera/snapshot", {"width": "640", "height": "480", "time": "5"}, 12, "time"),
        ("/api/camera/snapshot", {"width": "640", "height": "480", "time": "nan"}, 12, "time"),
        ("/api/camera/snapshot", {"width": "640", "height": "480", "fps": "fast"}, 12, "fps"),
        ("/api/log/pull", {}, 11, "id"),
        ("/api/log/pull", {"id": "12345"}, 12, "id"),
        ("/api/log/unsubscribe", {"id": "x"}, 12, "id"),
        ("/api/log/subscribe", {"include": "everything"}, 12, "include"),
        ("/api/log/subscribe", {"duration": "0"}, 12, "duration"),
        ("/api/door/open", {}, 2, None),
    ],
)
async def test_error_codes_name_their_parameter(session, intercom, path, params, code, param):
    assert await error_of(session, intercom, path, **params) == (code, param)


async def test_wrong_method_privilege_and_transport(session, intercom, secure):
    async with session.put(
        f"http://127.0.0.1:{intercom.port}/api/system/info", middlewares=digest()
    ) as response:
        assert (await response.json())["error"]["code"] == 3
    viewer = digest(VIEWER.name, VIEWER.password)
    status, _, body = await get(session, intercom, "/api/camera/caps", auth=viewer)
    assert status == 200 and json.loads(body)["error"] == {
        "code": 10,
        "description": "insufficient user privileges",
    }
    assert (await get(session, intercom, "/api/system/info", auth=viewer))[0] == 200
    assert await error_of(session, secure, "/api/system/info") == (7, None)
    assert (await get(session, secure, "/api/system/info", https=True))[0] == 200


async def test_caps_and_sizes(session, intercom):
    _, _, body = await get(session, intercom, "/api/camera/caps")
    result = json.loads(body)["result"]
    assert result["sources"] == [{"source": "internal"}, {"source": "external"}]
    listed = [(r["width"], r["height"]) for r in result["jpegResolution"]]
    assert listed[:6] == [(160, 120), (176, 144), (320, 240), (352, 272), (352, 288), (640, 480)]
    assert listed[6:] == [(1280, 720), (1280, 960), (1920, 1080)]
    for width, height in listed:
        _, headers, jpeg = await get(
            session, intercom, "/api/camera/snapshot", width=str(width), height=str(height)
        )
        assert headers["Content-Type"] == "image/jpeg" and decode_check(jpeg) == (width, height)


async def test_parameters_in_a_post_body(session, intercom):
    async with session.post(
        f"http://127.0.0.1:{intercom.port}/api/camera/snapshot",
        data={"width": "320", "height": "240", "source": "external"},
        middlewares=digest(),
    ) as response:
        assert decode_check(await response.read()) == (320, 240)


@pytest.mark.parametrize(("past_size", "expected"), [("fit", (1280, 720)), ("refuse", None)])
async def test_past_pictures_are_at_most_1280x960(session, make_2n, past_size, expected):
    sim = make_2n(past_size=past_size)
    params = {"width": "1920", "height": "1080", "time": "-4", "fps": "5"}
    if expected is None:
        assert await error_of(session, sim, "/api/camera/snapshot", **params) == (12, "width")
        return
    _, headers, jpeg = await get(session, sim, "/api/camera/snapshot", **params)
    assert headers["Content-Type"] == "image/jpeg"  # with time, fps is ignored: one picture
    assert decode_check(jpeg) == expected


async def test_the_memory_holds_the_pictures_of_the_last_30_seconds(session, intercom):
    size = {"width": "640", "height": "480"}
    _, _, now = await get(session, intercom, "/api/camera/snapshot", **size)
    _, _, ago = await get(session, intercom, "/api/camera/snapshot", time="-6", **size)
    _, _, oldest = await get(session, intercom, "/api/camera/snapshot", time="-30", **size)
    assert len({now, ago, oldest}) == 3 and all(
        decode_check(j) == (640, 480) for j in (ago, oldest)
    )
    moment = int(intercom.clock.now().timestamp() - 6)
    candidates = [
        intercom.frames.jpeg(1, datetime.fromtimestamp(t, intercom.clock.tz), size=(640, 480))
        for t in (moment - 1, moment, moment + 1)
    ]
    assert ago in candidates


async def test_push_stream_framing(session, make_2n):
    sim = make_2n(resolutions=[(320, 240)], boundary="hip-boundary")
    async with session.get(
        f"http://127.0.0.1:{sim.port}/api/camera/snapshot",
        params={"width": "320", "height": "240", "fps": "10"},
        middlewares=digest(),
    ) as response:
        assert (
            response.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=hip-boundary"
        )
        started = time.monotonic()
        data = b""
        while data.count(b"--hip-boundary\r\n") < 6:
            data += await response.content.readany()
        elapsed = time.monotonic() - started
    head = data.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"--hip-boundary\r\nContent-Type: image/jpeg\r\nContent-Length: ")
    assert elapsed >= 0.35  # 5 intervals at 10 per second, not as fast as possible
    assert sim.push_rates == [10]


async def test_trailing_comma_knob(session, make_2n):
    sim = make_2n(trailing_comma=True)
    _, _, body = await get(session, sim, "/api/log/subscribe")
    number = json.loads(body)["result"]["id"]
    _, _, body = await get(session, sim, "/api/log/unsubscribe", id=str(number))
    assert body == b'{ "success" : true, }'


async def test_log_subscriptions(session, make_2n, on_sim):
    sim = make_2n(
        users=[ApiUser("admin", PASSWORD), ApiUser("guard", "g", frozenset({Privilege.CAMERA}))]
    )

    async def subscribe(auth=None, **params: str) -> int:
        _, _, body = await get(session, sim, "/api/log/subscribe", auth=auth, **params)
        return int(json.loads(body)["result"]["id"])

    async def pull(number: int, auth=None, timeout: str = "0") -> list[dict[str, Any]]:
        _, _, body = await get(
            session, sim, "/api/log/pull", auth=auth, id=str(number), timeout=timeout
        )
        return list(json.loads(body)["result"]["events"])

    everything = await subscribe(include="all")
    history = await pull(everything)
    assert [e["event"] for e in history] == ["DeviceState", "RegistrationStateChanged"]
    assert set(history[0]) == {"id", "tzShift", "utcTime", "upTime", "event", "params"}
    assert history[0]["params"] == {"state": "startup"} and history[0]["upTime"] > 86400
    new = await subscribe()
    motion = await subscribe(filter="MotionDetected")
    guard_auth = digest("guard", "g")
    guard = await subscribe(auth=guard_auth)
    on_sim(lambda: sim.emit("CallStateChanged", direction="incoming", state="ringing"))
    on_sim(lambda: sim.emit("MotionDetected", state="in"))
    assert [e["event"] for e in await pull(new)] == ["CallStateChanged", "MotionDetected"]
    assert [e["event"] for e in await pull(motion)] == ["MotionDetected"]
    assert [e["event"] for e in await pull(guard, guard_auth)] == [
        "MotionDetected"
    ]  # no call priv.
    assert await pull(new) == []
    recent = await subscribe(include="-3600")
    assert len(await pull(recent)) == 4
    assert len(sim.log.subscriptions) == 5


async def test_long_poll_waits_for_events_and_batches_them(session, make_2n, sim_loop):
    sim = make_2n()
    _, _, body = await get(session, sim, "/api/log/subscribe")
    number = str(json.loads(body)["result"]["id"])
    started = time.monotonic()
    _, _, body = await get(session, sim, "/api/log/pull", id=number, timeout="1")
    assert json.loads(body)["result"]["events"] == [] and time.monotonic() - started >= 0.9

    async def later() -> None:
        await asyncio.sleep(0.3)
        sim.emit("TamperSwitchActivated", state="in")

    sim_loop.loop.call_soon_threadsafe(lambda: sim_loop.loop.create_task(later()))
    started = time.monotonic()
    _, _, body = await get(session, sim, "/api/log/pull", id=number, timeout="20")
    assert [e["event"] for e in json.loads(body)["result"]["events"]] == ["TamperSwitchActivated"]
    assert time.monotonic() - started < 5

    async def flood() -> None:
        for n in range(300):
            sim.emit("KeyPressed", key=str(n % 10))

    sim_loop.call(flood())
    sizes = []
    for _ in range(3):
        _, _, body = await get(session, sim, "/api/log/pull", id=number)
        sizes.append(len(json.loads(body)["result"]["events"]))
    assert sizes == [128, 128, 44]


async def test_subscriptions_lapse_when_nobody_pulls(session, make_2n):
    sim = make_2n()
    _, _, body = await get(session, sim, "/api/log/subscribe", duration="1")
    number = str(json.loads(body)["result"]["id"])
    await asyncio.sleep(1.2)
    assert await error_of(session, sim, "/api/log/pull", id=number) == (12, "id")


async def test_the_intercom_sees_things_happen_over_time(make_2n):
    sim = make_2n(event_interval=0.2, seed="busy door")
    await asyncio.sleep(1.5)
    names = {e.event for e in list(sim.log.history)[2:]}
    assert names & {"MotionDetected", "CardEntered", "CodeEntered", "TamperSwitchActivated"}


async def test_the_bare_request_a_benchmark_makes(session, make_2n):
    from camfetch.sim.two_n import fleet_member

    sim = fleet_member(7, latency=0.05, size=(800, 600))
    await sim.start()
    try:
        bare = sim.snapshot_request(1)
        assert bare.auth == "digest" and "width=800&height=600" in bare.url
        started = time.monotonic()
        async with session.get(
            bare.url, middlewares=digest(bare.username, bare.password)
        ) as response:
            jpeg = await response.read()
        assert decode_check(jpeg) == (800, 600) and time.monotonic() - started >= 0.05
        assert sim.name == "Intercom 007" and sim.secret_url().startswith("2n://admin:")
    finally:
        await sim.stop()


async def test_the_certificate_is_valid_for_the_address_it_serves(session, secure):
    import ssl

    trusted = ssl.create_default_context(cadata=secure.certificate.decode())
    async with session.get(
        f"https://127.0.0.1:{secure.https_port}/api/system/info",
        middlewares=digest(),
        ssl=trusted,
    ) as response:
        assert response.status == 200 and (await response.json())["success"] is True
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        async with session.get(f"https://127.0.0.1:{secure.https_port}/api/system/info"):
            pass
