"""Flussonic Watcher and Flussonic Media Server.

URLs:

- ``watcher://user:password@host[:port]``: a Watcher (API v2, ``/vsaas/api/v2``).
  camfetch logs in for a session (renewed when it expires), or sends an API
  key instead: ``?api_key=KEY`` alone is a system key, with a user in the URL
  (``watcher://user@host?api_key=KEY``) a user key. Each camera the user sees
  is a channel, addressable by number (list order), name or title; its
  pictures and video come from the camera's streamer with the camera's
  ``playback_config.token``.
- ``flussonic://[user:password@]host[:port]/STREAM?token=TOKEN``: one stream of a
  Media Server, addressed directly. The token is the stream's playback token.
  An admin user and password, when given, are used for the admin API v3
  (recorded ranges from ``dvr/ranges``), never sent with playback requests.

Options: ``tz=`` (Flussonic speaks UTC; this zone reads and shows times, default
the host's), ``thumbnails=auto|jpeg|mp4`` (the live picture from
``preview.jpg``, from ``preview.mp4``, or ``preview.jpg`` where the stream has
JPEG thumbnails), ``preview=query|unix|path`` (the archive preview URL form the
server answers: ``preview.mp4?from=`` as Flussonic's iOS SDK builds it, the
default; ``<unix>-preview.mp4``; or ``YYYY/MM/DD/HH/mm/SS-preview.mp4`` in UTC),
``https=1`` (the Watcher, or the ``flussonic://`` server, over HTTPS), ``verify=0``
(self-signed certificates, Watcher and streamers), ``timeout=``, ``max_requests=``.

Wire facts follow ``protocols/flussonic.md``. A live snapshot is always a JPEG:
a ``preview.mp4`` (one H.264 key frame) is converted by ffmpeg through pipes.
The frame at a past moment is Flussonic's archive preview, which answers the
closest recorded frame within 10 minutes; its answer carries no time, so the
driver reads the frame's moment off the recorded ranges, by the same rule, and
asks for exactly that second. Exports are ``archive-<from>-<duration>.mp4``
downloads, resumed with HTTP Range requests and kept byte for byte.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import struct
import weakref
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, quote, urlsplit

from camfetch import timeutil
from camfetch.address import DeviceAddress, mask_url, scrub
from camfetch.device import Device, DownloadProgress, wanted_kinds
from camfetch.errors import (
    AuthenticationError,
    CamfetchError,
    DeviceRefusedError,
    MalformedResponseError,
    MediaError,
    NothingFoundError,
    UnsupportedError,
    UsageError,
)
from camfetch.http import DeviceHttp, HttpPool, HttpSettings, Reply, StreamReply
from camfetch.http.client import MiB, base_url
from camfetch.media.ffmpeg import run_ffmpeg
from camfetch.media.jpeg import inspect_jpeg
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

T = TypeVar("T")

JSON_CAP = 16 * MiB  # a Watcher's camera list: every camera with all its fields
PICTURE_CAP = 16 * MiB
#: Flussonic answers an archive preview with the closest frame within this many seconds.
NEAREST_FRAME_SECONDS = 600
#: Flussonic's archive has no recording types: everything is DVR, recorded continuously.
VENDOR_KIND = "dvr"
ARCHIVE_FORMS = ("query", "unix", "path")
CAMERA_PAGE = 100
V3_PAGE = 500
CONVERT_TIMEOUT = 20.0
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}  # noqa: S104 - names, not a bind
_WATCHER = "/vsaas/api/v2"


@dataclass(frozen=True, slots=True)
class StreamRef:
    """One stream as the driver reaches it: where, with which token, what it offers."""

    number: int  # the channel number camfetch shows
    name: str  # the stream (Watcher camera) name
    base: str  # the streamer, ``http(s)://host:port``
    token: str | None
    title: str | None = None
    thumbnails: bool | None = None  # JPEG thumbnails on (Watcher says), None: unknown
    dvr: bool = True
    alive: bool | None = None
    enabled: bool = True

    @property
    def quoted(self) -> str:
        """The name as a URL path (stream names may contain slashes)."""
        return quote(self.name, safe="/")


class _TokenRefused(AuthenticationError):
    """The streamer answered 403 to a playback call: the token is wrong or expired."""


# -- wire format (pure functions) ------------------------------------------------------------


def streamer_base(camera: Mapping[str, Any], watcher_host: str) -> str:
    """The base URL of a camera's streamer, by the rule of Flussonic's iOS SDK demo.

    HTTPS on ``https_port`` when it is set, else HTTP on ``http_port``. The host
    is ``streamer_hostname`` when present (newer Watcher builds; more reliable),
    else ``stream_status.server``; a streamer Watcher calls ``localhost`` runs on
    the Watcher's own host.
    """
    status = camera.get("stream_status")
    status = status if isinstance(status, Mapping) else {}
    host = camera.get("streamer_hostname") or status.get("streamer_hostname")
    if not isinstance(host, str) or not host.strip():
        host = status.get("server")
    host = host.strip() if isinstance(host, str) and host.strip() else watcher_host
    if host.lower() in _LOCAL_HOSTS:
        host = watcher_host
    https_port = _port(status.get("https_port"))
    if https_port is not None:
        scheme, port = "https", https_port
    else:
        scheme, port = "http", _port(status.get("http_port")) or 80
    netloc = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{scheme}://{netloc}:{port}"


def _port(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 < value < 65536:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return _port(int(value.strip()))
    return None


def parse_camera(camera: object, number: int, watcher_host: str) -> StreamRef:
    """A Watcher v2 camera object as a stream: name, title, streamer, token, DVR."""
    if not isinstance(camera, Mapping):
        raise MalformedResponseError("Watcher camera list: an entry is not an object")
    name = camera.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MalformedResponseError("Watcher camera list: a camera has no name")
    playback = camera.get("playback_config")
    token = playback.get("token") if isinstance(playback, Mapping) else None
    status = camera.get("stream_status")
    alive = status.get("alive") if isinstance(status, Mapping) else None
    permissions = camera.get("permissions")
    may_dvr = permissions.get("dvr", True) if isinstance(permissions, Mapping) else True
    depth = camera.get("dvr_depth")
    title = camera.get("title")
    thumbnails = camera.get("thumbnails")
    return StreamRef(
        number=number,
        name=name.strip(),
        base=streamer_base(camera, watcher_host),
        token=token if isinstance(token, str) and token else None,
        title=title.strip() if isinstance(title, str) and title.strip() else None,
        thumbnails=thumbnails if isinstance(thumbnails, bool) else None,
        dvr=may_dvr is not False and not (isinstance(depth, int | float) and depth <= 0),
        alive=alive if isinstance(alive, bool) else None,
        enabled=camera.get("enabled") is not False,
    )


def archive_preview(stream: str, ts: int, form: str) -> tuple[str, dict[str, str]]:
    """Path and query (without token) of the archive preview at ``ts`` (UTC seconds)."""
    quoted = quote(stream, safe="/")
    if form == "query":
        return f"/{quoted}/preview.mp4", {"from": str(ts)}
    if form == "unix":
        return f"/{quoted}/{ts}-preview.mp4", {}
    moment = datetime.fromtimestamp(ts, UTC)
    return f"/{quoted}/{moment:%Y/%m/%d/%H/%M/%S}-preview.mp4", {}


Span = tuple[int, int]  # [from, to) in UTC seconds


def _span(item: object) -> Span | None:
    """``{"from": …, "duration": …}`` (or ``"to"``) as [from, to); None if unreadable."""
    if not isinstance(item, Mapping):
        return None
    start = item.get("from")
    if not isinstance(start, int | float) or isinstance(start, bool):
        return None
    duration, end = item.get("duration"), item.get("to")
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        stop = start + duration
    elif isinstance(end, int | float) and not isinstance(end, bool):
        stop = end
    else:
        return None
    return (int(start), math.ceil(stop)) if stop > start else None


def parse_recording_status(document: object, stream: str) -> list[Span]:
    """Ranges of ``recording_status.json``: the documented array of per-stream objects
    (``[{"stream", "ranges": [{"from", "duration"}]}]``), or the object form a
    SmartYard fork reads (``{"<stream>": {"from", "to"}}``)."""
    if isinstance(document, list):
        entries = [e for e in document if isinstance(e, Mapping)]
        entry = next((e for e in entries if e.get("stream") == stream), None)
        if entry is None and len(entries) == 1:
            entry = entries[0]
        if entry is None:
            if entries:
                raise MalformedResponseError(f"recording_status.json: no entry for {stream!r}")
            return []
        ranges = entry.get("ranges", [])
        if not isinstance(ranges, list):
            raise MalformedResponseError("recording_status.json: ranges is not a list")
        return merge_spans(s for s in map(_span, ranges) if s is not None)
    if isinstance(document, Mapping):
        entry = document.get(stream)
        if entry is None and len(document) == 1:
            entry = next(iter(document.values()))
        one = _span(entry)
        return [one] if one is not None else []
    raise MalformedResponseError("recording_status.json: neither a list nor an object")


def parse_v3_ranges(document: object) -> tuple[list[Span], str | None]:
    """One page of ``GET /streamer/api/v3/streams/<name>/dvr/ranges``: ranges and the
    cursor of the next page (None at the end)."""
    if not isinstance(document, Mapping) or not isinstance(document.get("ranges"), list):
        raise MalformedResponseError("dvr/ranges: the answer has no ranges list")
    spans = [s for s in map(_span, document["ranges"]) if s is not None]
    cursor = document.get("next")
    return spans, cursor if isinstance(cursor, str) and cursor else None


def v3_error(status: int, body: bytes, what: str) -> CamfetchError:
    """The typed error of a failed admin API v3 call, from its ``{"errors": [...]}`` body."""
    title = code = None
    try:
        document = json.loads(body)
        first = document["errors"][0]
        title = str(first.get("title") or first.get("detail") or "") or None
        code = str(first.get("code") or "") or None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        pass
    said = f": {title}" if title else ""
    if status in (401, 403):
        return AuthenticationError(
            f"{what}: the streamer rejected the admin user name or password (HTTP {status}{said})"
        )
    if status == 404:
        return DeviceRefusedError(
            f"{what}: no such stream on this server (HTTP 404{said})",
            code=code or "HTTP 404",
            text=title,
            http_status=404,
        )
    return DeviceRefusedError(
        f"{what} refused: HTTP {status}{said}", code=code or f"HTTP {status}", text=title,
        http_status=status,
    )  # fmt: skip


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Sorted, overlapping or touching spans joined."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def nearest_frame(spans: Sequence[Span], ts: int) -> int | None:
    """The recorded second Flussonic answers for ``ts``: ``ts`` itself when recorded, else
    the closest recorded second within 10 minutes (the earlier one on a tie), else None."""
    best: tuple[int, int] | None = None
    for start, end in spans:
        if start <= ts < end:
            return ts
        candidate = start if start > ts else end - 1
        distance = abs(candidate - ts)
        if distance <= NEAREST_FRAME_SECONDS and (best is None or (distance, candidate) < best):
            best = (distance, candidate)
    return None if best is None else best[1]


_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def _box_header(data: bytes | bytearray, pos: int, end: int, what: str) -> tuple[bytes, int, int]:
    """(type, body start, box end) of the box at ``pos``; MalformedResponseError if cut."""
    if pos + 8 > end:
        raise MalformedResponseError(f"{what} is truncated (box header at byte {pos})")
    size, kind = struct.unpack_from(">I4s", data, pos)
    body = pos + 8
    if size == 1:
        if pos + 16 > end:
            raise MalformedResponseError(f"{what} is truncated (box header at byte {pos})")
        size = struct.unpack_from(">Q", data, pos + 8)[0]
        body = pos + 16
    elif size == 0:
        size = end - pos
    if size < body - pos or pos + size > end:
        raise MalformedResponseError(f"{what} is not a complete MP4 (box {kind!r} at byte {pos})")
    return kind, body, pos + size


def moov_first(data: bytes, what: str = "preview.mp4") -> bytes:
    """The MP4 with its ``moov`` box ahead of the media data, chunk offsets moved along.

    ffmpeg reads MP4 from a pipe only when the index comes first; a preview
    written the other way round is reordered in memory (no temporary file).
    """
    boxes: list[tuple[bytes, int, int]] = []
    pos = 0
    while pos < len(data):
        kind, _, end = _box_header(data, pos, len(data), what)
        boxes.append((kind, pos, end))
        pos = end
    kinds = [kind for kind, _, _ in boxes]
    if b"moov" not in kinds:
        raise MalformedResponseError(f"{what} is not an MP4 (no moov box)")
    moov_index = kinds.index(b"moov")
    mdat_index = kinds.index(b"mdat") if b"mdat" in kinds else len(kinds)
    if moov_index < mdat_index:
        return data
    _, moov_start, moov_end = boxes[moov_index]
    moov = bytearray(data[moov_start:moov_end])
    _shift_chunk_offsets(moov, 0, len(moov), moov_end - moov_start, what)
    insert_at = boxes[mdat_index][1]
    return data[:insert_at] + bytes(moov) + data[insert_at:moov_start] + data[moov_end:]


def _shift_chunk_offsets(buf: bytearray, start: int, end: int, shift: int, what: str) -> None:
    pos = start
    while pos < end:
        kind, body, box_end = _box_header(buf, pos, end, what)
        if kind in _CONTAINERS:
            _shift_chunk_offsets(buf, body, box_end, shift, what)
        elif kind in (b"stco", b"co64"):
            width, fmt = (4, ">I") if kind == b"stco" else (8, ">Q")
            (count,) = struct.unpack_from(">I", buf, body + 4)
            if body + 8 + count * width > box_end:
                raise MalformedResponseError(f"{what} has a damaged chunk offset table")
            for i in range(count):
                at = body + 8 + i * width
                struct.pack_into(fmt, buf, at, struct.unpack_from(fmt, buf, at)[0] + shift)
        pos = box_end


_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _conversion_slots() -> asyncio.Semaphore:
    """Four conversions per CPU at a time (per event loop): a sweep over hundreds of
    cameras queues its ffmpeg runs instead of starting them all at once."""
    loop = asyncio.get_running_loop()
    slots = _SLOTS.get(loop)
    if slots is None:
        slots = _SLOTS[loop] = asyncio.Semaphore(4 * (os.cpu_count() or 2))
    return slots


async def mp4_to_jpeg(data: bytes, *, timeout: float = CONVERT_TIMEOUT) -> bytes:
    """The first video frame of an MP4 (``preview.mp4``) as a JPEG, through pipes.

    One thread for decoding, filtering and encoding: a single frame gains nothing
    from more, and many conversions run side by side. ``timeout`` bounds the
    ffmpeg run itself, not the wait for a free slot.
    """
    ordered = moov_first(data)
    async with _conversion_slots():
        jpeg = await run_ffmpeg(
            [
                "-loglevel", "error", "-threads", "1", "-filter_threads", "1",
                "-f", "mp4", "-i", "pipe:0",
                "-map", "0:v:0", "-frames:v", "1", "-threads", "1", "-q:v", "2",
                "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1",
            ],
            input_data=ordered,
            timeout=timeout,
            what="converting preview.mp4 to JPEG",
        )  # fmt: skip
    return jpeg


def _json(reply: Reply, what: str) -> Any:
    body = reply.body.lstrip()
    if body[:1] not in (b"[", b"{"):
        kind = reply.content_type or "no content type"
        if "html" in kind or body[:15].lower().startswith((b"<!doctype", b"<html")):
            raise MalformedResponseError(f"{what}: an HTML page ({kind}) instead of JSON")
        raise MalformedResponseError(f"{what}: not JSON ({kind}, {len(reply.body)} bytes)")
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedResponseError(f"{what}: JSON does not parse ({exc.msg})") from None
    except UnicodeDecodeError:
        raise MalformedResponseError(f"{what}: JSON is not UTF-8") from None


def _checked_jpeg(reply: Reply, what: str) -> tuple[bytes, int, int]:
    kind = reply.content_type
    body = reply.body
    if "html" in kind or body.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
        raise MalformedResponseError(f"{what}: an HTML page ({kind}) instead of a JPEG")
    info = inspect_jpeg(body)
    return body, info.width, info.height


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


# -- the devices -----------------------------------------------------------------------------


class _StreamerDevice(Device):
    """What Watcher cameras and directly addressed streams share: the streamer calls."""

    vendor: ClassVar[str] = "Flussonic"
    options: ClassVar[frozenset[str]] = frozenset({"https", "verify", "thumbnails", "preview"})

    def __init__(self, address: DeviceAddress, pool: HttpPool | None = None) -> None:
        super().__init__(address, pool)
        # a media server serves many clients at once, unlike a camera
        self.settings = HttpSettings.from_address(address, max_body=JSON_CAP, max_requests=4)
        self.thumbnails = address.choice_option("thumbnails", ("auto", "jpeg", "mp4"), "auto")
        self.preview_form = address.choice_option("preview", ARCHIVE_FORMS, "query")
        self._streamers: dict[str, DeviceHttp] = {}
        self._no_jpeg: set[str] = set()  # streams whose preview.jpg answered 404

    # -- what the two kinds provide ------------------------------------------------------

    @abstractmethod
    async def _stream(self, channel: int) -> StreamRef:
        """The stream of ``channel``; UsageError for a channel the device does not have."""

    async def _fresh_token(self, stream: StreamRef) -> StreamRef | None:
        """The stream with a newly issued token, or None where tokens come from the URL."""
        return None

    def _token_refused(self, stream: StreamRef) -> str:
        return (
            f"the streamer refused the playback token of stream {stream.name!r} "
            "(HTTP 403): it is wrong or has expired"
        )

    async def _recorded(self, stream: StreamRef, start: int, end: int) -> list[Span]:
        """Recorded spans overlapping [start, end), merged, not clipped."""
        reply = await self._streamer_get(
            stream,
            f"/{stream.quoted}/recording_status.json",
            {"from": str(start), "to": str(end), "request": "ranges"},
            what="recording_status.json",
            missing=lambda s: DeviceRefusedError(
                f"recording_status.json: the streamer has no stream {s.name!r} or no "
                "archive of it (HTTP 404)",
                code="HTTP 404",
                http_status=404,
            ),
        )
        try:
            spans = parse_recording_status(_json(reply, "recording_status.json"), stream.name)
        except CamfetchError as exc:
            raise exc.with_device(self.label) from None
        return [s for s in spans if s[1] > start and s[0] < end]

    # -- the device interface --------------------------------------------------------------

    async def device_zone(self) -> tuple[tzinfo, str]:
        return timeutil.local_zone(), "host local time (Flussonic keeps UTC and reports no zone)"

    async def snapshot(self, channel: int = 1, *, size: tuple[int, int] | None = None) -> Snapshot:
        if size is not None:
            raise UnsupportedError(
                "Flussonic previews come at the stream's own size", device=self.label
            )
        stream = await self._stream(channel)
        if self._wants_jpeg(stream):
            reply = await self._streamer_get(
                stream, f"/{stream.quoted}/preview.jpg", {}, what="preview.jpg", missing=None
            )
            if reply.status == 200:
                data, width, height = self._guard(_checked_jpeg, reply, "preview.jpg")
                return await self._picture(stream, data, width, height, "jpeg")
            if self.thumbnails == "jpeg":
                raise UnsupportedError(
                    f"stream {stream.name!r} serves no preview.jpg (HTTP {reply.status}): "
                    "its JPEG thumbnails are off; use thumbnails=auto or mp4",
                    device=self.label,
                )
            self._no_jpeg.add(stream.name)  # JPEG thumbnails are off: preview.mp4 from now on
        reply = await self._streamer_get(
            stream,
            f"/{stream.quoted}/preview.mp4",
            {},
            what="preview.mp4",
            missing=lambda s: DeviceRefusedError(
                f"preview.mp4: stream {s.name!r} has no live picture (HTTP 404: "
                "unknown or not running)",
                code="HTTP 404",
                http_status=404,
            ),
        )
        jpeg, width, height = await self._converted(reply.body)
        return await self._picture(stream, jpeg, width, height, "mp4")

    async def _picture(
        self, stream: StreamRef, data: bytes, width: int, height: int, fmt: str
    ) -> Snapshot:
        tz = await self.timezone()
        return Snapshot(
            channel=stream.number,
            data=data,
            content_type="image/jpeg",
            device_time=timeutil.utcnow().astimezone(tz),
            width=width,
            height=height,
            source="live",
            original_format=fmt,
        )

    def _wants_jpeg(self, stream: StreamRef) -> bool:
        if self.thumbnails != "auto":
            return self.thumbnails == "jpeg"
        return stream.name not in self._no_jpeg and stream.thumbnails is not False

    async def snapshot_at(self, channel: int, when: datetime) -> Snapshot:
        stream = self._with_dvr(await self._stream(channel))
        tz = await self.timezone()
        ts = math.floor(when.timestamp())
        spans = await self._recorded(
            stream, ts - NEAREST_FRAME_SECONDS, ts + NEAREST_FRAME_SECONDS + 1
        )
        frame = nearest_frame(spans, ts)
        shown = timeutil.format_wall(when, tz)
        if frame is None:
            raise NothingFoundError(
                f"no recorded frame within 10 minutes of {shown} (device time) "
                f"on channel {channel}",
                device=self.label,
            )
        path, params = archive_preview(stream.name, frame, self.preview_form)
        reply = await self._streamer_get(
            stream,
            path,
            params,
            what="archive preview",
            missing=lambda s: NothingFoundError(
                f"the streamer has no frame near {shown} (device time) on channel {channel} "
                f"(archive preview, {self.preview_form} form, HTTP 404 or 204)"
            ),
        )
        jpeg, width, height = await self._converted(reply.body)
        return Snapshot(
            channel=channel,
            data=jpeg,
            content_type="image/jpeg",
            device_time=_utc(frame).astimezone(tz),
            width=width,
            height=height,
            requested_time=when,
            source="archive",
            original_format="mp4",
        )

    async def recording_kinds(self, channel: int = 1) -> list[str]:
        self._with_dvr(await self._stream(channel))
        return [VENDOR_KIND]

    async def search(
        self,
        channel: int,
        start: datetime,
        end: datetime,
        kinds: Iterable[str] | None = None,
    ) -> AsyncIterator[RecordingSegment]:
        self.check_window(start, end)
        stream = self._with_dvr(await self._stream(channel))
        wanted_kinds(kinds, {VENDOR_KIND: RecordingKind.SCHEDULE})
        spans = await self._recorded(
            stream, math.floor(start.timestamp()), math.ceil(end.timestamp())
        )
        for a, b in spans:
            first, last = max(start, _utc(a)), min(end, _utc(b))
            if last > first:
                yield RecordingSegment(
                    channel=channel,
                    start=first,
                    end=last,
                    kind=RecordingKind.SCHEDULE,
                    vendor_kind=VENDOR_KIND,
                )

    async def playback_source(
        self, channel: int, start: datetime, end: datetime, *, method: str | None = None
    ) -> PlaybackSource:
        if method not in (None, "download"):
            raise UnsupportedError(
                f"Flussonic exports are MP4 downloads (archive-….mp4), not {method}",
                device=self.label,
            )
        self.check_window(start, end)
        stream = self._with_dvr(await self._stream(channel))
        begin = math.floor(start.timestamp())
        seconds = max(1, math.ceil(end.timestamp() - begin))
        url = f"{stream.base}/{stream.quoted}/archive-{begin}-{seconds}.mp4"
        if stream.token:
            url += "?token=" + quote(stream.token, safe="")
        return PlaybackSource(
            channel=channel,
            start=_utc(begin),
            end=_utc(begin + seconds),
            url=url,
            display_url=mask_url(url),
            protocol="http",
            container="mp4",
            realtime=False,
            resumable=True,
        )

    async def download(
        self,
        source: PlaybackSource,
        target: Path,
        *,
        progress: DownloadProgress | None = None,
    ) -> None:
        parts = urlsplit(source.url)
        params = {k: v for k, v in parse_qsl(parts.query) if k != "token"}
        stream = await self._stream(source.channel)
        seconds = source.duration

        def refusal(reply: StreamReply, body: bytes) -> Exception:
            return self._streamer_error(
                reply.status,
                stream,
                "archive export",
                lambda s: NothingFoundError(
                    f"the streamer has nothing recorded for the {seconds:g} s asked "
                    f"on channel {source.channel} (HTTP {reply.status})"
                ),
            )

        async def fetch(current: StreamRef) -> None:
            await self._http_for(current.base).download(
                parts.path,
                target,
                params=self._token_params(params, current),
                progress=progress,
                idle_timeout=max(30.0, self.settings.timeout),
                refuse=refusal,
            )

        await self._with_token(stream, fetch)

    # -- helpers ---------------------------------------------------------------------------

    def _with_dvr(self, stream: StreamRef) -> StreamRef:
        if not stream.dvr:
            raise UnsupportedError(
                f"camera {stream.name!r} has no archive this user may see (DVR off or no "
                "dvr permission)",
                device=self.label,
            )
        return stream

    def _http_for(self, base: str) -> DeviceHttp:
        http = self._streamers.get(base)
        if http is None:
            http = DeviceHttp(
                self.pool,
                base,
                label=self._streamer_label(base),
                username=None,
                password=None,
                settings=self.settings,
            )
            self._streamers[base] = http
        return http

    def _streamer_label(self, base: str) -> str:
        return self.label

    @staticmethod
    def _token_params(params: Mapping[str, str], stream: StreamRef) -> dict[str, str]:
        out = dict(params)
        if stream.token:
            out["token"] = stream.token
        return out

    async def _with_token(self, stream: StreamRef, call: Callable[[StreamRef], Awaitable[T]]) -> T:
        """``call`` with the stream's token; after a 403, once more with a fresh token
        where the device can issue one (Watcher)."""
        try:
            return await call(stream)
        except _TokenRefused:
            fresh = await self._fresh_token(stream)
            if fresh is None or fresh.token == stream.token:
                raise
        return await call(fresh)

    async def _streamer_get(
        self,
        stream: StreamRef,
        path: str,
        params: Mapping[str, str],
        *,
        what: str,
        missing: Callable[[StreamRef], CamfetchError] | None,
    ) -> Reply:
        """GET a playback URL with the stream's token. 200 is returned; so are 404 and
        204 when ``missing`` is None (the caller decides); everything else is raised."""

        async def once(current: StreamRef) -> Reply:
            http = self._http_for(current.base)
            reply = await http.request(
                "GET",
                path,
                params=self._token_params(params, current),
                max_body=PICTURE_CAP,
                accept_401=True,
            )
            if reply.status == 200 or (missing is None and reply.status in (204, 404)):
                return reply
            raise self._streamer_error(reply.status, current, what, missing)

        return await self._with_token(stream, once)

    def _streamer_error(
        self,
        status: int,
        stream: StreamRef,
        what: str,
        missing: Callable[[StreamRef], CamfetchError] | None,
    ) -> CamfetchError:
        if status == 403:
            return _TokenRefused(self._token_refused(stream), device=self.label)
        if status == 401:
            return AuthenticationError(
                f"{what}: the streamer asks for HTTP credentials (HTTP 401); Flussonic "
                "playback takes a token (?token=)",
                device=self.label,
            )
        if status in (204, 404) and missing is not None:
            return missing(stream).with_device(self.label)
        return DeviceRefusedError(
            f"{what} refused: HTTP {status}",
            code=f"HTTP {status}",
            http_status=status,
            device=self.label,
        )

    def _guard(self, check: Callable[[Reply, str], T], reply: Reply, what: str) -> T:
        try:
            return check(reply, what)
        except CamfetchError as exc:
            raise exc.with_device(self.label) from None

    async def _converted(self, mp4: bytes) -> tuple[bytes, int, int]:
        """A preview MP4's picture as a checked JPEG and its size."""
        try:
            jpeg = await mp4_to_jpeg(mp4)
            if not jpeg:
                raise MediaError("the preview MP4 holds no picture")
            info = inspect_jpeg(jpeg)
        except CamfetchError as exc:
            raise exc.with_device(self.label) from None
        return jpeg, info.width, info.height


class WatcherDevice(_StreamerDevice):
    """A Flussonic Watcher: its cameras are the channels."""

    schemes: ClassVar[tuple[str, ...]] = ("watcher",)
    options: ClassVar[frozenset[str]] = _StreamerDevice.options | {"api_key"}

    def __init__(self, address: DeviceAddress, pool: HttpPool | None = None) -> None:
        super().__init__(address, pool)
        # Watcher authorizes with its own headers, not HTTP auth
        self.http = DeviceHttp.for_address(
            self.pool, address, label=self.label, settings=self.settings, auth=None
        )
        self._api_key = address.option("api_key") or None
        self._session: str | None = None
        self._rejected = False
        self._login_lock = asyncio.Lock()
        self._cameras_lock = asyncio.Lock()
        self._cameras: list[StreamRef] | None = None
        self.logins = 0

    @property
    def auth_kind(self) -> str:
        if self._api_key is None:
            return "session"
        return "user API key" if self.address.username else "system API key"

    # -- authorization ---------------------------------------------------------------------

    async def _headers(self) -> dict[str, str]:
        if self._api_key is not None:
            headers = {"x-vsaas-api-key": self._api_key}
            if self.address.username:
                headers["x-vsaas-user"] = self.address.username
            return headers
        session = self._session or await self._login(None)
        return {"x-vsaas-session": session}

    async def _login(self, stale: str | None) -> str:
        """A session: the current one if another task renewed ``stale`` already, else a
        new login. A rejected login is not repeated (it could lock the account)."""
        async with self._login_lock:
            if self._session is not None and self._session != stale:
                return self._session
            self._session = None
            if self._rejected:
                raise AuthenticationError(
                    "Watcher rejected these credentials; not retrying them", device=self.label
                )
            user, password = self.address.username, self.address.password
            if not user or password is None:
                raise UsageError(
                    "watcher:// needs user:password@ (or a password from password_env, "
                    "password_file, CAMFETCH_PASSWORD) or api_key=",
                    device=self.label,
                )
            reply = await self.http.request(
                "POST",
                f"{_WATCHER}/auth/login",
                data=json.dumps({"login": user, "password": password}),
                headers={"Content-Type": "application/json"},
                accept_401=True,
            )
            if reply.status in (401, 403):
                self._rejected = True
                raise AuthenticationError(
                    f"Watcher rejected the user name or password (HTTP {reply.status})",
                    device=self.label,
                )
            document = self._answer(reply, "login")
            session = document.get("session") if isinstance(document, Mapping) else None
            if not isinstance(session, str) or not session:
                raise MalformedResponseError("login: the answer has no session", device=self.label)
            self.logins += 1
            self._session = session
            return session

    def _answer(self, reply: Reply, what: str) -> Any:
        if reply.status >= 400:
            raise DeviceRefusedError(
                f"{what} refused: HTTP {reply.status}",
                code=f"HTTP {reply.status}",
                http_status=reply.status,
                device=self.label,
            )
        try:
            return _json(reply, what)
        except CamfetchError as exc:
            raise exc.with_device(self.label) from None

    async def _api(self, path: str, what: str, params: Mapping[str, str] | None = None) -> Any:
        """GET a Watcher API call; an expired session is renewed once, transparently."""
        renewed = False
        while True:
            headers = await self._headers()
            reply = await self.http.request(
                "GET", path, params=params, headers=headers, accept_401=True, max_body=JSON_CAP
            )
            if reply.status not in (401, 403):
                return self._answer(reply, what)
            if self._api_key is not None:
                raise AuthenticationError(
                    f"Watcher rejected the {self.auth_kind} (HTTP {reply.status})",
                    device=self.label,
                )
            if renewed:
                raise AuthenticationError(
                    f"{what}: Watcher refused a fresh session (HTTP {reply.status}); "
                    "the user lacks the rights",
                    device=self.label,
                )
            await self._login(headers["x-vsaas-session"])
            renewed = True

    # -- cameras ---------------------------------------------------------------------------

    async def _all_cameras(self) -> list[StreamRef]:
        if self._cameras is not None:
            return self._cameras
        async with self._cameras_lock:
            if self._cameras is None:
                self._cameras = await self._load_cameras()
        return self._cameras

    async def _load_cameras(self) -> list[StreamRef]:
        """Every camera of the user, page by page (``limit``/``offset``). A Watcher may
        answer fewer than asked (a cap) or ignore paging: it ends with an empty page or
        one with nothing new."""
        found: list[StreamRef] = []
        names: set[str] = set()
        while True:
            page = await self._api(
                f"{_WATCHER}/cameras",
                "camera list",
                {"limit": str(CAMERA_PAGE), "offset": str(len(found))},
            )
            if not isinstance(page, list):
                raise MalformedResponseError(
                    "camera list: expected a JSON array", device=self.label
                )
            fresh: list[StreamRef] = []
            for item in page:
                camera = self._guard_parse(item, len(found) + len(fresh) + 1)
                if camera.name not in names:
                    names.add(camera.name)
                    fresh.append(camera)
            if not fresh:
                return found
            found += fresh

    def _guard_parse(self, item: object, number: int) -> StreamRef:
        try:
            return parse_camera(item, number, self.address.host)
        except CamfetchError as exc:
            raise exc.with_device(self.label) from None

    async def _stream(self, channel: int) -> StreamRef:
        cameras = await self._all_cameras()
        if not cameras:
            raise UsageError("this Watcher user sees no cameras", device=self.label)
        if not 1 <= channel <= len(cameras):
            await self.check_channel(channel)  # raises, naming the channels there are
        return cameras[channel - 1]

    async def _fresh_token(self, stream: StreamRef) -> StreamRef | None:
        """Ask Watcher for the camera again: it issues a new playback token."""
        document = await self._api(f"{_WATCHER}/cameras/{quote(stream.name, safe='')}", "camera")
        fresh = self._guard_parse(document, stream.number)
        cameras = await self._all_cameras()
        cameras[stream.number - 1] = fresh
        return fresh

    def _token_refused(self, stream: StreamRef) -> str:
        return (
            f"the streamer refused the playback token Watcher issued for camera "
            f"{stream.name!r} (HTTP 403), also after asking Watcher for a new one"
        )

    def _streamer_label(self, base: str) -> str:
        return f"{self.label} (streamer {base})"

    # -- the device interface --------------------------------------------------------------

    async def capabilities(self) -> frozenset[Capability]:
        caps = {Capability.SNAPSHOT}
        if any(c.dvr for c in await self._all_cameras()):
            caps |= {Capability.SNAPSHOT_AT, Capability.SEARCH, Capability.PLAYBACK}
        return frozenset(caps)

    async def channels(self) -> list[Channel]:
        return [
            Channel(
                number=c.number,
                name=c.name,
                title=c.title,
                online=c.alive if c.enabled else False,
                status="disabled"
                if not c.enabled
                else {True: "alive", False: "not alive", None: None}[c.alive],
            )
            for c in await self._all_cameras()
        ]

    async def info(self) -> DeviceInfo:
        cameras = await self._all_cameras()
        await self.timezone()
        streamers = sorted({c.base for c in cameras})
        extra = {"api": _WATCHER, "auth": self.auth_kind}
        if streamers:
            extra["streamers"] = ", ".join(streamers)
        return DeviceInfo(
            vendor=self.vendor,
            model="Watcher",
            name=self.address.host,
            kind=DeviceKind.MEDIA_SERVER,
            channel_count=len(cameras),
            time_zone=self._tz_name,
            extra=extra,
        )


class FlussonicDevice(_StreamerDevice):
    """One stream of a Flussonic Media Server, addressed directly: a single channel."""

    schemes: ClassVar[tuple[str, ...]] = ("flussonic",)
    options: ClassVar[frozenset[str]] = _StreamerDevice.options | {"token"}

    def __init__(self, address: DeviceAddress, pool: HttpPool | None = None) -> None:
        super().__init__(address, pool)
        name = address.path.strip("/")
        if not name:
            raise UsageError(
                "flussonic:// needs the stream: flussonic://host[:port]/STREAM?token=…"
            )
        self.stream = StreamRef(
            number=1, name=name, base=base_url(address), token=address.option("token")
        )
        # Admin credentials serve the admin API v3 only, on a client of their own.
        self.admin = (
            DeviceHttp.for_address(
                self.pool, address, label=self.label, settings=self.settings, auth="basic"
            )
            if address.username
            else None
        )

    def _token_refused(self, stream: StreamRef) -> str:
        if stream.token is None:
            return (
                f"the streamer refused stream {stream.name!r} without a token (HTTP 403): "
                "give the stream's playback token with the URL's token option"
            )
        return super()._token_refused(stream)

    async def _stream(self, channel: int) -> StreamRef:
        if channel != 1:
            await self.check_channel(channel)  # raises: this device is one channel
        return self.stream

    async def _recorded(self, stream: StreamRef, start: int, end: int) -> list[Span]:
        if self.admin is None:
            return await super()._recorded(stream, start, end)
        return [s for s in await self._v3_ranges(self.admin, stream) if s[1] > start and s[0] < end]

    async def _v3_ranges(self, admin: DeviceHttp, stream: StreamRef) -> list[Span]:
        """Every recorded range from the admin API v3, following the ``next`` cursor."""
        found: list[Span] = []
        cursor: str | None = None
        used: set[str] = set()
        path = f"/streamer/api/v3/streams/{stream.quoted}/dvr/ranges"
        while True:
            params = {"limit": str(V3_PAGE)}
            if cursor:
                params["cursor"] = cursor
            reply = await admin.request("GET", path, params=params, accept_401=True)
            if reply.status >= 400:
                if reply.status == 401:
                    admin.reject_credentials()  # no retries that could lock the account
                error = v3_error(reply.status, reply.body, "dvr/ranges")
                raise _scrubbed(error, self.address.secrets()).with_device(self.label)
            try:
                spans, cursor = parse_v3_ranges(_json(reply, "dvr/ranges"))
            except CamfetchError as exc:
                raise exc.with_device(self.label) from None
            found += spans
            if cursor is None or not spans:
                return merge_spans(found)
            if cursor in used:
                raise MalformedResponseError(
                    "dvr/ranges answered the same cursor again (no progress)", device=self.label
                )
            used.add(cursor)

    async def capabilities(self) -> frozenset[Capability]:
        return frozenset(
            {Capability.SNAPSHOT, Capability.SNAPSHOT_AT, Capability.SEARCH, Capability.PLAYBACK}
        )

    async def channels(self) -> list[Channel]:
        return [Channel(number=1, name=self.stream.name)]

    async def info(self) -> DeviceInfo:
        """The stream and its archive: asking for the ranges also checks the token."""
        tz = await self.timezone()
        now = math.ceil(timeutil.utcnow().timestamp())
        spans = await self._recorded(self.stream, 0, now + 1)
        extra = {
            "stream": self.stream.name,
            "streamer": self.stream.base,
            "auth": "token" if self.stream.token else "none",
            "ranges_from": "admin API v3 dvr/ranges" if self.admin else "recording_status.json",
            "archive_ranges": str(len(spans)),
        }
        if spans:
            extra["archive_from"] = _utc(spans[0][0]).astimezone(tz).isoformat()
            extra["archive_to"] = _utc(spans[-1][1]).astimezone(tz).isoformat()
        return DeviceInfo(
            vendor=self.vendor,
            model="Media Server",
            name=self.stream.name,
            kind=DeviceKind.MEDIA_SERVER,
            channel_count=1,
            time_zone=self._tz_name,
            extra=extra,
        )


def _scrubbed(error: CamfetchError, secrets: Sequence[str]) -> CamfetchError:
    """The error with any secret the server echoed (in its error title) removed."""
    error.message = scrub(error.message, secrets)
    error.args = (error.message,)
    return error
