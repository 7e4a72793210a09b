"""Timelapse building: real ffmpeg, pictures from a simulator, verified frame count and duration."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from camfetch import timeutil
from camfetch.errors import MediaError, NothingFoundError, UsageError
from camfetch.jobs import timelapse
from camfetch.jobs.timelapse import (
    Frame,
    build_from_catalog,
    build_timelapse,
    capture_interval,
    human_duration,
    run_build_job,
)
from camfetch.media.mp4 import Mp4Info, Mp4Track, inspect_mp4
from camfetch.registry import open_device
from camfetch.service.catalog import Catalog
from camfetch.service.config import TimelapseBuildJob
from camfetch.service.fleet import Target
from camfetch.service.storage import LocalStorage
from camfetch.sim.frames import FrameGenerator
from camfetch.sim.viewtron import ViewtronSimulator
from tests.conftest import PASSWORD, SimLoop
from tests.service_media.media import capture, difference, mean, video_frames

BERLIN = timeutil.zone("Europe/Berlin")
BASE = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def door(sim_loop: SimLoop) -> Iterator[ViewtronSimulator]:
    """A small v2.0 IPC in Berlin: 640x360 pictures keep the encodes quick."""
    yield from sim_loop.serve(
        ViewtronSimulator(
            api="2.0",
            kind="ipc",
            name="Door",
            tz="Europe/Berlin",
            size=(640, 360),
            password=PASSWORD,
        )
    )


def minutes(*offsets: int) -> list[datetime]:
    return [BASE + timedelta(minutes=m) for m in offsets]


def frames_from(paths: list[Path], times: list[datetime]) -> list[Frame]:
    return [
        Frame(p, t, t.astimezone(BERLIN).isoformat()) for p, t in zip(paths, times, strict=True)
    ]


@pytest.fixture
def pictures(tmp_path: Path) -> Iterator[list[Path]]:
    """Twelve JPEG files made by the simulators' frame generator (640x360)."""
    gen = FrameGenerator("Yard", tz=BERLIN, width=640, height=360)
    paths = []
    for i, when in enumerate(minutes(*range(12))):
        path = tmp_path / f"pic{i:02d}.jpg"
        path.write_bytes(gen.jpeg(1, when + timedelta(seconds=7 * i)))
        paths.append(path)
    yield paths


async def test_frames_captured_from_a_simulator_become_a_verified_video(
    door: ViewtronSimulator, catalog: Catalog, storage: LocalStorage, tmp_path: Path
):
    times = minutes(*range(12))
    async with open_device(door.secret_url()) as device:
        ids = await capture(device, catalog, storage, "door", 1, times, BERLIN)
    seen: list[tuple[int, int]] = []
    out = tmp_path / "videos" / "door.mp4"
    result = await build_from_catalog(
        catalog, storage, "door", 1, times[0], times[-1] + timedelta(seconds=1), out, fps=6,
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    info = inspect_mp4(out)
    assert info.video is not None and info.video.codec == "h264"
    assert info.video.frames == 12 == result.frames == result.pictures
    assert info.video.duration == pytest.approx(2.0) and result.duration == pytest.approx(2.0)
    assert (info.video.width, info.video.height) == (640, 360) == (result.width, result.height)
    assert result.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert result.size == out.stat().st_size and not result.skipped and not result.gaps
    assert result.interval == 60.0
    assert result.first == times[0].astimezone(BERLIN).isoformat()
    assert seen[-1] == (12, 12) and len(seen) == 12
    # The pictures stay under retention, and the video is in the catalog's exports.
    kept = await catalog.captures(
        await catalog.channel_id("door", 1) or 0, times[0], BASE + timedelta(days=1)
    )
    assert [c.id for c in kept] == ids and not any(c.kept for c in kept)
    with sqlite3.connect(tmp_path / "data" / "catalog.db") as db:
        rows = db.execute("SELECT path, sha256, size FROM exports").fetchall()
    assert rows == [(str(out), result.sha256, result.size)]


async def test_keep_marks_the_pictures_used(
    door: ViewtronSimulator, catalog: Catalog, storage: LocalStorage, tmp_path: Path
):
    times = minutes(0, 1, 2, 3)
    async with open_device(door.secret_url()) as device:
        await capture(
            device, catalog, storage, "door", 1, [*times, BASE + timedelta(hours=2)], BERLIN
        )
    await build_from_catalog(
        catalog, storage, "door", 1, times[0], times[-1] + timedelta(seconds=1),
        tmp_path / "kept.mp4", fps=4, keep=True, record=False,
    )  # fmt: skip
    channel_id = await catalog.channel_id("door", 1)
    assert channel_id is not None
    rows = await catalog.captures(channel_id, BASE, BASE + timedelta(hours=3))
    assert [c.kept for c in rows] == [True, True, True, True, False]  # only those in the range
    assert await catalog.expired("timelapse", BASE + timedelta(days=1)) == [rows[-1]]


async def test_nothing_catalogued_is_nothing_found(
    catalog: Catalog, storage: LocalStorage, tmp_path: Path, door: ViewtronSimulator
):
    with pytest.raises(NothingFoundError, match="no pictures of door:1"):
        await build_from_catalog(
            catalog, storage, "door", 1, BASE, BASE + timedelta(hours=1), tmp_path / "x.mp4"
        )
    async with open_device(door.secret_url()) as device:
        await capture(device, catalog, storage, "door", 1, minutes(0), BERLIN)
    with pytest.raises(NothingFoundError, match="catalogued between"):
        await build_from_catalog(
            catalog, storage, "door", 1, BASE + timedelta(hours=1), BASE + timedelta(hours=2),
            tmp_path / "x.mp4",
        )  # fmt: skip
    assert not (tmp_path / "x.mp4").exists()


async def test_stamp_draws_the_device_time(pictures: list[Path], tmp_path: Path):
    frames = frames_from(pictures[:3], minutes(0, 1, 2))
    plain = await build_timelapse(frames, tmp_path / "plain.mp4", fps=3, stamp=False)
    stamped = await build_timelapse(frames, tmp_path / "stamped.mp4", fps=3, stamp=True)
    size = (plain.width, plain.height)
    a = video_frames(plain.path, size)[0]
    b = video_frames(stamped.path, size)[0]
    corner = (0, 330, 150, 360)  # bottom left: the stamp, 12 px text at 360 px height
    middle = (200, 120, 440, 240)
    assert difference(a.crop(corner), b.crop(corner)) > 20
    assert difference(a.crop(middle), b.crop(middle)) < 3


async def test_a_gap_gets_a_marker_and_is_reported(pictures: list[Path], tmp_path: Path):
    times = minutes(0, 1, 2, 3, 4, 5, 61, 62, 63, 64, 65, 66)  # 56 minutes without pictures
    frames = frames_from(pictures, times)
    result = await build_timelapse(frames, tmp_path / "gap.mp4", fps=4)
    markers = round(4 * timelapse.GAP_MARKER_SECONDS)
    assert result.pictures == 12 and result.frames == 12 + markers
    info = inspect_mp4(result.path)
    assert info.video is not None and info.video.frames == result.frames
    assert info.video.duration == pytest.approx(result.frames / 4)
    [gap] = result.gaps
    assert gap.seconds == 56 * 60 and gap.marked
    assert gap.after == times[5].astimezone(BERLIN).isoformat()
    decoded = video_frames(result.path, (result.width, result.height))
    assert mean(decoded[6]) < 0.6 * mean(decoded[5])  # the marker: darkened last picture
    assert difference(decoded[6], decoded[7]) < 1  # held for half a second
    assert mean(decoded[8]) > 0.8 * mean(decoded[5])  # then the pictures go on
    unmarked = await build_timelapse(frames, tmp_path / "plain.mp4", fps=4, mark_gaps=False)
    assert unmarked.frames == 12 and [g.marked for g in unmarked.gaps] == [False]


async def test_one_missed_capture_is_no_gap(pictures: list[Path], tmp_path: Path):
    times = minutes(0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12)  # minute 3 missing: 2 intervals
    result = await build_timelapse(frames_from(pictures, times), tmp_path / "a.mp4", fps=4)
    assert result.gaps == () and result.frames == 12


async def test_unreadable_pictures_are_skipped_and_counted(pictures: list[Path], tmp_path: Path):
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(pictures[0].read_bytes()[:4000])
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"<html>not a picture</html>")
    missing = tmp_path / "deleted-by-retention.jpg"
    paths = [truncated, *pictures[:4], garbage, missing, *pictures[4:6]]
    times = minutes(*range(len(paths)))
    result = await build_timelapse(frames_from(paths, times), tmp_path / "out.mp4", fps=5)
    # garbage + missing in a row leave three intervals without a picture: a marked gap
    markers = round(5 * timelapse.GAP_MARKER_SECONDS)
    assert result.pictures == 6 and result.frames == 6 + markers
    assert [(g.seconds, g.marked) for g in result.gaps] == [(180.0, True)]
    assert [s.split(": ")[0] for s in result.skipped] == [
        str(truncated), str(garbage), str(missing),
    ]  # fmt: skip
    assert (
        "truncated" in result.skipped[0] and result.first == times[1].astimezone(BERLIN).isoformat()
    )
    info = inspect_mp4(result.path)
    assert info.video is not None and info.video.frames == 6 + markers


async def test_nothing_is_written_when_no_picture_decodes(tmp_path: Path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0garbage")
    out = tmp_path / "out.mp4"
    with pytest.raises(MediaError, match="none of the 2 pictures decodes"):
        await build_timelapse(frames_from([bad, bad], minutes(0, 1)), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jpg"]
    with pytest.raises(NothingFoundError):
        await build_timelapse([], out)


async def test_a_video_that_does_not_verify_leaves_the_old_file(
    pictures: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    out = tmp_path / "out" / "day.mp4"
    out.parent.mkdir()
    out.write_bytes(b"yesterday's video")

    def short(path: Path) -> Mp4Info:
        real = inspect_mp4(path)
        assert real.video is not None
        lost = Mp4Track(
            "video", "h264", real.video.duration - 0.25, real.video.frames - 1, 640, 360
        )
        return Mp4Info(real.duration, (lost,))

    monkeypatch.setattr(timelapse, "inspect_mp4", short)
    with pytest.raises(MediaError, match=r"holds 3 frames .* but 4 frames"):
        await build_timelapse(frames_from(pictures[:4], minutes(0, 1, 2, 3)), out, fps=4)
    assert out.read_bytes() == b"yesterday's video" and list(out.parent.iterdir()) == [out]


async def test_an_ffmpeg_failure_is_a_media_error_and_writes_nothing(
    pictures: list[Path], tmp_path: Path
):
    out = tmp_path / "out" / "day.mp4"
    with pytest.raises(MediaError, match="ffmpeg"):
        await build_timelapse(
            frames_from(pictures[:3], minutes(0, 1, 2)), out, preset="no-such-preset"
        )
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


async def test_every_frame_has_one_size(tmp_path: Path):
    wide = FrameGenerator("Wide", tz=BERLIN, width=640, height=360)
    square = FrameGenerator("Square", tz=BERLIN, width=320, height=240)
    paths = []
    for i, gen in enumerate((wide, wide, square)):
        path = tmp_path / f"{i}.jpg"
        path.write_bytes(gen.jpeg(1, BASE))
        paths.append(path)
    result = await build_timelapse(
        frames_from(paths, minutes(0, 1, 2)), tmp_path / "a.mp4", fps=3, stamp=False
    )
    assert (result.width, result.height) == (640, 360)
    last = video_frames(result.path, (640, 360))[2]
    assert mean(last.crop((0, 0, 60, 360))) < 20 and mean(last.crop((600, 0, 640, 360))) < 20
    assert mean(last.crop((200, 100, 440, 260))) > 40  # the 4:3 picture, pillarboxed
    scaled = await build_timelapse(
        frames_from(paths, minutes(0, 1, 2)), tmp_path / "b.mp4", width=321
    )
    assert (scaled.width, scaled.height) == (320, 180)  # even numbers for yuv420p
    info = inspect_mp4(scaled.path)
    assert info.video is not None and (info.video.width, info.video.height) == (320, 180)


async def test_pictures_are_decoded_in_draft_mode_when_scaled_down(
    pictures: list[Path], tmp_path: Path, draft_calls: list
):
    frames = frames_from(pictures[:4], minutes(0, 1, 2, 3))
    await build_timelapse(frames, tmp_path / "full.mp4", fps=4)
    assert draft_calls == []  # same size: nothing to gain
    await build_timelapse(frames, tmp_path / "small.mp4", fps=4, width=160)
    assert draft_calls == [((640, 360), (160, 90), (160, 90))] * 4  # decoded at 1/4 scale


async def test_bad_parameters_are_usage_errors(pictures: list[Path], tmp_path: Path):
    frames = frames_from(pictures[:2], minutes(0, 1))
    for kwargs in ({"fps": 0}, {"fps": 121}, {"width": 8}, {"interval": 0.0}):
        with pytest.raises(UsageError):
            await build_timelapse(frames, tmp_path / "x.mp4", **kwargs)  # type: ignore[arg-type]


def test_interval_and_durations():
    assert capture_interval(minutes(0, 1, 2, 10, 11)) == 60.0
    assert capture_interval(minutes(0)) is None
    assert [human_duration(s) for s in (45, 720, 8040, 3 * 86400 + 4 * 3600, 7200)] == [
        "45 s", "12 min", "2 h 14 min", "3 d 4 h", "2 h",
    ]  # fmt: skip


async def test_the_daily_job_builds_each_camera(
    door: ViewtronSimulator, catalog: Catalog, storage: LocalStorage, tmp_path: Path
):
    due = BASE + timedelta(hours=1)
    async with open_device(door.secret_url()) as device:
        await capture(device, catalog, storage, "door", 1, minutes(5, 6, 7, 8), BERLIN)
        await capture(device, catalog, storage, "door", 2, minutes(-300), BERLIN, source=1)
    job = TimelapseBuildJob.model_validate(
        {"name": "daily", "type": "timelapse-build", "span": "1h", "fps": 8, "stamp": False}
    )
    heard: list[tuple[str, int, int]] = []
    outcomes = await run_build_job(
        job, due, catalog=catalog, storage=storage,
        targets=[Target("door", 1), Target("door", 2)], folder=tmp_path / "timelapse",
        zone_of=lambda device: _zone(), progress=lambda *args: heard.append(args),
    )  # fmt: skip
    built, empty = outcomes
    assert built.status == "built" and built.result is not None and built.result.frames == 4
    assert built.result.path == (
        tmp_path / "timelapse" / "door" / "door_ch1_20261120-090000_20261120-100000.mp4"
    )
    assert built.result.path.exists() and built.result.duration == pytest.approx(0.5)
    assert empty.camera == "door:2" and empty.status == "nothing" and empty.result is None
    assert heard[-1] == ("door:1", 4, 4)
    assert built.to_json()["result"]["frames"] == 4


async def _zone():  # type: ignore[no-untyped-def]
    return BERLIN
