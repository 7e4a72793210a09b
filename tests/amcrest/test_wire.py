"""The Amcrest/Dahua wire format: pure functions on the shapes the reference documents."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from camfetch.drivers import amcrest as am
from camfetch.errors import (
    AuthenticationError,
    DeviceRefusedError,
    MalformedResponseError,
    NothingFoundError,
    UnsupportedError,
)
from camfetch.http import Reply
from camfetch.models import EventAction, RecordingKind
from camfetch.sim import dhav
from camfetch.sim.amcrest import EventPart, dahua_json, event_part

BERLIN = ZoneInfo("Europe/Berlin")


def reply(status: int, body: bytes, ctype: str = "text/plain;charset=utf-8") -> Reply:
    return Reply(status, CIMultiDictProxy(CIMultiDict({"Content-Type": ctype})), body)


# -- key=value answers and errors ---------------------------------------------------------------


def test_key_values_split_at_the_first_equals_and_lose_spaces():
    kv = am.parse_key_values(
        'sn=AMC0\r\nitems[0]. Duration = 3600\r\nitems[0].WorkDir="/mnt/dvr/sda0"\r\n'
        "items[0].FilePath=/a=b.dav\r\nOK\r\n\r\n"
    )
    assert kv.pairs == {
        "sn": "AMC0",
        "items[0].Duration": "3600",
        "items[0].WorkDir": "/mnt/dvr/sda0",
        "items[0].FilePath": "/a=b.dav",
    }


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (200, b"Error\r\nErrorID=2, Detail=Invalid Request!\r\n", UnsupportedError, None),
        (200, b"Error\r\nErrorID=2, Detail= Invalid Request!\r\n", UnsupportedError, None),
        (200, b"Error\r\nErrorID=4, Detail=Request invalid param!\r\n", DeviceRefusedError, "4"),
        (200, b"Error\r\nErrorID=0, Detail=Invalid Authority!\r\n", AuthenticationError, None),
        (400, b"Error\r\nBad Request!\r\n", DeviceRefusedError, "HTTP 400"),
        (501, b"Error\r\nNot Implemented!", UnsupportedError, None),
        (200, b"Error\r\nBad Request!", DeviceRefusedError, "HTTP 200"),
        (500, b"<html><body>500</body></html>", DeviceRefusedError, "HTTP 500"),
        (404, b"", UnsupportedError, None),
        (403, b"", DeviceRefusedError, "HTTP 403"),
    ],
)
def test_errors_legacy_modern_and_any_status(status, body, error, code):
    with pytest.raises(error) as info:
        am.read_answer(reply(status, body), "what")
    if code is not None:
        assert info.value.code == code  # type: ignore[attr-defined]
    assert "\n" not in str(info.value)


def test_error_detail_is_shown_with_its_id():
    with pytest.raises(DeviceRefusedError, match=r"Request invalid param! \(ErrorID 4\)"):
        am.read_answer(reply(200, b"Error\r\nErrorID=4, Detail=Request invalid param!\r\n"), "x")


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b"<!DOCTYPE html><html>login</html>", "text/html"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (bytes(range(256)), "text/plain"),
        (b"", "text/plain"),
    ],
)
def test_html_binary_or_empty_answers_are_malformed(body, ctype):
    with pytest.raises(MalformedResponseError):
        am.read_answer(reply(200, body, ctype), "magicBox getSerialNo")


def test_missing_key_names_what_was_there():
    kv = am.read_answer(reply(200, b"name=Cam\r\n"), "x")
    with pytest.raises(MalformedResponseError, match=r"no 'sn' in the answer \(it has name\)"):
        kv.require("sn", "magicBox getSerialNo")


@pytest.mark.parametrize(
    ("text", "version", "build"),
    [
        ("version=2.800.0000016.0.R,build:2020-06-05\r\n", "2.800.0000016.0.R", "2020-06-05"),
        ("version=2.420.AC00.15.R\r\nBuildDate=2016-09-08\r\n", "2.420.AC00.15.R", "2016-09-08"),
        ("version=2.520.AC00.18.R build:2017-06-29\r\n", "2.520.AC00.18.R", "2017-06-29"),
        ("version=1.0\r\n", "1.0", None),
    ],
)
def test_software_version_variants(text, version, build):
    assert am.parse_software_version(am.parse_key_values(text)) == (version, build)


def test_device_time_without_leading_zeros():
    assert am.parse_device_time("2011-7-3 21:02:32") == datetime(2011, 7, 3, 21, 2, 32)
    with pytest.raises(MalformedResponseError):
        am.parse_device_time("yesterday")


def test_channel_titles():
    kv = am.parse_key_values(
        "table.ChannelTitle[0].Name=Gate\r\ntable.ChannelTitle[2].Name=Yard\r\n"
    )
    assert am.parse_channel_titles(kv) == {0: "Gate", 2: "Yard"}


# -- file search ----------------------------------------------------------------------------------

SPEC_EXAMPLE = """found=1
items[0]. Channel =1
items[0]. StartTime =2011-1-1 12:00:00
items[0]. EndTime =2011-1-1 13:00:00
items[0]. Type =dav
items[0]. Events[0]=AlarmLocal
items[0]. FilePath =/mnt/dvr/sda0/2010/8/11/dav/15:40:50.jpg
items[0]. Length =790
items[0]. Duration = 3600
items[0].SummaryOffset=2354
items[0].Repeat=0
items[0].WorkDir="/mnt/dvr/sda0"
items[0]. Overwrites=5
items[0]. WorkDirSN=0
"""

PA_FIXTURE = "\r\n".join(
    [
        "found=2",
        "items[0].Channel=0",
        "items[0].Duration=480",
        "items[0].EndTime=2020-01-06 06:13:00",
        "items[0].Events[0]=VideoMotion",
        "items[0].FilePath=/mnt/sd/2020-01-06/001/dav/06/06.05.00-06.13.00[M][0@0][0].mp4",
        "items[0].Flags[0]=Event",
        "items[0].Length=248362892",
        "items[0].StartTime=2020-01-06 06:05:00",
        "items[0].Type=dav",
        "items[1].Channel=0",
        "items[1].EndTime=2020-01-06 07:00:00",
        "items[1].FilePath=/mnt/sd/2020-01-06/001/dav/06/06.13.00-07.00.00[R][0@0][0].dav",
        "items[1].Flags[0]=Timing",
        "items[1].StartTime=2020-01-06 06:13:00",
        "items[1].Type=dav",
        "",
    ]
)


def test_found_page_with_the_spacing_of_the_spec_example():
    (item,) = am.parse_found(am.parse_key_values(SPEC_EXAMPLE), BERLIN)
    assert item.start == datetime(2011, 1, 1, 11, 0, tzinfo=UTC)
    assert item.seconds == 3600 and item.channel == 1 and item.length == 790
    assert item.events == ("AlarmLocal",) and item.kind is RecordingKind.ALARM
    assert item.path == "/mnt/dvr/sda0/2010/8/11/dav/15:40:50.jpg"


def test_found_page_as_amcrest_sends_it():
    first, second = am.parse_found(am.parse_key_values(PA_FIXTURE), BERLIN)
    assert (first.vendor_kind, first.kind, first.seconds) == (
        "VideoMotion",
        RecordingKind.MOTION,
        480,
    )
    assert (second.vendor_kind, second.kind) == ("Timing", RecordingKind.SCHEDULE)
    assert second.flags == ("Timing",) and second.events == ()


def test_found_zero_and_a_count_that_does_not_match():
    assert am.parse_found(am.parse_key_values("found=0\r\n"), UTC) == []
    with pytest.raises(MalformedResponseError, match="announced 3 files and described 2"):
        am.parse_found(am.parse_key_values(PA_FIXTURE.replace("found=2", "found=3")), UTC)
    with pytest.raises(MalformedResponseError):
        am.parse_found(am.parse_key_values("items[0].Type=dav\r\n"), UTC)


def test_query_encoding_keeps_order_and_writes_spaces_as_percent_20():
    path = am.cgi_path(
        "mediaFileFind.cgi",
        [("action", "findFile"), ("condition.StartTime", "2020-01-02 03:04:05"), ("a", "[All]")],
    )
    assert path == (
        "/cgi-bin/mediaFileFind.cgi?action=findFile"
        "&condition.StartTime=2020-01-02%2003:04:05&a=%5BAll%5D"
    )


def test_rtsp_playback_url_order_and_credentials():
    url = am.playback_url(
        host="192.0.2.1",
        port=554,
        username="admin",
        password="p@ss:w/rd",
        channel=2,
        subtype=0,
        start_wall=datetime(2024, 11, 3, 22, 3, 0),
        end_wall=datetime(2024, 11, 3, 22, 4, 0),
    )
    assert url == (
        "rtsp://admin:p%40ss%3Aw%2Frd@192.0.2.1:554/cam/playback?channel=2&subtype=0"
        "&starttime=2024_11_03_22_03_00&endtime=2024_11_03_22_04_00"
    )


# -- events ---------------------------------------------------------------------------------------


def test_event_bodies_as_captured_byte_counts():
    """The simulator's Dahua-style JSON gives the captured bodies byte for byte (rr#166, mf)."""
    motion = {"Id": [0], "RegionName": ["Region1"], "SmartMotionEnable": True}
    assert len(EventPart("VideoMotion", "Start", 0, motion).body()) == 127
    assert len(EventPart("VideoMotion", "Stop", 0, motion).body()) == 126
    assert len(EventPart("VideoMotionInfo", "State", 0).body()) == 41
    assert len(EventPart("VideoMotion", "Start", 0).body()) == 37
    change = {"BeforeModifyTime": "2019-02-20 13:49:58", "ModifiedTime": "2019-02-20 13:49:58"}
    body = EventPart("TimeChange", "Pulse", 0, change).body()
    assert len(body) == 135 and body.endswith(b'"\n}\n')
    assert dahua_json({"DetectLine": [[18, 4098], [8155, 5549]]}) == (
        '{\n   "DetectLine" : [ [ 18, 4098 ], [ 8155, 5549 ] ]\n}'
    )
    assert event_part(b"Heartbeat") == (
        b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length:9\r\n\r\nHeartbeat\r\n\r\n"
    )


def test_parse_events_with_and_without_data():
    motion = am.parse_event(
        'Code=VideoMotion;action=Start;index=0;data={\n   "Id" : [ 0 ],\n'
        '   "RegionName" : [ "Region1" ],\n   "SmartMotionEnable" : true\n}\n'
    )
    assert motion is not None
    assert (motion.code, motion.kind, motion.action, motion.channel) == (
        "VideoMotion",
        "motion",
        EventAction.START,
        1,
    )
    assert motion.data == {"Id": [0], "RegionName": ["Region1"], "SmartMotionEnable": True}
    simple = am.parse_event("Code=AlarmLocal;action=Stop;index=3")
    assert simple is not None and simple.channel == 4 and simple.data == {}
    assert simple.kind == "alarm" and simple.action is EventAction.STOP
    state = am.parse_event("Code=VideoMotionInfo;action=State;index=0")
    assert state is not None and state.action is EventAction.PULSE
    assert state.data == {"action": "State"}


def test_event_data_may_hold_semicolons_and_broken_json_is_kept():
    event = am.parse_event('Code=NewFile;action=Pulse;index=1;data={"File" : "/a;b.jpg"}')
    assert event is not None and event.data == {"File": "/a;b.jpg"} and event.kind == "storage"
    broken = am.parse_event("Code=Foo;action=Pulse;index=0;data={oops")
    assert broken is not None and broken.data == {"data": "{oops"} and broken.kind == "other"


@pytest.mark.parametrize("text", ["Heartbeat", "", "  \r\n", "garbage without code", "a=b;c=d"])
def test_heartbeats_and_non_events_are_dropped(text):
    assert am.parse_event(text) is None


def test_jpeg_is_cut_out_by_its_markers():
    assert am.jpeg_in(b"\r\n\xff\xd8\xff\xe0xyz\xff\xd9\r\n") == b"\xff\xd8\xff\xe0xyz\xff\xd9"
    assert am.jpeg_in(b"no picture") == b"no picture"


# -- DHAV -----------------------------------------------------------------------------------------


def test_dhav_date_field_round_trip():
    wall = datetime(2026, 3, 29, 2, 59, 58)
    assert dhav.unpack_date(dhav.pack_date(wall)) == wall
    with pytest.raises(ValueError):
        dhav.pack_date(datetime(1999, 1, 1))


def write_dhav(path: Path, frames: int = 6, *, header: bool = False) -> list[int]:
    """A small DHAV file; returns the offset of every chunk."""
    start = datetime(2026, 1, 2, 3, 4, 5)
    writer = dhav.DhavWriter(0, 640, 360, 10, start)
    data = bytearray(dhav.file_header() if header else b"")
    offsets = []
    for n in range(frames):
        offsets.append(len(data))
        wall = start + timedelta(seconds=n / 10)
        data += writer.video(wall, [b"\x65\x88\x84" + bytes(50)], key=n % 3 == 0)
        offsets.append(len(data))
        data += writer.audio(wall, bytes(160))
    path.write_bytes(bytes(data))
    return offsets


def test_dhav_chunk_layout(tmp_path: Path):
    path = tmp_path / "a.dav"
    write_dhav(path, 1)
    data = path.read_bytes()
    assert data[:4] == b"DHAV" and data[4] == 0xFD
    length = struct.unpack_from("<I", data, 12)[0]
    assert data[length - 8 : length] == b"dhav" + struct.pack("<I", length)
    assert data[23] == sum(data[:23]) & 0xFF
    assert data[22] == 12 and data[24] == 0x81 and data[26] == 0x02 and data[27] == 10
    assert struct.unpack_from("<HH", data, 32) == (640, 360)
    assert dhav.unpack_date(struct.unpack_from("<I", data, 16)[0]) == datetime(2026, 1, 2, 3, 4, 5)


def test_dhav_check_counts_frames_with_or_without_file_header(tmp_path: Path):
    for header in (False, True):
        path = tmp_path / f"h{header}.dav"
        write_dhav(path, 6, header=header)
        summary = am.check_dhav(path)
        assert (summary.chunks, summary.video_frames, summary.key_frames) == (12, 6, 2)


def test_dhav_check_finds_truncation_damage_and_strangers(tmp_path: Path):
    path = tmp_path / "t.dav"
    offsets = write_dhav(path, 6)
    whole = path.read_bytes()
    path.write_bytes(whole[: offsets[7] + 40])
    with pytest.raises(MalformedResponseError, match="truncated"):
        am.check_dhav(path)
    path.write_bytes(whole[: offsets[7] + 10])
    with pytest.raises(MalformedResponseError, match="truncated"):
        am.check_dhav(path)
    damaged = bytearray(whole)
    damaged[offsets[3] - 3] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with pytest.raises(MalformedResponseError, match="damaged"):
        am.check_dhav(path)
    path.write_bytes(b"<html>not video</html>" * 10)
    with pytest.raises(MalformedResponseError, match="not a DHAV recording"):
        am.check_dhav(path)
    path.write_bytes(b"")
    with pytest.raises(MalformedResponseError, match="empty"):
        am.check_dhav(path)


def test_a_download_that_is_an_error_answer(tmp_path: Path):
    path = tmp_path / "e.dav"
    path.write_bytes(b"Error\r\nBad Request!")
    with pytest.raises(NothingFoundError, match="no recording for that range"):
        am.check_download(path, by_time=True)
    with pytest.raises(DeviceRefusedError, match="Bad Request!"):
        am.check_download(path, by_time=False)
