"""The 2N driver against simulated intercoms over loopback, HTTP and HTTPS."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from camfetch import timeutil
from camfetch.drivers.two_n import ApiRefusedError, TwoNDevice
from camfetch.errors import (
    AuthenticationError,
    NothingFoundError,
    UnreachableError,
    UnsupportedError,
    UsageError,
)
from camfetch.media.jpeg import decode_check
from camfetch.models import Capability, DeviceKind
from camfetch.registry import open_device
from camfetch.sim.two_n import DOCUMENTED_SIZES, ApiUser, ServiceSecurity, TwoNSimulator
from tests.conftest import PASSWORD
from tests.two_n.conftest import VIEWER, as_user, wrong_password

ALL = {
    Capability.SNAPSHOT,
    Capability.SNAPSHOT_SIZE,
    Capability.SNAPSHOT_AT,
    Capability.MJPEG,
    Capability.EVENTS,
}


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
async def test_info_channels_and_capabilities(intercom: TwoNSimulator, https: bool):
    async with open_device(intercom.secret_url(https=https)) as dev:
        assert isinstance(dev, TwoNDevice)
        info = await dev.info()
        channels = await dev.channels()
        caps = await dev.capabilities()
    assert info.vendor == "2N" and info.kind is DeviceKind.INTERCOM
    assert (info.model, info.name) == ("2N IP Verso", "Front Gate")
    assert info.serial == intercom.serial and info.firmware == "2.35.0.45.0"
    assert info.mac and info.mac.startswith("FC-1E-B3") and info.hardware == "570v1"
    assert info.api_version is None and info.extra["build_type"] == "release"
    assert info.extra["jpeg_sizes"].endswith("1280x960 1920x1080")
    assert info.time_zone == "Europe/Prague"  # from /api/system/timezone ("Europe/Prague")
    assert info.clock_skew_seconds is not None and abs(info.clock_skew_seconds) <= 1
    assert [(c.number, c.name) for c in channels] == [(1, "internal"), (2, "external")]
    assert info.channel_count == 2 and caps == ALL


async def test_older_firmware_answers_fewer_fields_and_no_clock(make_2n):
    sim = make_2n(firmware="2.10.0.19.2", variant="2N IP Vario", clock_api=False)
    async with open_device(sim.secret_url()) as dev:
        info = await dev.info()
    assert info.firmware == "2.10.0.19.2" and info.model == "2N IP Vario"
    assert info.mac is None and "build_type" not in info.extra  # empty buildType before 2.33
    assert info.time_zone == "host local time (the device did not say)"
    assert info.clock_skew_seconds is None


async def test_clock_skew_and_custom_zone(make_2n):
    sim = make_2n(tz="+05:30", skew=-95.0)
    async with open_device(sim.secret_url()) as dev:
        info = await dev.info()
        tz = await dev.timezone()
    assert info.time_zone == "+05:30" and info.clock_skew_seconds is not None
    assert abs(info.clock_skew_seconds + 95) <= 1
    assert timeutil.utcnow().astimezone(tz).utcoffset() == timedelta(hours=5, minutes=30)


async def test_the_tz_option_wins_without_asking(intercom: TwoNSimulator):
    async with open_device(intercom.secret_url() + "?tz=UTC") as dev:
        before = intercom.requests
        assert timeutil.zone_name(await dev.timezone()) == "UTC"
        assert intercom.requests == before


async def test_live_snapshot_sizes(intercom: TwoNSimulator):
    async with open_device(intercom.secret_url()) as dev:
        largest = await dev.snapshot(1)
        asked = await dev.snapshot(1, size=(640, 480))
        closest = await dev.snapshot(2, size=(1000, 700))
    assert decode_check(largest.data) == (1920, 1080)  # none asked: the largest listed
    assert (asked.width, asked.height) == (640, 480) and decode_check(asked.data) == (640, 480)
    assert (closest.channel, closest.width, closest.height) == (2, 1280, 720)
    assert largest.source == "live" and largest.device_time.tzinfo is not None
    assert largest.original_format == "jpeg"


async def test_the_size_option_sets_the_default_size(intercom: TwoNSimulator):
    async with open_device(intercom.secret_url() + "?size=300x200") as dev:
        snap = await dev.snapshot(1)
    assert (snap.width, snap.height) == (320, 240)


async def test_channels_by_name_and_unknown_channels(make_2n):
    sim = make_2n(external_camera=False)
    async with open_device(sim.secret_url()) as dev:
        assert await dev.channel_number("INTERNAL") == 1
        assert [c.name for c in await dev.channels()] == ["internal"]
        with pytest.raises(UsageError, match=r"channels: 1\)"):
            await dev.snapshot(2)
        with pytest.raises(UsageError, match="no channel named 'external'"):
            await dev.channel_number("external")


async def test_the_device_never_gets_a_size_caps_does_not_list(make_2n):
    sim = make_2n(resolutions=DOCUMENTED_SIZES)
    asked: list[str] = []
    async with open_device(sim.secret_url()) as dev:
        for size in [(1920, 1080), (100, 100), (350, 270), (641, 481), None]:
            snap = await dev.snapshot(1, size=size)
            asked.append(f"{snap.width}x{snap.height}")
        past = await dev.snapshot_at(1, timeutil.utcnow() - timedelta(seconds=3))
    assert asked == ["640x480", "160x120", "352x272", "640x480", "640x480"]
    assert (past.width, past.height) == (640, 480)
    assert sim.faults.hits == 0  # nothing was refused on the way


async def test_snapshot_at_is_the_frame_of_that_moment(intercom: TwoNSimulator):
    async with open_device(intercom.secret_url()) as dev:
        await dev.info()  # reads the clock
        when = timeutil.utcnow() - timedelta(seconds=8)
        past = await dev.snapshot_at(2, when)
        live = await dev.snapshot(2, size=(1280, 960))
    assert past.source == "archive" and past.requested_time == when
    assert (past.width, past.height) == (1280, 960)  # the largest a time request gives
    assert abs((past.device_time - when).total_seconds()) <= 1.5
    assert past.data != live.data
    # The very picture the simulated camera showed then (pictures are rendered from moments).
    moments = [past.device_time.replace(microsecond=0) + timedelta(seconds=d) for d in (-1, 0, 1)]
    renders = [intercom.frames.jpeg(2, m, size=(1280, 960)) for m in moments]
    assert past.data in renders


async def test_snapshot_at_more_than_30_seconds_ago_is_not_asked(intercom: TwoNSimulator):
    async with open_device(intercom.secret_url()) as dev:
        await dev.info()
        before = intercom.requests
        with pytest.raises(NothingFoundError, match="keeps only the last 30 s") as info:
            await dev.snapshot_at(1, timeutil.utcnow() - timedelta(seconds=45))
        assert intercom.requests == before
        with pytest.raises(UsageError, match="ahead of the device clock"):
            await dev.snapshot_at(1, timeutil.utcnow() + timedelta(minutes=1))
    assert info.value.exit_code == 5


async def test_a_device_with_a_shorter_memory_refuses_the_time(make_2n):
    sim = make_2n(memory_seconds=10)
    async with open_device(sim.secret_url()) as dev:
        await dev.snapshot_at(1, timeutil.utcnow() - timedelta(seconds=5))
        with pytest.raises(NothingFoundError, match="parameter 'time'"):
            await dev.snapshot_at(1, timeutil.utcnow() - timedelta(seconds=20))


async def test_stale_caps_are_read_again_once(make_2n, on_sim):
    sim = make_2n()
    async with open_device(sim.secret_url()) as dev:
        assert (await dev.snapshot(1)).width == 1920
        on_sim(lambda: setattr(sim, "resolutions", list(DOCUMENTED_SIZES)))
        snap = await dev.snapshot(1)  # 1920x1080 refused (12, width): caps reread, retried
    assert (snap.width, snap.height) == (640, 480)


async def test_caps_that_list_a_size_the_camera_refuses(make_2n):
    sim = make_2n(resolutions=DOCUMENTED_SIZES, listed_resolutions=[*DOCUMENTED_SIZES, (800, 600)])
    async with open_device(sim.secret_url()) as dev:
        with pytest.raises(ApiRefusedError, match="parameter 'width'") as info:
            await dev.snapshot(1, size=(800, 600))
    assert info.value.exit_code == 4 and info.value.param == "width"


async def test_missing_size_is_a_typed_error_naming_it(intercom: TwoNSimulator):
    async with open_device(intercom.secret_url()) as dev:
        with pytest.raises(ApiRefusedError, match="missing mandatory parameter") as info:
            await dev._call("camera/snapshot", {"height": "480"})  # what the driver never sends
    assert info.value.param == "width" and info.value.code == "11"


async def test_mjpeg_push_stream(intercom: TwoNSimulator):
    frames = []
    async with open_device(intercom.secret_url() + "?size=640x480") as dev:
        async for snap in dev.mjpeg(2, fps=8):
            frames.append(snap)
            if len(frames) == 6:
                break
    assert intercom.push_rates[-1] == 8
    assert all(decode_check(f.data) == (640, 480) and f.channel == 2 for f in frames)
    assert frames[-1].device_time >= frames[0].device_time


@pytest.mark.parametrize("part_length", [True, False], ids=["content-length", "no-length"])
async def test_mjpeg_boundary_and_framing_from_the_answer(make_2n, part_length: bool):
    sim = make_2n(boundary="--myboundary-4f1c", part_length=part_length, resolutions=[(320, 240)])
    async with open_device(sim.secret_url()) as dev:
        got = []
        async for snap in dev.mjpeg(1, fps=20):  # above 15: asked at 15
            got.append(decode_check(snap.data))
            if len(got) == 4:
                break
    assert got == [(320, 240)] * 4 and sim.push_rates == [15]


async def test_mjpeg_stream_ends_on_the_device_when_we_stop(intercom: TwoNSimulator):
    async with open_device(intercom.secret_url()) as dev:
        stream = dev.mjpeg(1, fps=2.5)
        await anext(stream)
        assert intercom.pushes >= 1 and intercom.push_rates[-1] == 3
        await stream.aclose()

    async def gone() -> None:
        while intercom.pushes:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(gone(), 5)


async def test_user_without_camera_privilege(intercom: TwoNSimulator):
    async with open_device(as_user(intercom.secret_url(), VIEWER)) as dev:
        info = await dev.info()  # system/info needs no privilege
        channels = await dev.channels()
        assert await dev.capabilities() == ALL  # the picture calls say why they fail
        with pytest.raises(ApiRefusedError, match="'viewer' lacks the Camera Monitoring") as err:
            await dev.snapshot(1)
    assert info.name == "Front Gate" and err.value.code == "10" and err.value.exit_code == 4
    assert {c.status for c in channels} == {"unknown: no Camera Monitoring privilege"}


async def test_wrong_password_fails_once_and_is_not_retried(intercom: TwoNSimulator):
    url = wrong_password(intercom.secret_url())
    async with open_device(url) as dev:
        with pytest.raises(AuthenticationError, match="wrong user name or password") as first:
            await dev.info()
        before = intercom.requests
        for _ in range(3):
            with pytest.raises(AuthenticationError):
                await dev.snapshot(1)
        assert intercom.requests == before
    assert "Zq9-not-it" not in str(first.value) and first.value.exit_code == 3


@pytest.mark.parametrize(
    ("auth", "option", "scheme"),
    [
        ("digest", "", "digest"),
        ("basic", "", "basic"),
        ("basic", "?auth=basic", "basic"),
        ("digest", "?auth=basic", "digest"),  # Basic refused (8) with a Digest challenge: switch
        ("none", "", None),
    ],
)
async def test_authentication_modes(make_2n, auth: str, option: str, scheme: str | None):
    sim = make_2n(auth=auth)
    async with open_device(sim.secret_url() + option) as dev:
        snap = await dev.snapshot(1, size=(160, 120))
        assert dev.http.auth_scheme == scheme  # type: ignore[attr-defined]
    assert snap.width == 160


async def test_per_service_security(make_2n):
    sim = make_2n(services={"camera": ServiceSecurity("https", "basic")})
    async with open_device(sim.secret_url(https=False)) as dev:
        assert (await dev.info()).name  # system over HTTP with Digest
        channels = await dev.channels()
        with pytest.raises(ApiRefusedError, match="add https=1") as info:
            await dev.snapshot(1)
    assert info.value.code == "7"
    assert channels[0].status == "unknown: camera/caps refused (invalid connection type, error 7)"
    async with open_device(sim.secret_url(https=True)) as dev:
        assert (await dev.snapshot(1)).width == 1920


async def test_https_only_device(secure: TwoNSimulator):
    assert "https=1&verify=0" in secure.secret_url()
    async with open_device(secure.secret_url()) as dev:
        info = await dev.info()
        snap = await dev.snapshot(1, size=(640, 480))
    assert info.model == "2N IP Force" and info.time_zone == "America/Chicago"
    assert decode_check(snap.data) == (640, 480)
    async with open_device(secure.secret_url(https=False)) as dev:
        with pytest.raises(ApiRefusedError, match=r"invalid connection type \(error 7\)"):
            await dev.info()


async def test_certificates_are_verified_unless_turned_off(secure: TwoNSimulator):
    url = secure.secret_url().replace("&verify=0", "")
    async with open_device(url) as dev:
        with pytest.raises(UnreachableError, match="add verify=0") as info:
            await dev.info()
    assert info.value.exit_code == 6


async def test_a_model_without_camera(make_2n, on_sim):
    sim = make_2n()
    on_sim(lambda: sim._endpoints.pop("/api/camera/caps"))
    async with open_device(sim.secret_url()) as dev:
        caps = await dev.capabilities()
        assert caps == {Capability.EVENTS} and await dev.channels() == []
        with pytest.raises(UnsupportedError, match="no JPEG resolution"):
            await dev.snapshot(1)


async def test_options_are_checked():
    with pytest.raises(UsageError, match="unknown option chid_base"):
        open_device("2n://admin:x@127.0.0.1:9?chid_base=0")
    with pytest.raises(UsageError, match="size="):
        open_device("2n://admin:x@127.0.0.1:9?size=big")


def test_credentials_never_appear_in_device_labels(intercom: TwoNSimulator):
    dev = open_device(intercom.secret_url())
    assert PASSWORD not in dev.label and "admin" in dev.label


def test_accounts_are_limited_to_five():
    with pytest.raises(ValueError, match="1 to 5"):
        TwoNSimulator(users=[ApiUser(f"u{n}", "p") for n in range(6)])


async def test_https_goes_offline_and_comes_back_with_the_device(make_2n, sim_loop):
    sim = make_2n(https_only=True)
    port = sim.https_port
    sim_loop.call(sim.go_offline())
    async with open_device(sim.secret_url() + "&timeout=2") as dev:
        with pytest.raises(UnreachableError, match="cannot connect"):
            await dev.info()
    sim_loop.call(sim.come_back())
    async with open_device(sim.secret_url()) as dev:
        assert (await dev.info()).model == "2N IP Verso"
    assert sim.https_port == port
