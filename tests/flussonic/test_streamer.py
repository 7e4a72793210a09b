"""flussonic:// against the simulated Media Server: previews, the 10-minute rule, search."""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from camfetch import timeutil
from camfetch.drivers.flussonic import FlussonicDevice
from camfetch.errors import NothingFoundError
from camfetch.media.jpeg import decode_check
from camfetch.models import RecordingKind
from camfetch.registry import open_device
from camfetch.sim.flussonic import FlussonicSimulator
from tests.conftest import PASSWORD
from tests.flussonic.conftest import SIZE, gap_after, recorded_start


async def test_live_snapshot_from_preview_jpg(streamer: FlussonicSimulator):
    async with open_device(streamer.secret_url()) as dev:
        snap = await dev.snapshot(1)
        info = await dev.info()
    assert snap.original_format == "jpeg" and snap.source == "live"
    assert decode_check(snap.data) == SIZE and (snap.width, snap.height) == SIZE
    assert info.name == streamer.streams[0] and info.channel_count == 1
    assert info.extra["auth"] == "token" and int(info.extra["archive_ranges"]) >= 2


async def test_live_snapshot_from_preview_mp4_is_a_jpeg_of_the_frame_size(make_flussonic):
    sim = make_flussonic(jpeg=False, size=(800, 450))
    async with open_device(sim.secret_url()) as dev:
        first = await dev.snapshot(1)
        second = await dev.snapshot(1)
    assert first.original_format == "mp4" and first.content_type == "image/jpeg"
    assert decode_check(first.data) == (800, 450) and (first.width, first.height) == (800, 450)
    assert decode_check(second.data) == (800, 450)
    # preview.jpg answered 404 once; after that the driver goes straight to preview.mp4
    assert [p.rsplit("/", 1)[1] for p in sim.seen] == ["preview.jpg", "preview.mp4", "preview.mp4"]


async def test_preview_mp4_with_its_index_last(make_flussonic):
    sim = make_flussonic(jpeg=False, preview_layout="moov-last")
    async with open_device(sim.secret_url() + "&thumbnails=mp4") as dev:
        snap = await dev.snapshot(1)
    assert decode_check(snap.data) == SIZE
    assert not any(p.endswith("preview.jpg") for p in sim.seen)


def test_forced_jpeg_without_thumbnails_is_unsupported(cli, make_flussonic):
    sim = make_flussonic(jpeg=False)
    result = cli("snapshot", sim.secret_url() + "&thumbnails=jpeg", "-o", "/dev/null/x.jpg")
    assert result.exit_code == 8 and "JPEG thumbnails are off" in result.stderr


async def test_snapshot_at_a_recorded_moment(streamer: FlussonicSimulator):
    moment = recorded_start(streamer, 1, 30) + timedelta(seconds=7, milliseconds=400)
    async with open_device(streamer.secret_url()) as dev:
        snap = await dev.snapshot_at(1, moment)
    assert snap.source == "archive" and snap.original_format == "mp4"
    assert snap.requested_time == moment
    assert snap.device_time == moment.replace(microsecond=0)  # the archive's whole second
    assert snap.device_time.utcoffset() == moment.astimezone(streamer.clock.tz).utcoffset()
    assert decode_check(snap.data) == SIZE


def test_snapshot_at_in_a_gap_tells_the_frames_time(cli, streamer: FlussonicSimulator, tmp_path):
    gap_start, _ = gap_after(streamer, 1)
    asked = datetime.fromtimestamp(gap_start + 60, UTC)  # a minute into the gap
    out = tmp_path / "gap.jpg"
    result = cli("snapshot", streamer.secret_url(), "--at", asked.isoformat(), "-o", str(out))
    assert result.exit_code == 0, result.output
    frame = datetime.fromtimestamp(gap_start - 1, UTC).astimezone(streamer.clock.tz)
    assert f"frame at {frame.isoformat()}" in result.stderr  # the last recorded second
    assert "the nearest is 61 s earlier" in result.stderr  # the user is told it differs
    assert decode_check(out.read_bytes()) == SIZE
    data = json.loads(
        cli("snapshot", streamer.secret_url(), "--at", asked.isoformat(), "--json").stdout
    )
    assert data["device_time"] == frame.isoformat()
    assert datetime.fromisoformat(data["requested_time"]) == asked
    Path(data["path"]).unlink()


def test_no_frame_within_10_minutes_is_exit_5(cli, streamer: FlussonicSimulator):
    now = int(timeutil.utcnow().timestamp())
    spans = streamer.ranges(1, now - 2 * 86400, now)
    gaps = [(a[1], b[0]) for a, b in itertools.pairwise(spans)]
    widest = max(gaps, key=lambda g: g[1] - g[0])
    assert widest[1] - widest[0] > 1300  # the gappy archive always has one
    in_gap = datetime.fromtimestamp((widest[0] + widest[1]) // 2, UTC)
    too_old = datetime.fromtimestamp(now - 40 * 86400, UTC)  # before the archive
    for moment in (in_gap, too_old):
        result = cli("snapshot", streamer.secret_url(), "--at", moment.isoformat())
        assert result.exit_code == 5, result.output
        assert "no recorded frame within 10 minutes" in result.stderr


@pytest.mark.parametrize("form", ["query", "unix", "path"])
async def test_each_archive_preview_url_form(make_flussonic, form: str):
    sim = make_flussonic(archive_forms=[form])
    moment = recorded_start(sim, 1, 20)
    async with open_device(f"{sim.secret_url()}&preview={form}") as dev:
        snap = await dev.snapshot_at(1, moment)
    assert decode_check(snap.data) == SIZE
    asked = sim.seen[-1]
    ts = int(moment.timestamp())
    expected = {
        "query": "/preview.mp4",
        "unix": f"/{ts}-preview.mp4",
        "path": f"/{moment:%Y/%m/%d/%H/%M/%S}-preview.mp4",
    }[form]
    assert asked == f"/{sim.streams[0]}{expected}"


async def test_server_without_the_chosen_url_form(make_flussonic):
    sim = make_flussonic(archive_forms=["path"])
    moment = recorded_start(sim, 1, 20)
    async with open_device(sim.secret_url()) as dev:  # default form: preview.mp4?from=
        with pytest.raises(NothingFoundError, match="query form"):
            await dev.snapshot_at(1, moment)


async def test_no_frame_answered_204_is_nothing_found(make_flussonic):
    """Whether Flussonic says 404 or 204 for "no frame" is open; both mean nothing found."""
    sim = make_flussonic(no_frame_status=204)
    old = int(timeutil.utcnow().timestamp()) - 40 * 86400
    async with open_device(sim.secret_url()) as dev:
        assert isinstance(dev, FlussonicDevice)
        with pytest.raises(NothingFoundError, match="no frame near"):
            await dev._streamer_get(
                dev.stream,
                f"/{dev.stream.quoted}/preview.mp4",
                {"from": str(old)},
                what="archive preview",
                missing=lambda s: NothingFoundError("no frame near that moment"),
            )


async def test_search_recording_status(streamer: FlussonicSimulator):
    end = timeutil.utcnow().replace(microsecond=0) - timedelta(minutes=5)  # off the live edge
    start = end - timedelta(hours=30)
    async with open_device(streamer.secret_url()) as dev:
        found = [s async for s in dev.search(1, start, end)]
        assert await dev.recording_kinds() == ["dvr"]
    truth = streamer.ranges(1, int(start.timestamp()), int(end.timestamp()))
    assert len(found) == len(truth) >= 2
    assert found[0].start == max(start, datetime.fromtimestamp(truth[0][0], UTC))  # clipped
    assert found[-1].end == min(end, datetime.fromtimestamp(truth[-1][1], UTC))
    assert [int(s.end.timestamp()) for s in found[:-1]] == [b for _, b in truth[:-1]]
    assert {(s.kind, s.vendor_kind) for s in found} == {(RecordingKind.SCHEDULE, "dvr")}
    assert all(a.end < b.start for a, b in itertools.pairwise(found))


async def test_search_with_the_object_shaped_answer(make_flussonic):
    sim = make_flussonic(ranges_shape="object")
    end = timeutil.utcnow() - timedelta(minutes=5)
    start = end - timedelta(hours=1)
    async with open_device(sim.secret_url()) as dev:
        found = [s async for s in dev.search(1, start, end)]
    truth = sim.ranges(1, math.floor(start.timestamp()), math.ceil(end.timestamp()))
    # one span from the first recording to the last: this shape has no room for gaps
    assert len(found) == 1
    assert found[0].start == max(start, datetime.fromtimestamp(truth[0][0], UTC))
    assert found[0].end == min(end, datetime.fromtimestamp(truth[-1][1], UTC))


async def test_search_through_the_admin_api_v3_pages_by_cursor(make_flussonic):
    sim = make_flussonic(v3_limit=2)
    end = timeutil.utcnow() - timedelta(minutes=5)  # off the live edge: both see the same
    start = end - timedelta(days=2)
    admin = sim.stream_url(1, admin=True)
    assert quote(PASSWORD, safe="") in admin
    async with open_device(admin) as dev:
        by_v3 = [(s.start, s.end) async for s in dev.search(1, start, end)]
        info = await dev.info()
    async with open_device(sim.secret_url()) as dev:
        by_status = [(s.start, s.end) async for s in dev.search(1, start, end)]
    assert by_v3 == by_status and len(by_v3) > 4  # more than two pages of two
    assert info.extra["ranges_from"] == "admin API v3 dvr/ranges"
    assert not any("dvr/ranges" in p for p in sim.seen)  # v3 is not a playback path


def test_wrong_admin_password_is_exit_3(cli, make_flussonic):
    sim = make_flussonic()
    url = sim.stream_url(1, admin=True).replace(quote(PASSWORD, safe=""), "nope")
    result = cli("search", url, "--from", "-1h", "--to", "now")
    assert result.exit_code == 3 and "admin user name or password" in result.stderr


def test_wrong_or_missing_token_is_exit_3_with_a_clear_message(cli, streamer: FlussonicSimulator):
    url = streamer.secret_url()
    good = parse_qs(urlsplit(url).query)["token"][0]
    wrong = streamer.token_for(streamer.streams[1])  # a real token, of another stream
    bad_url = url.replace(good, wrong)
    assert wrong in bad_url and good not in bad_url
    for command in (["snapshot", bad_url], ["search", bad_url, "--from", "-1h", "--to", "now"]):
        result = cli(*command)
        assert result.exit_code == 3, result.output
        assert "refused the playback token" in result.stderr and "HTTP 403" in result.stderr
        assert wrong not in result.output and quote(wrong, safe="") not in result.output
        assert len(result.stderr.strip().splitlines()) == 1
    no_token = f"flussonic://127.0.0.1:{streamer.port}/{streamer.streams[0]}"
    result = cli("snapshot", no_token)
    assert result.exit_code == 3 and "without a token" in result.stderr


def test_unknown_stream_and_missing_stream(cli, streamer: FlussonicSimulator, tmp_path: Path):
    unknown = f"flussonic://127.0.0.1:{streamer.port}/nosuch?token=x"
    result = cli("snapshot", unknown, "-o", str(tmp_path / "x.jpg"))
    assert result.exit_code == 4 and "no live picture" in result.stderr
    result = cli("info", unknown)
    assert result.exit_code == 4 and "no stream 'nosuch'" in result.stderr
    result = cli("info", f"flussonic://127.0.0.1:{streamer.port}")
    assert result.exit_code == 2 and "needs the stream" in result.stderr


def test_search_type_and_channel_checks(cli, streamer: FlussonicSimulator):
    url = streamer.secret_url()
    result = cli("search", url, "--from", "-1h", "--to", "now", "--type", "motion")
    assert result.exit_code == 2 and "dvr" in result.stderr
    result = cli("search", url, "--from", "-1h", "--to", "now", "--type", "schedule", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["count"] >= 1
    assert cli("snapshot", url, "--channel", "2").exit_code == 2
