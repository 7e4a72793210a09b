"""Periodic work on many devices: clock-aligned, fair, and honest about what it missed.

A job is an action run for each of its targets at every tick of its interval
(multiples of the interval since the epoch: 60 s fires at :00 each minute).
Each device has a lane: at most ``limit`` actions of it run at once, the rest
wait in the lane, so a slow device queues its own work and nobody else's. A
device that keeps failing trips its circuit breaker: for a growing pause its
due work is not attempted but recorded as a gap ("backoff"), as is work that
is due while the previous round for the same target still runs ("overrun").
Every missed capture is reported with its reason; none is skipped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time

from camfetch import timeutil
from camfetch.errors import CamfetchError, UsageError
from camfetch.service.fleet import Target
from camfetch.service.schedule import next_tick

log = logging.getLogger(__name__)

Action = Callable[[Target, datetime], Awaitable[None]]
GapRecorder = Callable[[str, Target, datetime, str, str], Awaitable[None]]
Active = Callable[[Target, datetime], Awaitable[bool]]


@dataclass
class Breaker:
    """Per-device circuit breaker: closed, open for a while after failures, then one probe."""

    threshold: int = 3
    base: float = 10.0
    ceiling: float = 600.0
    failures: int = 0
    open_until: float = 0.0
    probing: bool = False

    def allows(self, now: float) -> bool:
        if self.failures < self.threshold:
            return True
        if now < self.open_until or self.probing:
            return False
        self.probing = True  # half-open: one attempt decides
        return True

    def success(self) -> None:
        self.failures = 0
        self.probing = False

    def failure(self, now: float) -> None:
        self.failures += 1
        self.probing = False
        if self.failures >= self.threshold:
            pause = min(self.ceiling, self.base * 2 ** (self.failures - self.threshold))
            self.open_until = now + pause


@dataclass
class _Work:
    job: str
    target: Target
    due: float
    action: Action
    timeout: float


@dataclass
class _Lane:
    """One device: how many of its actions run, and what waits."""

    limit: int
    running: int = 0
    waiting: deque[_Work] = field(default_factory=deque)
    busy: set[tuple[str, Target]] = field(default_factory=set)
    breaker: Breaker = field(default_factory=Breaker)


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    name: str
    interval: float
    targets: Callable[[], Awaitable[list[Target]]]
    action: Action
    active: Active | None = None
    timeout: float | None = None  # per action; default: the interval, at most 5 minutes


@dataclass
class Stats:
    done: int = 0
    failed: int = 0
    gaps: dict[str, int] = field(default_factory=dict)
    lateness: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))
    ticks: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))  # round start - due

    def gap(self, reason: str) -> None:
        self.gaps[reason] = self.gaps.get(reason, 0) + 1


class Scheduler:
    def __init__(
        self,
        *,
        record_gap: GapRecorder,
        limit_of: Callable[[str], int] = lambda device: 1,
        max_running: int = 512,
        clock: Callable[[], float] = time.time,
        observe: Callable[[str, str, float], None] | None = None,
    ) -> None:
        """``observe(job, outcome, lateness)`` hears about every attempt (metrics)."""
        self._record_gap = record_gap
        self._limit_of = limit_of
        self._clock = clock
        self._slots = asyncio.Semaphore(max_running)
        self._lanes: dict[str, _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._observe = observe
        self._stopping = False
        self.jobs: list[PeriodicJob] = []
        self._chores: list[tuple[str, float, Callable[[datetime], Awaitable[None]]]] = []
        self.dailies: list[tuple[str, dt_time, Callable[[datetime], Awaitable[None]]]] = []
        self.stats: dict[str, Stats] = {}
        self.next_run: dict[str, float] = {}

    def add(self, job: PeriodicJob) -> None:
        self.jobs.append(job)
        self.stats[job.name] = Stats()

    def every(
        self, name: str, interval: float, task: Callable[[datetime], Awaitable[None]]
    ) -> None:
        """Housekeeping (retention) at every tick of ``interval``, not per camera."""
        self._chores.append((name, interval, task))

    def daily(self, name: str, at: dt_time, task: Callable[[datetime], Awaitable[None]]) -> None:
        """``task`` every day at ``at`` on the host's clock (daily builds)."""
        self.dailies.append((name, at, task))

    def lane(self, device: str) -> _Lane:
        lane = self._lanes.get(device)
        if lane is None:
            lane = _Lane(limit=max(1, self._limit_of(device)))
            self._lanes[device] = lane
        return lane

    async def run(self, stop: asyncio.Event) -> None:
        """Run every job until ``stop`` is set; then wait for running actions to end."""
        loops = [asyncio.create_task(self._ticks(job, stop), name=job.name) for job in self.jobs]
        loops += [
            asyncio.create_task(self._chore(name, interval, task, stop), name=name)
            for name, interval, task in self._chores
        ]
        loops += [
            asyncio.create_task(self._daily(name, at, task, stop), name=name)
            for name, at, task in self.dailies
        ]
        try:
            await stop.wait()
        finally:
            self._stopping = True
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            while self._tasks:  # until every action and gap record has ended
                pending = list(self._tasks)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

    async def run_once(self, job: PeriodicJob, due: float | None = None) -> None:
        """One round of ``job`` now (or for the tick ``due``), waiting until it is done."""
        await self._round(job, self._clock() if due is None else due)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _ticks(self, job: PeriodicJob, stop: asyncio.Event) -> None:
        while not stop.is_set():
            due = next_tick(self._clock(), job.interval)
            self.next_run[job.name] = due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, due - self._clock()))
                return  # stopped while waiting
            try:
                await self._round(job, due)
            except Exception:  # a bug in target resolution must not end the schedule
                log.exception("job %s: round at %s failed", job.name, due)

    async def _chore(
        self,
        name: str,
        interval: float,
        task: Callable[[datetime], Awaitable[None]],
        stop: asyncio.Event,
    ) -> None:
        while not stop.is_set():
            due = next_tick(self._clock(), interval)
            self.next_run[name] = due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, due - self._clock()))
                return
            try:
                await task(datetime.fromtimestamp(due, UTC))
            except Exception:  # housekeeping must not stop the service; it runs again next time
                log.exception("%s at %s failed", name, due)

    async def _daily(
        self,
        name: str,
        at: dt_time,
        task: Callable[[datetime], Awaitable[None]],
        stop: asyncio.Event,
    ) -> None:
        zone = timeutil.local_zone()
        while not stop.is_set():
            now = datetime.fromtimestamp(self._clock(), UTC).astimezone(zone)
            due = timeutil.from_wall(datetime.combine(now.date(), at), zone)
            if due <= now:
                due = timeutil.from_wall(datetime.combine(now.date() + timedelta(days=1), at), zone)
            self.next_run[name] = due.timestamp()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, due.timestamp() - self._clock()))
                return
            try:
                await task(due.astimezone(UTC))
            except Exception:
                log.exception("%s at %s failed", name, due)

    async def _round(self, job: PeriodicJob, due: float) -> None:
        self.stats[job.name].ticks.append(self._clock() - due)
        moment = datetime.fromtimestamp(due, UTC)
        timeout = job.timeout or min(job.interval, 300.0)
        for target in await job.targets():
            if job.active is not None and not await job.active(target, moment):
                continue
            self._submit(_Work(job.name, target, due, job.action, timeout))

    def _submit(self, work: _Work) -> None:
        lane = self.lane(work.target.device)
        key = (work.job, work.target)
        if key in lane.busy:
            self._gap(work, "overrun", "the previous round for this camera is still running")
            return
        if not lane.breaker.allows(self._clock()):
            until = datetime.fromtimestamp(lane.breaker.open_until, UTC)
            self._gap(work, "backoff", f"device failing; next attempt after {until:%H:%M:%S} UTC")
            return
        lane.busy.add(key)
        if lane.running < lane.limit:
            lane.running += 1
            self._spawn(lane, work)
        else:
            lane.waiting.append(work)

    def _spawn(self, lane: _Lane, work: _Work) -> None:
        task = asyncio.create_task(self._execute(lane, work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, lane: _Lane, work: _Work) -> None:
        try:
            async with self._slots:
                await self._attempt(lane, work)
        finally:
            lane.busy.discard((work.job, work.target))
            if lane.waiting and not self._stopping:
                self._spawn(lane, lane.waiting.popleft())
            else:
                lane.running -= 1

    async def _attempt(self, lane: _Lane, work: _Work) -> None:
        started = self._clock()
        lateness = started - work.due
        stats = self.stats[work.job]
        stats.lateness.append(lateness)
        moment = datetime.fromtimestamp(work.due, UTC)
        try:
            async with asyncio.timeout(work.timeout):
                await work.action(work.target, moment)
        except TimeoutError:
            lane.breaker.failure(self._clock())
            stats.failed += 1
            self._gap(work, "timeout", f"no result within {work.timeout:g} s", count=False)
            self._observed(work.job, "timeout", lateness)
        except UsageError as exc:  # a wrong channel is the config's fault, not the device's
            stats.failed += 1
            self._gap(work, exc.kind, exc.message, count=False)
            self._observed(work.job, exc.kind, lateness)
        except CamfetchError as exc:
            lane.breaker.failure(self._clock())
            stats.failed += 1
            self._gap(work, exc.kind, exc.message, count=False)
            self._observed(work.job, exc.kind, lateness)
        else:
            lane.breaker.success()
            stats.done += 1
            self._observed(work.job, "ok", lateness)

    def _observed(self, job: str, outcome: str, lateness: float) -> None:
        if self._observe is not None:
            self._observe(job, outcome, lateness)

    def _gap(self, work: _Work, reason: str, detail: str, *, count: bool = True) -> None:
        if self._stopping:
            return  # work cut short by the stop itself is no gap
        self.stats[work.job].gap(reason)
        if count:
            self._observed(work.job, reason, 0.0)
        due = datetime.fromtimestamp(work.due, UTC)
        task = asyncio.ensure_future(self._record_gap(work.job, work.target, due, reason, detail))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def percentile(values: Iterable[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]
