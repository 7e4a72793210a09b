"""The 2N driver's pure wire functions on the shapes the reference documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from camfetch.address import DeviceAddress
from camfetch.drivers import two_n
from camfetch.errors import (
    AuthenticationError,
    CamfetchError,
    DeviceRefusedError,
    MalformedResponseError,
    NothingFoundError,
    UnsupportedError,
    UsageError,
)
from camfetch.http import Reply
from camfetch.models import EventAction

JSON = "application/json"


def reply(status: int, body: bytes | str, ctype: str = JSON) -> Reply:
    data = body.encode() if isinstance(body, str) else body
    return Reply(status, CIMultiDictProxy(CIMultiDict({"Content-Type": ctype})), data)


def failure(code: int, param: str | None = None, description: str = "x") -> str:
    extra = f', "param" : "{param}"' if param else ""
    return (
        f'{{ "success" : false, "error" : {{ "code" : {code}{extra}, '
        f'"description" : "{description}" }} }}'
    )


def test_success_with_and_without_result():
    ok = reply(200, '{ "success" : true, "result" : { "id" : 7 } }')
    assert two_n.read_envelope(ok, "log/subscribe", account="admin") == {"id": 7}
    assert two_n.read_envelope(reply(200, '{"success":true}'), "x", account="admin") == {}


def test_the_trailing_comma_the_wiki_prints_is_tolerated():
    assert two_n.read_envelope(reply(200, '{ "success" : true, }'), "x", account="a") == {}


# (code, param, HTTP status, error class, exit code, words the message must hold)
CODES = [
    (1, None, 200, UnsupportedError, 8, "error 1)"),
    (2, None, 200, UnsupportedError, 8, "error 2)"),
    (3, None, 200, DeviceRefusedError, 4, "error 3)"),
    (4, None, 200, DeviceRefusedError, 4, "enable it"),
    (7, None, 200, DeviceRefusedError, 4, "add https=1"),
    (8, None, 401, AuthenticationError, 3, "auth=digest"),
    (9, None, 401, AuthenticationError, 3, "wrong user name or password"),
    (10, None, 200, DeviceRefusedError, 4, "'admin' lacks the Camera Monitoring privilege"),
    (10, None, 401, DeviceRefusedError, 4, "lacks the Camera Monitoring"),
    (11, "width", 200, DeviceRefusedError, 4, "parameter 'width'"),
    (12, "height", 200, DeviceRefusedError, 4, "parameter 'height'"),
    (12, "time", 401, DeviceRefusedError, 4, "parameter 'time'"),
    (13, "data", 200, DeviceRefusedError, 4, "parameter 'data'"),
    (14, None, 200, DeviceRefusedError, 4, "error 14)"),
    (15, None, 200, NothingFoundError, 5, "error 15)"),
    (17, "a", 200, DeviceRefusedError, 4, "parameter 'a'"),
    (18, None, 200, DeviceRefusedError, 4, "error 18)"),
    (19, None, 200, DeviceRefusedError, 4, "error 19)"),
    (42, "z", 200, DeviceRefusedError, 4, "(error 42, parameter 'z')"),
]


@pytest.mark.parametrize(("code", "param", "status", "error", "exit_code", "words"), CODES)
def test_every_error_code_is_typed_and_names_its_parameter(
    code: int,
    param: str | None,
    status: int,
    error: type[CamfetchError],
    exit_code: int,
    words: str,
):
    with pytest.raises(error) as info:
        two_n.read_envelope(
            reply(status, failure(code, param, "from the device")),
            "camera/snapshot",
            account="admin",
        )
    assert info.value.exit_code == exit_code
    assert words in str(info.value) and "from the device" in str(info.value)
    if isinstance(info.value, two_n.ApiRefusedError):
        assert info.value.code == str(code) and info.value.param == param
        assert info.value.http_status == status


def test_error_without_description_gets_the_documented_one():
    with pytest.raises(DeviceRefusedError, match="invalid parameter value"):
        two_n.read_envelope(reply(200, '{"success":false,"error":{"code":"12"}}'), "x", account="a")


def test_privilege_error_without_credentials_asks_for_them():
    """py2n's reading: code 10 to a client that sent no credentials means 'log in'."""
    with pytest.raises(AuthenticationError, match="put a user in the URL"):
        two_n.read_envelope(reply(401, failure(10)), "camera/caps", account=None)


@pytest.mark.parametrize(
    ("status", "body", "ctype", "error", "words"),
    [
        (401, b"401 Unauthorized", "text/plain", AuthenticationError, "wrong user name"),
        (500, b"<html>oops</html>", "text/html", DeviceRefusedError, "HTTP 500"),
        (200, b"<!DOCTYPE html><html>login</html>", "text/html", MalformedResponseError, "HTML"),
        (200, b"OK", "text/plain", MalformedResponseError, "expected a JSON answer"),
        (200, b'{"result": {}}', JSON, MalformedResponseError, "'success'"),
        (200, b'{"success": false}', JSON, MalformedResponseError, "'error'"),
        (200, b'{"success": false, "error": {"code": true}}', JSON, MalformedResponseError, "code"),
        (200, b'{"success": true, "result": [1]}', JSON, MalformedResponseError, "'result'"),
        (200, b"[" * 100_000, JSON, MalformedResponseError, "expected a JSON answer"),
        (200, b"\xff\xfe{garbage", JSON, MalformedResponseError, "expected a JSON answer"),
    ],
)
def test_answers_that_are_not_envelopes(status, body, ctype, error, words):
    with pytest.raises(error, match=words):
        two_n.read_envelope(reply(status, body, ctype), "system/info", account="admin")


def test_picture_of_a_snapshot_answer():
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 10 + b"\xff\xd9"
    assert two_n.picture_of(reply(200, jpeg, "image/jpeg"), "s", account="a") == jpeg
    with pytest.raises(DeviceRefusedError, match="parameter 'width'"):
        two_n.picture_of(reply(200, failure(12, "width")), "s", account="a")
    with pytest.raises(MalformedResponseError, match="success without a picture"):
        two_n.picture_of(reply(200, '{"success": true}'), "s", account="a")
    with pytest.raises(MalformedResponseError, match="not an image"):
        two_n.picture_of(reply(200, b"\x00garbage", "image/jpeg"), "s", account="a")


def test_caps_are_read_tolerantly():
    caps = two_n.parse_caps(
        {
            "jpegResolution": [
                {"width": 640, "height": 480},
                {"width": "1280", "height": "960"},
                {"width": 160},
                {"width": 0, "height": 0},
                "320x240",
                {"width": 176, "height": 144},
            ],
            "sources": [{"source": "internal"}, {"source": "external"}, {"nothing": 1}],
        }
    )
    assert caps.sizes == ((176, 144), (640, 480), (1280, 960))
    assert caps.sources == ("internal", "external")
    assert two_n.parse_caps({"jpegResolution": [{"width": 640, "height": 480}]}).sources == (
        "internal",
    )
    assert two_n.parse_caps({}) == two_n.CameraCaps((), ())


DOCUMENTED = ((160, 120), (176, 144), (320, 240), (352, 272), (352, 288), (640, 480))
NEWER = (*DOCUMENTED, (1280, 720), (1280, 960), (1920, 1080))


@pytest.mark.parametrize(
    ("sizes", "wanted", "limit", "chosen"),
    [
        (NEWER, None, None, (1920, 1080)),  # nothing asked: the largest
        (NEWER, (640, 480), None, (640, 480)),  # listed: exactly that
        (NEWER, (1280, 800), None, (1280, 720)),  # same width, nearer height
        (NEWER, (1000, 1000), None, (1280, 960)),
        (NEWER, (800, 600), None, (640, 480)),  # 4:3 below beats 16:9 above
        (NEWER, (4000, 3000), None, (1920, 1080)),
        (NEWER, (10, 10), None, (160, 120)),
        (NEWER, (352, 280), None, (352, 288)),  # a tie: the larger
        (NEWER, None, (1280, 960), (1280, 960)),  # a past frame: at most 1280x960
        (NEWER, (1920, 1080), (1280, 960), (1280, 960)),  # nearer in height
        (DOCUMENTED, None, (1280, 960), (640, 480)),
        (((2560, 1440),), None, (1280, 960), (2560, 1440)),  # nothing fits: the smallest
    ],
)
def test_closest_size(sizes, wanted, limit, chosen):
    assert two_n.closest_size(sizes, wanted, limit=limit) == chosen


def test_size_distance_is_scale_free():
    assert two_n.size_distance((640, 480), (320, 240)) == pytest.approx(
        two_n.size_distance((160, 120), (320, 240))
    )


def test_size_option():
    assert two_n.parse_size("1280x960") == (1280, 960)
    for bad in ("1280", "x960", "0x10", "axb"):
        with pytest.raises(UsageError):
            two_n.parse_size(bad)


def test_sources_become_numbered_named_channels():
    channels = two_n.source_channels(["external", "internal", "lobby"])
    assert [(c.number, c.name, c.title) for c in channels] == [
        (1, "internal", "Internal camera"),
        (2, "external", "External IP camera"),
        (3, "lobby", "Camera source lobby"),
    ]


@pytest.mark.parametrize(
    ("result", "offset_minutes", "name"),
    [
        ({"automatic": True, "zone": "America/Los Angeles"}, None, "America/Los_Angeles"),
        ({"automatic": False, "zone": "custom", "custom": "UTC-08:00"}, -480, "-08:00"),
        ({"automatic": False, "zone": "custom", "custom": "UTC+5:30"}, 330, "+05:30"),
        ({"automatic": False, "zone": "custom", "custom": "UTC"}, 0, "UTC"),
    ],
)
def test_time_zone_answers(result, offset_minutes, name):
    found = two_n.zone_of(result)
    assert found is not None and found[1] == name
    moment = datetime(2026, 7, 1, 12, tzinfo=UTC)
    expected = (
        ZoneInfo(name).utcoffset(moment.replace(tzinfo=None))
        if offset_minutes is None
        else timedelta(minutes=offset_minutes)
    )
    assert moment.astimezone(found[0]).utcoffset() == expected


def test_unreadable_time_zones_are_unknown():
    assert two_n.zone_of({"zone": "custom", "custom": "sometime"}) is None
    assert two_n.zone_of({"zone": "Atlantis/Capital"}) is None
    assert two_n.zone_of({}) is None


@pytest.mark.parametrize(
    ("event", "params", "kind", "action", "channel"),
    [
        ("MotionDetected", {"state": "in"}, "motion", EventAction.START, 1),
        ("MotionDetected", {"state": "out"}, "motion", EventAction.STOP, 1),
        ("NoiseDetected", {"state": "in"}, "smart", EventAction.START, None),
        ("CallStateChanged", {"state": "ringing"}, "call", EventAction.START, None),
        ("CallStateChanged", {"state": "connected"}, "call", EventAction.PULSE, None),
        ("CallStateChanged", {"state": "terminated"}, "call", EventAction.STOP, None),
        ("KeyPressed", {"key": "%1"}, "call", EventAction.START, None),
        ("KeyReleased", {"key": "5"}, "access", EventAction.STOP, None),
        ("CardEntered", {"uid": "AB", "valid": True}, "access", EventAction.PULSE, None),
        ("CodeEntered", {"code": "1234", "valid": False}, "access", EventAction.PULSE, None),
        ("SwitchStateChanged", {"switch": 1, "state": True}, "door", EventAction.START, None),
        ("SwitchStateChanged", {"switch": 1, "state": False}, "door", EventAction.STOP, None),
        ("DoorStateChanged", {"state": "opened"}, "door", EventAction.START, None),
        ("TamperSwitchActivated", {"state": "in"}, "tamper", EventAction.START, None),
        ("InputChanged", {"port": "relay1", "state": "false"}, "alarm", EventAction.STOP, None),
        ("RegistrationStateChanged", {"state": "registered"}, "network", EventAction.PULSE, None),
        ("DeviceState", {"state": "startup"}, "system", EventAction.PULSE, None),
        ("LiftStatusChanged", {}, "other", EventAction.PULSE, None),
    ],
)
def test_log_events_map_to_kinds_and_actions(event, params, kind, action, channel):
    tz = ZoneInfo("Europe/Prague")
    raw = {"id": 3, "tzShift": 60, "utcTime": 1437987105, "upTime": 11, "event": event}
    parsed = two_n.parse_event({**raw, "params": params}, tz)
    assert parsed is not None
    assert (parsed.kind, parsed.action, parsed.channel) == (kind, action, channel)
    assert parsed.code == event and parsed.data == params
    assert parsed.time == datetime(2015, 7, 27, 8, 51, 45, tzinfo=UTC)
    assert parsed.time.utcoffset() == timedelta(hours=2)  # shown in the device's zone


def test_log_entries_without_a_name_are_skipped_and_bad_times_tolerated():
    assert two_n.parse_event({"id": 1, "params": {}}, UTC) is None
    assert two_n.parse_event("DeviceState", UTC) is None
    odd = two_n.parse_event({"event": "DeviceState", "utcTime": "soon", "params": None}, UTC)
    assert odd is not None and odd.data == {} and odd.time.tzinfo is not None


def test_pacer_keeps_the_asked_rate_of_a_faster_stream():
    def kept(rate: float, wire: int, seconds: float) -> int:
        pacer = two_n.Pacer(rate, wire)
        return sum(pacer.keep(n / wire) for n in range(int(seconds * wire)))

    assert kept(0.5, 1, 20) == 10
    assert kept(2.5, 3, 20) in {49, 50, 51}
    assert kept(4, 4, 5) == 20  # a whole rate: every frame


def test_2n_urls_parse_although_the_scheme_starts_with_a_digit():
    address = DeviceAddress.parse("2n://admin:p%40ss@192.0.2.7:8443?https=1&verify=0")
    assert (address.scheme, address.host, address.port) == ("2n", "192.0.2.7", 8443)
    assert address.password == "p@ss" and address.options == {"https": "1", "verify": "0"}
    assert address.masked() == "2n://admin:***@192.0.2.7:8443?https=1&verify=0"
    assert "p@ss" not in address.label and "p%40ss" not in address.masked()
