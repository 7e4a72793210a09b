"""The Viewtron driver's pure wire functions, on the shapes the reference documents."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from camfetch.drivers import viewtron as vt
from camfetch.errors import AuthenticationError, DeviceRefusedError, MalformedResponseError
from camfetch.http import Reply
from camfetch.http.xmlsafe import parse_xml
from camfetch.models import RecordingKind

NS = 'xmlns="http://www.ipc.com/ver10"'


def reply(status: int, body: bytes, ctype: str = "application/xml") -> Reply:
    return Reply(status, CIMultiDictProxy(CIMultiDict({"Content-Type": ctype})), body)


def test_channel_list_as_the_docs_print_it_and_well_nested():
    printed = parse_xml(
        f'<config version="1.0" {NS}><channelIDList type="list" count="2"/>'
        '<itemType type="string" maxLen="20"/><item channelStatus="online">1</item>'
        '<item channelStatus="offline">2</item></config>'
    )
    nested = parse_xml(
        f'<config version="1.0" {NS}><channelIDList type="list" count="2">'
        '<itemType type="string" maxLen="20"/><item channelStatus="online">1</item>'
        '<item channelStatus="offline">2</item></channelIDList></config>'
    )
    for root in (printed, nested):
        channels = vt.parse_channel_list(root)
        assert [(c.number, c.online) for c in channels] == [(1, True), (2, False)]


def test_channel_info_v2():
    root = parse_xml(
        f'<config version="2.0.0" {NS}><channelList type="list" count="1"><item>'
        '<channelId type="uint32">3</channelId><name type="string"><![CDATA[Gate]]></name>'
        '<status type="channelStatus">videoLoss</status><attribute>PTZ</attribute>'
        "</item></channelList></config>"
    )
    (ch,) = vt.parse_channel_info(root)
    assert (ch.number, ch.name, ch.online, ch.kind) == (3, "Gate", False, "PTZ")


def test_segments_v1_end_is_start_plus_seconds_v2_uses_endtime():
    tz = ZoneInfo("Europe/Berlin")
    v1 = parse_xml(
        f'<config version="1.0" {NS}><timesectionList type="list" count="1"><item>'
        '<starttime type="string" seconds="65" recType="motion"><![CDATA[2024-08-23 09:12:40]]>'
        "</starttime></item></timesectionList></config>"
    )
    (seg,) = vt.parse_segments(v1, 1, tz)
    assert seg.duration == 65 and seg.kind is RecordingKind.MOTION and seg.vendor_kind == "motion"
    assert seg.start == datetime(2024, 8, 23, 7, 12, 40, tzinfo=UTC)
    v2 = parse_xml(
        f'<config version="2.0.0" {NS}><timesectionList type="list" count="1"><item>'
        '<starttime type="string" seconds="65" recType="intelligentDetection">'
        "<![CDATA[2024-08-23 09:12:40]]></starttime>"
        '<endtime type="string"><![CDATA[2024-08-23 09:14:00]]></endtime></item>'
        "</timesectionList></config>"
    )
    (seg,) = vt.parse_segments(v2, 2, tz)
    assert seg.duration == 80 and seg.kind is RecordingKind.SMART and seg.channel == 2


def test_segment_without_length_is_malformed():
    root = parse_xml(
        f'<config {NS}><timesectionList><item><starttime recType="motion">'
        "2024-08-23 09:12:40</starttime></item></timesectionList></config>"
    )
    with pytest.raises(MalformedResponseError, match="neither seconds nor endtime"):
        vt.parse_segments(root, 1, UTC)


def test_playback_url_parameter_order_and_encoding():
    url = vt.playback_url(
        host="10.0.0.5",
        port=554,
        username="admin",
        password="p@ss:w/rd&x",
        chid=1,
        start_wall=datetime(2026, 4, 2, 11, 0, 0),
        seconds=10,
        stream="main",
    )
    assert url == (
        "rtsp://admin:p%40ss%3Aw%2Frd%26x@10.0.0.5:554/chID=1&date=2026-04-02"
        "&time=11:00:00&timelen=10&streamType=main&action=playback"
    )
    keys = [p.split("=")[0] for p in url.split("/", 3)[3].split("&")]
    assert keys == ["chID", "date", "time", "timelen", "streamType", "action"]


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (
            400,
            b'<config status="failed" errorCode="1" errorDesc="Invalid Request"/>',
            DeviceRefusedError,
            "1",
        ),
        (
            400,
            f'<config version="1.0" {NS} status="failed" errorCode="4"></config>'.encode(),
            DeviceRefusedError,
            "4",
        ),
        (400, b"", DeviceRefusedError, "1"),
        (
            200,
            b'<config status="failed" errorCode="7" errorDesc="System Busy"/>',
            DeviceRefusedError,
            "7",
        ),
        (
            400,
            b'<config status="failed" errorCode="10" errorDesc="User Locked"/>',
            AuthenticationError,
            None,
        ),
        (500, b"<html><body>500</body></html>", DeviceRefusedError, "HTTP 500"),
    ],
)
def test_error_answers(status: int, body: bytes, error: type[Exception], code: str | None):
    r = reply(status, body, "text/html" if body.startswith(b"<html") else "application/xml")
    root = vt._xml_root(r, "Cmd")
    with pytest.raises(error) as info:
        vt.raise_for_status(r, root, "Cmd")
    if code is not None:
        assert info.value.code == code  # type: ignore[attr-defined]
    if status == 400 and not body:
        assert "empty body" in str(info.value)


def test_v1_error_without_description_gets_the_documented_text():
    r = reply(400, f'<config version="1.0" {NS} status="failed" errorCode="2"></config>'.encode())
    with pytest.raises(DeviceRefusedError, match="Invalid XML Format"):
        vt.raise_for_status(r, vt._xml_root(r, "Cmd"), "Cmd")


def test_success_answers_pass():
    r = reply(200, b'<config status="success"/>')
    vt.raise_for_status(r, vt._xml_root(r, "Cmd"), "Cmd")


def test_html_page_with_status_200_is_malformed():
    r = reply(200, b"<!DOCTYPE html><html><body>login</body></html>", "text/html")
    with pytest.raises(MalformedResponseError, match="HTML page"):
        vt._xml_root(r, "GetDeviceInfo")


def test_v1_daylight_saving_fields_fold_into_one_rule():
    root = parse_xml(
        f'<config version="1.7" {NS}><time><timezoneInfo>'
        "<timeZone><![CDATA[EST5]]></timeZone><startTime><![CDATA[M3.2.0/2]]></startTime>"
        "<endTime><![CDATA[M11.1.0/2]]></endTime><offSet>60</offSet>"
        "<daylightSwitch>1</daylightSwitch></timezoneInfo></time></config>"
    )
    rule = vt.posix_rule(root)
    assert rule == "EST5DST4,M3.2.0/2,M11.1.0/2"
    from camfetch.timeutil import posix_zone

    zone = posix_zone(rule)
    assert datetime(2026, 7, 1, 16, tzinfo=UTC).astimezone(zone).hour == 12
    assert datetime(2026, 1, 1, 17, tzinfo=UTC).astimezone(zone).hour == 12


def test_xml_bomb_is_refused():
    from camfetch.sim.faults import BOMB

    with pytest.raises(MalformedResponseError, match="unsafe XML"):
        parse_xml(BOMB)
