"""A simulated Amcrest / Dahua camera or NVR speaking the HTTP CGI API, faithful to its quirks.

Wire facts follow ``protocols/amcrest_dahua.md`` (the reference); where sources
disagree the variant is a knob and its default is named below.

Profiles:

- ``legacy``: an Amcrest IP2M-841 on firmware 2.420.AC00.15.R (2016), before
  Amcrest went Digest-only: Basic and Digest accepted, errors as ``200`` with
  ``Error`` / ``ErrorID=n, Detail=…`` (spec §3.4), software version and build
  date on two lines, unpadded clock fields (``result=2011-7-3 21:02:32``), no
  ``getDeviceClass``, events without ``data`` (as pa#22 shows).
- ``modern``: a Dahua IPC-HDW5831R-ZE (or an NVR with more channels) on 2020
  firmware: Digest only, ``400 Bad Request!`` for bad parameters and
  ``501 Not Implemented!`` for unknown requests, ``version=…,build:…``, events
  with JSON ``data`` (rr#166), ``UTCOffset`` in file items.

Both: key=value bodies with CRLF line ends and ``Connection: close`` on every
answer; Digest with realm ``Login to <serial>``, ``qop="auth"``, an ``opaque``,
nonces that expire (``stale=TRUE``) and a ``uri`` that must be the request's
path with its query; an account lock after repeated wrong passwords; one
snapshot at a time (a JPEG with the ``DHAV\\xfb`` comment devices put in);
MJPEG on the sub stream only; file finders (``mediaFileFind.cgi``) of small
capacity that accept ``condition.Flag[k]`` and ``condition.Flags[k]``, answer
at most 100 items per page with the keys of an item in alphabetical order, and
refuse python-amcrest's ``factory.close``/``factory.destroy``; recordings as
DHAV files (real H.264 and G.711 in Dahua's frame format) by name
(``RPC_Loadfile``) and by time (``loadfile.cgi``); RTSP playback on the shared
RTSP server with Digest without qop and order-sensitive parameters; and the
event stream byte for byte as captured (``Content-Length:`` without a space,
``\\r\\n\\r\\n`` after each body, heartbeats only when asked for), optionally
with the stray HTTP header block some firmware sends inside the body.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from aiohttp import web
from aiohttp.typedefs import Middleware
from PIL import Image

from camfetch.models import RecordingKind
from camfetch.sim.archive import RecordingArchive
from camfetch.sim.base import BareRequest, RtspPlaybackDevice
from camfetch.sim.dhav import DhavWriter
from camfetch.sim.faults import Fault
from camfetch.sim.h264 import RecordingStream, VideoFormat, is_keyframe
from camfetch.sim.httpauth import DeviceLogin, Verdict, parse_digest
from camfetch.sim.multipart import part
from camfetch.sim.rtsp import DigestAuth, MediaSource, RtspError, RtspRequest

Profile = Literal["legacy", "modern"]
AuthSchemes = Literal["basic", "digest", "both"]
SearchEnd = Literal["found0", "error"]
ItemStyle = Literal["compact", "spec"]
SnapshotBusy = Literal["wait", "drop"]

BOUNDARY = "myboundary"
TEXT = "text/plain;charset=utf-8"
OCTETS = "Application/octet-stream"  # as the spec prints it
SUB_SIZE = (640, 360)
MAX_PAGE = 100  # "The maximum value of fileCount is 100"
BYTES_PER_SECOND = 230_000  # what a file's Length says: about what the encoder makes at 720p

#: Spec table 3-2: ErrorID and its Detail text.
ERRORS: dict[int, str] = {
    0: "Invalid Authority!",
    1: "Request parses error!",
    2: "Invalid Request!",
    3: "Method not found!",
    4: "Request invalid param!",
    5: "Server internal error!",
    6: "Request Timeout!",
    7: "Client keepalive failed!",
}
#: ErrorIDs a modern firmware answers with 501 Not Implemented (the rest: 400 Bad Request).
_NOT_IMPLEMENTED = {2, 3}

#: Recording kind -> (Flags, Events, the letter in the file name). R and M are seen in
#: captured paths; A, H and I follow Dahua's naming but are not verified.
FILE_KINDS: dict[RecordingKind, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    RecordingKind.SCHEDULE: (("Timing",), (), "R"),
    RecordingKind.MANUAL: (("Manual",), (), "H"),
    RecordingKind.MOTION: (("Event",), ("VideoMotion",), "M"),
    RecordingKind.ALARM: (("Event",), ("AlarmLocal",), "A"),
    RecordingKind.SMART: (("Event",), ("CrossLineDetection",), "I"),
}
_EVENT_FILE_KINDS = {RecordingKind.MOTION, RecordingKind.ALARM, RecordingKind.SMART}

#: Keys of the spec's findNextFile example and how it spaces them (§5.2).
_SPEC_SPACED = {
    "Channel",
    "StartTime",
    "EndTime",
    "Type",
    "FilePath",
    "Length",
    "Overwrites",
    "WorkDirSN",
}

_DAV_NAME = re.compile(
    r"^(?P<h1>\d{2})\.(?P<m1>\d{2})\.(?P<s1>\d{2})-(?P<h2>\d{2})\.(?P<m2>\d{2})\.(?P<s2>\d{2})"
    r"\[(?P<letter>[A-Z])\]\[0@0\]\[0\]\.dav$"
)
_JPG_NAME = re.compile(r"^(?P<m>\d{2})/(?P<s>\d{2})\[(?P<letter>[A-Z])\]\[0@0\]\[0\]\.jpg$")
_FILE_PATH = re.compile(
    r"^/mnt/(?:sd|dvr/sda0)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<ch>\d{3})/(?P<type>dav|jpg)/"
    r"(?P<hour>\d{2})/(?P<name>.+)$"
)
PLAYBACK_ORDERS = (
    ("channel", "subtype", "starttime", "endtime"),
    ("channel", "starttime", "endtime"),
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _UntilClose(web.StreamResponse):
    """A body that ends when the connection closes, without chunked framing.

    Devices send endless streams (events, MJPEG) this way; aiohttp would
    otherwise use chunked transfer encoding for a body of unknown length.
    """

    _length_check = False


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One recording file (``dav``) or event picture (``jpg``) of one channel, true times."""

    channel: int  # 1-based
    start: datetime
    end: datetime
    kind: RecordingKind
    type: str  # "dav" or "jpg"

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


@dataclass
class Finder:
    """A ``mediaFileFind`` object: created, given conditions, paged, closed, destroyed."""

    items: list[StoredFile] | None = None  # None until findFile, and again after close
    cursor: int = 0


@dataclass
class EventPart:
    """An event as the stream sends it: ``Code=…;action=…;index=…[;data=…]``."""

    code: str
    action: str
    index: int
    data: dict[str, Any] | None = None

    def body(self) -> bytes:
        text = f"Code={self.code};action={self.action};index={self.index}"
        if self.data is not None:
            text += ";data=" + dahua_json(self.data) + "\n"
        return text.encode()


def dahua_json(value: Any, indent: int = 0) -> str:
    """JSON as Dahua firmware prints it: objects one key a line, 3-space indent, ``" : "``,
    arrays on one line (``[ 0 ]``, ``[ [ 18, 4098 ], [ 8155, 5549 ] ]``)."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        pad = " " * (indent + 3)
        lines = [f'{pad}"{key}" : {dahua_json(item, indent + 3)}' for key, item in value.items()]
        return "{\n" + ",\n".join(lines) + "\n" + " " * indent + "}"
    if isinstance(value, list):
        return (
            "[ " + ", ".join(dahua_json(item, indent) for item in value) + " ]" if value else "[]"
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def event_part(body: bytes) -> bytes:
    """One part of the event stream, byte for byte as devices send it (mf, rr#166)."""
    head = f"--{BOUNDARY}\r\nContent-Type: text/plain\r\nContent-Length:{len(body)}\r\n\r\n"
    return head.encode() + body + b"\r\n\r\n"


HEARTBEAT_PART = f"--{BOUNDARY}\r\nContent-Type: text/plain\r\nContent-Length:9\r\n\r\n".encode()
HEARTBEAT_PART += b"Heartbeat\r\n"
#: The HTTP status line and headers some firmware repeats inside the body (scrypted#1417).
STRAY_HEADER_BLOCK = (
    b"HTTP/1.1 200 OK\r\nServer: Device/1.0\r\n"
    b"Content-Type: multipart/x-mixed-replace; boundary=" + BOUNDARY.encode() + b"\r\n\r\n"
)


class AmcrestSimulator(RtspPlaybackDevice):
    """An Amcrest/Dahua camera or NVR: HTTP CGI API, RTSP playback, event stream."""

    scheme: ClassVar[str] = "amcrest"
    rtsp_server_name: ClassVar[str] = "Rtsp Server/3.0"

    def __init__(
        self,
        *,
        profile: Profile = "modern",
        channels: int = 1,
        name: str | None = None,
        auth: AuthSchemes | None = None,
        nonce_lifetime: float = 60.0,
        lock_after: int = 5,
        lock_seconds: float = 1800.0,
        find_channel_base: int = 1,
        finder_capacity: int = 4,
        empty_search: SearchEnd = "found0",
        search_end: SearchEnd = "found0",
        item_style: ItemStyle = "compact",
        snapshot_busy: SnapshotBusy = "wait",
        snapshot_delay: float = 0.0,
        mjpeg_fps: float = 5.0,
        event_interval: float = 5.0,
        event_cut_after: int | None = None,
        stray_header: bool = False,
        playback_speed: float = 0.0,
        record_fps: int = 10,
        rtsp_port: int = 0,
        events_per_hour: float = 12.0,
        pack_minutes: int = 60,
        truncate_downloads: float | None = None,
        **common: Any,
    ) -> None:
        """A device of ``profile`` with ``channels`` video inputs (more than one: an NVR).

        ``auth`` overrides which schemes are accepted (legacy: both, modern: Digest).
        ``find_channel_base`` is what ``condition.Channel`` counts from: 1 follows
        the spec's example, 0 what python-amcrest sends by default. ``empty_search``
        and ``search_end`` choose between the two reported answers to a search
        without results and to paging past the end: ``found=0`` or ``Error``.
        ``item_style="spec"`` spaces item keys as the spec's example does
        (``items[0]. Channel =1``). ``truncate_downloads`` (0..1) ends every DHAV
        download that far in, in the middle of a frame, with a clean end of the
        HTTP body (a truncated file, as recorders send across file boundaries).
        ``events_per_hour`` sets how busy the recording archive is (files per day
        grow with it, but overlapping events merge, so it levels off near 1,000
        files a day); ``pack_minutes`` is the "pack duration" after which a device
        starts a new file (1-120; 60 keeps the archive's hourly files).
        """
        if profile not in ("legacy", "modern"):
            raise ValueError(f"unknown profile {profile!r}")
        default_name = "FrontDoorCam" if channels == 1 else "Recorder"
        super().__init__(name=name or default_name, **common)
        self.profile: Profile = profile
        self.channel_count = channels
        self.archive = RecordingArchive(
            self.seed, retention=self.archive.retention, events_per_hour=events_per_hour
        )
        schemes: AuthSchemes = auth or ("both" if profile == "legacy" else "digest")
        self.serial = ("AMC" + self.identity(14)) if self.legacy else self.identity(15)
        self.login = DeviceLogin(
            self.username,
            self.password,
            realm=f"Login to {self.serial}",
            basic=schemes in ("basic", "both"),
            digest=schemes in ("digest", "both"),
            qop=True,
            nonce_lifetime=nonce_lifetime,
        )
        self.lock_after = lock_after
        self.lock_seconds = lock_seconds
        self.find_channel_base = find_channel_base
        self.finder_capacity = finder_capacity
        self.empty_search: SearchEnd = empty_search
        self.search_end: SearchEnd = search_end
        self.item_style: ItemStyle = item_style
        self.snapshot_busy: SnapshotBusy = snapshot_busy
        self.snapshot_delay = snapshot_delay
        self.mjpeg_fps = mjpeg_fps
        self.event_interval = event_interval
        self.event_cut_after = event_cut_after
        self.stray_header = stray_header
        self.playback_speed = playback_speed
        self.record_fps = record_fps
        self.requested_rtsp_port = rtsp_port
        self.truncate_downloads = truncate_downloads
        if not 1 <= pack_minutes <= 120:
            raise ValueError("pack_minutes must be between 1 and 120")
        self.pack_minutes = pack_minutes
        # What tests look at.
        self.finders: dict[str, Finder] = {}
        self.max_open_finders = 0
        self.failed_logins = 0
        self.unauthorized = 0  # 401 answers given
        self.heartbeats = 0  # heartbeat parts sent on event streams
        self.event_connections = 0
        self.playbacks: list[str] = []  # RTSP targets asked for, newest last
        self.downloads: list[str] = []  # RPC_Loadfile paths and loadfile.cgi ranges
        self._locked_until = 0.0
        self._snapshot_lock = asyncio.Lock()

    # -- persona -----------------------------------------------------------------------------

    @property
    def legacy(self) -> bool:
        return self.profile == "legacy"

    @property
    def nvr(self) -> bool:
        return self.channel_count > 1

    @property
    def model(self) -> str:
        if self.legacy:
            return "NV4108E-HS" if self.nvr else "IP2M-841"
        if self.nvr:
            return "DHI-NVR4208-8P-4KS2" if self.channel_count <= 8 else "DHI-NVR4216-16P-4KS2"
        return "IPC-HDW5831R-ZE"

    @property
    def firmware(self) -> tuple[str, str]:
        """(version, build date)."""
        if self.legacy:
            return ("2.420.AC00.15.R", "2016-09-08")
        return (
            ("4.001.0000000.3.R", "2021-03-12") if self.nvr else ("2.800.0000016.0.R", "2020-06-05")
        )

    @property
    def vendor(self) -> str:
        return "Amcrest" if self.legacy else "Dahua"

    @property
    def work_dir(self) -> str:
        return "/mnt/dvr/sda0" if self.nvr else "/mnt/sd"

    @property
    def open_finders(self) -> int:
        return len(self.finders)

    def describe(self) -> str:
        what = f"NVR with {self.channel_count} channels" if self.nvr else "IP camera"
        version, _ = self.firmware
        schemes = " and ".join(
            s for s, on in (("Basic", self.login.basic), ("Digest", self.login.digest)) if on
        )
        return (
            f"Simulated {self.vendor} {self.model} {what}, {self.profile} firmware {version} "
            f"({schemes}), device clock {self.tz_name}: HTTP {self.host}:{self.port}"
            + self.rtsp_described()
        )

    def url_options(self) -> dict[str, str]:
        options = {"tz": self.tz_name}
        if self.find_channel_base != 1:
            options["channel_base"] = str(self.find_channel_base)
        return options

    def snapshot_request(self, channel: int = 1) -> BareRequest:
        url = f"http://{self.host}:{self.port}/cgi-bin/snapshot.cgi?channel={channel}"
        scheme = "digest" if self.login.digest else "basic"
        return BareRequest(url, scheme, self.username, self.password)

    def wall(self, true_time: datetime) -> datetime:
        """The naive device wall-clock time of a true instant (skew and zone applied)."""
        return (true_time + self.clock.skew).astimezone(self.clock.tz).replace(tzinfo=None)

    def true_time(self, wall_text: str) -> datetime:
        """The true instant of a device wall-clock text (raises ValueError)."""
        return self.clock.true_time(self.clock.parse_wall(wall_text))

    # -- lifecycle ---------------------------------------------------------------------------

    def rtsp_auth(self) -> DigestAuth:
        return DigestAuth({self.username: self.password}, realm=self.login.realm, qop=False)

    # -- HTTP plumbing -----------------------------------------------------------------------

    def middlewares(self) -> list[Middleware]:
        return [self._close_after, self._auth]

    def command_of(self, request: web.Request) -> str:
        """``magicBox.getSerialNo``, ``mediaFileFind.findNextFile``, ``snapshot``,
        ``mjpg``, ``RPC_Loadfile``, ``eventManager.attach``: what ``--fault-on`` names."""
        rest = request.path.removeprefix("/cgi-bin/")
        if rest.startswith("RPC_Loadfile"):
            return "RPC_Loadfile"
        name = rest.split("/", 1)[0].removesuffix(".cgi")
        action = request.query.get("action")
        return f"{name}.{action}" if action else name

    def _stream_fault(self, request: web.Request) -> Fault | None:
        """``garbage`` or ``cut`` for a streamed answer (events, MJPEG, DHAV), which the shared
        fault middleware cannot spoil after the fact: the handler misbehaves itself."""
        streamable = self.faults.fault in (Fault.GARBAGE, Fault.CUT)
        if streamable and self.faults.applies(self.command_of(request)):
            return self.faults.fault
        return None

    @web.middleware
    async def _close_after(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every answer says ``Connection: close`` and the device closes (ha#174441)."""
        response = await handler(request)
        if not response.prepared:
            response.headers["Connection"] = "close"
            response.force_close()
        return response

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Basic and/or Digest as configured; wrong passwords count towards the lock."""
        if time.monotonic() < self._locked_until:
            return self._unauthorized(stale=False)
        header = request.headers.get("Authorization")
        verdict = self.login.check(request.method, header)
        # The digest covers the URI as sent, query included (scrypted#1842).
        if (
            verdict is Verdict.OK
            and header
            and header.lower().startswith("digest")
            and parse_digest(header.partition(" ")[2]).get("uri") != request.raw_path
        ):
            verdict = Verdict.WRONG
        if verdict is Verdict.OK:
            self.failed_logins = 0
            return await handler(request)
        if verdict is Verdict.WRONG:
            self.failed_logins += 1
            if self.lock_after and self.failed_logins >= self.lock_after:
                self._locked_until = time.monotonic() + self.lock_seconds
        return self._unauthorized(stale=verdict is Verdict.STALE)

    def _unauthorized(self, *, stale: bool) -> web.Response:
        self.unauthorized += 1
        response = self.login.unauthorized(stale=stale, body=b"Error\r\nInvalid Authority!\r\n")
        response.headers["Content-Type"] = TEXT
        return response

    @property
    def locked(self) -> bool:
        return time.monotonic() < self._locked_until

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/cgi-bin/mjpg/video.cgi", self.mjpeg)
        app.router.add_get("/cgi-bin/RPC_Loadfile/{path:.*}", self.rpc_loadfile)
        app.router.add_get("/cgi-bin/{cgi}", self._dispatch)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        handlers: dict[str, Handler] = {
            "magicBox.cgi": self.magic_box,
            "global.cgi": self.global_cgi,
            "devVideoInput.cgi": self.video_input,
            "configManager.cgi": self.config_manager,
            "IntervideoManager.cgi": self.intervideo_manager,
            "snapshot.cgi": self.snapshot,
            "mediaFileFind.cgi": self.media_file_find,
            "loadfile.cgi": self.loadfile,
            "eventManager.cgi": self.event_manager,
        }
        handler = handlers.get(request.match_info["cgi"])
        if handler is None:
            return self.error(3)
        return await handler(request)

    # -- answers -----------------------------------------------------------------------------

    @staticmethod
    def text(lines: Sequence[str], *, status: int = 200) -> web.Response:
        """A key=value body, one pair a line, CRLF line ends."""
        body = "".join(line + "\r\n" for line in lines)
        return web.Response(status=status, body=body.encode(), headers={"Content-Type": TEXT})

    def error(self, error_id: int) -> web.Response:
        """A failure as this firmware words it: legacy ``200`` with the ErrorID line,
        modern ``501 Not Implemented!`` (unknown request) or ``400 Bad Request!``."""
        if self.legacy:
            return self.text(["Error", f"ErrorID={error_id}, Detail={ERRORS[error_id]}"])
        if error_id in _NOT_IMPLEMENTED:
            body = b"Error\r\nNot Implemented!"
            return web.Response(status=501, body=body, headers={"Content-Type": TEXT})
        return self.text(["Error", "Bad Request!"], status=400)

    def ok(self) -> web.Response:
        return self.text(["OK"])

    def _channel(self, request: web.Request, name: str = "channel") -> int | None:
        """A 1-based channel parameter (missing: 1), or None if it is not one of ours."""
        raw = request.query.get(name, "1")
        if not raw.isdigit() or not 1 <= int(raw) <= self.channel_count:
            return None
        return int(raw)

    # -- device information ------------------------------------------------------------------

    async def magic_box(self, request: web.Request) -> web.StreamResponse:
        """``magicBox.cgi``: who the device is."""
        action = request.query.get("action", "")
        version, build = self.firmware
        answers: dict[str, list[str]] = {
            "getDeviceType": [f"type={self.model}"],
            "getSerialNo": [f"sn={self.serial}"],
            "getMachineName": [f"name={self.name}"],
            "getHardwareVersion": ["version=1.00"],
            "getVendor": [f"vendor={self.vendor}"],
            "getSystemInfo": [
                "appAutoStart=true",
                f"deviceType={self.model}",
                "hardwareVersion=1.00",
                "processor=S3LM",
                f"serialNumber={self.serial}",
                f"updateSerial={self.model}",
            ],
            # Old firmware prints the build date on a line of its own (python-amcrest README).
            "getSoftwareVersion": [f"version={version}", f"BuildDate={build}"]
            if self.legacy
            else [f"version={version},build:{build}"],
        }
        if not self.legacy:
            answers["getDeviceClass"] = [f"type={'NVR' if self.nvr else 'IPC'}"]
        lines = answers.get(action)
        return self.text(lines) if lines is not None else self.error(2)

    async def global_cgi(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("action") != "getCurrentTime":
            return self.error(2)
        now = self.clock.now().replace(tzinfo=None)
        if self.legacy:  # "2011-7-3 21:02:32": the spec's example does not pad the date
            shown = f"{now.year}-{now.month}-{now.day} {now:%H:%M:%S}"
        else:
            shown = f"{now:%Y-%m-%d %H:%M:%S}"
        return self.text([f"result={shown}"])

    async def video_input(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("action") != "getCollect":
            return self.error(2)
        return self.text([f"result={self.channel_count}"])

    async def intervideo_manager(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("action") != "getVersion" or request.query.get("Name") != "CGI":
            return self.error(2)
        return self.text(["version=1.40" if self.legacy else "version=2.76"])

    async def config_manager(self, request: web.Request) -> web.StreamResponse:
        """``configManager.cgi?action=getConfig&name=`` for General, RTSP and ChannelTitle
        (or a sub-path of them): ``table.``-prefixed lines."""
        if request.query.get("action") != "getConfig":
            return self.error(2)
        name = request.query.get("name", "")
        tables: dict[str, list[str]] = {
            "General": [
                "table.General.LocalNo=8",
                "table.General.LockLoginEnable=" + ("true" if self.lock_after else "false"),
                f"table.General.LockLoginTimes={self.lock_after}",
                f"table.General.LoginFailLockTime={int(self.lock_seconds)}",
                f"table.General.MachineName={self.name}",
                "table.General.MaxOnlineTime=3600",
            ],
            "RTSP": [
                "table.RTSP.Enable=true",
                f"table.RTSP.Port={self._rtsp_port or 554}",
                "table.RTSP.RTP.EndPort=40000",
                "table.RTSP.RTP.StartPort=20000",
            ],
            "ChannelTitle": [
                f"table.ChannelTitle[{n}].Name={self.channel_title(n + 1)}"
                for n in range(self.channel_count)
            ],
        }
        table = name.split(".", 1)[0].split("[", 1)[0]
        lines = [ln for ln in tables.get(table, []) if ln.startswith(f"table.{name}")]
        if not lines:
            return self.error(4)  # unknown config name: 400 on modern firmware (rr#267)
        return self.text(lines)

    def channel_title(self, channel: int) -> str:
        return self.name if not self.nvr else f"CH{channel}"

    # -- pictures ----------------------------------------------------------------------------

    async def snapshot(self, request: web.Request) -> web.StreamResponse:
        """``snapshot.cgi?channel=N`` (channel 1 when left out), one at a time."""
        channel = self._channel(request)
        if channel is None:
            return self.error(4)
        if self._snapshot_lock.locked() and self.snapshot_busy == "drop":
            if request.transport is not None:
                request.transport.abort()  # a busy camera drops the second request
            return self.error(5)
        async with self._snapshot_lock:  # one snapshot at a time, as the encoder allows
            if self.snapshot_delay:
                await asyncio.sleep(self.snapshot_delay)
            moment = self.live_moment()
            jpeg = await self.frames.jpeg_async(channel, moment)
        # Amcrest JPEGs come from the encoder and carry a "DHAV\xfb" comment (pa#102).
        tagged = jpeg[:2] + b"\xff\xfe\x00\x07DHAV\xfb" + jpeg[2:]
        return web.Response(body=tagged, headers={"Content-Type": "image/jpeg"})

    async def mjpeg(self, request: web.Request) -> web.StreamResponse:
        """``mjpg/video.cgi?channel=N&subtype=1``: JPEG parts until the client leaves."""
        channel = self._channel(request)
        if channel is None or request.query.get("subtype", "0") not in ("1", "2"):
            return self.error(4)  # only a sub stream is encoded as MJPEG (2016+ firmware)
        response = _UntilClose(
            headers={"Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}"}
        )
        response.force_close()
        fault = self._stream_fault(request)
        await response.prepare(request)
        period = 1.0 / self.mjpeg_fps
        loop = asyncio.get_running_loop()
        due = loop.time()
        try:
            while request.transport is not None and not request.transport.is_closing():
                if fault is Fault.GARBAGE:
                    jpeg = os.urandom(4096)
                else:
                    jpeg = await asyncio.to_thread(self._sub_jpeg, channel, self.clock.now())
                await response.write(part(jpeg, boundary=BOUNDARY))
                if fault is Fault.CUT:
                    request.transport.abort()
                    break
                due += period
                await asyncio.sleep(max(0.0, due - loop.time()))
        except (ConnectionError, RuntimeError):
            pass  # the client left
        return response

    def _sub_jpeg(self, channel: int, moment: datetime) -> bytes:
        buf = io.BytesIO()
        self.frames.image(channel, moment, size=SUB_SIZE).save(buf, "JPEG", quality=70)
        return buf.getvalue()

    # -- recording search --------------------------------------------------------------------

    def files(self, channel: int, start: datetime, end: datetime) -> list[StoredFile]:
        """Files of ``channel`` overlapping [start, end), whole: each recording cut at the
        pack duration, and a picture for each event recording; oldest first."""
        out: list[StoredFile] = []
        # Recordings never cross an hour: look an hour around so edge files come out whole.
        for rec in self.archive.segments(
            channel, start - timedelta(hours=1), end + timedelta(hours=1)
        ):
            for first, last in self._packs(rec.start, rec.end):
                if start < last and first < end:
                    out.append(StoredFile(channel, first, last, rec.kind, "dav"))
            if rec.kind in _EVENT_FILE_KINDS and start <= rec.start < end:
                out.append(StoredFile(channel, rec.start, rec.start, rec.kind, "jpg"))
        return out

    def _packs(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """[start, end) cut at every multiple of the pack duration (a new file each time)."""
        step = self.pack_minutes * 60
        pieces = []
        cut = datetime.fromtimestamp((int(start.timestamp()) // step + 1) * step, start.tzinfo)
        while cut < end:
            pieces.append((start, cut))
            start, cut = cut, cut + timedelta(seconds=step)
        pieces.append((start, end))
        return pieces

    def file_path(self, item: StoredFile) -> str:
        """``/mnt/sd/2020-01-06/001/dav/06/06.05.00-06.13.00[M][0@0][0].dav`` (camera SD card;
        NVRs under ``/mnt/dvr/sda0``), in device wall-clock time."""
        first = self.wall(item.start)
        letter = FILE_KINDS[item.kind][2]
        folder = f"{self.work_dir}/{first:%Y-%m-%d}/{item.channel:03d}/{item.type}/{first:%H}"
        if item.type == "jpg":
            return f"{folder}/{first:%M}/{first:%S}[{letter}][0@0][0].jpg"
        last = self.wall(item.end)
        return f"{folder}/{first:%H.%M.%S}-{last:%H.%M.%S}[{letter}][0@0][0].dav"

    def item_fields(self, item: StoredFile) -> dict[str, str]:
        flags, events, _ = FILE_KINDS[item.kind]
        length = item.seconds * BYTES_PER_SECOND if item.type == "dav" else 61_440
        fields = {
            "Channel": str(item.channel - 1),  # 0-based in answers (pa fixture)
            "Cluster": "0",
            "Compressed": "false",
            "CutLength": str(length),
            "Disk": "0",
            "Duration": str(item.seconds),
            "EndTime": f"{self.wall(item.end):%Y-%m-%d %H:%M:%S}",
            "FilePath": self.file_path(item),
            "Length": str(length),
            "Overwrites": "0",
            "Partition": "0",
            "Redundant": "false",
            "Repeat": "0",
            "StartTime": f"{self.wall(item.start):%Y-%m-%d %H:%M:%S}",
            "SummaryOffset": "0",
            "Type": item.type,
            "VideoStream": "Main",
            "WorkDir": self.work_dir,
            "WorkDirSN": "0",
        }
        for k, flag in enumerate(flags):
            fields[f"Flags[{k}]"] = flag
        for k, event in enumerate(events):
            fields[f"Events[{k}]"] = event
        if not self.legacy:
            offset = (item.start + self.clock.skew).astimezone(self.clock.tz).utcoffset()
            fields["UTCOffset"] = str(int(offset.total_seconds()) if offset else 0)
        return fields

    def item_lines(self, index: int, item: StoredFile) -> list[str]:
        """An item's lines, keys in alphabetical order as every captured answer has them."""
        lines = []
        for key, value in sorted(self.item_fields(item).items()):
            if self.item_style == "compact":
                lines.append(f"items[{index}].{key}={value}")
            elif key == "Duration":
                lines.append(f"items[{index}]. {key} = {value}")
            elif key == "WorkDir":
                lines.append(f'items[{index}].{key}="{value}"')
            elif key in _SPEC_SPACED:
                lines.append(f"items[{index}]. {key} ={value}")
            elif key.startswith("Events["):
                lines.append(f"items[{index}]. {key}={value}")
            else:
                lines.append(f"items[{index}].{key}={value}")
        return lines

    async def media_file_find(self, request: web.Request) -> web.StreamResponse:
        """``mediaFileFind.cgi``: factory.create, findFile, findNextFile, close, destroy."""
        action = request.query.get("action", "")
        if action == "factory.create":
            if len(self.finders) >= self.finder_capacity:
                return self.error(5)  # no free finder: the device refuses new searches
            object_id = str(secrets.randbelow(4_000_000_000) + 1000)
            self.finders[object_id] = Finder()
            self.max_open_finders = max(self.max_open_finders, len(self.finders))
            return self.text([f"result={object_id}"])
        if action not in ("findFile", "findNextFile", "close", "destroy"):
            return self.error(2)  # including python-amcrest's factory.close / factory.destroy
        object_id = request.query.get("object", "")
        finder = self.finders.get(object_id)
        if finder is None:
            return self.error(4)
        if action == "close":
            finder.items = None
            return self.ok()
        if action == "destroy":
            del self.finders[object_id]
            return self.ok()
        if action == "findFile":
            return self._find_file(request, finder)
        return self._find_next(request, finder)

    def _find_file(self, request: web.Request, finder: Finder) -> web.Response:
        """Set a finder's conditions; each condition given narrows the files found."""
        query = request.query
        try:
            channel = int(query["condition.Channel"]) - self.find_channel_base + 1
            start = self.true_time(query["condition.StartTime"])
            end = self.true_time(query["condition.EndTime"])
        except (KeyError, ValueError):
            return self.error(4)
        if not 1 <= channel <= self.channel_count or end <= start:
            return self.error(4)
        types = _listed(query, "condition.Types")
        # The spec's URL line says Flag[k], its prose Flags[k]; clients send both.
        flags = _listed(query, "condition.Flag") | _listed(query, "condition.Flags")
        events = _listed(query, "condition.Events")
        stream = query.get("condition.VideoStream", "Main")
        found = []
        for item in self.files(channel, start, end):
            item_flags, item_events, _ = FILE_KINDS[item.kind]
            if types and item.type not in types:
                continue
            if flags and not flags & set(item_flags):
                continue
            if events and not events & set(item_events):
                continue
            if stream != "Main":
                continue
            found.append(item)
        if not found and self.empty_search == "error":
            return self.error(4)
        finder.items, finder.cursor = found, 0
        return self.ok()

    def _find_next(self, request: web.Request, finder: Finder) -> web.Response:
        """The next page: ``found=k`` and at most 100 items."""
        raw = request.query.get("count", "")
        if not raw.isdigit() or int(raw) < 1 or finder.items is None:
            return self.error(4)
        count = min(int(raw), MAX_PAGE)
        page = finder.items[finder.cursor : finder.cursor + count]
        finder.cursor += len(page)
        if not page and self.search_end == "error":
            return self.error(4)
        lines = [f"found={len(page)}"]
        for index, item in enumerate(page):
            lines += self.item_lines(index, item)
        return self.text(lines)

    # -- recorded video ----------------------------------------------------------------------

    def _lookup(self, path: str) -> StoredFile | None:
        """The stored file a FilePath names, or None."""
        match = _FILE_PATH.match(path)
        if match is None:
            return None
        channel = int(match["ch"])
        if not 1 <= channel <= self.channel_count:
            return None
        date, hour, name = match["date"], match["hour"], match["name"]
        if match["type"] == "dav":
            named = _DAV_NAME.match(name)
            if named is None or named["h1"] != hour:
                return None
            first = f"{date} {named['h1']}:{named['m1']}:{named['s1']}"
        else:
            named = _JPG_NAME.match(name)
            if named is None:
                return None
            first = f"{date} {hour}:{named['m']}:{named['s']}"
        try:
            start = self.true_time(first)
        except ValueError:
            return None
        for item in self.files(channel, start, start + timedelta(seconds=1)):
            letter = FILE_KINDS[item.kind][2]
            if item.start == start and item.type == match["type"] and letter == named["letter"]:
                return item
        return None

    async def rpc_loadfile(self, request: web.Request) -> web.StreamResponse:
        """``RPC_Loadfile/<FilePath>``: single or double slash, raw or %-encoded brackets."""
        path = "/" + request.match_info["path"].lstrip("/")
        item = self._lookup(path)
        self.downloads.append(path)
        if item is None:
            if request.transport is not None:
                request.transport.abort()  # a missing file resets the connection (nd)
            return web.Response(status=404)
        if item.type == "jpg":
            shown = (item.start + self.clock.skew).astimezone(self.clock.tz)
            jpeg = await self.frames.jpeg_async(item.channel, shown)
            return web.Response(body=jpeg, headers={"Content-Type": OCTETS})
        return await self._send_dhav(request, item.channel, [(item.start, item.end)], None)

    async def loadfile(self, request: web.Request) -> web.StreamResponse:
        """``loadfile.cgi?action=startLoad&channel=&startTime=&endTime=&subtype=``."""
        if request.query.get("action") != "startLoad":
            return self.error(2)
        channel = self._channel(request)
        try:
            start = self.true_time(request.query["startTime"])
            end = self.true_time(request.query["endTime"])
        except (KeyError, ValueError):
            return self.error(4)
        if channel is None or end <= start:
            return self.error(4)
        self.downloads.append(f"{channel}:{request.query['startTime']}-{request.query['endTime']}")
        found = self.archive.segments(channel, start, end)
        if not found:
            # No recording in the range: 200 with a short error, not DHAV (observed).
            return web.Response(body=b"Error\r\nBad Request!", headers={"Content-Type": TEXT})
        sub = request.query.get("subtype", "0") != "0"
        return await self._send_dhav(
            request, channel, [(r.start, r.end) for r in found], SUB_SIZE if sub else None
        )

    async def _send_dhav(
        self,
        request: web.Request,
        channel: int,
        spans: list[tuple[datetime, datetime]],
        size: tuple[int, int] | None,
    ) -> web.StreamResponse:
        """Stream recorded spans as DHAV while they are encoded (so no Content-Length), at
        ``size`` (None: the main stream's)."""
        width, height = size or (self.frames.width, self.frames.height)
        fmt = VideoFormat(width, height, fps=self.record_fps)
        stream = RecordingStream(self._renderer(channel, (width, height)), spans, fmt, audio=True)
        writer = DhavWriter(channel - 1, width, height, self.record_fps, self.wall(spans[0][0]))
        total = sum(math.ceil((b - a).total_seconds() * self.record_fps) for a, b in spans)
        cut_at = None if self.truncate_downloads is None else int(total * self.truncate_downloads)
        fault = self._stream_fault(request)
        response = web.StreamResponse(headers={"Content-Type": OCTETS})
        response.force_close()
        await response.prepare(request)
        if fault is Fault.CUT:
            cut_at = total // 2
        buffer = bytearray()
        frames = 0
        try:
            if fault is Fault.GARBAGE:
                await response.write(os.urandom(256 * 1024))
                return response
            await stream.open()
            while (frame := await stream.next_frame()) is not None:
                wall = self.wall(spans[0][0] + timedelta(seconds=frame.pts))
                if frame.track != RecordingStream.VIDEO_TRACK:
                    buffer += writer.audio(wall, b"".join(frame.payload))
                    continue
                chunk = writer.video(wall, frame.payload, key=is_keyframe(list(frame.payload)))
                if frames == cut_at:
                    await response.write(bytes(buffer + chunk[: len(chunk) // 2]))
                    if fault is Fault.CUT and request.transport is not None:
                        request.transport.abort()  # the connection dies mid-file
                    return response
                buffer += chunk
                frames += 1
                if len(buffer) >= 256 * 1024:
                    await response.write(bytes(buffer))
                    buffer.clear()
            await response.write(bytes(buffer))
        except (ConnectionError, RuntimeError):
            pass  # the client stopped the download
        finally:
            await stream.close()
        return response

    def _renderer(self, channel: int, size: tuple[int, int]) -> Callable[[datetime], Image.Image]:
        """Draws the recorded picture of a true instant, as the device's clock showed it."""
        skew, tz = self.clock.skew, self.clock.tz

        def render(when: datetime) -> Image.Image:
            return self.frames.image(channel, (when + skew).astimezone(tz), size=size)

        return render

    async def playback(self, request: RtspRequest) -> MediaSource:
        """``/cam/playback?channel=1&subtype=0&starttime=2024_11_03_22_03_00&endtime=…``.

        The parameters must come in this order (subtype may be left out); NVRs
        answer any other order, e.g. sorted, with 404.
        """
        target = request.target
        self.playbacks.append(target)
        path, _, query = target.partition("?")
        pairs = [p.partition("=") for p in query.split("&") if p]
        params = {key: value for key, _, value in pairs}
        if path != "/cam/playback" or tuple(k for k, _, _ in pairs) not in PLAYBACK_ORDERS:
            raise RtspError(404)
        try:
            channel = int(params["channel"])
            start = self.true_time(_rtsp_wall(params["starttime"]))
            end = self.true_time(_rtsp_wall(params["endtime"]))
        except (KeyError, ValueError):
            raise RtspError(400) from None
        if not 1 <= channel <= self.channel_count or end <= start:
            raise RtspError(404)
        found = self.archive.segments(channel, start, end)
        if not found:
            raise RtspError(404)
        size = SUB_SIZE if params.get("subtype", "0") != "0" else None
        width, height = size or (self.frames.width, self.frames.height)
        return RecordingStream(
            self._renderer(channel, (width, height)),
            [(rec.start, rec.end) for rec in found],
            VideoFormat(width, height, fps=self.record_fps),
            audio=True,
            speed=self.playback_speed,
        )

    # -- events ------------------------------------------------------------------------------

    def event_cycle(self) -> list[EventPart]:
        """What the device reports, round and round: legacy firmware without ``data``
        (pa#22), modern with it (rr#166)."""
        out: list[EventPart] = []
        for index in range(self.channel_count):
            if self.legacy:
                out += [
                    EventPart("VideoMotion", "Start", index),
                    EventPart("VideoMotion", "Stop", index),
                    EventPart("AlarmLocal", "Start", index),
                    EventPart("AlarmLocal", "Stop", index),
                ]
                continue
            motion = {"Id": [0], "RegionName": ["Region1"], "SmartMotionEnable": True}
            now = time.time()
            crossing = {
                "Class": "Normal",
                "DetectLine": [[18, 4098], [8155, 5549]],
                "Direction": "RightToLeft",
                "Name": "Rule1",
                "Object": {
                    "Action": "Appear",
                    "BoundingBox": [4816, 4552, 5248, 5272],
                    "Center": [5032, 4912],
                    "ObjectID": 542,
                    "ObjectType": "Human",
                },
                "RuleId": 1,
                "UTC": int(now),
                "UTCMS": int(now * 1000) % 1000,
            }
            out += [
                EventPart("VideoMotion", "Start", index, motion),
                EventPart("VideoMotionInfo", "State", index),
                EventPart("CrossLineDetection", "Start", index, crossing),
                EventPart("VideoMotion", "Stop", index, motion),
            ]
        return out

    async def event_manager(self, request: web.Request) -> web.StreamResponse:
        """``eventManager.cgi?action=attach&codes=[All]&heartbeat=5``."""
        if request.query.get("action") != "attach":
            return self.error(2)
        codes_text = request.query.get("codes", "")
        if not (codes_text.startswith("[") and codes_text.endswith("]")):
            return self.error(4)
        codes = {c.strip() for c in codes_text[1:-1].split(",") if c.strip()}
        heartbeat: float | None = None
        if "heartbeat" in request.query:
            raw = request.query["heartbeat"]
            if not raw.isdigit() or not 1 <= int(raw) <= 60:
                return self.error(4)
            heartbeat = float(raw)
        self.event_connections += 1
        response = _UntilClose(
            headers={
                "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                "Server": "Device/1.0",
            }
        )
        response.force_close()
        fault = self._stream_fault(request)
        await response.prepare(request)
        cut_after = 1 if fault is Fault.CUT else self.event_cut_after
        try:
            if self.stray_header:
                await response.write(STRAY_HEADER_BLOCK)
            if fault is Fault.GARBAGE:  # no boundary ever comes
                for _ in range(32):
                    await response.write(os.urandom(64 * 1024).replace(b"--", b"-_"))
                await _wait_for_disconnect(request)
                return response
            async for chunk in self._event_parts(codes, heartbeat, cut_after):
                if request.transport is None or request.transport.is_closing():
                    break
                await response.write(chunk)
        except (ConnectionError, RuntimeError):
            pass  # the client left
        if cut_after is not None and request.transport is not None:
            request.transport.abort()  # the stream dies, as on a network outage
        return response

    async def _event_parts(
        self, codes: set[str], heartbeat: float | None, cut_after: int | None
    ) -> AsyncIterator[bytes]:
        """Event parts every ``event_interval`` s and heartbeats every ``heartbeat`` s (if
        asked), until ``cut_after`` events (if set)."""
        loop = asyncio.get_running_loop()
        next_event = loop.time() + self.event_interval
        next_beat = loop.time() + heartbeat if heartbeat else math.inf
        sent = 0
        cycle: list[EventPart] = []
        while cut_after is None or sent < cut_after:
            await asyncio.sleep(max(0.0, min(next_event, next_beat) - loop.time()))
            if loop.time() >= next_beat:
                next_beat += heartbeat or math.inf
                self.heartbeats += 1
                yield HEARTBEAT_PART
                continue
            next_event += self.event_interval
            if not cycle:
                cycle = self.event_cycle()
            event = cycle.pop(0)
            if "All" in codes or event.code in codes:
                sent += 1
                yield event_part(event.body())


async def _wait_for_disconnect(request: web.Request) -> None:
    """Hold a stream open, sending nothing, until the client leaves (bounded)."""
    for _ in range(3600):
        if request.transport is None or request.transport.is_closing():
            return
        await asyncio.sleep(0.5)


def _listed(query: Any, name: str) -> set[str]:
    """Values of ``name[0]``, ``name[1]``, … in a query."""
    return {value for key, value in query.items() if key.startswith(name + "[")}


def _rtsp_wall(text: str) -> str:
    """``2024_11_03_22_03_00`` -> ``2024-11-03 22:03:00``."""
    parts = text.split("_")
    if len(parts) != 6 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not an RTSP playback time: {text!r}")
    return f"{parts[0]}-{parts[1]}-{parts[2]} {parts[3]}:{parts[4]}:{parts[5]}"


def fleet_member(number: int, *, latency: float, size: tuple[int, int]) -> AmcrestSimulator:
    """One camera of a benchmark fleet: a modern (Digest-only) IPC taking ``latency`` s per
    snapshot, one at a time."""
    return AmcrestSimulator(
        profile="modern",
        name=f"Camera {number:03d}",
        tz="UTC",
        size=size,
        frame_period=3600.0,
        snapshot_delay=latency,
    )
