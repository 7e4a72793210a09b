"""Recording search through file finders: paging, filters, answer variants, channel bases,
and no finder leaks (1,000 searches, cancelled and failing ones included)."""

from __future__ import annotations

import asyncio
import random
from contextlib import aclosing
from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from camfetch import timeutil
from camfetch.drivers.amcrest import AmcrestDevice
from camfetch.errors import CamfetchError, MalformedResponseError, UsageError
from camfetch.models import RecordingKind, RecordingSegment
from camfetch.registry import open_device
from camfetch.sim.amcrest import AmcrestSimulator
from camfetch.sim.faults import Fault


async def search(
    address: str,
    channel: int,
    start: datetime,
    end: datetime,
    kinds: list[str] | None = None,
) -> list[RecordingSegment]:
    async with open_device(address) as dev:
        return [s async for s in dev.search(channel, start, end, kinds)]


def truth(
    sim: AmcrestSimulator,
    channel: int,
    start: datetime,
    end: datetime,
    kinds: set[RecordingKind] | None = None,
) -> set[tuple[datetime, RecordingKind]]:
    found = sim.archive.segments(channel, start, end, kinds)
    return {(rec.start, rec.kind) for rec in found}


async def test_search_pages_past_100_files_and_matches_the_archive(profile: AmcrestSimulator):
    end = timeutil.utcnow().replace(microsecond=0)  # devices count whole seconds
    start = end - timedelta(hours=14)
    before = profile.requests
    segments = await search(profile.secret_url(), 1, start, end)
    assert len(segments) > 250  # several findNextFile pages
    assert {(s.start, s.kind) for s in segments} == truth(profile, 1, start, end)
    assert all(a.end <= b.start for a, b in pairwise(segments))
    assert segments[0].start >= start and segments[-1].end <= end  # clipped to the window
    assert profile.requests - before >= 4 + len(segments) // 100
    assert profile.open_finders == 0


async def test_search_other_channel_of_the_nvr(modern: AmcrestSimulator):
    end = timeutil.utcnow().replace(microsecond=0) - timedelta(hours=1)
    start = end - timedelta(hours=2)
    segments = await search(modern.secret_url(), 3, start, end)
    assert segments and {(s.start, s.kind) for s in segments} == truth(modern, 3, start, end)
    assert all(s.channel == 3 for s in segments)


@pytest.mark.parametrize(
    ("kinds", "expected", "vendor"),
    [
        (["motion"], {RecordingKind.MOTION}, {"VideoMotion"}),
        (["schedule"], {RecordingKind.SCHEDULE}, {"Timing"}),
        (["Timing", "VideoMotion"], {RecordingKind.SCHEDULE, RecordingKind.MOTION}, None),
        (["smart", "alarm"], {RecordingKind.SMART, RecordingKind.ALARM}, None),
    ],
)
async def test_type_filters(profile: AmcrestSimulator, kinds, expected, vendor):
    end = timeutil.utcnow().replace(microsecond=0)
    start = end - timedelta(hours=10)
    segments = await search(profile.secret_url(), 1, start, end, kinds)
    assert segments and {(s.start, s.kind) for s in segments} == truth(
        profile, 1, start, end, expected
    )
    if vendor is not None:
        assert {s.vendor_kind for s in segments} == vendor


async def test_short_pack_duration_makes_more_files(make_sim):
    sim = make_sim(AmcrestSimulator, profile="legacy", pack_minutes=5)
    end = timeutil.utcnow() - timedelta(minutes=10)
    start = end - timedelta(hours=2)
    segments = await search(sim.secret_url(), 1, start, end)
    files = [f for f in sim.files(1, start, end) if f.type == "dav"]
    assert len(segments) == len(files) > len(sim.archive.segments(1, start, end))
    assert all(s.duration <= 300 for s in segments)
    inner = [s.start for s in segments[1:]]
    assert sum(t.minute % 5 == 0 and t.second == 0 for t in inner) >= 20  # cut every 5 minutes


async def test_unknown_type_is_bad_usage(modern: AmcrestSimulator):
    now = timeutil.utcnow()
    with pytest.raises(UsageError, match="not offered"):
        await search(modern.secret_url(), 1, now - timedelta(hours=1), now, ["thermal"])


@pytest.mark.parametrize(
    "variant",
    [
        {"item_style": "spec"},
        {"search_end": "error"},
        {"empty_search": "error"},
        {"profile": "legacy", "item_style": "spec", "search_end": "error"},
    ],
)
async def test_answer_variants_give_the_same_result(make_sim, variant: dict[str, str]):
    sim = make_sim(AmcrestSimulator, **variant)
    end = timeutil.utcnow().replace(microsecond=0)
    start = end - timedelta(hours=5)
    segments = await search(sim.secret_url(), 1, start, end)
    assert {(s.start, s.kind) for s in segments} == truth(sim, 1, start, end)
    old = end - timedelta(days=20)
    assert await search(sim.secret_url(), 1, old - timedelta(hours=1), old) == []
    assert sim.open_finders == 0


async def test_channel_base_mismatch_is_named_and_the_option_fixes_it(make_sim):
    sim = make_sim(AmcrestSimulator, profile="modern", channels=4, find_channel_base=0)
    assert "channel_base=0" in sim.secret_url()
    wrong = sim.secret_url().replace("&channel_base=0", "")
    end = timeutil.utcnow().replace(microsecond=0)
    start = end - timedelta(hours=3)
    with pytest.raises(UsageError, match=r"answered those of channel 3.*add channel_base=0"):
        await search(wrong, 2, start, end)
    segments = await search(sim.secret_url(), 2, start, end)
    assert {(s.start, s.kind) for s in segments} == truth(sim, 2, start, end)
    assert sim.open_finders == 0


async def test_a_page_answered_twice_is_malformed(make_sim, monkeypatch: pytest.MonkeyPatch):
    sim = make_sim(AmcrestSimulator, profile="modern")
    original = AmcrestSimulator._find_next

    def stuck(self: AmcrestSimulator, request, finder):  # a device that never moves on
        finder.cursor = 0
        return original(self, request, finder)

    monkeypatch.setattr(AmcrestSimulator, "_find_next", stuck)
    end = timeutil.utcnow()
    with pytest.raises(MalformedResponseError, match="same page again"):
        await search(sim.secret_url(), 1, end - timedelta(hours=2), end)
    assert sim.open_finders == 0


async def test_no_finder_leaks_over_1000_searches(make_sim):
    """Searches that finish, stop early, fail or are cancelled at any moment: every finder
    is closed and destroyed, so the device never runs out of them."""
    capacity = 4
    sim: AmcrestSimulator = make_sim(
        AmcrestSimulator, profile="modern", finder_capacity=capacity, events_per_hour=30
    )
    sim.faults.fault = Fault.GARBAGE
    sim.faults.only = frozenset({"mediaFileFind.findNextFile"})
    sim.faults.rate = 0.08
    now = timeutil.utcnow() - timedelta(minutes=5)
    rng = random.Random(7)
    outcomes: dict[str, int] = {"complete": 0, "early": 0, "failed": 0, "cancelled": 0}
    refused: list[str] = []

    async def one(dev: AmcrestDevice, n: int) -> str:
        end = now - timedelta(minutes=rng.randint(0, 600))
        start = end - timedelta(minutes=rng.choice([5, 20, 60]))
        stream = dev.search(1, start, end)
        async with aclosing(stream):
            if n % 7 == 3:  # the caller stops after the first segment
                async for _ in stream:
                    break
                return "early"
            [s async for s in stream]
        return "complete"

    async def worker(index: int) -> None:
        async with open_device(sim.secret_url()) as dev:
            assert isinstance(dev, AmcrestDevice)
            await dev.channels()
            for n in range(index, 1000, capacity):
                task = asyncio.ensure_future(one(dev, n))
                if n % 10 == 5:  # cancelled somewhere in its exchange with the device
                    await asyncio.sleep(rng.random() * 0.02)
                    task.cancel()
                try:
                    outcomes[await task] += 1
                except asyncio.CancelledError:
                    outcomes["cancelled"] += 1
                except MalformedResponseError:
                    outcomes["failed"] += 1
                except CamfetchError as exc:
                    refused.append(str(exc))
                assert sim.open_finders <= capacity

    await asyncio.gather(*(worker(i) for i in range(capacity)))
    print(outcomes, "max open finders:", sim.max_open_finders)
    assert sum(outcomes.values()) == 1000 and not refused
    assert outcomes["failed"] >= 20 and outcomes["cancelled"] >= 20 and outcomes["early"] >= 50
    assert sim.max_open_finders <= capacity
    assert sim.open_finders == 0
