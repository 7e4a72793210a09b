"""Clip export over RTSP playback from both personas, with real ffmpeg."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from camfetch import timeutil
from camfetch.address import mask_url
from camfetch.errors import (
    AuthenticationError,
    DeviceRefusedError,
    DeviceTimeoutError,
    MediaError,
    NothingFoundError,
)
from camfetch.jobs.evidence import export_evidence
from camfetch.media.export import export_clip, ffmpeg_arguments
from camfetch.media.mp4 import inspect_mp4
from camfetch.models import PlaybackSource, RecordingKind
from camfetch.registry import open_device
from camfetch.sim.viewtron import ViewtronSimulator


def recorded_window(sim: ViewtronSimulator, channel: int, seconds: int) -> datetime:
    """A start time with ``seconds`` of uninterrupted recording after it."""
    now = timeutil.utcnow()
    for rec in sim.archive.segments(channel, now - timedelta(hours=6), now - timedelta(minutes=5)):
        if rec.seconds >= seconds + 2:
            return rec.start + timedelta(seconds=1)
    raise AssertionError("no long enough recording")


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


async def test_export_from_each_persona(persona: ViewtronSimulator, tmp_path: Path):
    start = recorded_window(persona, 1, 10)
    out = tmp_path / "clip.mp4"
    async with open_device(persona.secret_url()) as dev:
        evidence = await export_evidence(dev, 1, start, start + timedelta(seconds=10), out)
    result = evidence.result
    info = inspect_mp4(out)
    assert info.video is not None and info.video.codec == "h264"
    assert (info.video.width, info.video.height) == (1280, 720)
    assert abs(info.duration - 10) <= 1.0 and result.complete
    assert [t.kind for t in info.tracks] == ["video"]  # µ-law audio dropped
    assert result.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert persona.playbacks[-1].split("&")[0] == "chID=1"
    manifest = json.loads(Path(evidence.manifest or "").read_text())
    assert manifest["file"]["sha256"] == result.sha256
    assert manifest["device"]["serial"] and manifest["requested"]["channel"] == 1
    assert manifest["requested"]["recorded_segments"]
    text = out.with_name("clip.manifest.json").read_text()
    assert persona.password not in text and quote(persona.password, safe="") not in text
    assert "***" in manifest["source"]["url"]
    assert no_temp_files(tmp_path)


async def test_export_other_channel_and_chid_base_zero(make_sim, tmp_path: Path):
    sim = make_sim(api="2.0", kind="nvr", channels=4, chid_base=0, playback_speed=0)
    start = recorded_window(sim, 4, 4)
    async with open_device(sim.secret_url()) as dev:  # the URL carries chid_base=0
        evidence = await export_evidence(
            dev, 4, start, start + timedelta(seconds=4), tmp_path / "c.mp4"
        )
    assert sim.playbacks[-1].startswith("chID=3&")
    assert abs(evidence.result.duration - 4) <= 1


async def test_range_with_a_gap_keeps_the_gap(make_sim, tmp_path: Path):
    sim = make_sim(api="2.0", kind="ipc", playback_speed=0)
    now = timeutil.utcnow()
    segments = sim.archive.segments(1, now - timedelta(days=2), now - timedelta(minutes=5))
    before = next(a for a, b in itertools.pairwise(segments) if b.start > a.end)
    start = before.end - timedelta(seconds=3)
    end = start + timedelta(seconds=8)
    async with open_device(sim.secret_url()) as dev:
        evidence = await export_evidence(dev, 1, start, end, tmp_path / "gap.mp4")
    # the device sends 3 s, then jumps over the gap: the timestamps say so, the clip is short
    assert evidence.result.duration < 8 and not evidence.result.complete
    assert evidence.result.frames >= 20


async def test_nothing_recorded_is_nothing_found(ipc: ViewtronSimulator, tmp_path: Path):
    start = timeutil.utcnow() - timedelta(days=20)
    async with open_device(ipc.secret_url()) as dev:
        with pytest.raises(NothingFoundError):
            await export_evidence(dev, 1, start, start + timedelta(seconds=5), tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


def playback(sim: ViewtronSimulator, path: str, password: str | None = None) -> PlaybackSource:
    start = timeutil.utcnow()
    secret = password or quote(sim.password, safe="")
    url = f"rtsp://{sim.username}:{secret}@127.0.0.1:{sim.rtsp_port}/{path}"
    return PlaybackSource(1, start, start + timedelta(seconds=4), url, mask_url(url))


def url_path(sim: ViewtronSimulator, order: list[str]) -> str:
    start = recorded_window(sim, 1, 5)
    wall = timeutil.to_wall(start, sim.clock.tz)
    values = {
        "chID": "1",
        "date": f"{wall:%Y-%m-%d}",
        "time": f"{wall:%H:%M:%S}",
        "timelen": "4",
        "streamType": "main",
        "action": "playback",
    }
    return "&".join(f"{k}={values[k]}" for k in order)


REORDERED = ["date", "time", "chID", "timelen", "streamType", "action"]


async def test_reordered_url_hangs_and_the_time_limit_stops_it(make_sim, tmp_path: Path):
    sim = make_sim(api="2.0", kind="nvr", reorder="hang", playback_speed=0)
    source = playback(sim, url_path(sim, REORDERED))
    out = tmp_path / "hang.mp4"
    with pytest.raises((DeviceTimeoutError, MediaError)):
        await export_clip(source, out, io_timeout=30, time_limit=3)
    assert not out.exists() and no_temp_files(tmp_path)


async def test_reordered_url_refused(make_sim, tmp_path: Path):
    sim = make_sim(api="2.0", kind="nvr", reorder="refuse", playback_speed=0)
    with pytest.raises(DeviceRefusedError) as info:
        await export_clip(playback(sim, url_path(sim, REORDERED)), tmp_path / "r.mp4")
    assert info.value.code == "400"


async def test_wrong_rtsp_password_is_an_authentication_error(
    ipc: ViewtronSimulator, tmp_path: Path
):
    secret = "N0t-it&:@"
    order = ["chID", "date", "time", "timelen", "streamType", "action"]
    source = playback(ipc, url_path(ipc, order), password=quote(secret, safe=""))
    with pytest.raises(AuthenticationError) as info:
        await export_clip(source, tmp_path / "a.mp4", secrets=[secret])
    assert secret not in str(info.value) and "%40" not in str(info.value)


async def test_stream_that_stops_early_is_refused_and_leaves_nothing(make_sim, tmp_path: Path):
    sim = make_sim(api="2.0", kind="ipc", playback_speed=1.0)
    start = recorded_window(sim, 1, 12)
    out = tmp_path / "short.mp4"
    async with open_device(sim.secret_url()) as dev:
        with pytest.raises((DeviceTimeoutError, MediaError)):
            await export_evidence(dev, 1, start, start + timedelta(seconds=12), out, time_limit=3)
    assert not out.exists() and no_temp_files(tmp_path)


def test_ffmpeg_command_uses_timeout_not_stimeout():
    source = PlaybackSource(
        1,
        timeutil.utcnow(),
        timeutil.utcnow() + timedelta(seconds=10),
        "rtsp://u:p@h/x",
        "rtsp://u:***@h/x",
    )
    args = ffmpeg_arguments(source, Path("out.mp4"), io_timeout=5)
    assert "-stimeout" not in args
    assert args[args.index("-timeout") + 1] == "5000000"
    assert args[args.index("-rtsp_transport") + 1] == "tcp"
    assert {"-an", "-c:v"} <= set(args) and args[args.index("-c:v") + 1] == "copy"


async def test_motion_segment_export_via_search(nvr: ViewtronSimulator, tmp_path: Path):
    now = timeutil.utcnow()
    async with open_device(nvr.secret_url()) as dev:
        motion = [
            s
            async for s in dev.search(
                2, now - timedelta(hours=3), now - timedelta(minutes=2), ["motion"]
            )
        ]
        seg = next(s for s in motion if s.duration >= 6)
        assert seg.kind is RecordingKind.MOTION
        evidence = await export_evidence(
            dev, 2, seg.start, seg.start + timedelta(seconds=6), tmp_path / "m.mp4"
        )
    assert abs(evidence.result.duration - 6) <= 1
