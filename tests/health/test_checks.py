"""Every health reason, produced by its simulator knob over loopback."""

from __future__ import annotations

import asyncio
from datetime import tzinfo
from typing import ClassVar

import pytest

from camfetch.address import DeviceAddress
from camfetch.device import Device
from camfetch.errors import (
    AuthenticationError,
    CorruptImageError,
    DeviceRefusedError,
    DeviceTimeoutError,
    MalformedResponseError,
    NothingFoundError,
    ResponseTooLargeError,
    UnreachableError,
    UnsupportedError,
    UsageError,
)
from camfetch.jobs.health import (
    PRECEDENCE,
    STATUS_OF,
    HealthMemory,
    Observation,
    Reason,
    Status,
    analyse_picture,
    check_channel,
    parse_size,
    reason_of,
    same_picture,
    sample_device,
)
from camfetch.models import Capability, Channel, DeviceInfo, DeviceKind
from camfetch.registry import open_device
from camfetch.service.config import Thresholds
from camfetch.sim.faults import Fault
from camfetch.sim.viewtron import ViewtronSimulator
from tests.conftest import PASSWORD, SimLoop
from tests.health.conftest import SIZE

#: Checks here follow each other within a second, when the simulated picture has not
#: changed yet; only the frozen tests wait between checks and use a real limit.
NO_FROZEN = Thresholds(frozen_checks=1000)


async def check(
    url: str,
    channel: int = 1,
    *,
    memory: HealthMemory | None = None,
    thresholds: Thresholds = NO_FROZEN,
    expected_size: tuple[int, int] | None = None,
) -> Observation:
    async with open_device(url) as device:
        return await check_channel(
            device, channel, thresholds=thresholds, memory=memory, expected_size=expected_size
        )


# -- the vocabulary -------------------------------------------------------------------------------


def test_every_reason_has_a_status_and_a_place_in_the_order():
    assert set(STATUS_OF) == set(Reason)
    assert set(PRECEDENCE) == set(Reason) - {Reason.OK}
    offline = {r for r, s in STATUS_OF.items() if s is Status.OFFLINE}
    assert offline == {
        Reason.UNREACHABLE,
        Reason.TIMEOUT,
        Reason.AUTH,
        Reason.REFUSED,
        Reason.ERROR,
    }
    assert STATUS_OF[Reason.OK] is Status.OK


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (AuthenticationError("no"), Reason.AUTH),
        (DeviceTimeoutError("slow"), Reason.TIMEOUT),
        (UnreachableError("gone"), Reason.UNREACHABLE),
        (CorruptImageError("cut"), Reason.CORRUPT),
        (ResponseTooLargeError("big"), Reason.CORRUPT),
        (MalformedResponseError("html"), Reason.CORRUPT),
        (DeviceRefusedError("no", code="12"), Reason.REFUSED),
        (UnsupportedError("none"), Reason.UNSUPPORTED),
        (NothingFoundError("empty"), Reason.ERROR),
        (UsageError("channel 9 does not exist"), Reason.ERROR),
    ],
)
def test_typed_errors_map_to_reasons(error, reason):
    assert reason_of(error) is reason


def test_parse_size():
    assert parse_size("1920x1080") == (1920, 1080)
    assert parse_size(None) is None
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        parse_size("1920*1080")


# -- pictures -------------------------------------------------------------------------------------


def test_fingerprints_ignore_re_encoding_but_see_a_live_scene(yard: ViewtronSimulator):
    import io
    from datetime import timedelta

    from PIL import Image

    now = yard.clock.now()
    first = yard.frames.jpeg(1, now)
    image = Image.open(io.BytesIO(first))
    reencoded = io.BytesIO()
    image.save(reencoded, "JPEG", quality=40)
    a = analyse_picture(first)
    b = analyse_picture(reencoded.getvalue())
    later = analyse_picture(yard.frames.jpeg(1, now + timedelta(seconds=1)))
    assert first != reencoded.getvalue() and same_picture(a.fingerprint, b.fingerprint)
    assert not same_picture(a.fingerprint, later.fingerprint)
    assert (a.width, a.height) == SIZE and abs(a.luma - b.luma) < 2
    with pytest.raises(CorruptImageError):
        analyse_picture(first[: len(first) // 2])


# -- each reason from its knob --------------------------------------------------------------------


async def test_a_healthy_channel_is_ok_with_its_numbers(yard: ViewtronSimulator):
    obs = await check(yard.secret_url(), 2)
    assert obs.status is Status.OK and obs.reason is Reason.OK and obs.reasons == ()
    assert obs.channel == 2 and obs.checked.tzinfo is not None
    assert (obs.width, obs.height) == SIZE
    assert obs.luma is not None and 40 < obs.luma < 200
    assert obs.latency is not None and 0 < obs.latency < 2
    assert obs.skew is not None and abs(obs.skew) <= 1
    assert "640x360" in obs.detail and PASSWORD not in obs.device + obs.detail


async def test_black_picture(yard: ViewtronSimulator):
    yard.set_picture("black", 1)
    memory = HealthMemory()
    async with open_device(yard.secret_url()) as device:
        black = await check_channel(device, 1, thresholds=NO_FROZEN, memory=memory)
        other = await check_channel(device, 2, thresholds=NO_FROZEN, memory=memory)
        yard.set_picture("normal", 1)
        back = await check_channel(device, 1, thresholds=NO_FROZEN, memory=memory)
    assert black.reason is Reason.BLACK and black.status is Status.DEGRADED
    assert black.luma is not None and black.luma < 16 and "luminance" in black.detail
    assert other.ok, other.detail  # the mode was set on channel 1 only
    assert back.ok and back.luma is not None and back.luma > 40


async def test_frozen_picture_while_a_live_one_keeps_changing(yard: ViewtronSimulator):
    yard.set_picture("frozen", 1)
    thresholds = Thresholds(frozen_checks=3)
    memory = HealthMemory()
    seen: dict[int, list[Observation]] = {1: [], 2: []}
    async with open_device(yard.secret_url()) as device:
        for number in range(3):
            if number:
                await asyncio.sleep(1.05)  # the simulated picture changes every second
            for channel in (1, 2):
                obs = await check_channel(device, channel, thresholds=thresholds, memory=memory)
                seen[channel].append(obs)
    assert [o.reason for o in seen[1]] == [Reason.OK, Reason.OK, Reason.FROZEN]
    assert "3 checks in a row" in seen[1][2].detail
    assert [o.reason for o in seen[2]] == [Reason.OK] * 3  # moving object, blinking light


async def test_offline_then_back_with_hysteresis(yard: ViewtronSimulator, sim_loop: SimLoop):
    from camfetch.jobs.health import HealthTracker

    tracker = HealthTracker(hysteresis=2)
    memory = HealthMemory()
    steps = []
    async with open_device(yard.secret_url()) as device:

        async def step() -> None:
            obs = await check_channel(device, 1, thresholds=NO_FROZEN, memory=memory)
            record = tracker.update(("Yard", 1), obs, channel_id=7)
            assert record.channel_id == 7 and record.checked == obs.checked
            steps.append((obs.reason, record.observed, record.status))

        await step()
        sim_loop.call(yard.go_offline())
        await step()
        await step()
        sim_loop.call(yard.come_back())
        await step()
        await step()
    assert steps == [
        (Reason.OK, "ok", "ok"),  # the first observation sets the status
        (Reason.UNREACHABLE, "offline", "ok"),  # one is not enough
        (Reason.UNREACHABLE, "offline", "offline"),
        (Reason.OK, "ok", "offline"),
        (Reason.OK, "ok", "ok"),
    ]


async def test_slow_answers(yard: ViewtronSimulator, sim_loop: SimLoop):
    sim_loop.call(yard.set_condition(latency=0.3))
    obs = await check(yard.secret_url(), thresholds=Thresholds(latency=0.2, frozen_checks=1000))
    assert obs.reason is Reason.SLOW and obs.status is Status.DEGRADED
    assert obs.latency is not None and obs.latency >= 0.3 and "limit 0.2 s" in obs.detail


async def test_a_hanging_device_times_out_and_its_other_channels_are_not_asked(
    yard: ViewtronSimulator,
):
    yard.faults.fault = Fault.HANG
    yard.faults.only = frozenset({"GetSnapshot"})
    async with open_device(yard.secret_url() + "&timeout=0.5") as device:
        found = await sample_device(device, [1, 2], samples=2, thresholds=NO_FROZEN)
    assert [(o.channel, o.reason) for o in found] == [(1, Reason.TIMEOUT), (2, Reason.TIMEOUT)]
    assert yard.faults.hits == 1 and "not asked" in found[1].detail


async def test_clock_skew(yard: ViewtronSimulator, sim_loop: SimLoop):
    sim_loop.call(yard.set_condition(skew=120))
    obs = await check(yard.secret_url())
    assert obs.reason is Reason.CLOCK_SKEW and obs.status is Status.DEGRADED
    assert obs.skew is not None and abs(obs.skew - 120) <= 2 and "+120 s" in obs.detail


async def test_resolution_other_than_expected(yard: ViewtronSimulator):
    obs = await check(yard.secret_url(), expected_size=(1920, 1080))
    assert obs.reason is Reason.RESOLUTION and (obs.width, obs.height) == SIZE
    assert "expected 1920x1080" in obs.detail
    assert (await check(yard.secret_url(), expected_size=SIZE)).ok


async def test_resolution_other_than_first_seen(yard: ViewtronSimulator):
    memory = HealthMemory()
    first = await check(yard.secret_url(), memory=memory)
    yard.frames.width, yard.frames.height = 320, 180  # reconfigured behind our back
    second = await check(yard.secret_url(), memory=memory)
    assert first.ok and second.reason is Reason.RESOLUTION and "was 640x360" in second.detail


async def test_wrong_password(yard: ViewtronSimulator):
    obs = await check(f"viewtron://admin:wrong@127.0.0.1:{yard.port}?tz=Europe/Berlin")
    assert obs.reason is Reason.AUTH and obs.status is Status.OFFLINE
    assert obs.latency is None and obs.width is None


async def test_truncated_jpeg_is_corrupt(yard: ViewtronSimulator):
    yard.faults.fault = Fault.TRUNCATED_JPEG
    yard.faults.only = frozenset({"GetSnapshot"})
    obs = await check(yard.secret_url())
    assert obs.reason is Reason.CORRUPT and obs.status is Status.DEGRADED
    assert yard.faults.hits == 1


async def test_an_error_answer_is_refused(yard: ViewtronSimulator):
    yard.faults.fault = Fault.HTTP500
    yard.faults.only = frozenset({"GetSnapshot"})
    obs = await check(yard.secret_url())
    assert obs.reason is Reason.REFUSED and obs.status is Status.OFFLINE


async def test_several_problems_are_all_listed_most_important_first(
    yard: ViewtronSimulator, sim_loop: SimLoop
):
    sim_loop.call(yard.set_condition(picture="black", skew=-300))
    obs = await check(yard.secret_url(), expected_size=(1920, 1080))
    assert obs.reasons == (Reason.BLACK, Reason.RESOLUTION, Reason.CLOCK_SKEW)
    assert obs.reason is Reason.BLACK and obs.detail.count(";") == 2


# -- devices without snapshots, and the clock cache -----------------------------------------------


class ClockOnly(Device):
    """A device that answers info() (counted) but offers no live snapshot."""

    schemes: ClassVar[tuple[str, ...]] = ("clockonly",)
    vendor: ClassVar[str] = "ClockOnly"

    def __init__(self, skew: float, snapshots: bool = False) -> None:
        super().__init__(DeviceAddress.parse("clockonly://admin@192.0.2.1"))
        self.skew = skew
        self.snapshots = snapshots
        self.info_calls = 0

    async def capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.SNAPSHOT} if self.snapshots else set())

    async def info(self) -> DeviceInfo:
        self.info_calls += 1
        return DeviceInfo("ClockOnly", "C1", "C", DeviceKind.NVR, 2, clock_skew_seconds=self.skew)

    async def channels(self) -> list[Channel]:
        return [Channel(1, "a"), Channel(2, "b")]

    async def timezone(self) -> tzinfo:
        from datetime import UTC

        return UTC


async def test_a_device_without_snapshots_is_checked_for_its_clock_only():
    async with ClockOnly(skew=90) as device:
        obs = await check_channel(device, 1)
    assert obs.reasons == (Reason.UNSUPPORTED, Reason.CLOCK_SKEW)
    assert obs.status is Status.DEGRADED and obs.skew == 90 and obs.latency is None


async def test_the_clock_is_read_once_per_device_within_its_max_age(yard: ViewtronSimulator):
    from camfetch.models import Snapshot

    picture = yard.frames.jpeg(1, yard.clock.now())

    class Counting(ClockOnly):
        async def snapshot(self, channel: int = 1, *, size: tuple[int, int] | None = None):
            return Snapshot(channel, picture, "image/jpeg", yard.clock.now())

    async with Counting(skew=0, snapshots=True) as device:
        memory = HealthMemory()
        for channel in (1, 2, 1):
            assert (await check_channel(device, channel, memory=memory, thresholds=NO_FROZEN)).ok
        assert device.info_calls == 1
        fresh = HealthMemory(clock_max_age=0)
        await check_channel(device, 1, memory=fresh, thresholds=NO_FROZEN)
        await check_channel(device, 1, memory=fresh, thresholds=NO_FROZEN)
        assert device.info_calls == 3
