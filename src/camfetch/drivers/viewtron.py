"""Viewtron (TVT OEM) IP cameras and NVRs: API v1.9 and v2.0 in one driver.

URL: ``viewtron://user:password@host[:port]`` with options

- ``tz=Europe/Berlin``: the device's zone (else what GetDateAndTime reports);
- ``chid_base=1``: the RTSP playback ``chID`` of channel 1 (the docs disagree:
  1 per the application guide and live NVRs, 0 per the reference page);
- ``rtsp_port=554``: else GetStreamCaps' ``rtspPort``, else 554;
- ``stream=main|sub``: the playback stream;
- ``snapshot_window=10``: seconds GetSnapshotByTime may search around the time;
- ``auth=basic|digest|auto``, ``https=1``, ``verify=0``, ``timeout=10``,
  ``max_requests=1``.

Wire facts follow ``protocols/viewtron.md``: the generation is detected from
GetDeviceInfo ``apiVersion``, then GetDeviceDetail, else v1.x; errors come as
``<config status="failed" errorCode=… errorDesc=…>``, usually with HTTP 400,
sometimes with an empty body; an empty search window is HTTP 400 errorCode 3.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import re
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import ClassVar
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from camfetch import timeutil
from camfetch.address import DeviceAddress, mask_url, url_authority
from camfetch.device import Device, wanted_kinds
from camfetch.errors import (
    AuthenticationError,
    CamfetchError,
    DeviceRefusedError,
    MalformedResponseError,
    NothingFoundError,
    UnsupportedError,
)
from camfetch.http import DeviceHttp, HttpPool, HttpSettings, Reply
from camfetch.http.client import MiB
from camfetch.http.xmlsafe import looks_like_xml, parse_xml, text_of
from camfetch.media.ffmpeg import elementary_codec, keyframe_to_jpeg
from camfetch.media.jpeg import JpegInfo, inspect_jpeg, is_jpeg
from camfetch.models import (
    Capability,
    Channel,
    DeviceInfo,
    DeviceKind,
    PlaybackSource,
    RecordingKind,
    RecordingSegment,
    Snapshot,
)

NAMESPACE = "http://www.ipc.com/ver10"
SNAPSHOT_CAP = 32 * MiB  # v2 answers carry base64 JPEGs in XML
CLOCK_MAX_AGE = 60.0  # seconds before info() reads the device clock again
XML_CAP = 8 * MiB

#: errorCode meanings (docs: error-codes); v1.9 sends only the number.
ERROR_TEXT: dict[int, str] = {
    0: "OK",
    1: "Invalid Request",
    2: "Invalid XML Format",
    3: "Invalid XML Content",
    4: "Permission Denied",
    5: "Network port error or client blocked",
    6: "Sensor ID Error",
    7: "System Busy",
    8: "Password Expired",
    9: "Unauthorized",
    10: "User Locked",
    11: "Unsupported Function",
    12: "Channel Error",
    13: "SD Error",
    14: "Action Error",
    15: "Missing Required Parameters",
    16: "Range Error",
    17: "Service Not Enabled",
    18: "Modification Not Allowed",
    19: "Over Specifications",
    20: "Resources Not Exist",
    79: "Internal Error",
}
_AUTH_CODES = {8, 9, 10}
_CHANNEL_CODES = {"1", "12"}  # Invalid Request (v1), Channel Error (v2)

#: Recording type names of both generations and what camfetch calls them.
RECORD_KINDS: dict[str, RecordingKind] = {
    "manual": RecordingKind.MANUAL,
    "schedule": RecordingKind.SCHEDULE,
    "motion": RecordingKind.MOTION,
    "sensor": RecordingKind.ALARM,
    "intel detection": RecordingKind.SMART,
    "intelligentDetection": RecordingKind.SMART,
    "nic broken": RecordingKind.NETWORK,
    "networkBroken": RecordingKind.NETWORK,
}
_DEFAULT_TYPES = {
    1: ["manual", "schedule", "motion", "sensor", "intel detection"],
    2: ["manual", "schedule", "motion", "sensor", "intelligentDetection"],
}


@dataclass(frozen=True, slots=True)
class _Profile:
    generation: int  # 1 or 2
    api_version: str | None
    config_version: str
    kind: DeviceKind
    channel_count: int
    fields: dict[str, str]  # deviceInfo (or GetDeviceDetail/property) flattened
    supported_apis: frozenset[str] | None  # GetSupportedAPIs, v2 only


class ViewtronDevice(Device):
    schemes: ClassVar[tuple[str, ...]] = ("viewtron",)
    vendor: ClassVar[str] = "Viewtron"
    options: ClassVar[frozenset[str]] = frozenset(
        {"chid_base", "rtsp_port", "stream", "snapshot_window", "https", "verify"}
    )

    def __init__(self, address: DeviceAddress, pool: HttpPool | None = None) -> None:
        super().__init__(address, pool)
        settings = HttpSettings.from_address(address, max_body=XML_CAP)
        # Viewtron documents Basic on every request; a Digest challenge switches over.
        self.http = DeviceHttp.for_address(
            self.pool, address, label=self.label, settings=settings, auth="basic"
        )
        self.chid_base = address.int_option("chid_base", 1, minimum=0)
        self.stream = address.choice_option("stream", ("main", "sub"), "main")
        self.snapshot_window = address.int_option("snapshot_window", 10, minimum=1)
        self._lock = asyncio.Lock()
        self._profile: _Profile | None = None
        self._channels: list[Channel] | None = None
        self._skew: float | None = None
        self._clock_read_at: float | None = None  # monotonic time of the last GetDateAndTime
        self._record_types: dict[str, RecordingKind] | None = None
        self._rtsp_port: int | None = None

    # -- the device interface ------------------------------------------------------------

    async def capabilities(self) -> frozenset[Capability]:
        profile = await self._get_profile()
        caps = {Capability.SNAPSHOT, Capability.SNAPSHOT_AT, Capability.SEARCH, Capability.PLAYBACK}
        apis = profile.supported_apis
        if apis is not None:
            if "GetSnapshot" not in apis:
                caps.discard(Capability.SNAPSHOT)
            if "GetSnapshotByTime" not in apis:
                caps.discard(Capability.SNAPSHOT_AT)
            if "SearchByTime" not in apis:
                caps -= {Capability.SEARCH, Capability.PLAYBACK}
        if profile.kind is DeviceKind.CAMERA and profile.fields.get("supportSDCard") == "false":
            caps -= {Capability.SNAPSHOT_AT, Capability.SEARCH, Capability.PLAYBACK}
        return frozenset(caps)

    async def info(self) -> DeviceInfo:
        profile = await self._get_profile()
        read_at = self._clock_read_at
        if read_at is None or time.monotonic() - read_at > CLOCK_MAX_AGE:
            await self._read_clock()  # long-lived devices: the skew can change
        f = profile.fields
        extra = {
            key: f[name]
            for key, name in (
                ("brand", "brand"),
                ("description", "deviceDescription"),
                ("build_date", "softwareBuildDate"),
                ("kernel", "kernelVersion"),
                ("http_post_version", "httpPostVersion"),
            )
            if f.get(name)
        }
        extra["config_version"] = profile.config_version
        extra["api_generation"] = "v2.0" if profile.generation == 2 else "v1.9"
        return DeviceInfo(
            vendor=self.vendor,
            model=f.get("model") or f.get("deviceDescription") or "unknown",
            name=f.get("deviceName") or self.address.host,
            kind=profile.kind,
            channel_count=len(await self.channels()),
            serial=f.get("sn"),
            firmware=f.get("softwareVersion"),
            api_version=profile.api_version,
            mac=f.get("mac"),
            hardware=f.get("hardwareVersion"),
            time_zone=self._tz_name,
            clock_skew_seconds=self._skew,
            extra=extra,
        )

    async def channels(self) -> list[Channel]:
        if self._channels is not None:
            return self._channels
        profile = await self._get_profile()
        if profile.generation == 2:
            root = await self._xml("GET", "GetChannelInfo")
            channels = parse_channel_info(root)
        elif profile.kind is DeviceKind.CAMERA:
            channels = [Channel(1, profile.fields.get("deviceName") or "IPC", online=True)]
        else:
            root = await self._xml("GET", "GetChannelList")
            channels = parse_channel_list(root)
        if not channels:
            raise MalformedResponseError("the device lists no channels", device=self.label)
        self._channels = channels
        return channels

    async def device_zone(self) -> tuple[tzinfo, str]:
        await self._read_clock()
        assert self._tz is not None and self._tz_name is not None
        return self._tz, self._tz_name

    async def _read_clock(self) -> None:
        """GetDateAndTime: the device's zone rule (unless tz= says) and its clock skew."""
        option = self.address.option("tz")
        rule: str | None = None
        shown: str | None = None
        try:
            root = await self._xml("GET", "GetDateAndTime")
            rule = posix_rule(root)
            shown = text_of(root, "time/synchronizeInfo/currentTime")
        except (DeviceRefusedError, MalformedResponseError):
            pass  # older firmware: fall back below
        if option:
            tz, name = timeutil.zone(option), option
        elif rule:
            try:
                tz, name = timeutil.posix_zone(rule), rule
            except ValueError:
                tz, name = timeutil.local_zone(), "host local time (device rule unreadable)"
        else:
            tz, name = timeutil.local_zone(), "host local time (device did not say)"
        self._tz, self._tz_name = tz, name
        self._clock_read_at = time.monotonic()
        if shown:
            try:
                device_now = timeutil.parse_wall(shown, tz)
            except ValueError:
                return
            # The device shows whole seconds: its clock is half a second further on average.
            self._skew = float(round((device_now - timeutil.utcnow()).total_seconds() + 0.5))

    async def snapshot(self, channel: int = 1, *, size: tuple[int, int] | None = None) -> Snapshot:
        if size is not None:
            raise UnsupportedError(
                "Viewtron devices send snapshots at the stream's own size", device=self.label
            )
        if channel < 1:
            await self.check_channel(channel)
        # No probing first: with tz= given, a snapshot is one request.
        reply = await self.http.request("GET", f"/GetSnapshot/{channel}", max_body=SNAPSHOT_CAP)
        try:
            data, fmt, info = await self._picture(reply, "snapshot", allow_keyframe=False)
        except DeviceRefusedError as exc:
            if exc.code in _CHANNEL_CODES:
                await self.check_channel(channel)  # names the channels that do exist
            raise
        return Snapshot(
            channel=channel,
            data=data,
            content_type="image/jpeg",
            device_time=await self._device_now(),
            width=info.width,
            height=info.height,
            source="live",
            original_format=fmt,
        )

    async def snapshot_at(self, channel: int, when: datetime) -> Snapshot:
        await self.check_channel(channel)
        profile = await self._get_profile()
        tz = await self.timezone()
        wall = timeutil.format_wall(when, tz)
        body = (
            f"<search><time><![CDATA[{wall}]]></time>"
            f"<length>{self.snapshot_window}</length></search>"
        )
        reply = await self.http.request(
            "POST",
            f"/GetSnapshotByTime/{channel}",
            data=request_xml(body, profile),
            headers=_XML_HEADERS,
            max_body=SNAPSHOT_CAP,
        )
        if reply.status == 400 and _error_code(reply) == 3:
            raise NothingFoundError(
                f"no recorded frame within {self.snapshot_window} s of {wall} "
                f"(device time) on channel {channel}",
                device=self.label,
            )
        data, fmt, info = await self._picture(reply, "snapshot by time", allow_keyframe=True)
        return Snapshot(
            channel=channel,
            data=data,
            content_type="image/jpeg",
            device_time=timeutil.from_wall(timeutil.to_wall(when, tz).replace(microsecond=0), tz),
            width=info.width,
            height=info.height,
            requested_time=when,
            source="archive",
            original_format=fmt,
        )

    async def recording_kinds(self, channel: int = 1) -> list[str]:
        return list((await self._get_record_types()).keys())

    async def search(
        self,
        channel: int,
        start: datetime,
        end: datetime,
        kinds: Iterable[str] | None = None,
    ) -> AsyncIterator[RecordingSegment]:
        self.check_window(start, end)
        await self.check_channel(channel)
        profile = await self._get_profile()
        names = wanted_kinds(kinds, await self._get_record_types())
        tz = await self.timezone()
        cursor = start.replace(microsecond=0)
        while cursor < end:
            body = search_body(
                names, timeutil.format_wall(cursor, tz), timeutil.format_wall(end, tz)
            )
            reply = await self.http.request(
                "POST",
                f"/SearchByTime/{channel}",
                data=request_xml(body, profile),
                headers=_XML_HEADERS,
            )
            if reply.status == 400 and _error_code(reply) == 3:
                return  # "nothing recorded" in this window
            root = self._check(reply, "SearchByTime")
            page = parse_segments(root, channel, tz)
            if not page:
                return
            for segment in page:
                if segment.end > cursor:
                    yield segment
            last_end = max(s.end for s in page)
            if last_end <= cursor:
                raise MalformedResponseError(
                    "SearchByTime answered the same page again (no progress)", device=self.label
                )
            cursor = last_end

    async def playback_source(
        self, channel: int, start: datetime, end: datetime, *, method: str | None = None
    ) -> PlaybackSource:
        if method not in (None, "rtsp"):
            raise UnsupportedError(
                f"Viewtron devices export over RTSP only, not by {method}", device=self.label
            )
        self.check_window(start, end)
        await self.check_channel(channel)
        tz = await self.timezone()
        port = await self._get_rtsp_port()
        begin = start.replace(microsecond=0)
        seconds = max(1, math.ceil((end - begin).total_seconds()))
        url = playback_url(
            host=self.address.host,
            port=port,
            username=self.address.username,
            password=self.address.password,
            chid=channel - 1 + self.chid_base,
            start_wall=timeutil.to_wall(begin, tz),
            seconds=seconds,
            stream=self.stream,
        )
        return PlaybackSource(
            channel=channel,
            start=begin,
            end=begin + timedelta(seconds=seconds),
            url=url,
            display_url=mask_url(url),
            protocol="rtsp",
        )

    # -- probing -----------------------------------------------------------------------------

    async def _get_profile(self) -> _Profile:
        if self._profile is not None:
            return self._profile
        async with self._lock:
            if self._profile is None:
                self._profile = await self._probe()
        return self._profile

    async def _probe(self) -> _Profile:
        root = await self._xml("GET", "GetDeviceInfo")
        info = root.find("deviceInfo")
        if info is None:
            raise MalformedResponseError("GetDeviceInfo has no deviceInfo", device=self.label)
        fields = flatten(info)
        config_version = root.get("version") or "1.0"
        api_version = fields.get("apiVersion")
        if not api_version:
            try:
                detail = await self._xml("GET", "GetDeviceDetail")
            except (DeviceRefusedError, MalformedResponseError):
                detail = None
            prop = detail.find("detail/property") if detail is not None else None
            if prop is not None:
                detail_fields = flatten(prop)
                api_version = detail_fields.get("apiVersion")
                for key, value in detail_fields.items():
                    fields.setdefault(key, value)
        generation = 2 if _major(api_version) >= 2 else 1
        description = fields.get("deviceDescription", "")
        try:
            max_channels = int(fields.get("chlMaxCount") or "1")
        except ValueError:
            max_channels = 1
        if description == "IPCamera" or (generation == 2 and max_channels <= 1):
            kind = DeviceKind.CAMERA
        else:
            kind = DeviceKind.NVR
        supported: frozenset[str] | None = None
        if generation == 2:
            supported = await self._supported_apis()
        return _Profile(
            generation=generation,
            api_version=api_version,
            config_version=config_version,
            kind=kind,
            channel_count=1 if kind is DeviceKind.CAMERA else max_channels,
            fields=fields,
            supported_apis=supported,
        )

    async def _supported_apis(self) -> frozenset[str] | None:
        try:
            root = await self._xml("POST", "GetSupportedAPIs")
        except (DeviceRefusedError, MalformedResponseError):
            return None  # command list unknown
        items = root.findall("applicationInterfaces/item")
        names = {(item.text or "").strip() for item in items}
        return frozenset(n for n in names if n) or None

    async def _get_record_types(self) -> dict[str, RecordingKind]:
        if self._record_types is None:
            profile = await self._get_profile()
            try:
                root = await self._xml("GET", "GetRecordType")
                names = [(i.text or "").strip() for i in root.findall("recTypeCaps/item")]
                names = [n for n in names if n]
            except DeviceRefusedError:
                names = []
            if not names:
                names = _DEFAULT_TYPES[profile.generation]
            self._record_types = {n: RECORD_KINDS.get(n, RecordingKind.OTHER) for n in names}
        return self._record_types

    async def _get_rtsp_port(self) -> int:
        if self._rtsp_port is None:
            port = self.address.int_option("rtsp_port", 0, minimum=0)
            if not port:
                try:
                    root = await self._xml("GET", "GetStreamCaps")
                    port = int(text_of(root, "rtspPort") or 0)
                except (DeviceRefusedError, MalformedResponseError, ValueError):
                    port = 0
            self._rtsp_port = port or 554
        return self._rtsp_port

    async def _device_now(self) -> datetime:
        tz = await self.timezone()
        skew = timedelta(seconds=self._skew or 0.0)
        return (timeutil.utcnow() + skew).astimezone(tz)

    # -- requests and answers --------------------------------------------------------------

    async def _xml(self, method: str, command: str, body: str | None = None) -> Element:
        profile = self._profile
        data = request_xml(body or "", profile) if method == "POST" else None
        reply = await self.http.request(
            method, f"/{command}", data=data, headers=_XML_HEADERS if data else None
        )
        return self._check(reply, command)

    def _check(self, reply: Reply, what: str) -> Element:
        """The XML root of a successful answer; typed errors for everything else."""
        try:
            root = _xml_root(reply, what)
            raise_for_status(reply, root, what)
        except CamfetchError as exc:
            raise exc.with_device(self.label) from None
        if root is None:
            raise MalformedResponseError(f"{what}: empty answer", device=self.label)
        return root

    async def _picture(
        self, reply: Reply, what: str, *, allow_keyframe: bool
    ) -> tuple[bytes, str, JpegInfo]:
        """A checked JPEG from an answer that may be raw JPEG, base64 in XML or a key frame."""
        try:
            data, fmt = await self._image_bytes(reply, what, allow_keyframe=allow_keyframe)
            return data, fmt, inspect_jpeg(data)
        except CamfetchError as exc:
            raise exc.with_device(self.label) from None

    async def _image_bytes(
        self, reply: Reply, what: str, *, allow_keyframe: bool
    ) -> tuple[bytes, str]:
        body = reply.body
        if reply.status != 200:
            self._check(reply, what)
        if is_jpeg(body):
            return body, "jpeg"
        if allow_keyframe and (codec := elementary_codec(body)) is not None:
            return await keyframe_to_jpeg(body, codec), codec
        if looks_like_xml(body) and "html" not in reply.content_type:
            root = self._check(reply, what)
            b64 = text_of(root, "downloadOneImage/sourceBase64Data") or text_of(
                root, ".//sourceBase64Data"
            )
            if not b64:
                raise MalformedResponseError(
                    f"{what}: XML answer without image data", device=self.label
                )
            try:
                data = base64.b64decode(b64, validate=False)
            except (binascii.Error, ValueError):
                raise MalformedResponseError(
                    f"{what}: image data is not base64", device=self.label
                ) from None
            if not is_jpeg(data):
                raise MalformedResponseError(
                    f"{what}: base64 data is not a JPEG", device=self.label
                )
            return data, "jpeg-base64"
        kind = reply.content_type or "no content type"
        if "html" in kind or body.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
            raise MalformedResponseError(
                f"{what}: the device answered an HTML page ({kind}) instead of an image",
                device=self.label,
            )
        raise MalformedResponseError(
            f"{what}: not an image ({kind}, {len(body)} bytes starting {body[:8]!r})",
            device=self.label,
        )


# -- wire format (pure functions) ------------------------------------------------------------

_XML_HEADERS = {"Content-Type": 'application/xml; charset="UTF-8"'}


def request_xml(body: str, profile: _Profile | None) -> bytes:
    """A request document in the config version the device speaks."""
    version = "2.0.0" if profile is not None and profile.generation == 2 else "1.0"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<config version="{version}" xmlns="{NAMESPACE}">{body}</config>'
    ).encode()


def search_body(types: Iterable[str], start_wall: str, end_wall: str) -> str:
    items = "".join(f"<item>{escape(t)}</item>" for t in types)
    return (
        '<search><recTypes type="list"><itemType type="recType"></itemType>'
        f"{items}</recTypes>"
        f'<starttime type="string"><![CDATA[{start_wall}]]></starttime>'
        f'<endtime type="string"><![CDATA[{end_wall}]]></endtime></search>'
    )


def playback_url(
    *,
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    chid: int,
    start_wall: datetime,
    seconds: int,
    stream: str,
) -> str:
    """The RTSP playback URL, parameters in the documented order (others hang NVRs)."""
    return (
        f"rtsp://{url_authority(host, port, username, password)}/chID={chid}"
        f"&date={start_wall:%Y-%m-%d}&time={start_wall:%H:%M:%S}"
        f"&timelen={seconds}&streamType={stream}&action=playback"
    )


def _major(version: str | None) -> int:
    try:
        return int((version or "1").split(".")[0])
    except ValueError:
        return 1


def flatten(element: Element) -> dict[str, str]:
    """Child element texts (CDATA and surrounding whitespace stripped) by tag."""
    return {child.tag: (child.text or "").strip() for child in element if len(child) == 0}


def _xml_root(reply: Reply, what: str) -> Element | None:
    body = reply.body
    if not body.strip():
        return None
    if not looks_like_xml(body):
        if reply.status >= 400:
            return None  # a bare error page: the status says it all
        raise MalformedResponseError(
            f"{what}: expected XML, got {reply.content_type or 'no content type'} "
            f"({len(body)} bytes)"
        )
    if body.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
        if reply.status >= 400:
            return None
        raise MalformedResponseError(f"{what}: the device answered an HTML page instead of XML")
    return parse_xml(body, what=what)


def raise_for_status(reply: Reply, root: Element | None, what: str) -> None:
    """Raise the typed error a failed answer stands for; return on success."""
    code = _root_error_code(root)
    failed = root is not None and root.get("status") == "failed"
    if reply.status < 300 and not failed and code in (None, 0):
        return
    if code is None and reply.status == 400:
        code = 1  # the SDK's reading of an empty 400
    if code is not None and (failed or code != 0):
        desc = (root.get("errorDesc") if root is not None else None) or ERROR_TEXT.get(code)
        text = desc or "unknown error"
        if code in _AUTH_CODES:
            raise AuthenticationError(f"{what}: {text} (errorCode {code})")
        empty = " (HTTP 400, empty body)" if root is None else ""
        raise DeviceRefusedError(
            f"{what} refused: {text}{empty} (errorCode {code})",
            code=str(code),
            text=text,
            http_status=reply.status,
        )
    raise DeviceRefusedError(
        f"{what} failed: HTTP {reply.status}", code=f"HTTP {reply.status}", http_status=reply.status
    )


def _root_error_code(root: Element | None) -> int | None:
    if root is None:
        return None
    raw = root.get("errorCode")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return -1


def _error_code(reply: Reply) -> int | None:
    """errorCode of an error answer without raising (for 'nothing recorded' checks)."""
    if not looks_like_xml(reply.body):
        return None
    try:
        return _root_error_code(parse_xml(reply.body, what="error answer"))
    except MalformedResponseError:
        return None


def parse_channel_info(root: Element) -> list[Channel]:
    """v2 GetChannelInfo: ``channelList/item/{channelId,name,status,attribute}``."""
    channels = []
    for item in root.findall("channelList/item"):
        try:
            number = int(text_of(item, "channelId") or "")
        except ValueError:
            continue
        status = text_of(item, "status")
        channels.append(
            Channel(
                number=number,
                name=text_of(item, "name") or f"Channel {number}",
                online=None if status is None else status in {"online", "videoOn"},
                status=status,
                kind=text_of(item, "attribute"),
            )
        )
    return channels


def parse_channel_list(root: Element) -> list[Channel]:
    """v1 GetChannelList; items inside ``channelIDList`` or, as the docs print it, after it."""
    holder = root.find("channelIDList")
    items = list(holder.findall("item")) if holder is not None else []
    if not items:
        items = root.findall("item")
    channels = []
    for item in items:
        try:
            number = int((item.text or "").strip())
        except ValueError:
            continue
        status = item.get("channelStatus")
        channels.append(
            Channel(
                number=number,
                name=f"Channel {number}",
                online=None if status is None else status in {"online", "videoOn"},
                status=status,
            )
        )
    return channels


def parse_segments(root: Element, channel: int, tz: tzinfo) -> list[RecordingSegment]:
    """SearchByTime items: start text, ``seconds`` and ``recType`` attributes, v2 ``endtime``."""
    segments: list[RecordingSegment] = []
    for item in root.findall("timesectionList/item"):
        start_el = item.find("starttime")
        if start_el is None or not (start_el.text or "").strip():
            raise MalformedResponseError("SearchByTime item without starttime")
        try:
            start = timeutil.parse_wall(start_el.text or "", tz)
            end_text = text_of(item, "endtime")
            if end_text:
                end = timeutil.parse_wall(end_text, tz)
            else:
                seconds = start_el.get("seconds")
                if seconds is None:
                    raise MalformedResponseError(
                        "SearchByTime item has neither seconds nor endtime"
                    )
                end = start + timedelta(seconds=float(seconds))
        except ValueError as exc:
            raise MalformedResponseError(f"SearchByTime item unreadable: {exc}") from None
        vendor_kind = start_el.get("recType") or item.get("recType") or "unknown"
        segments.append(
            RecordingSegment(
                channel=channel,
                start=start,
                end=end,
                kind=RECORD_KINDS.get(vendor_kind, RecordingKind.OTHER),
                vendor_kind=vendor_kind,
            )
        )
    return segments


_POSIX_STD = re.compile(r"^(?P<name><[^>]+>|[A-Za-z]{3,})(?P<offset>[+-]?\d{1,2}(?::\d{2}){0,2})$")


def posix_rule(root: Element) -> str | None:
    """The device's zone as a POSIX rule, from GetDateAndTime.

    v1.9 keeps daylight saving in separate fields (``daylightSwitch``,
    ``startTime``/``endTime`` as ``Mm.w.d/h``, ``offSet`` in minutes); they are
    folded into one rule here.
    """
    zone = text_of(root, "time/timezoneInfo/timeZone")
    if not zone:
        return None
    switch = (text_of(root, "time/timezoneInfo/daylightSwitch") or "0").lower()
    start = text_of(root, "time/timezoneInfo/startTime")
    end = text_of(root, "time/timezoneInfo/endTime")
    match = _POSIX_STD.match(zone)
    if switch in {"1", "true"} and start and end and match:
        shift = int(text_of(root, "time/timezoneInfo/offSet") or "60")
        std_minutes = _posix_minutes(match["offset"])
        dst_minutes = std_minutes - shift
        sign = "-" if dst_minutes < 0 else ""
        hours, minutes = divmod(abs(dst_minutes), 60)
        dst = f"{sign}{hours}" + (f":{minutes:02d}" if minutes else "")
        return f"{zone}DST{dst},{start},{end}"
    return zone


def _posix_minutes(offset: str) -> int:
    sign = -1 if offset.startswith("-") else 1
    parts = [int(p) for p in offset.lstrip("+-").split(":")]
    return sign * (parts[0] * 60 + (parts[1] if len(parts) > 1 else 0))
