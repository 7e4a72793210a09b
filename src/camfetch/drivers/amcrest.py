"""Amcrest and Dahua cameras and recorders: the HTTP CGI API (``/cgi-bin/*.cgi``).

URL: ``amcrest://user:password@host[:port]`` or ``dahua://…`` (the same protocol), with
options

- ``tz=Europe/Berlin``: the device's zone. The API reports the clock but not its
  zone; without ``tz=`` the zone is taken as the fixed offset the device clock
  shows against the host's (whole quarter hours), which knows no daylight saving;
- ``channel_base=1``: what ``condition.Channel`` of a recording search counts
  from (the spec's example says 1, python-amcrest sends 0; firmware differs). A
  device that answers with another channel's files is caught and named;
- ``rtsp_port=``: else the device's ``RTSP`` config, else 554;
- ``stream=main|sub``: the stream exported (``subtype`` 0 or 1);
- ``snapshot_timeout=``: seconds a snapshot may take (default twice ``timeout=``:
  cameras are slow to encode one);
- ``heartbeat=5``: seconds between the event stream's heartbeats (1-60);
- ``auth=auto|basic|digest`` (``auto``: what the device's challenge asks for,
  Digest on current firmware, Basic on old), ``https=1``, ``verify=0``,
  ``timeout=10``, ``max_requests=1``.

Wire facts follow ``protocols/amcrest_dahua.md``: answers are ``key=value`` lines;
an answer whose first line is ``Error`` failed, whatever its HTTP status (legacy
firmware: ``200`` with ``ErrorID=n, Detail=…``; current firmware ``400 Bad
Request!`` or ``501 Not Implemented!``); channels are 1-based in requests and
0-based in answers; searches use a file finder that must be closed and destroyed
(python-amcrest's ``factory.close``/``factory.destroy`` do not exist, and leaked
finders make a device refuse searches); recordings are DHAV files.

Clip export picks its method by this rule: when one recorded file holds the
whole range and the range is at least half of that file, the file is downloaded
(``RPC_Loadfile``: the device's own recording, at network speed, at most twice
the video asked for) and cut out with ffmpeg; otherwise the range is played
back over RTSP (``cam/playback``), which sends only the range and crosses file
boundaries and gaps. ``--method download`` downloads the file in the same case,
else the range by time (``loadfile.cgi``, which some recorders answer with media
off by seconds, so it is not chosen by default); ``--method rtsp`` always plays
back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import struct
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, unquote

from camfetch import timeutil
from camfetch.address import DeviceAddress, mask_url, url_authority
from camfetch.aio import uncancellable
from camfetch.device import Device, DownloadProgress, StatusCallback, wanted_kinds
from camfetch.errors import (
    AuthenticationError,
    CamfetchError,
    CorruptImageError,
    DeviceRefusedError,
    DeviceTimeoutError,
    MalformedResponseError,
    NothingFoundError,
    UnreachableError,
    UnsupportedError,
    UsageError,
)
from camfetch.http import DeviceHttp, HttpPool, HttpSettings, Reply, StreamReply
from camfetch.http.client import MiB
from camfetch.http.multipart import boundary_of, iter_parts
from camfetch.media.jpeg import EOI, SOI, inspect_jpeg, is_jpeg
from camfetch.models import (
    Capability,
    Channel,
    DeviceEvent,
    DeviceInfo,
    DeviceKind,
    EventAction,
    PlaybackSource,
    RecordingKind,
    RecordingSegment,
    Snapshot,
)

TEXT_CAP = 2 * MiB  # a findNextFile page of 100 items is about 150 KiB
SNAPSHOT_CAP = 16 * MiB
EVENT_PART_CAP = 1 * MiB
DOWNLOAD_CAP = 64 * 1024 * MiB
PAGE = 100  # findNextFile answers at most 100 items
RECONNECT_FIRST = 1.0  # seconds before the first attempt to reopen a lost event stream
RECONNECT_MAX = 30.0
BAD_FRAMES_IN_A_ROW = 20  # an MJPEG stream that sends this many non-JPEGs is broken

#: Spec table 3-2: ErrorID -> Detail.
ERROR_DETAILS: dict[int, str] = {
    0: "Invalid Authority!",
    1: "Request parses error!",
    2: "Invalid Request!",
    3: "Method not found!",
    4: "Request invalid param!",
    5: "Server internal error!",
    6: "Request Timeout!",
    7: "Client keepalive failed!",
}
_UNKNOWN_REQUEST = {2, 3}  # "request spells error", "resource not supported"

#: File flags (``condition.Flags``) and what camfetch calls them.
FLAG_KINDS: dict[str, RecordingKind] = {
    "Timing": RecordingKind.SCHEDULE,
    "Manual": RecordingKind.MANUAL,
    "Marker": RecordingKind.OTHER,
}
#: Events that trigger recordings (``condition.Events``) and what camfetch calls them.
EVENT_KINDS: dict[str, RecordingKind] = {
    "VideoMotion": RecordingKind.MOTION,
    "AlarmLocal": RecordingKind.ALARM,
    "CrossLineDetection": RecordingKind.SMART,
    "CrossRegionDetection": RecordingKind.SMART,
    "SmartMotionHuman": RecordingKind.SMART,
    "SmartMotionVehicle": RecordingKind.SMART,
    "VideoLoss": RecordingKind.OTHER,
    "VideoBlind": RecordingKind.OTHER,
}
RECORDING_TYPES = frozenset({"dav", "mp4"})  # Amcrest SD cards say Type=dav for .mp4 files

#: Event stream codes and camfetch's word for them (DeviceEvent.kind).
EVENT_CLASSES: dict[str, str] = {
    "VideoMotion": "motion",
    "VideoMotionInfo": "motion",
    "MoveDetection": "motion",
    "SmartMotionHuman": "smart",
    "SmartMotionVehicle": "smart",
    "CrossLineDetection": "smart",
    "CrossRegionDetection": "smart",
    "LeftDetection": "smart",
    "TakenAwayDetection": "smart",
    "FaceDetection": "smart",
    "WanderDetection": "smart",
    "RioterDetection": "smart",
    "ParkingDetection": "smart",
    "CrowdDetection": "smart",
    "IntelliFrame": "smart",
    "AlarmLocal": "alarm",
    "AlarmOutput": "alarm",
    "AlarmIPC": "alarm",
    "ProfileAlarmTransmit": "alarm",
    "FireWarning": "alarm",
    "VideoLoss": "tamper",
    "VideoBlind": "tamper",
    "VideoAbnormalDetection": "tamper",
    "VideoUnFocus": "tamper",
    "StorageNotExist": "storage",
    "StorageFailure": "storage",
    "StorageLowSpace": "storage",
    "NewFile": "storage",
    "NetAbort": "network",
    "IPConflict": "network",
    "TimeChange": "system",
    "NTPAdjustTime": "system",
    "LoginFailure": "system",
    "_DoTalkAction_": "call",
    "PhoneCallDetect": "call",
    "CallNoAnswered": "call",
    "AccessControl": "access",
    "DoorStatus": "door",
}
_ACTIONS = {"Start": EventAction.START, "Stop": EventAction.STOP, "Pulse": EventAction.PULSE}

#: getDeviceClass answers and the kind of device they mean.
DEVICE_CLASSES: dict[str, DeviceKind] = {
    "IPC": DeviceKind.CAMERA,
    "SD": DeviceKind.CAMERA,  # speed dome
    "ITC": DeviceKind.CAMERA,
    "NVR": DeviceKind.NVR,
    "DVR": DeviceKind.NVR,
    "HCVR": DeviceKind.NVR,
    "XVR": DeviceKind.NVR,
    "NVS": DeviceKind.MEDIA_SERVER,
    "VTO": DeviceKind.INTERCOM,
    "VTH": DeviceKind.INTERCOM,
}


@dataclass(frozen=True, slots=True)
class KeyValues:
    """A key=value answer (keys without spaces); lines without ``=`` (``OK``) are left out."""

    pairs: dict[str, str]

    def require(self, key: str, what: str) -> str:
        value = self.pairs.get(key)
        if value is None:
            shown = ", ".join(list(self.pairs)[:5]) or "nothing"
            raise MalformedResponseError(f"{what}: no {key!r} in the answer (it has {shown})")
        return value


@dataclass(frozen=True, slots=True)
class MediaFile:
    """One item of a file search, times on the device's clock made aware."""

    channel: int | None  # 0-based, as the device says it
    start: datetime
    end: datetime
    type: str
    path: str
    flags: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    length: int | None = None

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def vendor_kind(self) -> str:
        """The device's word for why it recorded: the event, else the flag."""
        if self.events:
            return self.events[0]
        named = [f for f in self.flags if f != "Event"]
        return named[0] if named else (self.flags[0] if self.flags else "Timing")

    @property
    def kind(self) -> RecordingKind:
        name = self.vendor_kind
        return EVENT_KINDS.get(name) or FLAG_KINDS.get(name) or RecordingKind.OTHER


@dataclass(frozen=True, slots=True)
class DhavSummary:
    """What a walk over a DHAV file found."""

    chunks: int
    video_frames: int
    key_frames: int


@dataclass
class _Identity:
    """What ``magicBox.cgi`` says the device is, read once per device."""

    model: str
    serial: str
    name: str | None
    firmware: str | None
    build: str | None
    vendor: str | None
    hardware: str | None
    device_class: str | None
    api_version: str | None
    extra: dict[str, str] = field(default_factory=dict)


class AmcrestDevice(Device):
    """An Amcrest or Dahua camera, NVR or intercom, reached through its HTTP CGI API
    (and RTSP for playback). Nothing is sent until a method is called."""

    schemes: ClassVar[tuple[str, ...]] = ("amcrest", "dahua")
    vendor: ClassVar[str] = "Amcrest/Dahua"
    options: ClassVar[frozenset[str]] = frozenset(
        {
            "channel_base",
            "rtsp_port",
            "stream",
            "snapshot_timeout",
            "heartbeat",
            "https",
            "verify",
        }
    )

    def __init__(self, address: DeviceAddress, pool: HttpPool | None = None) -> None:
        super().__init__(address, pool)
        settings = HttpSettings.from_address(address, max_body=TEXT_CAP)
        self.http = DeviceHttp.for_address(self.pool, address, label=self.label, settings=settings)
        timeout = settings.timeout
        self.timeout = timeout
        self.snapshot_timeout = address.float_option("snapshot_timeout", 2 * timeout, minimum=0.1)
        self.channel_base = int(address.choice_option("channel_base", ("0", "1"), "1"))
        self.subtype = (
            0 if address.choice_option("stream", ("main", "sub"), "main") == "main" else 1
        )
        self.heartbeat = address.int_option("heartbeat", 5, minimum=1)
        if self.heartbeat > 60:
            raise UsageError("option heartbeat must be between 1 and 60 seconds")
        self._snapshot_lock = asyncio.Lock()  # cameras encode one snapshot at a time
        self._identity: _Identity | None = None
        self._channels: list[Channel] | None = None
        self._skew: float | None = None
        self._clock_read = False
        self._rtsp_port: int | None = None

    # -- the device interface ------------------------------------------------------------

    async def capabilities(self) -> frozenset[Capability]:
        return frozenset(
            {
                Capability.SNAPSHOT,
                Capability.SEARCH,
                Capability.PLAYBACK,
                Capability.EVENTS,
                Capability.MJPEG,
            }
        )

    async def info(self) -> DeviceInfo:
        ident = await self._get_identity()
        if not self._clock_read:
            await self._read_clock()
        channels = await self.channels()
        kind = DEVICE_CLASSES.get((ident.device_class or "").upper())
        if kind is None:
            kind = DeviceKind.NVR if len(channels) > 1 else DeviceKind.CAMERA
        default_vendor = "Dahua" if self.address.scheme == "dahua" else "Amcrest"
        return DeviceInfo(
            vendor=ident.vendor or default_vendor,
            model=ident.model,
            name=ident.name or self.address.host,
            kind=kind,
            channel_count=len(channels),
            serial=ident.serial,
            firmware=ident.firmware,
            api_version=ident.api_version,
            hardware=ident.hardware,
            time_zone=self._tz_name,
            clock_skew_seconds=self._skew,
            extra=dict(ident.extra),
        )

    async def channels(self) -> list[Channel]:
        if self._channels is not None:
            return self._channels
        count: int | None = None
        with contextlib.suppress(
            DeviceRefusedError, UnsupportedError, MalformedResponseError, ValueError
        ):
            answer = await self._cgi("devVideoInput.cgi", [("action", "getCollect")])
            count = int(answer.require("result", "devVideoInput getCollect"))
        titles: dict[int, str] = {}
        with contextlib.suppress(DeviceRefusedError, UnsupportedError, MalformedResponseError):
            answer = await self._cgi(
                "configManager.cgi", [("action", "getConfig"), ("name", "ChannelTitle")]
            )
            titles = parse_channel_titles(answer)
        if not count or count < 1:
            count = max(titles, default=-1) + 1 or 1
        self._channels = [
            Channel(number=n + 1, name=titles.get(n) or f"Channel {n + 1}") for n in range(count)
        ]
        return self._channels

    async def device_zone(self) -> tuple[tzinfo, str]:
        await self._read_clock()
        assert self._tz is not None and self._tz_name is not None
        return self._tz, self._tz_name

    async def snapshot(self, channel: int = 1, *, size: tuple[int, int] | None = None) -> Snapshot:
        if size is not None:
            raise UnsupportedError(
                "Amcrest/Dahua devices take snapshots at the size set in their Snap config",
                device=self.label,
            )
        if channel < 1:
            await self.check_channel(channel)
        path = cgi_path("snapshot.cgi", [("channel", str(channel))])
        async with self._snapshot_lock:
            reply = await self.http.request(
                "GET", path, timeout=self.snapshot_timeout, max_body=SNAPSHOT_CAP
            )
        try:
            if reply.status != 200 or not is_jpeg(reply.body):
                try:
                    self._check(reply, "snapshot")
                except DeviceRefusedError:
                    await self.check_channel(channel)  # names the channels that exist
                    raise
                raise MalformedResponseError(
                    f"snapshot: not an image ({reply.content_type or 'no content type'}, "
                    f"{len(reply.body)} bytes starting {reply.body[:8]!r})"
                )
            info = inspect_jpeg(reply.body)
        except CamfetchError as exc:
            raise exc.with_device(self.label) from None
        return Snapshot(
            channel=channel,
            data=reply.body,
            content_type="image/jpeg",
            device_time=await self._device_now(),
            width=info.width,
            height=info.height,
        )

    async def recording_kinds(self, channel: int = 1) -> list[str]:
        return [*FLAG_KINDS, *EVENT_KINDS]

    async def search(
        self,
        channel: int,
        start: datetime,
        end: datetime,
        kinds: Iterable[str] | None = None,
    ) -> AsyncIterator[RecordingSegment]:
        self.check_window(start, end)
        await self.check_channel(channel)
        offered = {**FLAG_KINDS, **EVENT_KINDS}
        names = None if kinds is None else set(wanted_kinds(kinds, offered))
        flags: list[str] = []
        events: list[str] = []
        if names is not None:
            flag_names = [n for n in offered if n in names and n in FLAG_KINDS]
            event_names = [n for n in offered if n in names and n in EVENT_KINDS]
            # Conditions of different kinds narrow each other on the device: ask it for one
            # kind at a time, and for everything when both are wanted (filtered below).
            if not event_names:
                flags = flag_names
            elif not flag_names:
                flags, events = ["Event"], event_names
        tz = await self.timezone()
        found = self._find_files(channel, start, end, flags=flags, events=events)
        async with aclosing(found):
            async for item in found:
                if item.type.lower() not in RECORDING_TYPES:
                    continue
                if names is not None and not names & {*item.flags, *item.events}:
                    continue  # a device that ignored a condition (Flag or Flags)
                first, last = max(start, item.start), min(end, item.end)
                if last <= first:
                    continue
                yield RecordingSegment(
                    channel, first.astimezone(tz), last.astimezone(tz), item.kind, item.vendor_kind
                )

    async def playback_source(
        self, channel: int, start: datetime, end: datetime, *, method: str | None = None
    ) -> PlaybackSource:
        if method not in (None, "rtsp", "download"):
            raise UsageError(f"unknown export method {method!r}: rtsp or download")
        self.check_window(start, end)
        await self.check_channel(channel)
        holder: MediaFile | None = None
        if method != "rtsp":
            holder = await self._file_holding(channel, start, end)
        if holder is not None and (end - start).total_seconds() >= holder.seconds / 2:
            return self._file_source(channel, start, end, holder)
        if method == "download":
            return await self._range_source(channel, start, end)
        return await self._rtsp_source(channel, start, end)

    async def download(
        self,
        source: PlaybackSource,
        target: Path,
        *,
        progress: DownloadProgress | None = None,
    ) -> None:
        base = self.http.base_url
        if source.protocol != "http" or not source.url.startswith(base + "/cgi-bin/"):
            raise UnsupportedError("not a download from this device", device=self.label)
        path = source.url[len(base) :]
        by_time = path.startswith("/cgi-bin/loadfile.cgi")
        cap = DOWNLOAD_CAP if source.size_hint is None else max(4 * source.size_hint, 256 * MiB)

        def refuse(reply: StreamReply, body: bytes) -> Exception:
            answer = Reply(reply.status, reply.headers, body)
            return answer_error(answer, "download") or DeviceRefusedError(
                f"download refused: HTTP {reply.status}",
                code=f"HTTP {reply.status}",
                http_status=reply.status,
            )

        try:
            await self.http.download(
                path,
                target,
                progress=progress,
                idle_timeout=max(30.0, 3 * self.timeout),
                max_bytes=cap,
                resume=source.resumable,
                refuse=refuse,
            )
            await asyncio.to_thread(check_download, target, by_time=by_time)
        except CamfetchError as exc:
            raise exc.with_device(self.label) from None

    async def events(
        self, *, on_status: StatusCallback | None = None
    ) -> AsyncIterator[DeviceEvent]:
        say = on_status or _ignore
        path = cgi_path(
            "eventManager.cgi",
            [("action", "attach"), ("codes", "[All]"), ("heartbeat", str(self.heartbeat))],
        )
        idle = 3 * self.heartbeat + 5.0
        delay = RECONNECT_FIRST
        connected = False
        while True:
            delivered = False
            try:
                async with self.http.stream("GET", path, idle_timeout=idle) as reply:
                    boundary = await self._multipart(reply, "eventManager attach")
                    say(
                        "event stream back"
                        if connected
                        else f"event stream open (heartbeat every {self.heartbeat} s)"
                    )
                    connected = True
                    parts = iter_parts(reply.content, boundary, max_part=EVENT_PART_CAP)
                    async for piece in parts:
                        delivered = True
                        if piece.content_type not in ("", "text/plain"):
                            continue  # pictures of snapshot-style streams
                        event = parse_event(piece.body.decode("utf-8", "replace"))
                        if event is not None:
                            yield event
                reason = "the device ended it"
            except (UnreachableError, DeviceTimeoutError) as exc:
                if not connected:
                    raise exc.with_device(self.label) from None
                reason = exc.message
            except CamfetchError as exc:
                raise exc.with_device(self.label) from None
            if delivered:
                delay = RECONNECT_FIRST
            say(f"event stream lost ({reason}); reconnecting in {delay:g} s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)

    async def mjpeg(self, channel: int = 1, *, fps: float | None = None) -> AsyncIterator[Snapshot]:
        await self.check_channel(channel)
        # Only a sub stream is encoded as MJPEG on firmware since 2016 (python-amcrest).
        path = cgi_path("mjpg/video.cgi", [("channel", str(channel)), ("subtype", "1")])
        loop = asyncio.get_running_loop()
        gap = 1.0 / fps if fps else 0.0
        last = -math.inf
        bad = 0
        try:
            async with self.http.stream("GET", path, idle_timeout=self.timeout) as reply:
                boundary = await self._multipart(reply, "MJPEG stream")
                async for piece in iter_parts(reply.content, boundary, max_part=SNAPSHOT_CAP):
                    jpeg = jpeg_in(piece.body)
                    try:
                        info = inspect_jpeg(jpeg)
                    except CorruptImageError as exc:
                        bad += 1
                        if bad >= BAD_FRAMES_IN_A_ROW:
                            raise CorruptImageError(
                                f"MJPEG stream: {bad} frames in a row are broken ({exc.message})"
                            ) from None
                        continue
                    bad = 0
                    now = loop.time()
                    if now - last < gap:
                        continue  # fewer frames than the device sends, as asked
                    last = now
                    yield Snapshot(
                        channel=channel,
                        data=jpeg,
                        content_type="image/jpeg",
                        device_time=await self._device_now(),
                        width=info.width,
                        height=info.height,
                    )
        except CamfetchError as exc:
            raise exc.with_device(self.label) from None
        raise UnreachableError("the MJPEG stream ended", device=self.label)

    # -- search internals --------------------------------------------------------------------

    async def _find_files(
        self,
        channel: int,
        start: datetime,
        end: datetime,
        *,
        types: Sequence[str] = ("dav",),
        flags: Sequence[str] = (),
        events: Sequence[str] = (),
    ) -> AsyncGenerator[MediaFile, None]:
        """Files overlapping [start, end] through a finder that is always closed and destroyed,
        also when the search fails or is cancelled."""
        tz = await self.timezone()
        sent_channel = channel - 1 + self.channel_base
        conditions = [
            ("condition.Channel", str(sent_channel)),
            ("condition.StartTime", timeutil.format_wall(start.replace(microsecond=0), tz)),
            ("condition.EndTime", timeutil.format_wall(_ceil_second(end), tz)),
        ]
        conditions += [(f"condition.Types[{k}]", v) for k, v in enumerate(types)]
        conditions += [(f"condition.Flags[{k}]", v) for k, v in enumerate(flags)]
        conditions += [(f"condition.Events[{k}]", v) for k, v in enumerate(events)]
        finder = await self._open_finder()
        try:
            try:
                await self._cgi(
                    "mediaFileFind.cgi",
                    [("action", "findFile"), ("object", finder), *conditions],
                    what="mediaFileFind findFile",
                )
            except (DeviceRefusedError, UnsupportedError):
                return  # some firmware answers a search without results with an error
            previous: MediaFile | None = None
            while True:
                try:
                    answer = await self._cgi(
                        "mediaFileFind.cgi",
                        [("action", "findNextFile"), ("object", finder), ("count", str(PAGE))],
                        what="mediaFileFind findNextFile",
                    )
                except (DeviceRefusedError, UnsupportedError):
                    return  # some firmware ends a search with Error instead of found=0
                try:
                    page = parse_found(answer, tz)
                except CamfetchError as exc:
                    raise exc.with_device(self.label) from None
                if not page:
                    return
                if page[0] == previous:
                    raise MalformedResponseError(
                        "findNextFile answered the same page again (no progress)",
                        device=self.label,
                    )
                previous = page[0]
                self._check_file_channel(page, channel, sent_channel)
                for item in sorted(page, key=lambda f: f.start):
                    yield item
        finally:
            await uncancellable(self._release_finder(finder))

    def _check_file_channel(self, page: list[MediaFile], channel: int, sent: int) -> None:
        """Files of another channel mean the device counts ``condition.Channel`` differently."""
        other = next((f.channel for f in page if f.channel not in (None, channel - 1)), None)
        if other is None:
            return
        device_base = sent - other
        hint = (
            f"add channel_base={device_base} to the URL"
            if device_base in (0, 1)
            else "check the channel_base option"
        )
        raise UsageError(
            f"asked for the recordings of channel {channel}, the device answered those of "
            f"channel {other + 1}: it counts condition.Channel from {device_base}; {hint}",
            device=self.label,
        )

    async def _open_finder(self) -> str:
        """``factory.create``; a finder made for a search cancelled meanwhile is destroyed."""
        create = asyncio.ensure_future(
            self._cgi(
                "mediaFileFind.cgi",
                [("action", "factory.create")],
                what="mediaFileFind factory.create",
            )
        )
        try:
            answer = await asyncio.shield(create)
        except asyncio.CancelledError:
            await uncancellable(self._discard_created(create))
            raise
        except UnsupportedError as exc:
            raise UnsupportedError(
                f"this device has no recording search ({exc.message})", device=self.label
            ) from None
        except DeviceRefusedError as exc:
            raise DeviceRefusedError(
                f"the device refused to start a search ({exc.text or exc.code}); it allows "
                "only a few open searches at a time",
                code=exc.code,
                text=exc.text,
                http_status=exc.http_status,
                device=self.label,
            ) from None
        finder = answer.pairs.get("result", "").strip()
        if not finder:
            raise MalformedResponseError(
                "mediaFileFind factory.create: no finder (result=) in the answer",
                device=self.label,
            )
        return finder

    async def _discard_created(self, create: Awaitable[KeyValues]) -> None:
        """Wait for a ``factory.create`` whose caller was cancelled; destroy what it made."""
        try:
            answer = await create
        except (CamfetchError, asyncio.CancelledError):
            return
        finder = answer.pairs.get("result", "").strip()
        if finder:
            await self._release_finder(finder)

    async def _release_finder(self, finder: str) -> None:
        """``close`` then ``destroy`` (not python-amcrest's ``factory.*``), errors ignored."""
        for action in ("close", "destroy"):
            with contextlib.suppress(CamfetchError):
                await self._cgi(
                    "mediaFileFind.cgi",
                    [("action", action), ("object", finder)],
                    what=f"mediaFileFind {action}",
                )

    # -- export internals --------------------------------------------------------------------

    async def _file_holding(self, channel: int, start: datetime, end: datetime) -> MediaFile | None:
        """The one recorded file that holds all of [start, end), if there is one."""
        try:
            found = self._find_files(channel, start, end)
            async with aclosing(found):
                files = [f async for f in found if f.type.lower() in RECORDING_TYPES]
        except UnsupportedError:
            return None  # no search: play back over RTSP, or download by time
        for item in files:
            if item.start <= start and item.end >= end and item.path:
                return item
        return None

    def _file_source(
        self, channel: int, start: datetime, end: datetime, item: MediaFile
    ) -> PlaybackSource:
        """Download of one recorded file (``RPC_Loadfile``), cut at the range's offset."""
        path = "/cgi-bin/RPC_Loadfile" + quote(item.path, safe="/@:-._")
        return PlaybackSource(
            channel=channel,
            start=start,
            end=end,
            url=self.http.base_url + path,
            display_url=self.http.base_url + "/cgi-bin/RPC_Loadfile" + item.path,
            protocol="http",
            container="dhav",
            size_hint=item.length,
            offset=max(0.0, (start - item.start).total_seconds()),
        )

    async def _range_source(self, channel: int, start: datetime, end: datetime) -> PlaybackSource:
        """Download of the range by time (``loadfile.cgi``), DHAV from its first frame."""
        tz = await self.timezone()
        path = cgi_path(
            "loadfile.cgi",
            [
                ("action", "startLoad"),
                ("channel", str(channel)),
                ("startTime", timeutil.format_wall(start.replace(microsecond=0), tz)),
                ("endTime", timeutil.format_wall(_ceil_second(end), tz)),
                ("subtype", str(self.subtype)),
            ],
        )
        url = self.http.base_url + path
        return PlaybackSource(
            channel=channel,
            start=start,
            end=end,
            url=url,
            display_url=unquote(url),
            protocol="http",
            container="dhav",
        )

    async def _rtsp_source(self, channel: int, start: datetime, end: datetime) -> PlaybackSource:
        """RTSP playback of the range (``cam/playback``), credentials in the URL for ffmpeg."""
        tz = await self.timezone()
        url = playback_url(
            host=self.address.host,
            port=await self._get_rtsp_port(),
            username=self.address.username,
            password=self.address.password,
            channel=channel,
            subtype=self.subtype,
            start_wall=timeutil.to_wall(start.replace(microsecond=0), tz),
            end_wall=timeutil.to_wall(_ceil_second(end), tz),
        )
        return PlaybackSource(channel, start, end, url, mask_url(url))

    async def _get_rtsp_port(self) -> int:
        if self._rtsp_port is None:
            port = self.address.int_option("rtsp_port", 0, minimum=0)
            if not port:
                with contextlib.suppress(
                    DeviceRefusedError, UnsupportedError, MalformedResponseError, ValueError
                ):
                    answer = await self._cgi(
                        "configManager.cgi", [("action", "getConfig"), ("name", "RTSP")]
                    )
                    port = int(answer.require("table.RTSP.Port", "RTSP config"))
            self._rtsp_port = port or 554
        return self._rtsp_port

    # -- identity and clock ------------------------------------------------------------------

    async def _get_identity(self) -> _Identity:
        """Model and serial (required), the rest where the firmware answers; cached."""
        if self._identity is not None:
            return self._identity

        async def magic(action: str, key: str) -> str:
            answer = await self._cgi("magicBox.cgi", [("action", action)])
            return answer.require(key, f"magicBox {action}").strip()

        async def optional(action: str, key: str) -> str | None:
            with contextlib.suppress(DeviceRefusedError, UnsupportedError, MalformedResponseError):
                return await magic(action, key)
            return None

        model = await magic("getDeviceType", "type")
        serial = await magic("getSerialNo", "sn")
        name = await optional("getMachineName", "name")
        firmware: str | None = None
        build: str | None = None
        with contextlib.suppress(DeviceRefusedError, UnsupportedError, MalformedResponseError):
            software = await self._cgi("magicBox.cgi", [("action", "getSoftwareVersion")])
            firmware, build = parse_software_version(software)
        api_version: str | None = None
        with contextlib.suppress(DeviceRefusedError, UnsupportedError, MalformedResponseError):
            answer = await self._cgi(
                "IntervideoManager.cgi", [("action", "getVersion"), ("Name", "CGI")]
            )
            api_version = answer.pairs.get("version")
        ident = _Identity(
            model=model,
            serial=serial,
            name=name,
            firmware=firmware,
            build=build,
            vendor=await optional("getVendor", "vendor"),
            hardware=await optional("getHardwareVersion", "version"),
            device_class=await optional("getDeviceClass", "type"),
            api_version=api_version,
        )
        for key, value in (
            ("build_date", ident.build),
            ("device_class", ident.device_class),
            ("vendor_reported", ident.vendor),
        ):
            if value:
                ident.extra[key] = value
        self._identity = ident
        return ident

    async def _read_clock(self) -> None:
        """``getCurrentTime``: the skew against the host and, without ``tz=``, the zone."""
        option = self.address.option("tz")
        shown: datetime | None = None
        with contextlib.suppress(DeviceRefusedError, UnsupportedError, MalformedResponseError):
            answer = await self._cgi("global.cgi", [("action", "getCurrentTime")])
            shown = parse_device_time(answer.require("result", "global getCurrentTime"))
        now = timeutil.utcnow()
        if option:
            tz, name = timeutil.zone(option), option
            if shown is not None:
                # The device shows whole seconds: its clock is half a second further on average.
                seconds = (timeutil.from_wall(shown, tz) - now).total_seconds()
                self._skew = float(round(seconds + 0.5))
        elif shown is not None:
            difference = (shown - now.replace(tzinfo=None)).total_seconds() + 0.5
            quarters = round(difference / 900)
            offset = timedelta(minutes=15 * max(-56, min(56, quarters)))
            tz = timezone(offset)
            name = f"UTC{_offset_text(offset)} (from the device clock; give tz= for its zone)"
            self._skew = float(round(difference - offset.total_seconds()))
        else:
            tz, name = timeutil.local_zone(), "host local time (the device did not say)"
        self._tz, self._tz_name = tz, name
        self._clock_read = True

    async def _device_now(self) -> datetime:
        """The device's clock now (host time plus the skew measured), in its zone."""
        tz = await self.timezone()
        skew = timedelta(seconds=self._skew or 0.0)
        return (timeutil.utcnow() + skew).astimezone(tz)

    # -- requests and answers --------------------------------------------------------------

    async def _cgi(
        self, cgi: str, params: Sequence[tuple[str, str]], *, what: str | None = None
    ) -> KeyValues:
        """GET ``/cgi-bin/<cgi>?params`` and read its key=value answer (typed errors)."""
        label = what or f"{cgi.removesuffix('.cgi')} {dict(params).get('action', '')}".strip()
        reply = await self.http.request("GET", cgi_path(cgi, params))
        return self._check(reply, label)

    def _check(self, reply: Reply, what: str) -> KeyValues:
        """The answer's pairs, or its typed error naming this device; rejected credentials
        are remembered so they are never sent again."""
        try:
            return read_answer(reply, what)
        except AuthenticationError as exc:
            self.http.reject_credentials()  # never send rejected credentials again
            raise exc.with_device(self.label) from None
        except CamfetchError as exc:
            raise exc.with_device(self.label) from None

    async def _multipart(self, reply: StreamReply, what: str) -> str:
        """The boundary of a multipart stream; the device's error as a typed error otherwise."""
        ctype = reply.headers.get("Content-Type", "")
        boundary = boundary_of(ctype) if "multipart" in ctype.lower() else None
        if reply.status == 200 and boundary:
            return boundary
        body = await reply.read_capped(64 * 1024)
        self._check(Reply(reply.status, reply.headers, body), what)
        raise MalformedResponseError(
            f"{what}: expected a multipart stream, got {reply.content_type or 'no content type'}",
            device=self.label,
        )


# -- wire format (pure functions) ------------------------------------------------------------

#: Characters left as they are in query values: times keep their colons, spaces become %20.
_VALUE_SAFE = ":/@-._~"


def cgi_path(cgi: str, params: Sequence[tuple[str, str]]) -> str:
    """``/cgi-bin/<cgi>?k=v&…`` in the given order, values %-encoded (space as %20)."""
    query = "&".join(f"{key}={quote(value, safe=_VALUE_SAFE)}" for key, value in params)
    return f"/cgi-bin/{cgi}" + (f"?{query}" if query else "")


def parse_key_values(text: str) -> KeyValues:
    """``key=value`` lines (CRLF or LF); keys lose their spaces (``items[0]. Channel =1``),
    values are split off at the first ``=`` and stripped of spaces and quotes."""
    pairs: dict[str, str] = {}
    for raw in text.splitlines():
        key, sep, value = raw.strip().partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        pairs["".join(key.split())] = value
    return KeyValues(pairs)


def _looks_like_html(body: bytes, content_type: str) -> bool:
    """A login or error page where the API should have answered."""
    return "html" in content_type or body.lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))


def answer_error(reply: Reply, what: str) -> CamfetchError | None:
    """The typed error a failed answer stands for, or None if it did not fail."""
    body = reply.body
    text = body.decode("utf-8", "replace")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if lines and lines[0].lower() == "error" and b"\x00" not in body[:256]:
        return _error_body(reply.status, lines[1] if len(lines) > 1 else "", what)
    if reply.status < 300:
        return None
    if reply.status in (404, 501):
        return UnsupportedError(f"{what}: the device does not offer this (HTTP {reply.status})")
    if reply.status == 403:
        return DeviceRefusedError(
            f"{what}: this user may not do that (HTTP 403)", code="HTTP 403", http_status=403
        )
    return DeviceRefusedError(
        f"{what} failed: HTTP {reply.status}",
        code=f"HTTP {reply.status}",
        http_status=reply.status,
    )


_ERROR_ID = re.compile(r"^ErrorID\s*=\s*(\d+)\s*,\s*Detail\s*=\s*(.*)$", re.IGNORECASE)


def _error_body(status: int, detail_line: str, what: str) -> CamfetchError:
    """``Error`` + ``ErrorID=n, Detail=…`` (legacy) or + ``Bad Request!`` (current firmware)."""
    match = _ERROR_ID.match(detail_line)
    if match:
        code = int(match.group(1))
        detail = match.group(2).strip() or ERROR_DETAILS.get(code, "unknown error")
        if code == 0:
            return AuthenticationError(f"{what}: the device refused these credentials ({detail})")
        if code in _UNKNOWN_REQUEST:
            return UnsupportedError(
                f"{what}: the device does not know this request ({detail}, ErrorID {code})"
            )
        return DeviceRefusedError(
            f"{what} refused: {detail} (ErrorID {code})",
            code=str(code),
            text=detail,
            http_status=status,
        )
    detail = detail_line or "no reason given"
    if "authority" in detail.lower():
        return AuthenticationError(f"{what}: the device refused these credentials ({detail})")
    if status == 501 or "not implemented" in detail.lower():
        return UnsupportedError(f"{what}: not supported by this device ({detail})")
    return DeviceRefusedError(
        f"{what} refused: {detail} (HTTP {status})",
        code=f"HTTP {status}",
        text=detail,
        http_status=status,
    )


def read_answer(reply: Reply, what: str) -> KeyValues:
    """The key=value pairs of a successful answer; a typed error for anything else."""
    error = answer_error(reply, what)
    if error is not None:
        raise error
    body = reply.body
    if _looks_like_html(body, reply.content_type):
        raise MalformedResponseError(f"{what}: the device answered an HTML page, not key=value")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if not text or "\x00" in text:
        raise MalformedResponseError(
            f"{what}: not a text answer ({reply.content_type or 'no content type'}, "
            f"{len(body)} bytes starting {body[:8]!r})"
        )
    return parse_key_values(text)


def parse_software_version(answer: KeyValues) -> tuple[str, str | None]:
    """``version=2.800.0000016.0.R,build:2020-06-05``, or the build on its own line
    (``BuildDate=2016-09-08``, old firmware), or ``version=X build:Y``."""
    raw = answer.require("version", "magicBox getSoftwareVersion")
    version, build = raw, answer.pairs.get("BuildDate")
    for separator in (",", " "):
        head, sep, tail = raw.partition(separator)
        if sep and "build" in tail.lower():
            version = head.strip()
            build = tail.split(":", 1)[-1].strip() or build
            break
    return version, build


def parse_device_time(text: str) -> datetime:
    """``2011-7-3 21:02:32`` (fields may lack leading zeros) as a naive wall-clock time."""
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise MalformedResponseError(f"getCurrentTime: not a time: {text!r}") from None


def parse_channel_titles(answer: KeyValues) -> dict[int, str]:
    """``table.ChannelTitle[0].Name=Gate`` -> {0: "Gate"}."""
    titles: dict[int, str] = {}
    for key, value in answer.pairs.items():
        match = re.fullmatch(r"table\.ChannelTitle\[(\d+)\]\.Name", key)
        if match and value:
            titles[int(match.group(1))] = value
    return titles


_ITEM_KEY = re.compile(r"^items\[(\d+)\]\.(.+)$")


def parse_found(answer: KeyValues, tz: tzinfo) -> list[MediaFile]:
    """A findNextFile page: ``found=N`` and ``items[i].Key=value`` (any spacing)."""
    found_text = answer.require("found", "findNextFile")
    try:
        found = int(found_text)
    except ValueError:
        raise MalformedResponseError(f"findNextFile: found={found_text!r} is no number") from None
    items: dict[int, dict[str, str]] = {}
    for key, value in answer.pairs.items():
        match = _ITEM_KEY.match(key)
        if match:
            items.setdefault(int(match.group(1)), {})[match.group(2)] = value
    if len(items) != found:
        raise MalformedResponseError(
            f"findNextFile announced {found} files and described {len(items)}"
        )
    return [_media_file(items[index], tz) for index in sorted(items)]


def _listed(fields: dict[str, str], name: str) -> tuple[str, ...]:
    """Values of ``name[0]``, ``name[1]``, … in index order."""
    prefix = name + "["
    found = []
    for key, value in fields.items():
        if key.startswith(prefix) and key.endswith("]") and value:
            index = key[len(prefix) : -1]
            if index.isdigit():
                found.append((int(index), value))
    return tuple(value for _, value in sorted(found))


def _wall_time(text: str, tz: tzinfo) -> datetime:
    """``2011-1-1 12:00:00`` (leading zeros optional) on the device's clock, made aware.

    Thousands of these come with a day's search: split by hand, not by strptime.
    """
    day, _, clock = text.strip().partition(" ")
    try:
        year, month, date = (int(n) for n in day.split("-"))
        hour, minute, second = (int(n) for n in clock.split(":"))
        return timeutil.from_wall(datetime(year, month, date, hour, minute, second), tz)
    except ValueError:
        raise MalformedResponseError(f"findNextFile: not a device time: {text!r}") from None


def _media_file(fields: dict[str, str], tz: tzinfo) -> MediaFile:
    """One ``items[i]`` of a findNextFile page; StartTime and EndTime are required."""
    try:
        start = _wall_time(fields["StartTime"], tz)
        end = _wall_time(fields["EndTime"], tz)
    except KeyError as exc:
        raise MalformedResponseError(f"findNextFile: an item without {exc.args[0]}") from None
    channel = fields.get("Channel", "")
    length = fields.get("Length", "")
    return MediaFile(
        channel=int(channel) if channel.isdigit() else None,
        start=start,
        end=max(start, end),
        type=fields.get("Type", ""),
        path=fields.get("FilePath", ""),
        flags=_listed(fields, "Flags"),
        events=_listed(fields, "Events"),
        length=int(length) if length.isdigit() else None,
    )


def parse_event(text: str) -> DeviceEvent | None:
    """One part of the event stream: ``Code=…;action=…;index=…[;data={json}]``.

    Heartbeats and parts that are no event give None. ``index`` is the 0-based
    channel; the event reports it 1-based. The time is when it arrived.
    """
    body = text.strip()
    if not body or body == "Heartbeat":
        return None
    fields: dict[str, str] = {}
    data_text: str | None = None
    rest = body
    while rest:
        if rest.startswith("data="):
            data_text = rest[len("data=") :]  # JSON may hold ';': it runs to the end
            break
        item, _, rest = rest.partition(";")
        key, sep, value = item.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    code = fields.get("Code")
    if not code:
        return None
    data: dict[str, Any] = {}
    if data_text is not None:
        try:
            decoded = json.loads(data_text)
        except ValueError:
            decoded = data_text.strip()
        data = decoded if isinstance(decoded, dict) else {"data": decoded}
    action_text = fields.get("action", "Pulse")
    action = _ACTIONS.get(action_text)
    if action is None:  # State, Invite, Hangup …: no duration; keep the device's word
        action = EventAction.PULSE
        data = {"action": action_text, **data}
    index = fields.get("index", "")
    return DeviceEvent(
        time=timeutil.utcnow(),
        code=code,
        kind=EVENT_CLASSES.get(code, "other"),
        action=action,
        channel=int(index) + 1 if index.isdigit() else None,
        data=data,
    )


def jpeg_in(body: bytes) -> bytes:
    """The JPEG inside a part: from its start-of-image to its last end-of-image marker."""
    start = body.find(SOI + b"\xff")
    end = body.rfind(EOI)
    if start < 0 or end < start:
        return body
    return body[start : end + len(EOI)]


def playback_url(
    *,
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    channel: int,
    subtype: int,
    start_wall: datetime,
    end_wall: datetime,
) -> str:
    """``rtsp://…/cam/playback?channel=&subtype=&starttime=&endtime=``, in this order
    (recorders answer other orders with 404), times as ``2024_11_03_22_03_00``."""
    return (
        f"rtsp://{url_authority(host, port, username, password)}/cam/playback"
        f"?channel={channel}&subtype={subtype}"
        f"&starttime={start_wall:%Y_%m_%d_%H_%M_%S}&endtime={end_wall:%Y_%m_%d_%H_%M_%S}"
    )


# -- DHAV ------------------------------------------------------------------------------------

_DHAV_HEADER = struct.Struct("<4sBBBBIIIHBB")
_DHAV_TYPES = {0xF0, 0xF1, 0xFC, 0xFD}


def check_download(path: Path, *, by_time: bool) -> DhavSummary:
    """Check a downloaded recording before it is converted: an error answer the device
    sent instead of video, or a DHAV file that is not whole, is a clear error."""
    with path.open("rb") as fh:
        head = fh.read(64)
    if head[:5].lower() == b"error":
        text = path.read_bytes()[:4096].decode("utf-8", "replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else "no reason given"
        if by_time:
            raise NothingFoundError(f"the device has no recording for that range ({detail})")
        raise _error_body(200, detail, "download")
    return check_dhav(path)


def check_dhav(path: Path) -> DhavSummary:
    """Walk every frame of a DHAV file (magic, length, trailer); MalformedResponseError if
    it is no DHAV, is damaged, holds no video, or ends in the middle of a frame."""
    size = path.stat().st_size
    if size == 0:
        raise MalformedResponseError("the device sent an empty recording")
    chunks = video = keys = 0
    with path.open("rb") as fh:
        position = 0
        if fh.read(5) == b"DAHUA":
            position = 0x400  # a file header, then the first frame
        while position < size:
            fh.seek(position)
            head = fh.read(_DHAV_HEADER.size)
            if len(head) < _DHAV_HEADER.size:
                raise MalformedResponseError(
                    f"the DHAV recording is truncated: it ends inside a frame header at byte "
                    f"{position} of {size}"
                )
            magic, kind, _sub, _ch, _n, _number, length, *_ = _DHAV_HEADER.unpack(head)
            if magic != b"DHAV" or kind not in _DHAV_TYPES:
                what = "not a DHAV recording" if position in (0, 0x400) else "a damaged frame"
                raise MalformedResponseError(f"{what} at byte {position} (starts {head[:8]!r})")
            if length < _DHAV_HEADER.size + 8:
                raise MalformedResponseError(f"DHAV frame at byte {position}: length {length}")
            if position + length > size:
                raise MalformedResponseError(
                    f"the DHAV recording is truncated: the frame at byte {position} needs "
                    f"{length} bytes, {size - position} arrived"
                )
            fh.seek(position + length - 8)
            if fh.read(8) != b"dhav" + struct.pack("<I", length):
                raise MalformedResponseError(f"DHAV frame at byte {position} is damaged")
            chunks += 1
            if kind in (0xFC, 0xFD):
                video += 1
                keys += kind == 0xFD
            position += length
    if not keys:
        raise MalformedResponseError("the DHAV recording holds no video key frame")
    return DhavSummary(chunks, video, keys)


# -- helpers ---------------------------------------------------------------------------------


def _ignore(message: str) -> None:
    """The status callback when nobody listens."""


def _ceil_second(when: datetime) -> datetime:
    """The next whole second (devices take whole seconds; a range must not lose its end)."""
    return when if when.microsecond == 0 else when.replace(microsecond=0) + timedelta(seconds=1)


def _offset_text(offset: timedelta) -> str:
    """``+05:30`` for a UTC offset."""
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"
