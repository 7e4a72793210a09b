"""The capture service: the configured jobs around the clock, and what the API serves.

:class:`CaptureService` ties the pieces together: the fleet of devices, the
catalog, the picture store, the scheduler, the latest-picture cache and the
metrics. ``camfetch serve`` runs it with the HTTP API; tests and the demo use it
directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import time as clock_time

from camfetch import timeutil
from camfetch.errors import CamfetchError
from camfetch.jobs.health import HealthMemory, HealthTracker, check_channel, parse_size
from camfetch.jobs.timelapse import run_build_job
from camfetch.models import Snapshot
from camfetch.service.catalog import Catalog
from camfetch.service.config import Config, HealthJob, TimelapseBuildJob, TimelapseJob
from camfetch.service.fleet import Fleet, Target, device_address
from camfetch.service.latest import LatestCache
from camfetch.service.metrics import STATUS_VALUE, Metrics
from camfetch.service.schedule import is_active
from camfetch.service.scheduler import PeriodicJob, Scheduler
from camfetch.service.storage import LocalStorage, Storage, picture_key

log = logging.getLogger(__name__)

#: How often retention looks for pictures past their keep time.
RETENTION_EVERY = 600.0


@dataclass
class JobState:
    """What the API tells about a job."""

    name: str
    type: str
    interval: float | None
    targets: int = 0


class CaptureService:
    def __init__(
        self,
        config: Config,
        *,
        storage: Storage | None = None,
    ) -> None:
        self.config = config
        self.fleet = Fleet(config)
        self.catalog = Catalog(config.catalog_url())
        self.storage: Storage = storage or LocalStorage(config.storage.root)
        self.metrics = Metrics()
        self.scheduler = Scheduler(
            record_gap=self._record_gap,
            limit_of=self._limit_of,
            observe=self.metrics.observe,
        )
        self.latest = LatestCache(self._fetch_latest, refresh=config.api.refresh)
        self.jobs: dict[str, JobState] = {}
        self.health_memory = HealthMemory()
        self.trackers: dict[str, HealthTracker] = {}
        self._device_ids: dict[str, int] = {}
        self._channel_ids: dict[Target, int] = {}
        self._zones: dict[str, tzinfo] = {}
        self._started = datetime.now(UTC)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the catalog, register the devices, plan the jobs (nothing runs yet)."""
        await self.catalog.open()
        for cfg in self.config.devices:
            self._device_ids[cfg.name] = await self.catalog.ensure_device(
                cfg.name, url=device_address(cfg).masked(), labels=dict(cfg.labels)
            )
        for job in self.config.jobs:
            if isinstance(job, TimelapseJob):
                self._plan_timelapse(job)
            elif isinstance(job, HealthJob):
                self._plan_health(job)
            else:
                self._plan_build(job)

    async def run(self, stop: asyncio.Event) -> None:
        await self.scheduler.run(stop)

    async def close(self) -> None:
        await self.fleet.close()
        await self.catalog.close()
        close = getattr(self.storage, "close", None)
        if close is not None:
            close()

    # -- plumbing used by jobs and the API ---------------------------------------------------

    def _limit_of(self, device: str) -> int:
        cfg = self.config.device(device)
        return cfg.max_requests or 1

    async def zone(self, device: str) -> tzinfo:
        """The device's zone: configured, else asked once, else UTC while it cannot say."""
        zone = self._zones.get(device)
        if zone is None:
            cfg = self.config.device(device)
            if cfg.time_zone:
                zone = timeutil.zone(cfg.time_zone)
            else:
                try:
                    zone = await self.fleet.device(device).timezone()
                except CamfetchError:
                    return UTC
            self._zones[device] = zone
        return zone

    async def channel_id(self, target: Target) -> int:
        found = self._channel_ids.get(target)
        if found is None:
            device_id = self._device_ids[target.device]
            found = await self.catalog.ensure_channel(
                device_id, target.channel, f"{target.device} channel {target.channel}"
            )
            self._channel_ids[target] = found
        return found

    async def _record_gap(
        self, job: str, target: Target, due: datetime, reason: str, detail: str
    ) -> None:
        channel_id = await self.channel_id(target)
        await self.catalog.add_gap(channel_id, job=job, due=due, reason=reason, detail=detail)

    async def _fetch_latest(self, target: Target) -> Snapshot:
        self.metrics.latest_fetches.labels(target.device).inc()
        return await self.fleet.device(target.device).snapshot(target.channel)

    # -- timelapse capture ---------------------------------------------------------------------

    def _plan_timelapse(self, job: TimelapseJob) -> None:
        async def targets() -> list[Target]:
            found = await self.fleet.resolve(job.cameras)
            self.jobs[job.name].targets = len(found)
            return found

        async def active(target: Target, moment: datetime) -> bool:
            return is_active(job.active, moment, await self.zone(target.device))

        async def capture(target: Target, due: datetime) -> None:
            await self.capture(job.name, target, due)

        self.jobs[job.name] = JobState(job.name, job.type, job.interval)
        self.scheduler.add(
            PeriodicJob(job.name, job.interval, targets, capture, active if job.active else None)
        )
        if job.retention is not None:
            retention = timedelta(seconds=job.retention)

            async def prune(due: datetime) -> None:
                await self.prune(job.name, due - retention)

            self.scheduler.every(f"{job.name}:retention", RETENTION_EVERY, prune)

    async def capture(self, job: str, target: Target, due: datetime) -> int:
        """Take, store and catalogue one picture; returns the capture's id."""
        snap = await self.fleet.device(target.device).snapshot(target.channel)
        key = picture_key(target.device, target.channel, due)
        digest = await self.storage.put(key, snap.data)
        channel_id = await self.channel_id(target)
        capture_id = await self.catalog.add_capture(
            channel_id, job=job, path=key, sha256=digest, size=snap.size, width=snap.width,
            height=snap.height, utc=datetime.now(UTC), device_time=snap.device_time,
        )  # fmt: skip
        self.latest.offer(target, snap)
        return capture_id

    async def prune(self, job: str, before: datetime) -> int:
        """Delete pictures of ``job`` older than ``before`` that nothing keeps."""
        removed = 0
        while True:
            expired = await self.catalog.expired(job, before, limit=500)
            if not expired:
                return removed
            forgotten = await self.catalog.forget(c.id for c in expired)
            for capture in forgotten:
                with contextlib.suppress(OSError):
                    await self.storage.delete(capture.path)
            removed += len(forgotten)
            if len(forgotten) < len(expired):  # some became kept meanwhile: done for now
                return removed

    # -- health ----------------------------------------------------------------------------

    def _plan_health(self, job: HealthJob) -> None:
        tracker = HealthTracker(job.thresholds.hysteresis)
        self.trackers[job.name] = tracker

        async def targets() -> list[Target]:
            found = await self.fleet.resolve(job.cameras)
            self.jobs[job.name].targets = len(found)
            return found

        async def check(target: Target, due: datetime) -> None:
            await self.check_health(job, tracker, target)

        self.jobs[job.name] = JobState(job.name, job.type, job.interval)
        self.scheduler.add(PeriodicJob(job.name, job.interval, targets, check))

    async def check_health(self, job: HealthJob, tracker: HealthTracker, target: Target) -> str:
        """Check one channel, store the record (status after hysteresis); returns the status."""
        cfg = self.config.device(target.device)
        channel_id = await self.channel_id(target)
        if tracker.state(target) is None:  # after a restart, continue from the stored status
            history = await self.catalog.health_history(channel_id, limit=1)
            if history:
                tracker.restore(target, history[0])
        observation = await check_channel(
            self.fleet.device(target.device),
            target.channel,
            thresholds=job.thresholds,
            expected_size=parse_size(cfg.expected_size),
            memory=self.health_memory,
        )
        record = tracker.update(target, observation, channel_id=channel_id)
        await self.catalog.add_health(channel_id, record)
        self.metrics.health.labels(target.device, str(target.channel)).set(
            STATUS_VALUE[record.status]
        )
        return record.status

    # -- daily timelapse builds ------------------------------------------------------------

    def _plan_build(self, job: TimelapseBuildJob) -> None:
        at = clock_time.fromisoformat(job.at)

        async def build(due: datetime) -> None:
            outcomes = await run_build_job(
                job,
                due,
                catalog=self.catalog,
                storage=self.storage,
                targets=await self.fleet.resolve(job.cameras),
                folder=self.config.storage.root / job.output,
                zone_of=self.zone,
            )
            for outcome in outcomes:
                self.metrics.attempts.labels(job.name, outcome.status).inc()
                if outcome.status == "failed":
                    log.warning("%s: %s failed: %s", job.name, outcome.camera, outcome.error)

        self.jobs[job.name] = JobState(job.name, job.type, 86400.0)
        self.scheduler.daily(job.name, at, build)
