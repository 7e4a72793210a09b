"""Archive export: archive-<from>-<duration>.mp4 downloaded, resumed, verified, kept as is."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from camfetch.errors import UnreachableError
from camfetch.jobs.evidence import export_evidence
from camfetch.media.export import partial_path
from camfetch.media.mp4 import inspect_mp4
from camfetch.registry import open_device
from camfetch.sim.faults import Fault
from camfetch.sim.flussonic import FlussonicSimulator
from tests.conftest import PASSWORD
from tests.flussonic.conftest import SIZE, gap_after, recorded_start


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_export_plays_the_asked_duration(cli, watcher: FlussonicSimulator, tmp_path: Path):
    start = recorded_start(watcher, 2, 10)
    out = tmp_path / "clip.mp4"
    result = cli(
        "export", watcher.secret_url(), "--channel", "Parking",
        "--from", start.isoformat(), "--duration", "10", "-o", str(out), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    info = inspect_mp4(out)
    assert info.video is not None and info.video.codec == "h264"
    assert (info.video.width, info.video.height) == SIZE
    assert abs(info.duration - 10) <= 1.0 and data["complete"]
    assert data["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    manifest = out.with_name("clip.manifest.json").read_text()
    assert PASSWORD not in manifest and quote(PASSWORD, safe="") not in manifest
    assert "token=***" in json.loads(manifest)["source"]["url"]
    assert not re.search(r"2\.[A-Za-z0-9_-]{40}", manifest + result.output)  # no token
    assert json.loads(manifest)["source"]["method"] == "the device's MP4, unchanged"
    assert no_temp_files(tmp_path)


async def test_export_across_a_gap_keeps_the_gap(streamer: FlussonicSimulator, tmp_path: Path):
    gap_start, gap_end = gap_after(streamer, 1)
    start = datetime.fromtimestamp(gap_start - 3, UTC)
    end = datetime.fromtimestamp(gap_end + 4, UTC)
    async with open_device(streamer.secret_url()) as dev:
        evidence = await export_evidence(dev, 1, start, end, tmp_path / "gap.mp4")
    result = evidence.result
    # 3 s, the gap (kept in the timestamps), 4 s: as long as the range, but fewer frames
    assert abs(result.duration - (end - start).total_seconds()) <= 1.0
    assert result.frames == 70 and result.complete


async def test_interrupted_export_resumes_to_identical_bytes(make_flussonic, tmp_path: Path):
    sim = make_flussonic(watcher=True, cameras=1)
    start = recorded_start(sim, 1, 8)
    end = start + timedelta(seconds=8)
    one_shot, resumed = tmp_path / "one.mp4", tmp_path / "resumed.mp4"
    async with open_device(sim.secret_url()) as dev:
        await export_evidence(dev, 1, start, end, one_shot, manifest=False)
        sim.faults.fault = Fault.CUT  # the connection drops halfway through the download
        sim.faults.only = frozenset({"archive"})
        with pytest.raises(UnreachableError):
            await export_evidence(dev, 1, start, end, resumed, manifest=False)
        partial = partial_path(resumed)
        kept = partial.stat().st_size
        assert 0 < kept < one_shot.stat().st_size and not resumed.exists()
        sim.faults.fault = Fault.NONE
        evidence = await export_evidence(dev, 1, start, end, resumed, manifest=False)
    assert sim.range_headers[-1] == f"bytes={kept}-"  # only the rest was sent
    assert resumed.read_bytes() == one_shot.read_bytes()
    assert evidence.result.sha256 == hashlib.sha256(one_shot.read_bytes()).hexdigest()
    assert not partial.exists()


async def test_server_without_ranges_sends_it_all_again(make_flussonic, tmp_path: Path):
    sim = make_flussonic(range_support=False)
    start = recorded_start(sim, 1, 5)
    end = start + timedelta(seconds=5)
    out = tmp_path / "again.mp4"
    async with open_device(sim.secret_url()) as dev:
        sim.faults.fault, sim.faults.only = Fault.CUT, frozenset({"archive"})
        with pytest.raises(UnreachableError):
            await export_evidence(dev, 1, start, end, out, manifest=False)
        sim.faults.fault = Fault.NONE
        evidence = await export_evidence(dev, 1, start, end, out, manifest=False)
    assert sim.range_headers[-1] is not None  # asked to resume, answered in full
    assert evidence.result.complete and abs(evidence.result.duration - 5) <= 1


def test_nothing_recorded_and_rtsp_are_refused(cli, streamer: FlussonicSimulator, tmp_path):
    old = datetime.now(UTC) - timedelta(days=40)
    url = streamer.secret_url()
    result = cli("export", url, "--from", old.isoformat(), "--duration", "5", "-o", str(tmp_path))
    assert result.exit_code == 5 and "nothing recorded" in result.stderr
    start = recorded_start(streamer, 1, 5).isoformat()
    result = cli("export", url, "--from", start, "--duration", "5", "--method", "rtsp")
    assert result.exit_code == 8 and "downloads" in result.stderr
    assert list(tmp_path.iterdir()) == []
