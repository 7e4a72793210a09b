"""The Flussonic driver's pure wire functions, on the shapes the reference documents."""

from __future__ import annotations

import base64
import json
import random
import subprocess
from datetime import UTC, datetime

import pytest

from camfetch.drivers import flussonic as fl
from camfetch.errors import AuthenticationError, DeviceRefusedError, MalformedResponseError
from camfetch.media.ffmpeg import ffmpeg_exe
from camfetch.media.jpeg import decode_check
from camfetch.sim import flussonic as sim_fl

# The first camera of the seed's GET /vsaas/api/v2/cameras answer, verbatim.
SEED_CAMERA = json.loads(
    """{ "agent_key": null, "agent_id": null, "thumbnails_url": "", "motion_detector_enabled":
    false, "static": true, "onvif_profile": null, "groups": [], "precise_thumbnails": false,
    "enabled": true, "dvr_space": null, "folder_id": 7, "precise_thumbnails_days": 0,
    "dvr_lock_days": 1, "agent_model": null, "user_attributes": {}, "playback_config": {
    "token": "2.-s9tHGUHAAEABcXhj_yu3vqQhCc5l9Zv1aS-onP8IcVoG4Pl" }, "thumbnails": false,
    "folder_coordinates": null, "substream_url": "", "preset": { "vision_alg": null,
    "vision_params": {}, "vision_areas": null, "is_adjustable": true, "vision_enabled": null,
    "dvr_depth": 2, "domain_id": 1, "dvr_space": null, "vision_gpu": null, "id": 8,
    "is_default": true, "dvr_lock_days": 1, "title": "2+1days_adjustable", "is_deleted": false },
    "comment": "", "vision_alg": null, "last_change": { "object_type": "Camera", "created_at":
    1623922927, "object_id": "samplecamera2-1584a116d9", "user": "admin" }, "streamer_id": 1,
    "onvif_ptz": false, "preset_id": 8, "dvr_path": "/dvr", "coordinates": "", "permissions": {
    "dvr": true, "ptz": true, "edit": true, "view": true, "actions": true }, "postal_address": "",
    "agent_serial": null, "dvr_depth": 2, "organization_id": 6, "video_only": false,
    "external_id": null, "stream_url": "file://vod/sample-10s.mp4 ", "agent_status": null,
    "vision_areas": null, "onvif_url": null, "vision_enabled": null, "last_event_time": null,
    "stream_status": { "alive": false, "lifetime": 5948, "source_error": null, "http_port": 80,
    "https_port": null, "bitrate": 4294, "server": "localhost" }, "name":
    "samplecamera2-1584a116d9", "has_actions": false, "vision_gpu": null, "title":
    "SampleCamera2" }"""
)
# The documented recording_status.json answer, verbatim.
RECORDING_STATUS = (
    '[{"stream":"ort","ranges":[{"duration":3687,"from":1483970675},{"duration":56758,'
    '"from":1483974376},{"duration":332,"from":1484031143}],"locks":[{"duration":1004,'
    '"from":1483971680}]}]'
)
# The go-flussonic SDK's dvr/ranges example, verbatim.
V3_RANGES = (
    '{"estimated_count":5,"next":"JTI0cG9zaXRpb25fZ3Q9MA==","prev":'
    '"JTI0cG9zaXRpb25fbHQ9MSYlMjRyZXZlcnNlZD10cnVl","ranges":[{"closed_at":1000000000000,'
    '"duration":28800,"from":1525186456,"opened_at":1000000000000}]}'
)


def test_seed_camera_object():
    cam = fl.parse_camera(SEED_CAMERA, 1, "watcher.example")
    assert cam.name == "samplecamera2-1584a116d9" and cam.title == "SampleCamera2"
    assert cam.token == "2.-s9tHGUHAAEABcXhj_yu3vqQhCc5l9Zv1aS-onP8IcVoG4Pl"
    # "server": "localhost" is Watcher's view of its own box: the streamer is the Watcher host
    assert cam.base == "http://watcher.example:80"
    assert cam.thumbnails is False and cam.dvr and cam.alive is False and cam.enabled


def test_streamer_base_rules():
    status = {"http_port": 8080, "https_port": None, "server": "10.0.0.7"}
    assert fl.streamer_base({"stream_status": status}, "w") == "http://10.0.0.7:8080"
    tls = {**status, "https_port": 8443}
    assert fl.streamer_base({"stream_status": tls}, "w") == "https://10.0.0.7:8443"
    newer = {"stream_status": status, "streamer_hostname": "edge1.example.net"}
    assert fl.streamer_base(newer, "w") == "http://edge1.example.net:8080"
    empty = {"stream_status": status, "streamer_hostname": ""}
    assert fl.streamer_base(empty, "w") == "http://10.0.0.7:8080"
    v6 = {"stream_status": {"http_port": "80", "server": "2001:db8::5"}}
    assert fl.streamer_base(v6, "w") == "http://[2001:db8::5]:80"


def test_camera_without_dvr_or_name():
    no_dvr = {**SEED_CAMERA, "permissions": {"dvr": False}}
    assert not fl.parse_camera(no_dvr, 1, "w").dvr
    assert not fl.parse_camera({**SEED_CAMERA, "dvr_depth": 0}, 1, "w").dvr
    with pytest.raises(MalformedResponseError, match="no name"):
        fl.parse_camera({"title": "x"}, 1, "w")


def test_archive_preview_url_forms():
    # The seed's example moment: 29.07.2021, 14:26:24 UTC
    ts = int(datetime(2021, 7, 29, 14, 26, 24, tzinfo=UTC).timestamp())
    assert fl.archive_preview("cam", ts, "query") == ("/cam/preview.mp4", {"from": str(ts)})
    assert fl.archive_preview("cam", ts, "unix") == (f"/cam/{ts}-preview.mp4", {})
    assert fl.archive_preview("live/cam 1", ts, "path") == (
        "/live/cam%201/2021/07/29/14/26/24-preview.mp4",
        {},
    )


def test_recording_status_documented_array_and_object_shape():
    spans = fl.parse_recording_status(json.loads(RECORDING_STATUS), "ort")
    assert spans == [
        (1483970675, 1483970675 + 3687),
        (1483974376, 1483974376 + 56758),
        (1484031143, 1484031143 + 332),
    ]
    assert fl.parse_recording_status({"ort": {"from": 10, "to": 70}}, "ort") == [(10, 70)]
    assert fl.parse_recording_status([], "ort") == []
    unsorted = [
        {"stream": "x", "ranges": [{"from": 50, "duration": 5}, {"from": 0, "duration": 50}]}
    ]
    assert fl.parse_recording_status(unsorted, "x") == [(0, 55)]
    with pytest.raises(MalformedResponseError):
        fl.parse_recording_status("nope", "x")


def test_v3_ranges_documented_page_and_the_simulators_cursor():
    spans, cursor = fl.parse_v3_ranges(json.loads(V3_RANGES))
    assert spans == [(1525186456, 1525186456 + 28800)]
    assert cursor == "JTI0cG9zaXRpb25fZ3Q9MA=="
    assert base64.b64decode(cursor) == b"%24position_gt=0"
    # the simulator encodes cursors exactly as the documented example
    assert sim_fl._encode_cursor({"$position_gt": 0}) == cursor
    prev = sim_fl._encode_cursor({"$position_lt": 1, "$reversed": "true"})
    assert prev == json.loads(V3_RANGES)["prev"]
    assert fl.parse_v3_ranges({"ranges": [], "next": None}) == ([], None)


def test_v3_errors():
    body = json.dumps(
        {"errors": [{"status": "403", "code": "forbidden", "title": "no access", "source": {}}]}
    ).encode()
    assert isinstance(fl.v3_error(403, body, "dvr/ranges"), AuthenticationError)
    missing = fl.v3_error(404, b'{"errors":[{"code":"not_found","title":"no stream"}]}', "x")
    assert isinstance(missing, DeviceRefusedError) and missing.code == "not_found"
    broken = fl.v3_error(500, b"<html>oops</html>", "x")
    assert isinstance(broken, DeviceRefusedError) and broken.code == "HTTP 500"


def test_nearest_frame_rule_matches_the_simulators():
    spans = [(1000, 2000), (2300, 2400), (4000, 5000)]
    assert fl.nearest_frame(spans, 1500) == 1500
    assert fl.nearest_frame(spans, 2100) == 1999  # 101 s back, 200 s ahead
    assert fl.nearest_frame(spans, 2150) == 2300  # 151 s back, 150 s ahead
    assert fl.nearest_frame([(0, 101), (300, 400)], 200) == 100  # a tie: the earlier frame
    assert fl.nearest_frame(spans, 3500) == 4000
    assert fl.nearest_frame(spans, 3000) is None  # 600 s back is 2399: 601 away
    assert fl.nearest_frame(spans, 2999) == 2399  # exactly 10 minutes
    rng = random.Random(5)
    for _ in range(500):
        ts = rng.randint(0, 6000)
        assert fl.nearest_frame(spans, ts) == sim_fl.nearest_frame(spans, ts)


@pytest.fixture(scope="module")
def moov_last_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A large single-frame MP4 with its moov after the media data (ffmpeg's default)."""
    path = tmp_path_factory.mktemp("mp4") / "big.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi",
         "-i", "nullsrc=s=1280x720,geq=random(1)*255:128:128", "-frames:v", "1",
         "-c:v", "libx264", "-qp", "4", "-f", "mp4", "-y", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


async def test_moov_last_preview_needs_reordering_and_converts(moov_last_mp4: bytes):
    data = moov_last_mp4
    assert data.index(b"moov") > data.index(b"mdat") and len(data) > 1_000_000
    piped = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "mp4", "-i", "pipe:0",
         "-frames:v", "1", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1"],
        input=data, capture_output=True, check=False,
    )  # fmt: skip
    assert not piped.stdout  # as it comes, ffmpeg cannot read it from a pipe
    fixed = fl.moov_first(data)
    assert fixed.index(b"moov") < fixed.index(b"mdat") and len(fixed) == len(data)
    assert fl.moov_first(fixed) == fixed  # already in order: unchanged
    jpeg = await fl.mp4_to_jpeg(data)
    assert decode_check(jpeg) == (1280, 720)


def test_not_an_mp4_is_malformed(moov_last_mp4: bytes):
    with pytest.raises(MalformedResponseError, match=r"not a complete MP4|truncated"):
        fl.moov_first(moov_last_mp4[:-100])
    with pytest.raises(MalformedResponseError):
        fl.moov_first(b"<html><body>Forbidden</body></html>")
    with pytest.raises(MalformedResponseError, match="no moov"):
        fl.moov_first(b"\x00\x00\x00\x08free")
