"""The Viewtron driver against both simulated personas, over loopback."""

from __future__ import annotations

import base64
import itertools
from datetime import timedelta
from urllib.parse import quote

import pytest

from camfetch import timeutil
from camfetch.errors import AuthenticationError, NothingFoundError, UnsupportedError, UsageError
from camfetch.media.jpeg import decode_check
from camfetch.models import Capability, DeviceKind, RecordingKind
from camfetch.registry import open_device
from camfetch.sim.viewtron import ViewtronSimulator
from tests.conftest import PASSWORD


async def test_version_detection_and_info(ipc: ViewtronSimulator, nvr: ViewtronSimulator):
    async with open_device(ipc.secret_url()) as dev:
        info = await dev.info()
        assert info.api_version == "1.7"  # from GetDeviceDetail: GetDeviceInfo has none on v1
        assert info.extra["api_generation"] == "v1.9" and info.kind is DeviceKind.CAMERA
        assert info.firmware == "5.1.4.0" and info.serial and info.serial.startswith("I")
        assert info.channel_count == 1 and info.name == "Front Door"
        assert info.time_zone == "America/New_York"
    async with open_device(nvr.secret_url()) as dev:
        info = await dev.info()
        assert info.api_version == "2.0.0" and info.extra["api_generation"] == "v2.0"
        assert info.kind is DeviceKind.NVR and info.channel_count == 4
        assert info.firmware and info.firmware.startswith("1.4.13")  # CDATA whitespace stripped
        assert [c.name for c in await dev.channels()][:2] == ["Warehouse CH1", "Warehouse CH2"]


async def test_v1_config_1_0_without_any_api_version(make_sim):
    sim = make_sim(api="1.9", kind="ipc", config_version="1.0")
    async with open_device(sim.secret_url()) as dev:
        info = await dev.info()
    assert info.api_version is None and info.extra["api_generation"] == "v1.9"


async def test_v1_nvr_channels_from_get_channel_list(make_sim):
    sim = make_sim(api="1.9", kind="nvr", channels=6, name="Old NVR")
    async with open_device(sim.secret_url()) as dev:
        channels = await dev.channels()
        assert [c.number for c in channels] == [1, 2, 3, 4, 5, 6]
        assert (await dev.info()).kind is DeviceKind.NVR
        snap = await dev.snapshot(6)
    assert snap.channel == 6 and snap.width == 1280


async def test_time_zone_from_the_device_when_not_given(
    nvr: ViewtronSimulator, ipc: ViewtronSimulator
):
    for sim, zone in ((nvr, "Europe/Berlin"), (ipc, "America/New_York")):
        url = sim.secret_url().split("?")[0]  # no tz= option: ask GetDateAndTime
        async with open_device(url) as dev:
            tz = await dev.timezone()
            info = await dev.info()
        for month in (1, 7):
            moment = timeutil.utcnow().replace(month=month, day=15)
            assert (
                moment.astimezone(tz).utcoffset()
                == moment.astimezone(timeutil.zone(zone)).utcoffset()
            )
        assert info.clock_skew_seconds is not None and abs(info.clock_skew_seconds) <= 1


async def test_clock_skew_is_reported(make_sim):
    sim = make_sim(api="2.0", kind="ipc", skew=-95.0)
    async with open_device(sim.secret_url()) as dev:
        info = await dev.info()
    assert info.clock_skew_seconds is not None and abs(info.clock_skew_seconds + 95) <= 1


async def test_capabilities_are_asked(persona: ViewtronSimulator):
    async with open_device(persona.secret_url()) as dev:
        caps = await dev.capabilities()
    assert caps == {
        Capability.SNAPSHOT,
        Capability.SNAPSHOT_AT,
        Capability.SEARCH,
        Capability.PLAYBACK,
    }


async def test_live_snapshot_is_a_real_jpeg_that_changes(persona: ViewtronSimulator):
    async with open_device(persona.secret_url()) as dev:
        first = await dev.snapshot(1)
        assert decode_check(first.data) == (1280, 720)
        assert first.content_type == "image/jpeg" and first.source == "live"
        assert first.device_time.tzinfo is not None
        persona.frames._cache.clear()
        import asyncio

        await asyncio.sleep(1.1)
        second = await dev.snapshot(1)
    assert first.data != second.data


async def test_snapshot_answered_as_base64_xml(make_sim):
    sim = make_sim(api="2.0", kind="nvr", snapshot_format="xml")
    async with open_device(sim.secret_url()) as dev:
        snap = await dev.snapshot(2)
    assert snap.original_format == "jpeg-base64" and decode_check(snap.data)


async def test_unknown_channel_names_the_real_ones(nvr: ViewtronSimulator, ipc: ViewtronSimulator):
    async with open_device(nvr.secret_url()) as dev:
        with pytest.raises(UsageError, match=r"channels: 1-4"):
            await dev.snapshot(9)
    async with open_device(ipc.secret_url()) as dev:
        with pytest.raises(UsageError, match=r"channels: 1\)"):
            await dev.snapshot(2)


@pytest.mark.parametrize("fmt", ["jpeg", "h264", "hevc"])
async def test_v1_snapshot_by_time_raw_jpeg_or_key_frame(make_sim, fmt: str):
    sim = make_sim(api="1.9", kind="ipc", snapshot_by_time=fmt)
    async with open_device(sim.secret_url()) as dev:
        segments = [
            s
            async for s in dev.search(1, timeutil.utcnow() - timedelta(hours=3), timeutil.utcnow())
        ]
        moment = segments[len(segments) // 2].start + timedelta(seconds=2)
        snap = await dev.snapshot_at(1, moment)
    assert snap.original_format == fmt and snap.source == "archive"
    assert decode_check(snap.data) == (1280, 720)
    assert snap.requested_time == moment


async def test_v2_snapshot_by_time_base64(nvr: ViewtronSimulator):
    async with open_device(nvr.secret_url()) as dev:
        segments = [
            s
            async for s in dev.search(3, timeutil.utcnow() - timedelta(hours=2), timeutil.utcnow())
        ]
        snap = await dev.snapshot_at(3, segments[0].start + timedelta(seconds=1))
    assert snap.original_format == "jpeg-base64" and decode_check(snap.data)


async def test_snapshot_by_time_in_a_gap_is_nothing_found(persona: ViewtronSimulator):
    async with open_device(persona.secret_url()) as dev:
        too_old = timeutil.utcnow() - timedelta(days=30)
        with pytest.raises(NothingFoundError, match="no recorded frame"):
            await dev.snapshot_at(1, too_old)


async def test_record_types_per_generation(ipc: ViewtronSimulator, nvr: ViewtronSimulator):
    async with open_device(ipc.secret_url()) as dev:
        assert (
            "intel detection" in await dev.recording_kinds()
            and "nic broken" in await dev.recording_kinds()
        )
    async with open_device(nvr.secret_url()) as dev:
        kinds = await dev.recording_kinds()
        assert "intelligentDetection" in kinds and "networkBroken" not in kinds


async def test_search_pages_past_the_1000_item_limit(persona: ViewtronSimulator):
    end = timeutil.utcnow().replace(microsecond=0)  # devices count whole seconds
    start = end - timedelta(days=3)
    async with open_device(persona.secret_url()) as dev:
        segments = [s async for s in dev.search(1, start, end)]
    truth = persona.archive.segments(1, start.replace(microsecond=0), end)
    assert len(segments) > 1000  # more than one answer's worth
    assert len(segments) == len(truth)
    assert all(a.end <= b.start for a, b in itertools.pairwise(segments))
    assert {(s.start, s.kind) for s in segments} == {(t.start, t.kind) for t in truth}


async def test_search_with_a_small_page_limit_and_type_filter(make_sim):
    sim = make_sim(api="2.0", kind="ipc", search_limit=7)
    end = timeutil.utcnow().replace(microsecond=0)
    start = end - timedelta(hours=6)
    async with open_device(sim.secret_url()) as dev:
        motion = [s async for s in dev.search(1, start, end, kinds=["motion"])]
        smart = [s async for s in dev.search(1, start, end, kinds=["intelligentDetection"])]
    truth = sim.archive.segments(1, start.replace(microsecond=0), end, [RecordingKind.MOTION])
    assert len(motion) == len(truth) > 7
    assert {s.kind for s in motion} == {RecordingKind.MOTION}
    assert all(s.kind is RecordingKind.SMART for s in smart)


async def test_search_of_an_empty_window_is_empty(persona: ViewtronSimulator):
    end = timeutil.utcnow() - timedelta(days=20)
    async with open_device(persona.secret_url()) as dev:
        assert [s async for s in dev.search(1, end - timedelta(hours=1), end)] == []


async def test_search_rejects_a_type_the_device_does_not_offer(nvr: ViewtronSimulator):
    now = timeutil.utcnow()
    async with open_device(nvr.secret_url()) as dev:
        with pytest.raises(UsageError, match="not offered"):
            [s async for s in dev.search(1, now - timedelta(hours=1), now, kinds=["thermal"])]


async def test_digest_auth_on_v2(nvr: ViewtronSimulator):
    async with open_device(nvr.secret_url() + "&auth=digest") as dev:
        await dev.info()
        assert dev.http.auth_scheme == "digest"  # type: ignore[attr-defined]


async def test_basic_only_device_with_auto_auth(ipc: ViewtronSimulator):
    async with open_device(ipc.secret_url() + "&auth=auto") as dev:
        await dev.info()
        assert dev.http.auth_scheme == "basic"  # type: ignore[attr-defined]


async def test_wrong_password_fails_once_and_is_not_retried(make_sim):
    sim = make_sim(api="2.0", kind="ipc")
    url = sim.secret_url().replace(quote(PASSWORD, safe=""), "Zq9-not-it")
    assert "Zq9-not-it" in url
    async with open_device(url) as dev:
        with pytest.raises(AuthenticationError) as first:
            await dev.info()
        before = sim.requests
        for _ in range(5):
            with pytest.raises(AuthenticationError):
                await dev.snapshot(1)
        assert sim.requests == before  # no more attempts hit the device
    assert "Zq9-not-it" not in str(first.value)


async def test_device_without_sd_card_offers_no_recordings():
    from camfetch.address import DeviceAddress
    from camfetch.drivers.viewtron import ViewtronDevice, _Profile

    dev = ViewtronDevice(DeviceAddress.parse("viewtron://admin:x@127.0.0.1:9"))
    dev._profile = _Profile(
        2, "2.0.0", "2.0.0", DeviceKind.CAMERA, 1, {"supportSDCard": "false"}, None
    )
    assert await dev.capabilities() == {Capability.SNAPSHOT}
    with pytest.raises(UnsupportedError):
        await super(ViewtronDevice, dev).snapshot_at(1, timeutil.utcnow())
    await dev.close()


def test_base64_helper_round_trip():
    assert base64.b64decode(base64.b64encode(b"\xff\xd8\xff")) == b"\xff\xd8\xff"
