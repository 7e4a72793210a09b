"""The Amcrest/Dahua driver against both simulated profiles, over loopback: info, auth,
snapshots, MJPEG and the event stream."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from contextlib import aclosing
from datetime import timedelta
from itertools import pairwise
from typing import Any
from urllib.parse import quote

import pytest

from camfetch import timeutil
from camfetch.drivers.amcrest import AmcrestDevice
from camfetch.errors import (
    AuthenticationError,
    DeviceRefusedError,
    DeviceTimeoutError,
    MalformedResponseError,
    UnreachableError,
    UnsupportedError,
    UsageError,
)
from camfetch.media.jpeg import decode_check
from camfetch.models import Capability, DeviceEvent, DeviceKind, EventAction
from camfetch.registry import open_device
from camfetch.sim.amcrest import AmcrestSimulator
from tests.amcrest.conftest import url
from tests.conftest import PASSWORD, SimLoop


def amcrest(address: str) -> AmcrestDevice:
    device = open_device(address)
    assert isinstance(device, AmcrestDevice)
    return device


# -- info -----------------------------------------------------------------------------------------


async def test_info_of_the_legacy_camera(legacy: AmcrestSimulator):
    async with amcrest(legacy.secret_url()) as dev:
        info = await dev.info()
        channels = await dev.channels()
    assert (info.vendor, info.model, info.kind) == ("Amcrest", "IP2M-841", DeviceKind.CAMERA)
    assert info.serial == legacy.serial and info.name == "Porch"
    assert info.firmware == "2.420.AC00.15.R" and info.extra["build_date"] == "2016-09-08"
    assert "device_class" not in info.extra  # legacy firmware has no getDeviceClass
    assert info.api_version == "1.40" and info.time_zone == "America/New_York"
    assert info.clock_skew_seconds is not None and abs(info.clock_skew_seconds) <= 1
    assert [(c.number, c.name) for c in channels] == [(1, "Porch")]


async def test_info_of_the_modern_nvr(modern: AmcrestSimulator):
    async with amcrest(modern.secret_url()) as dev:
        info = await dev.info()
        channels = await dev.channels()
        caps = await dev.capabilities()
    assert (info.vendor, info.kind, info.channel_count) == ("Dahua", DeviceKind.NVR, 4)
    assert info.model == "DHI-NVR4208-8P-4KS2" and info.extra["device_class"] == "NVR"
    assert info.firmware == "4.001.0000000.3.R" and info.extra["build_date"] == "2021-03-12"
    assert [c.name for c in channels] == ["CH1", "CH2", "CH3", "CH4"]
    assert caps == {
        Capability.SNAPSHOT,
        Capability.SEARCH,
        Capability.PLAYBACK,
        Capability.EVENTS,
        Capability.MJPEG,
    }


async def test_clock_skew_with_and_without_tz(make_sim):
    """With tz= the skew is exact; without, the zone is the quarter-hour offset the clock shows."""
    sim = make_sim(AmcrestSimulator, profile="modern", tz="Asia/Kolkata", skew=-95.0)
    async with amcrest(sim.secret_url()) as dev:
        info = await dev.info()
    assert info.clock_skew_seconds is not None and abs(info.clock_skew_seconds + 95) <= 1
    bare = sim.secret_url().split("?")[0]
    async with amcrest(bare) as dev:
        tz = await dev.timezone()
        info = await dev.info()
    assert timeutil.utcnow().astimezone(tz).utcoffset() == timedelta(hours=5, minutes=30)
    assert info.time_zone is not None and info.time_zone.startswith("UTC+05:30")
    assert info.clock_skew_seconds is not None and abs(info.clock_skew_seconds + 95) <= 1


async def test_dahua_scheme_is_the_same_driver(modern: AmcrestSimulator):
    async with amcrest(modern.secret_url().replace("amcrest://", "dahua://")) as dev:
        assert (await dev.info()).serial == modern.serial


# -- authentication -------------------------------------------------------------------------------


async def test_digest_is_remembered_no_request_pays_a_401(profile: AmcrestSimulator):
    async with amcrest(profile.secret_url()) as dev:
        await dev.snapshot(1)  # the first exchange learns the scheme and the nonce
        assert dev.http.auth_scheme == "digest"
        requests, refusals = profile.requests, profile.unauthorized
        for _ in range(5):
            await dev.snapshot(1)
        made = profile.requests - requests
    assert profile.unauthorized == refusals and made == 5


async def test_basic_for_old_firmware(make_sim):
    sim = make_sim(AmcrestSimulator, profile="legacy", auth="basic")
    async with amcrest(sim.secret_url()) as dev:
        await dev.info()
        assert dev.http.auth_scheme == "basic"
        before = sim.unauthorized
        await dev.snapshot(1)
    assert sim.unauthorized == before
    async with amcrest(url(sim, auth="basic")) as dev:  # sent preemptively: no 401 at all
        await dev.snapshot(1)
    assert sim.unauthorized == before


async def test_modern_firmware_refuses_basic(make_sim):
    sim = make_sim(AmcrestSimulator, profile="modern")
    async with amcrest(url(sim, auth="basic")) as dev:
        await dev.snapshot(1)  # the challenge asks for Digest: switched once
        assert dev.http.auth_scheme == "digest"


@pytest.mark.parametrize("firmware", ["legacy", "modern"])
async def test_a_stale_nonce_is_renewed(make_sim, firmware: str):
    sim = make_sim(AmcrestSimulator, profile=firmware, nonce_lifetime=0.3)
    async with amcrest(sim.secret_url()) as dev:
        await dev.snapshot(1)
        before = sim.unauthorized
        await asyncio.sleep(0.5)
        snap = await dev.snapshot(1)  # old nonce: 401 stale=TRUE, then the new nonce
    assert snap.size > 0 and sim.unauthorized == before + 1 and sim.failed_logins == 0


@pytest.mark.parametrize("firmware", ["legacy", "modern"])
async def test_wrong_password_is_tried_once_and_does_not_lock_the_account(make_sim, firmware: str):
    sim = make_sim(AmcrestSimulator, profile=firmware, lock_after=3)
    wrong = url(sim).replace(quote(PASSWORD, safe=""), "Zq9-not-it")
    async with amcrest(wrong) as dev:
        with pytest.raises(AuthenticationError) as first:
            await dev.info()
        before = sim.requests
        for _ in range(6):
            with pytest.raises(AuthenticationError, match="not retrying"):
                await dev.snapshot(1)
        assert sim.requests == before  # nothing more reached the device
    assert sim.failed_logins == 1 and not sim.locked
    assert "Zq9-not-it" not in str(first.value)


async def test_the_simulator_locks_after_repeated_failures(make_sim):
    sim = make_sim(AmcrestSimulator, profile="legacy", lock_after=2)
    wrong = url(sim).replace(quote(PASSWORD, safe=""), "nope")
    for _ in range(2):  # two separate clients, as two runs of the command would be
        async with amcrest(wrong) as dev:
            with pytest.raises(AuthenticationError):
                await dev.info()
    assert sim.locked
    async with amcrest(sim.secret_url()) as dev:
        with pytest.raises(AuthenticationError):
            await dev.info()  # even the right password, until the lock expires


# -- snapshots ------------------------------------------------------------------------------------


async def test_snapshot_is_a_checked_jpeg(profile: AmcrestSimulator):
    async with amcrest(profile.secret_url()) as dev:
        snap = await dev.snapshot(1)
    assert snap.data[2:11] == b"\xff\xfe\x00\x07DHAV\xfb"  # the encoder's comment, kept
    assert decode_check(snap.data) == (640, 360) == (snap.width, snap.height)
    assert snap.device_time.tzinfo is not None and snap.source == "live"


async def test_snapshots_one_at_a_time_even_when_asked_in_parallel(make_sim):
    sim = make_sim(AmcrestSimulator, profile="modern", snapshot_busy="drop", snapshot_delay=0.05)
    async with amcrest(url(sim, max_requests="8")) as dev:
        # The device drops a second snapshot request while it makes one: none may overlap.
        snaps = await asyncio.gather(*(dev.snapshot(1) for _ in range(6)))
    assert len(snaps) == 6 and all(s.width == 1280 for s in snaps)


async def test_snapshot_gets_a_longer_timeout(make_sim):
    sim = make_sim(AmcrestSimulator, profile="modern", snapshot_delay=0.8)
    async with amcrest(url(sim, timeout="0.5")) as dev:
        assert (await dev.snapshot(1)).size > 0  # 2 x timeout = 1 s
    async with amcrest(url(sim, timeout="0.5", snapshot_timeout="0.4")) as dev:
        with pytest.raises(DeviceTimeoutError):
            await dev.snapshot(1)


async def test_snapshot_of_a_channel_that_does_not_exist(profile: AmcrestSimulator):
    async with amcrest(profile.secret_url()) as dev:
        known = len(await dev.channels())
        with pytest.raises(UsageError, match=rf"channels: 1{'-4' if known == 4 else ''}\)"):
            await dev.snapshot(9)
        with pytest.raises(UnsupportedError, match="size"):
            await dev.snapshot(1, size=(320, 240))


async def test_unknown_requests_are_unsupported_on_both_profiles(profile: AmcrestSimulator):
    async with amcrest(profile.secret_url()) as dev:
        with pytest.raises(UnsupportedError, match="magicBox getFlux"):
            await dev._cgi("magicBox.cgi", [("action", "getFlux")])


# -- MJPEG ----------------------------------------------------------------------------------------


async def test_mjpeg_frames_from_the_sub_stream(profile: AmcrestSimulator):
    async with amcrest(profile.secret_url()) as dev:
        stream = dev.mjpeg(1)
        async with aclosing(stream):
            frames = [await anext(stream) for _ in range(3)]
    assert all(decode_check(f.data) == (640, 360) for f in frames)
    assert frames[0].data != frames[-1].data


async def test_mjpeg_throttled_to_the_asked_rate(make_sim):
    sim = make_sim(AmcrestSimulator, profile="modern", mjpeg_fps=20)
    async with amcrest(sim.secret_url()) as dev:
        stream = dev.mjpeg(1, fps=4)
        async with aclosing(stream):
            frames = [await anext(stream) for _ in range(3)]
    gaps = [(b.device_time - a.device_time).total_seconds() for a, b in pairwise(frames)]
    assert all(gap >= 0.2 for gap in gaps)


async def test_main_stream_mjpeg_is_refused_by_the_device(profile: AmcrestSimulator):
    async with amcrest(profile.secret_url()) as dev:
        with pytest.raises(DeviceRefusedError):
            await dev._cgi("mjpg/video.cgi", [("channel", "1"), ("subtype", "0")])


# -- events ---------------------------------------------------------------------------------------


async def take(dev: AmcrestDevice, count: int, notes: list[str] | None = None) -> list[DeviceEvent]:
    stream = dev.events(on_status=(notes.append if notes is not None else None))
    async with aclosing(stream):
        return [await asyncio.wait_for(anext(stream), 10) for _ in range(count)]


async def test_events_legacy_without_data(legacy: AmcrestSimulator):
    async with amcrest(legacy.secret_url()) as dev:
        events = await take(dev, 4)
    assert [(e.code, e.action) for e in events][:2] == [
        ("VideoMotion", EventAction.START),
        ("VideoMotion", EventAction.STOP),
    ]
    assert all(e.channel == 1 and e.data == {} for e in events)


async def test_events_modern_with_data_on_every_channel(modern: AmcrestSimulator):
    async with amcrest(modern.secret_url()) as dev:
        events = await take(dev, 16)
    assert {e.channel for e in events} == {1, 2, 3, 4}  # index 0..3, shown 1-based
    crossing = next(e for e in events if e.code == "CrossLineDetection")
    assert crossing.kind == "smart" and crossing.data["Object"]["ObjectType"] == "Human"
    motion = next(e for e in events if e.code == "VideoMotion")
    assert motion.data["RegionName"] == ["Region1"] and motion.time.tzinfo is not None


async def test_heartbeats_are_dropped(make_sim):
    sim = make_sim(AmcrestSimulator, profile="modern", event_interval=1.6)
    async with amcrest(url(sim, heartbeat="1")) as dev:
        events = await take(dev, 1)
    assert [e.code for e in events] == ["VideoMotion"]
    assert sim.heartbeats == 1  # sent before it, asked for with heartbeat=1


async def test_stray_http_header_block_in_the_stream_is_skipped(make_sim):
    sim = make_sim(AmcrestSimulator, profile="modern", stray_header=True, event_interval=0.05)
    async with amcrest(sim.secret_url()) as dev:
        events = await take(dev, 3)
    assert [e.code for e in events] == ["VideoMotion", "VideoMotionInfo", "CrossLineDetection"]


async def test_a_dying_stream_is_reopened_with_backoff_and_says_so(make_sim):
    sim = make_sim(AmcrestSimulator, profile="legacy", event_interval=0.05, event_cut_after=2)
    notes: list[str] = []
    async with amcrest(sim.secret_url()) as dev:
        events = await take(dev, 5, notes)
    assert len(events) == 5 and sim.event_connections == 3
    assert notes[0].startswith("event stream open")
    assert notes[1].startswith("event stream lost (") and notes[1].endswith("reconnecting in 1 s")
    assert notes[2] == "event stream back"


async def test_an_outage_is_waited_out(make_sim, sim_loop: SimLoop):
    sim = make_sim(AmcrestSimulator, profile="modern", event_interval=0.05)

    async def in_sim_loop(work: Coroutine[Any, Any, None]) -> None:
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, sim_loop.loop))

    notes: list[str] = []
    async with amcrest(sim.secret_url()) as dev:
        stream = dev.events(on_status=notes.append)
        async with aclosing(stream):
            await anext(stream)
            await in_sim_loop(sim.go_offline())
            pending = asyncio.ensure_future(anext(stream))
            await asyncio.sleep(1.5)  # a refused reconnection, then the second backoff
            assert not pending.done()
            await in_sim_loop(sim.come_back())
            event = await asyncio.wait_for(pending, 10)
    assert event.code
    assert any("reconnecting in 2 s" in n for n in notes) and notes[-1] == "event stream back"


async def test_no_stream_at_the_start_is_an_error_not_a_retry():
    async with amcrest("amcrest://admin:nobody-home@127.0.0.1:9?timeout=2") as dev:
        with pytest.raises(UnreachableError, match="cannot connect"):
            await take(dev, 1)


async def test_a_malformed_multipart_stream_is_a_clear_error(make_sim):
    from camfetch.sim.faults import Fault

    sim = make_sim(AmcrestSimulator, profile="modern")
    sim.faults.fault, sim.faults.only = Fault.GARBAGE, frozenset({"eventManager.attach"})
    async with amcrest(sim.secret_url()) as dev:
        with pytest.raises(MalformedResponseError, match="no multipart boundary"):
            await take(dev, 1)
