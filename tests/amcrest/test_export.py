"""Clip export by each method, with real ffmpeg: RTSP playback, a DHAV file download
(``RPC_Loadfile``) and a DHAV download by time (``loadfile.cgi``), and their failures."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from urllib.parse import quote

import pytest

from camfetch import timeutil
from camfetch.address import mask_url
from camfetch.drivers.amcrest import AmcrestDevice
from camfetch.errors import (
    AuthenticationError,
    MalformedResponseError,
    NothingFoundError,
    UnreachableError,
)
from camfetch.jobs.evidence import Evidence, export_evidence
from camfetch.media.export import export_clip
from camfetch.media.mp4 import inspect_mp4
from camfetch.models import PlaybackSource
from camfetch.registry import open_device
from camfetch.sim.amcrest import AmcrestSimulator
from camfetch.sim.faults import Fault
from tests.amcrest.conftest import recording
from tests.conftest import PASSWORD


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


def no_secret(text: str) -> bool:
    return PASSWORD not in text and quote(PASSWORD, safe="") not in text


async def export(
    sim: AmcrestSimulator,
    start: datetime,
    end: datetime,
    out: Path,
    *,
    channel: int = 1,
    method: str | None = None,
) -> Evidence:
    async with open_device(sim.secret_url()) as dev:
        return await export_evidence(dev, channel, start, end, out, method=method)


def plays(out: Path, seconds: float) -> None:
    """An H.264 MP4 of the asked length (within 1 s), video only."""
    info = inspect_mp4(out)
    assert info.video is not None and info.video.codec == "h264"
    assert (info.video.width, info.video.height) == (640, 360)
    assert abs(info.duration - seconds) <= 1.0, info.duration
    assert [t.kind for t in info.tracks] == ["video"]  # the G.711 audio is dropped


async def test_rtsp_playback_of_part_of_a_long_file(profile: AmcrestSimulator, tmp_path: Path):
    rec = recording(profile, longer=60)
    start = rec.start + timedelta(seconds=5)
    out = tmp_path / "part.mp4"
    evidence = await export(profile, start, start + timedelta(seconds=8), out)
    plays(out, 8)
    assert evidence.source.protocol == "rtsp" and evidence.result.complete
    target = profile.playbacks[-1]
    assert target.startswith("/cam/playback?channel=1&subtype=0&starttime=")
    assert target.index("starttime") < target.index("endtime")
    manifest = Path(evidence.manifest or "").read_text()
    assert no_secret(manifest) and "***" in json.loads(manifest)["source"]["url"]
    assert no_temp_files(tmp_path)


async def test_most_of_one_file_is_downloaded(profile: AmcrestSimulator, tmp_path: Path):
    rec = recording(profile, longer=12, shorter=40)
    start, end = rec.start + timedelta(seconds=1), rec.end - timedelta(seconds=1)
    out = tmp_path / "file.mp4"
    evidence = await export(profile, start, end, out)
    plays(out, (end - start).total_seconds())
    source = evidence.source
    assert (source.protocol, source.container) == ("http", "dhav")
    assert source.offset == pytest.approx(1.0) and "RPC_Loadfile/mnt/" in source.display_url
    assert profile.downloads[-1].endswith("[0@0][0].dav")
    manifest = json.loads(Path(evidence.manifest or "").read_text())
    assert manifest["source"]["container"] == "dhav"
    assert no_temp_files(tmp_path)


async def test_download_by_time_across_two_files(profile: AmcrestSimulator, tmp_path: Path):
    now = timeutil.utcnow()
    recs = profile.archive.segments(1, now - timedelta(hours=6), now - timedelta(hours=1))
    first, second = next((a, b) for a, b in pairwise(recs) if a.end == b.start and a.seconds > 6)
    start = first.end - timedelta(seconds=5)
    end = start + timedelta(seconds=min(10, 5 + second.seconds))
    out = tmp_path / "range.mp4"
    evidence = await export(profile, start, end, out, method="download")
    plays(out, (end - start).total_seconds())
    assert "loadfile.cgi?action=startLoad&channel=1&startTime=" in evidence.source.display_url
    assert no_temp_files(tmp_path)


async def test_rtsp_when_forced_even_for_a_whole_file(modern: AmcrestSimulator, tmp_path: Path):
    rec = recording(modern, 2, longer=8, shorter=30)
    out = tmp_path / "forced.mp4"
    evidence = await export(modern, rec.start, rec.end, out, channel=2, method="rtsp")
    plays(out, rec.seconds)
    assert evidence.source.protocol == "rtsp" and "channel=2&" in modern.playbacks[-1]


async def test_nothing_recorded_is_nothing_found(legacy: AmcrestSimulator, tmp_path: Path):
    start = timeutil.utcnow() - timedelta(days=20)
    with pytest.raises(NothingFoundError):
        await export(legacy, start, start + timedelta(seconds=5), tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


async def test_a_truncated_dhav_file_is_a_clear_error_and_nothing_is_written(
    make_sim, tmp_path: Path
):
    sim = make_sim(AmcrestSimulator, profile="modern", size=(640, 360), truncate_downloads=0.5)
    rec = recording(sim, longer=10, shorter=40)
    out = tmp_path / "cut.mp4"
    with pytest.raises(MalformedResponseError, match="DHAV recording is truncated") as info:
        await export(sim, rec.start, rec.end, out)
    assert info.value.exit_code == 7
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("fault", "error"), [(Fault.CUT, UnreachableError), (Fault.GARBAGE, MalformedResponseError)]
)
async def test_a_download_that_breaks_leaves_nothing(make_sim, tmp_path: Path, fault, error):
    sim = make_sim(AmcrestSimulator, profile="legacy", size=(640, 360))
    sim.faults.fault, sim.faults.only = fault, frozenset({"RPC_Loadfile"})
    rec = recording(sim, longer=10, shorter=40)
    with pytest.raises(error):
        await export(sim, rec.start, rec.end, tmp_path / "broken.mp4")
    assert list(tmp_path.iterdir()) == []


async def source_of(sim: AmcrestSimulator, make: str, *args: object) -> PlaybackSource:
    async with open_device(sim.secret_url()) as dev:
        assert isinstance(dev, AmcrestDevice)
        source: PlaybackSource = await getattr(dev, make)(*args)
        return source


async def test_a_range_without_recording_answered_with_error_text(
    legacy: AmcrestSimulator, tmp_path: Path
):
    start = timeutil.utcnow() - timedelta(days=20)
    source = await source_of(legacy, "_range_source", 1, start, start + timedelta(seconds=5))
    async with open_device(legacy.secret_url()) as dev:
        with pytest.raises(NothingFoundError, match="no recording for that range"):
            await export_clip(
                source,
                tmp_path / "none.mp4",
                fetch=lambda target, progress: dev.download(source, target, progress=progress),
            )
    assert list(tmp_path.iterdir()) == []


async def test_a_file_the_device_does_not_have_resets_the_connection(
    modern: AmcrestSimulator, tmp_path: Path
):
    rec = recording(modern, longer=10)
    source = await source_of(modern, "_rtsp_source", 1, rec.start, rec.end)
    missing = PlaybackSource(
        1,
        rec.start,
        rec.end,
        f"http://127.0.0.1:{modern.port}/cgi-bin/RPC_Loadfile/mnt/dvr/sda0/2001-01-01/001/"
        "dav/00/00.00.00-00.01.00[R][0@0][0].dav",
        "missing",
        protocol="http",
        container="dhav",
    )
    async with open_device(modern.secret_url()) as dev:
        with pytest.raises(UnreachableError):
            await dev.download(missing, tmp_path / "m.dav")
    assert source.url.startswith("rtsp://")


def reordered(source: PlaybackSource) -> PlaybackSource:
    """The same playback with its query sorted, as a careless client would send it."""
    base, _, query = source.url.partition("?")
    url = base + "?" + "&".join(sorted(query.split("&")))
    return PlaybackSource(source.channel, source.start, source.end, url, mask_url(url))


async def test_rtsp_parameters_in_another_order_find_nothing(
    modern: AmcrestSimulator, tmp_path: Path
):
    rec = recording(modern, longer=10)
    source = await source_of(modern, "_rtsp_source", 1, rec.start, rec.start + timedelta(seconds=4))
    with pytest.raises(NothingFoundError):
        await export_clip(reordered(source), tmp_path / "r.mp4")
    assert modern.playbacks[-1].startswith("/cam/playback?channel=1&endtime=")


async def test_wrong_rtsp_password_is_an_authentication_error(
    legacy: AmcrestSimulator, tmp_path: Path
):
    rec = recording(legacy, longer=10)
    source = await source_of(legacy, "_rtsp_source", 1, rec.start, rec.start + timedelta(seconds=4))
    secret = "N0t-it&:@"
    url = source.url.replace(quote(PASSWORD, safe=""), quote(secret, safe=""))
    wrong = PlaybackSource(1, source.start, source.end, url, mask_url(url))
    with pytest.raises(AuthenticationError) as info:
        await export_clip(wrong, tmp_path / "a.mp4", secrets=[secret])
    assert secret not in str(info.value) and quote(secret, safe="") not in str(info.value)
