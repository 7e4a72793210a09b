"""A simulated Viewtron IPC (API v1.9) or NVR (API v2.0), faithful to its quirks.

Personas, chosen by options:

- ``api="1.9"``: config version 1.0 or 1.7, no ``apiVersion`` in GetDeviceInfo
  (1.7 reports it in GetDeviceDetail), GetChannelList printed as the docs print
  it (items after a self-closing ``channelIDList``), GetSupportedAPIs answered by
  an empty HTTP 400, GetSnapshotByTime as raw JPEG or an H.264/H.265 key frame,
  "nothing recorded" as HTTP 400 errorCode 3 with ``Content-Type: image/png``.
- ``api="2.0"``: ``apiVersion`` 2.0.0, GetChannelInfo, GetSupportedAPIs,
  Basic and Digest, base64 JPEG in XML for GetSnapshotByTime, ``endtime``
  in search results, ``errorDesc`` on errors.

Both: Basic auth, SearchByTime over a generated archive (at most
``search_limit`` items per answer, oldest first, clipped to the window,
only the asked types), and RTSP playback of any recorded range with
parameter-order checking (a reordered URL hangs or is refused).
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import ClassVar, Literal
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET
from aiohttp import web
from aiohttp.typedefs import Middleware
from PIL import Image

from camfetch import timeutil
from camfetch.models import RecordingKind
from camfetch.sim.base import BareRequest, RtspPlaybackDevice
from camfetch.sim.h264 import RecordingStream, VideoFormat, encode_keyframe
from camfetch.sim.httpauth import DeviceLogin, Verdict
from camfetch.sim.rtsp import BasicAuth, MediaSource, RtspError, RtspRequest

NS = "http://www.ipc.com/ver10"
XML = "application/xml"

V1_TYPES: dict[RecordingKind, str] = {
    RecordingKind.MANUAL: "manual",
    RecordingKind.SCHEDULE: "schedule",
    RecordingKind.MOTION: "motion",
    RecordingKind.ALARM: "sensor",
    RecordingKind.SMART: "intel detection",
    RecordingKind.NETWORK: "nic broken",
}
V2_TYPES: dict[RecordingKind, str] = {
    RecordingKind.MANUAL: "manual",
    RecordingKind.SCHEDULE: "schedule",
    RecordingKind.MOTION: "motion",
    RecordingKind.ALARM: "sensor",
    RecordingKind.SMART: "intelligentDetection",
    RecordingKind.NETWORK: "networkBroken",
}
ERROR_DESC = {
    1: "Invalid Request",
    2: "Invalid XML Format",
    3: "Invalid XML Content",
    12: "Channel Error",
}
PLAYBACK_ORDER = ("chID", "date", "time", "timelen", "streamType", "action")

Api = Literal["1.9", "2.0"]
Kind = Literal["ipc", "nvr"]


class ViewtronSimulator(RtspPlaybackDevice):
    scheme: ClassVar[str] = "viewtron"
    rtsp_server_name: ClassVar[str] = "Rtsp Server/2.0"

    def __init__(
        self,
        *,
        api: Api = "2.0",
        kind: Kind = "nvr",
        channels: int | None = None,
        name: str | None = None,
        config_version: str | None = None,
        snapshot_by_time: Literal["jpeg", "h264", "hevc"] = "jpeg",
        snapshot_format: Literal["jpeg", "xml"] = "jpeg",
        digest: bool | None = None,
        search_limit: int = 1000,
        reorder: Literal["hang", "refuse"] = "hang",
        chid_base: int = 1,
        playback_speed: float = 1.0,
        playback_fps: float = 10.0,
        rtsp_port: int = 0,
        snapshot_concurrency: int = 1,
        snapshot_delay: float = 0.0,
        **common: object,
    ) -> None:
        default_name = "IPC" if kind == "ipc" else "NVR"
        super().__init__(name=name or default_name, **common)  # type: ignore[arg-type]
        self.api: Api = api
        self.kind: Kind = kind
        self.channel_count = 1 if kind == "ipc" else (channels or 4)
        if config_version is None:
            config_version = "1.7" if api == "1.9" else "2.0.0"
        self.config_version = config_version
        self.snapshot_by_time = snapshot_by_time
        self.snapshot_format = snapshot_format
        self.search_limit = search_limit
        self.reorder = reorder
        self.chid_base = chid_base
        self.playback_speed = playback_speed
        self.playback_fps = playback_fps
        self.requested_rtsp_port = rtsp_port
        self.snapshot_delay = snapshot_delay
        self.login = DeviceLogin(
            self.username,
            self.password,
            realm=self.model,
            basic=True,
            digest=(api == "2.0") if digest is None else digest,
        )
        self._snapshot_slots = asyncio.Semaphore(snapshot_concurrency)
        self.playbacks: list[str] = []  # paths asked for, newest last (for tests)

    # -- persona -----------------------------------------------------------------------------

    @property
    def v2(self) -> bool:
        return self.api == "2.0"

    @property
    def model(self) -> str:
        if self.kind == "ipc":
            return "E4_4MP_" if self.v2 else "TD-9421M"
        return "TD-3308H1-8P-B1" if self.channel_count <= 8 else "TD-3316H1-16P-B1"

    @property
    def firmware(self) -> str:
        if self.kind == "ipc":
            return "5.3.0.12288B240820.IG1.U1(08A10)" if self.v2 else "5.1.4.0"
        return "1.4.13.73910B250110.N0W.U1(8A418)" if self.v2 else "1.4.7.62811B230317.N0W.U1"

    @property
    def max_channels(self) -> int:
        """chlMaxCount: what the model supports (an 8-channel NVR with 4 cameras says 8)."""
        if self.kind == "ipc":
            return 1
        return 8 if self.channel_count <= 8 else self.channel_count

    @property
    def types(self) -> dict[RecordingKind, str]:
        table = dict(V2_TYPES if self.v2 else V1_TYPES)
        if self.kind == "nvr":
            table.pop(RecordingKind.NETWORK)  # "nic broken" exists on IPCs only
        return table

    def describe(self) -> str:
        what = "IPC" if self.kind == "ipc" else f"NVR with {self.channel_count} channels"
        return (
            f"Simulated Viewtron {what}, API {self.api} (config {self.config_version}), "
            f"device clock {self.tz_name}: HTTP {self.host}:{self.port}{self.rtsp_described()}"
        )

    def url_options(self) -> dict[str, str]:
        options = {"tz": self.tz_name}
        if self.v2 and self._rtsp_port is not None and self._rtsp_port != 554:
            # v2 firmware has no GetStreamCaps: a client must be told the RTSP port.
            options["rtsp_port"] = str(self._rtsp_port)
        if self.chid_base != 1:
            options["chid_base"] = str(self.chid_base)
        return options

    def snapshot_request(self, channel: int = 1) -> BareRequest:
        url = f"http://{self.host}:{self.port}/GetSnapshot/{channel}"
        return BareRequest(url, "basic", self.username, self.password)

    # -- RTSP playback -----------------------------------------------------------------------

    def rtsp_auth(self) -> BasicAuth:
        # Plain-text rtsp://user:pass@ credentials need Basic (as TVT-OEM NVRs configure it).
        return BasicAuth({self.username: self.password}, realm=self.model)

    async def playback(self, request: RtspRequest) -> MediaSource:
        """Resolve ``/chID=…&date=…&time=…&timelen=…&streamType=…&action=playback``."""
        target = request.target.lstrip("/?")
        self.playbacks.append(target)
        pairs = [part.partition("=") for part in target.split("&") if part]
        params = {key: value for key, _, value in pairs}
        if params.get("action") not in {"playback", "backup"}:
            raise RtspError(404, "Not Found")
        if tuple(key for key, _, _ in pairs) != PLAYBACK_ORDER:
            if self.reorder == "hang":
                await asyncio.Event().wait()  # as some firmware does: never answers
            raise RtspError(400, "Bad Request")
        try:
            channel = int(params["chID"]) - self.chid_base + 1
            shown = self.clock.parse_wall(f"{params['date']} {params['time']}")
            seconds = int(params["timelen"])
        except (KeyError, ValueError):
            raise RtspError(400, "Bad Request") from None
        if not 1 <= channel <= self.channel_count or not 0 < seconds <= 24 * 3600:
            raise RtspError(404, "Not Found")
        start = self.clock.true_time(shown)
        found = self.archive.segments(channel, start, start + timedelta(seconds=seconds))
        if not found:
            raise RtspError(404, "Not Found")
        size = (
            (640, 360)
            if params.get("streamType") == "sub"
            else (self.frames.width, self.frames.height)
        )
        speed = self.playback_speed
        if params["action"] == "backup" and speed > 0:
            speed *= 8  # backup streams about 8x faster than real time
        skew, tz = self.clock.skew, self.clock.tz

        def render(when: datetime) -> Image.Image:
            return self.frames.image(channel, (when + skew).astimezone(tz), size=size)

        return RecordingStream(
            render,
            [(rec.start, rec.end) for rec in found],
            VideoFormat(size[0], size[1], fps=self.playback_fps),
            audio=True,  # NVRs record G.711 µ-law audio alongside the video
            speed=speed,
        )

    # -- HTTP plumbing -----------------------------------------------------------------------

    def middlewares(self) -> list[Middleware]:
        return [self._auth]

    @web.middleware
    async def _auth(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        verdict = self.login.check(request.method, request.headers.get("Authorization"))
        if verdict is Verdict.OK:
            return await handler(request)
        return self.login.unauthorized(stale=verdict is Verdict.STALE)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{command}", self._dispatch)
        app.router.add_route("*", "/{command}/{channel}", self._dispatch)
        app.router.add_route("*", "/{command}/{channel}/{action}", self._dispatch)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        command = request.match_info["command"]
        handler = self._handlers().get(command)
        if handler is None:
            return self.error(1)
        channel_text = request.match_info.get("channel", "1")
        try:
            channel = int(channel_text)
        except ValueError:
            return self.error(1)
        if not 1 <= channel <= self.channel_count:
            return self.error(12 if self.v2 else 1)
        return await handler(request, channel)

    def _handlers(self) -> dict[str, Callable[[web.Request, int], Awaitable[web.StreamResponse]]]:
        table: dict[str, Callable[[web.Request, int], Awaitable[web.StreamResponse]]] = {
            "GetDeviceInfo": self.get_device_info,
            "GetSnapshot": self.get_snapshot,
            "GetSnapshotByTime": self.get_snapshot_by_time,
            "GetRecordType": self.get_record_type,
            "SearchByTime": self.search_by_time,
            "GetDateAndTime": self.get_date_and_time,
        }
        if self.kind == "ipc":
            table["GetDeviceDetail"] = self.get_device_detail
        if self.v2:
            table["GetSupportedAPIs"] = self.get_supported_apis
            table["GetChannelInfo"] = self.get_channel_info
        else:
            table["GetStreamCaps"] = self.get_stream_caps
            table["GetSupportedAPIs"] = self.get_supported_apis_v1
            if self.kind == "nvr":
                table["GetChannelList"] = self.get_channel_list
        return table

    # -- documents ---------------------------------------------------------------------------

    def document(self, body: str) -> web.Response:
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<config version="{self.config_version}" xmlns="{NS}">\n{body}\n</config>\n'
        )
        return web.Response(body=text.encode(), content_type=XML, charset="utf-8")

    def error(self, code: int, *, status: int = 400, content_type: str = XML) -> web.Response:
        """A failed answer: v2 with errorDesc, v1 with the number only."""
        if self.v2:
            desc = ERROR_DESC.get(code, "Invalid Request")
            text = (
                '<?xml version="1.0" encoding="utf-8" ?>\n'
                f'<config status="failed" errorCode="{code}" errorDesc="{desc}"/>\n'
            )
        else:
            text = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<config version="{self.config_version}" xmlns="{NS}" '
                f'status="failed" errorCode="{code}"></config>\n'
            )
        return web.Response(
            status=status, body=text.encode(), headers={"Content-Type": content_type}
        )

    @staticmethod
    def _s(tag: str, value: str, extra: str = "") -> str:
        return f'<{tag} type="string"{extra}><![CDATA[{value}]]></{tag}>'

    # -- commands ----------------------------------------------------------------------------

    async def get_device_info(self, request: web.Request, channel: int) -> web.StreamResponse:
        s = self._s
        description = "IPCamera" if self.kind == "ipc" and not self.v2 else self.model
        parts = [s("deviceName", self.name), s("deviceDescription", description)]
        if self.v2:
            parts += [s("apiVersion", "2.0.0"), s("httpPostVersion", "2.0")]
        parts += [
            # real firmware wraps the CDATA in whitespace; clients must strip it
            '<softwareVersion type="string">\n      '
            f"<![CDATA[{self.firmware}]]>\n    </softwareVersion>",
            s("softwareBuildDate", "2025-01-10" if self.v2 else "2023-03-17"),
            s("kernelVersion", "20241010"),
            s("hardwareVersion", "1.5"),
            s("model", self.model),
            s("brand", "Viewtron"),
            s("mac", self.mac("58:5b:69")),
            s("sn", ("N" if self.kind == "nvr" else "I") + self.identity(11)),
            f'<chlMaxCount type="uint32">{self.max_channels}</chlMaxCount>',
        ]
        if self.kind == "ipc":
            parts += [
                '<audioInCount type="uint32">1</audioInCount>',
                '<audioOutCount type="uint32">1</audioOutCount>',
                '<alarmInCount type="uint32">1</alarmInCount>',
                '<alarmOutCount type="uint32">1</alarmOutCount>',
                '<integratedPtz type="boolean">false</integratedPtz>',
                '<supportRS485Ptz type="boolean">false</supportRS485Ptz>',
                '<supportSDCard type="boolean">true</supportSDCard>',
            ]
        return self.document("<deviceInfo>\n" + "\n".join(parts) + "\n</deviceInfo>")

    async def get_device_detail(self, request: web.Request, channel: int) -> web.StreamResponse:
        s = self._s
        prop = [
            s("deviceName", self.name),
            s("deviceDescription", "IPCamera" if not self.v2 else self.model),
            s("model", self.model),
            s("sn", "I" + self.identity(11)),
            s("mac", self.mac("58:5b:69")),
            s("softwareVersion", self.firmware),
        ]
        if self.v2 or self.config_version == "1.7":
            prop.append(s("apiVersion", "2.0.0" if self.v2 else "1.7"))
        return self.document(
            "<detail><property>" + "".join(prop) + "</property>"
            '<smart><supportPerimeter type="boolean">true</supportPerimeter>'
            '<supportvehicle type="boolean">false</supportvehicle></smart>'
            '<system><supportSDCard type="boolean">true</supportSDCard>'
            '<chlMaxCount type="uint32">1</chlMaxCount></system></detail>'
        )

    async def get_supported_apis(self, request: web.Request, channel: int) -> web.StreamResponse:
        names = sorted(self._handlers())
        items = "".join(f"<item><![CDATA[{n}]]></item>" for n in names)
        return self.document(
            f'<applicationInterfaces type="list" count="{len(names)}">'
            f'<itemType type="string" maxLen="63"/>{items}</applicationInterfaces>'
        )

    async def get_supported_apis_v1(self, request: web.Request, channel: int) -> web.StreamResponse:
        return web.Response(status=400)  # v1 firmware: HTTP 400 with an empty body

    async def get_channel_info(self, request: web.Request, channel: int) -> web.StreamResponse:
        items = "".join(
            "<item>"
            f'<channelId type="uint32">{n}</channelId>'
            f'<name type="string"><![CDATA[{self.channel_name(n)}]]></name>'
            '<status type="channelStatus">online</status>'
            '<attribute type="channelType">Normal</attribute>'
            "</item>"
            for n in range(1, self.channel_count + 1)
        )
        return self.document(
            "<types><channelStatus><enum>online</enum><enum>offline</enum><enum>videoOn</enum>"
            "<enum>videoLoss</enum></channelStatus><channelType><enum>Normal</enum>"
            "<enum>Thermal</enum><enum>Fisheye</enum><enum>Panoramic</enum><enum>PTZ</enum>"
            "<enum>4PTZFusion</enum></channelType></types>"
            f'<channelList type="list" count="{self.channel_count}">{items}</channelList>'
        )

    async def get_channel_list(self, request: web.Request, channel: int) -> web.StreamResponse:
        # As the v1.9 docs print it: the list element closes itself, the items follow it.
        items = "\n".join(
            f'<item channelStatus="online">{n}</item>' for n in range(1, self.channel_count + 1)
        )
        return self.document(
            "<types><channelStatus><enum>online</enum><enum>offline</enum><enum>videoOn</enum>"
            "<enum>videoLoss</enum></channelStatus></types>\n"
            f'<channelIDList type="list" count="{self.channel_count}"/>\n'
            f'<itemType type="string" maxLen="20"/>\n{items}'
        )

    def channel_name(self, channel: int) -> str:
        return self.name if self.kind == "ipc" else f"{self.name} CH{channel}"

    async def get_stream_caps(self, request: web.Request, channel: int) -> web.StreamResponse:
        w, h = self.frames.width, self.frames.height
        return self.document(
            f'<rtspPort type="uint16">{self.rtsp_port}</rtspPort>'
            '<streamList type="list" count="2">'
            f'<item id="1"><streamName type="string"><![CDATA[profile1]]></streamName>'
            f'<resolutionCaps type="list" count="1"><itemType type="resolution"/>'
            f'<item maxFrameRate="25">{w}x{h}</item></resolutionCaps></item>'
            f'<item id="2"><streamName type="string"><![CDATA[profile2]]></streamName>'
            f'<resolutionCaps type="list" count="1"><itemType type="resolution"/>'
            f'<item maxFrameRate="25">640x360</item></resolutionCaps></item>'
            "</streamList>"
        )

    async def get_date_and_time(self, request: web.Request, channel: int) -> web.StreamResponse:
        rule = timeutil.posix_rule_for(self.tz_name) if "/" in self.tz_name else self.tz_name
        now = self.clock.wall(self.clock.now())
        if self.v2:
            zone = (
                '<timezoneInfo><timeZone type="string">'
                f"<![CDATA[{rule}]]></timeZone></timezoneInfo>"
            )
        else:
            std, _, dst = rule.partition(",")
            zone = self._v1_zone(std, dst)
        return self.document(
            f"<time>{zone}<synchronizeInfo><type>NTP</type>"
            f'<ntpServer type="string"><![CDATA[pool.ntp.org]]></ntpServer>'
            f'<currentTime type="string"><![CDATA[{now}]]></currentTime>'
            "</synchronizeInfo></time>"
        )

    @staticmethod
    def _v1_zone(std_part: str, dst_rules: str) -> str:
        """v1.9 keeps DST apart: timeZone holds the standard part, the rest are fields."""
        match = re.match(r"^(<[^>]+>|[A-Za-z]{3,})([+-]?\d{1,2}(?::\d{2})?)(.*)$", std_part)
        start = end = "M1.1.0/0"
        switch = 0
        if match and match.group(3) and dst_rules:
            std_part = match.group(1) + match.group(2)
            start, _, end = dst_rules.partition(",")
            switch = 1
        return (
            '<timeFormatMode type="timeFormatModeType">24h</timeFormatMode>'
            f'<timezoneInfo><timeZone type="string" maxLen="127"><![CDATA[{std_part}]]></timeZone>'
            f'<startTime type="string" maxLen="64"><![CDATA[{start}]]></startTime>'
            f'<endTime type="string" maxLen="64"><![CDATA[{end}]]></endTime>'
            '<offSet type="uint16" min="30" max="120">60</offSet>'
            f'<daylightSwitch type="uint32">{switch}</daylightSwitch></timezoneInfo>'
        )

    async def get_record_type(self, request: web.Request, channel: int) -> web.StreamResponse:
        names = list(self.types.values())
        items = "".join(f"<item>{n}</item>" for n in names)
        return self.document(
            f'<recTypeCaps type="list" count="{len(names)}">'
            f'<itemType type="string" maxLen="20"/>{items}</recTypeCaps>'
        )

    # -- pictures ----------------------------------------------------------------------------

    async def get_snapshot(self, request: web.Request, channel: int) -> web.StreamResponse:
        async with self._snapshot_slots:  # devices encode one snapshot at a time
            if self.snapshot_delay:
                await asyncio.sleep(self.snapshot_delay)
            moment = self.live_moment()
            jpeg = await self.frames.jpeg_async(channel, moment)
        if self.snapshot_format == "xml":
            return self._base64_image(jpeg)
        return web.Response(body=jpeg, content_type="image/jpeg")

    def _base64_image(self, jpeg: bytes) -> web.Response:
        data = base64.b64encode(jpeg).decode("ascii")
        return self.document(
            "<downloadOneImage>"
            f'<sourceBase64Data type="string"><![CDATA[{data}]]></sourceBase64Data>'
            "</downloadOneImage>"
        )

    async def get_snapshot_by_time(self, request: web.Request, channel: int) -> web.StreamResponse:
        root = await self._request_xml(request)
        if root is None:
            return self.error(2)
        when_text = _text(root, "search/time")
        length_text = _text(root, "search/length") or "10"
        try:
            asked = self.clock.parse_wall(when_text or "")
            length = max(1, min(3600, int(length_text)))
        except ValueError:
            return self.error(3)
        start = self.clock.true_time(asked)
        found = self.archive.next_recorded(channel, start, start + timedelta(seconds=length))
        if found is None:
            # v1 firmware labels this XML error as a PNG (seen on a Provision NVR).
            return self.error(3, content_type=XML if self.v2 else "image/png")
        shown = (found + self.clock.skew).astimezone(self.clock.tz)
        if self.v2:
            jpeg = await self.frames.jpeg_async(channel, shown)
            return self._base64_image(jpeg)
        if self.snapshot_by_time == "jpeg":
            jpeg = await self.frames.jpeg_async(channel, shown)
            return web.Response(body=jpeg, content_type="image/jpeg")
        image = await asyncio.to_thread(self.frames.image, channel, shown)
        data = await encode_keyframe(image, self.snapshot_by_time)
        ctype = "image/h264" if self.snapshot_by_time == "h264" else "image/h265"
        return web.Response(body=data, headers={"Content-Type": ctype})

    # -- recording search ----------------------------------------------------------------------

    async def search_by_time(self, request: web.Request, channel: int) -> web.StreamResponse:
        root = await self._request_xml(request)
        if root is None:
            return self.error(2)
        start_text = _text(root, "search/starttime")
        end_text = _text(root, "search/endtime")
        names = [(i.text or "").strip() for i in root.findall("search/recTypes/item")]
        by_name = {v: k for k, v in self.types.items()}
        try:
            start = self.clock.true_time(self.clock.parse_wall(start_text or ""))
            end = self.clock.true_time(self.clock.parse_wall(end_text or ""))
        except ValueError:
            return self.error(3)
        if not names or any(n not in by_name for n in names) or end <= start:
            return self.error(3)
        kinds = [by_name[n] for n in names]
        found = self.archive.segments(channel, start, end, kinds)[: self.search_limit]
        if not found:
            return self.error(3)  # an empty window is an error on these devices
        items = []
        for rec in found:
            shown_start = rec.start + self.clock.skew
            seconds = int((rec.end - rec.start).total_seconds())
            item = (
                f'<starttime type="string" seconds="{seconds}" recType="{self.types[rec.kind]}">'
                f"<![CDATA[{self.clock.wall(shown_start)}]]></starttime>"
            )
            if self.v2:
                shown_end = shown_start + timedelta(seconds=seconds)
                item += f'<endtime type="string"><![CDATA[{self.clock.wall(shown_end)}]]></endtime>'
            items.append(f"<item>{item}</item>")
        return self.document(
            f'<timesectionList type="list" count="{len(found)}">{"".join(items)}</timesectionList>'
        )

    async def _request_xml(self, request: web.Request) -> Element | None:
        body = await request.read()
        if not body.strip():
            return None
        try:
            root: Element = SafeET.fromstring(body, forbid_dtd=True)
        except (ParseError, defusedxml.DefusedXmlException):
            return None
        for el in root.iter():
            if isinstance(el.tag, str) and "}" in el.tag:
                el.tag = el.tag.split("}", 1)[1]
        return root


def _text(root: Element, path: str) -> str | None:
    el = root.find(path)
    return None if el is None or el.text is None else el.text.strip()


def fleet_member(
    number: int, *, latency: float, size: tuple[int, int], channels: int = 1
) -> ViewtronSimulator:
    """One device of a benchmark fleet: a v2.0 IPC (or an NVR with ``channels``) taking
    ``latency`` s per snapshot, one at a time."""
    return ViewtronSimulator(
        api="2.0",
        kind="ipc" if channels == 1 else "nvr",
        channels=channels,
        name=f"Camera {number:03d}" if channels == 1 else f"NVR {number:03d}",
        tz="UTC",
        size=size,
        frame_period=3600.0,
        snapshot_concurrency=1,
        snapshot_delay=latency,
    )
