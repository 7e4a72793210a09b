"""Health checks and daily timelapse builds as service jobs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from camfetch.media.mp4 import inspect_mp4
from camfetch.service.config import HealthJob, TimelapseBuildJob, load_config
from camfetch.service.fleet import Target
from camfetch.service.service import CaptureService
from tests.service.test_service import running


def config_text(tmp_path: Path, url: str, jobs: str) -> Path:
    path = tmp_path / "camfetch.yaml"
    path.write_text(
        f"storage: {{root: {tmp_path / 'data'}}}\n"
        "api: {listen: '127.0.0.1:0'}\n"
        f"devices:\n  - name: yard\n    url: '{url}'\n    expected_size: 1280x720\n"
        f"jobs:\n{jobs}"
    )
    return path


async def test_health_job_with_hysteresis_stores_history(tmp_path: Path, make_sim, sim_loop):
    sim = make_sim(api="2.0", kind="nvr", channels=2, name="Yard")
    jobs = "  - {name: health, type: health, interval: 300, thresholds: {hysteresis: 2}}\n"
    config = load_config(config_text(tmp_path, sim.secret_url(), jobs))
    service = CaptureService(config)
    await service.start()
    try:
        job = config.jobs[0]
        assert isinstance(job, HealthJob)
        tracker = service.trackers["health"]
        target = Target("yard", 1)
        statuses = [await service.check_health(job, tracker, target)]
        sim.set_picture("black", channel=1)
        statuses += [await service.check_health(job, tracker, target) for _ in range(2)]
        sim_loop.call(sim.go_offline())
        statuses += [await service.check_health(job, tracker, target) for _ in range(2)]
        sim_loop.call(sim.come_back())
        sim.set_picture("normal", channel=1)
        statuses += [await service.check_health(job, tracker, target) for _ in range(2)]
        assert statuses == ["ok", "ok", "degraded", "degraded", "offline", "offline", "ok"]
        channel = await service.channel_id(target)
        history = await service.catalog.health_history(channel, limit=10)
        assert [h.observed for h in reversed(history)] == [
            "ok", "degraded", "degraded", "offline", "offline", "ok", "ok",
        ]  # fmt: skip
        assert {h.reason for h in history} >= {"black", "unreachable", "ok"}
        metrics = service.metrics.render().decode()
        assert 'camfetch_channel_health{channel="1",device="yard"} 0.0' in metrics
    finally:
        await service.close()


async def test_health_job_runs_in_serve_and_shows_in_the_api(tmp_path: Path, make_sim):
    sim = make_sim(api="2.0", kind="ipc", name="Door")
    sim.set_picture("frozen")
    jobs = (
        "  - {name: health, type: health, interval: 1s,"
        " thresholds: {hysteresis: 1, frozen_checks: 2}}\n"
    )
    config = load_config(config_text(tmp_path, sim.secret_url(), jobs))
    async with running(config) as (_, address):
        await asyncio.sleep(3.3)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{address}/api/health") as response:
                (current,) = await response.json()
            async with http.get(f"{address}/api/devices/yard/channels/1/health") as response:
                history = await response.json()
    assert current["device"] == "yard" and current["status"] == "degraded"
    assert current["reason"] == "frozen" and len(history) >= 2


async def test_daily_build_job_makes_a_video_of_the_day(tmp_path: Path, make_sim):
    sim = make_sim(api="2.0", kind="ipc", name="Door")
    jobs = (
        "  - {name: tl, type: timelapse, interval: 60}\n"
        "  - {name: nightly, type: timelapse-build, at: '00:10', span: 1h, fps: 5}\n"
    )
    config = load_config(config_text(tmp_path, sim.secret_url(), jobs))
    service = CaptureService(config)
    await service.start()
    try:
        start = datetime.now(UTC) - timedelta(minutes=30)
        for n in range(10):
            await service.capture("tl", Target("yard", 1), start + timedelta(minutes=n))
        build_job = config.jobs[1]
        assert isinstance(build_job, TimelapseBuildJob)
        ((name, at, task),) = service.scheduler.dailies
        assert name == "nightly" and at.hour == 0 and at.minute == 10
        await task(datetime.now(UTC) + timedelta(seconds=1))
        (video,) = (tmp_path / "data" / "timelapse").rglob("*.mp4")
        info = inspect_mp4(video)
        assert info.video is not None and info.video.frames >= 10
    finally:
        await service.close()
