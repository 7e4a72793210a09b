"""The scheduler: aligned ticks, per-device lanes, backoff, gaps with reasons."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import datetime

from camfetch.errors import UnreachableError
from camfetch.service.fleet import Target
from camfetch.service.scheduler import Breaker, PeriodicJob, Scheduler


class Recorder:
    def __init__(self) -> None:
        self.gaps: list[tuple[str, Target, datetime, str]] = []
        self.runs: dict[Target, list[tuple[float, float]]] = defaultdict(list)  # (due, started)
        self.concurrent: dict[str, int] = defaultdict(int)
        self.peak: dict[str, int] = defaultdict(int)

    async def gap(self, job: str, target: Target, due: datetime, reason: str, detail: str) -> None:
        self.gaps.append((job, target, due, reason))


async def run_for(scheduler: Scheduler, seconds: float) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    await scheduler.run(stop)


def targets(*found: Target):  # type: ignore[no-untyped-def]
    async def listing() -> list[Target]:
        return list(found)

    return listing


async def test_ticks_align_to_the_clock():
    rec = Recorder()

    async def action(target: Target, due: datetime) -> None:
        rec.runs[target].append((due.timestamp(), time.time()))

    scheduler = Scheduler(record_gap=rec.gap)
    scheduler.add(PeriodicJob("tl", 1.0, targets(Target("a", 1), Target("b", 1)), action))
    await run_for(scheduler, 3.3)
    for runs in rec.runs.values():
        assert len(runs) >= 3
        assert all(due == int(due) for due, _ in runs)  # :00 of each second, not start-up time
        assert all(0 <= started - due < 0.25 for due, started in runs)
    assert scheduler.stats["tl"].done >= 6 and not rec.gaps


async def test_a_failing_device_backs_off_and_never_delays_the_others():
    rec = Recorder()

    async def action(target: Target, due: datetime) -> None:
        started = time.time()
        rec.runs[target].append((due.timestamp(), started))
        if target.device == "dead":
            raise UnreachableError("cannot connect: refused")
        if target.device == "slow":
            await asyncio.sleep(2.5)  # longer than the interval

    scheduler = Scheduler(record_gap=rec.gap)
    scheduler.lane("dead").breaker = Breaker(threshold=2, base=60)
    job = targets(Target("good", 1), Target("dead", 1), Target("slow", 1))
    scheduler.add(PeriodicJob("tl", 1.0, job, action, timeout=10))
    await run_for(scheduler, 5.2)
    good = rec.runs[Target("good", 1)]
    assert len(good) >= 5 and max(started - due for due, started in good) < 0.25
    assert len(rec.runs[Target("dead", 1)]) == 2  # then the breaker holds it off
    reasons = [(t.device, reason) for _, t, _, reason in rec.gaps]
    assert reasons.count(("dead", "unreachable")) == 2
    assert ("dead", "backoff") in reasons and ("slow", "overrun") in reasons
    assert not [r for r in reasons if r[0] == "good"]
    stats = scheduler.stats["tl"]
    assert stats.gaps["backoff"] >= 2 and stats.gaps["overrun"] >= 2


async def test_breaker_half_opens_after_its_pause():
    breaker = Breaker(threshold=2, base=10)
    breaker.failure(0.0)
    assert breaker.allows(1.0)
    breaker.failure(1.0)
    assert not breaker.allows(5.0) and not breaker.allows(10.9)
    assert breaker.allows(11.5) and not breaker.allows(11.6)  # one probe at a time
    breaker.failure(12.0)  # the probe failed: a longer pause
    assert not breaker.allows(12.0 + 15) and breaker.allows(12.0 + 21)
    breaker.success()
    assert breaker.allows(12.0 + 21) and breaker.failures == 0


async def test_device_lane_limits_concurrency_and_queues_the_rest():
    rec = Recorder()

    async def action(target: Target, due: datetime) -> None:
        rec.concurrent[target.device] += 1
        rec.peak[target.device] = max(rec.peak[target.device], rec.concurrent[target.device])
        await asyncio.sleep(0.05)
        rec.concurrent[target.device] -= 1
        rec.runs[target].append((due.timestamp(), time.time()))

    scheduler = Scheduler(record_gap=rec.gap, limit_of=lambda device: 2 if device == "nvr" else 1)
    channels = [Target("nvr", n) for n in range(1, 9)] + [Target("ipc", 1)]
    job = PeriodicJob("tl", 60.0, targets(*channels), action)
    scheduler.add(job)
    await scheduler.run_once(job)
    assert rec.peak["nvr"] == 2 and rec.peak["ipc"] == 1
    assert all(len(rec.runs[t]) == 1 for t in channels) and not rec.gaps


async def test_a_timeout_is_a_gap_with_its_reason():
    rec = Recorder()

    async def action(target: Target, due: datetime) -> None:
        await asyncio.sleep(5)

    scheduler = Scheduler(record_gap=rec.gap)
    job = PeriodicJob("tl", 60.0, targets(Target("hang", 1)), action, timeout=0.2)
    scheduler.add(job)
    await scheduler.run_once(job)
    assert [reason for *_, reason in rec.gaps] == ["timeout"]


async def test_stop_ends_every_action_and_starts_no_queued_one():
    rec = Recorder()
    started: list[float] = []
    problems: list[dict[str, object]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: problems.append(context))

    async def action(target: Target, due: datetime) -> None:
        started.append(time.time())
        await asyncio.sleep(0.5)

    scheduler = Scheduler(record_gap=rec.gap)  # one lane, limit 1: the rest queue
    job = targets(*(Target("nvr", n) for n in range(1, 6)))
    scheduler.add(PeriodicJob("tl", 1.0, job, action))
    stop = asyncio.Event()
    runner = asyncio.create_task(scheduler.run(stop))
    while not started:
        await asyncio.sleep(0.01)
    stop.set()
    stopped_at = time.time()
    await runner
    await asyncio.sleep(0.1)
    loop.set_exception_handler(None)
    assert not problems and not scheduler._tasks
    assert all(t <= stopped_at for t in started)  # nothing queued was started after the stop
    assert not rec.gaps  # cut short by the stop: no gap
