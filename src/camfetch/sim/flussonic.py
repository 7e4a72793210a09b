"""A simulated Flussonic Media Server, optionally behind a Flussonic Watcher.

One aiohttp server plays both parts, as on a single-box installation where
Watcher reports its streamer as ``localhost``:

- **Watcher API v2** (``watcher=True``): ``POST /vsaas/api/v2/auth/login``
  (JSON or form-encoded) returns a ``session`` that expires after
  ``session_ttl``; ``x-vsaas-session``, a system ``x-vsaas-api-key``, or a user
  key with ``x-vsaas-user`` authorize ``GET /vsaas/api/v2/cameras`` (a JSON
  array, ``limit``/``offset`` paging, at most ``page_limit`` per answer) and
  ``/cameras/<name>``. Camera objects carry every field of the documented
  example, with the ``stream_url`` trailing space, ``stream_status.server``
  ``localhost`` and, as newer builds do, ``streamer_hostname``. A bad login
  or session is answered ``auth_status``: the reference leaves 401 vs 403 open,
  401 is the default.
- **Streamer** (each camera is a stream): ``preview.jpg`` (404 when JPEG
  thumbnails are off), ``preview.mp4`` (a real single-frame H.264 MP4), archive
  previews in the three URL forms seen in the wild (``preview.mp4?from=``,
  ``<unix>-preview.mp4``, ``YYYY/MM/DD/HH/mm/SS-preview.mp4`` in UTC) with the
  nearest-frame-within-10-minutes rule, ``archive-<from>-<duration>.mp4``
  (real H.264 of the recorded range, gaps kept in the timestamps, generated
  once by ffmpeg and cached, so every answer for a range is the same bytes,
  with HTTP Range support), ``recording_status.json`` and the admin API v3
  ``/streamer/api/v3/streams/<name>/dvr/ranges`` (Basic auth, cursor paging,
  ``{"errors": [...]}`` bodies). Playback calls need the stream's token
  (``?token=``): a missing, wrong, other stream's or expired token is
  ``403 Forbidden`` with a short text body.

Tokens look like Watcher's (``2.`` and 48 URL-safe base64 characters): an
expiry and an HMAC of the stream name, keyed by the seed and the password.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import shutil
import tempfile
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, quote, urlencode

from aiohttp import web
from PIL import Image

from camfetch.media.ffmpeg import error_tail, ffmpeg_exe, kill, run_ffmpeg
from camfetch.sim.archive import Recording
from camfetch.sim.base import DEFAULT_PASSWORD, BareRequest, SimulatedDevice
from camfetch.sim.h264 import VideoFormat
from camfetch.sim.httpauth import basic_credentials
from camfetch.sim.tls import self_signed

ArchiveForm = Literal["query", "unix", "path"]
Layout = Literal["faststart", "moov-last"]
RangesShape = Literal["array", "object"]

ARCHIVE_FORMS: tuple[ArchiveForm, ...] = ("query", "unix", "path")
#: Flussonic answers an archive preview with the closest frame within this many seconds.
NEAREST_FRAME_SECONDS = 600
TITLES = ("Entrance", "Parking", "Lobby", "Loading Dock", "Yard", "Stairs", "Roof", "Gate")
_WATCHER = "/vsaas/api/v2"
_V3 = "/streamer/api/v3/streams/"
_TOKEN_BYTES = 36  # 48 base64 characters, as the documented tokens have
_PREVIEW_CACHE = 64
_EXPORT_CACHE = 8
_MAX_EXPORT_SECONDS = 4 * 3600  # a simulator guard: exports are rendered frame by frame
_ARCHIVE_PATH = re.compile(r"^(?P<name>.+)/archive-(?P<start>\d+)-(?P<seconds>\d+)\.mp4$")
_UNIX_PREVIEW = re.compile(r"^(?P<name>.+)/(?P<ts>\d+)-preview\.mp4$")
_DATED_PREVIEW = re.compile(
    r"^(?P<name>.+)/(?P<y>\d{4})/(?P<mo>\d{2})/(?P<d>\d{2})/(?P<h>\d{2})/(?P<mi>\d{2})/"
    r"(?P<s>\d{2})-preview\.mp4$"
)


class FlussonicSimulator(SimulatedDevice):
    """A Flussonic streamer with ``cameras`` streams, and a Watcher in front if asked."""

    scheme: ClassVar[str] = "flussonic"

    def __init__(
        self,
        *,
        watcher: bool = False,
        cameras: int = 1,
        titles: Sequence[str] | None = None,
        name: str = "Flussonic",
        jpeg: bool = True,
        preview_layout: Layout = "faststart",
        archive_forms: Iterable[ArchiveForm] = ARCHIVE_FORMS,
        no_frame_status: int = 404,
        ranges_shape: RangesShape = "array",
        auth_status: int = 401,
        session_ttl: float = 3600.0,
        token_ttl: float = 86400.0,
        page_limit: int | None = None,
        v3_limit: int = 100,
        streamer_hostname: bool = True,
        https: bool = False,
        range_support: bool = True,
        archive_fps: float = 10.0,
        snapshot_concurrency: int = 8,
        snapshot_delay: float = 0.0,
        **common: Any,
    ) -> None:
        super().__init__(name=name, **common)
        if cameras < 1:
            raise ValueError("a Flussonic simulator needs at least one stream")
        self.watcher = watcher
        chosen = list(titles or [])
        chosen += [
            TITLES[i % len(TITLES)] + ("" if i < len(TITLES) else f" {i // len(TITLES) + 1}")
            for i in range(len(chosen), cameras)
        ]
        self.streams = [self._stream_name(title) for title in chosen[:cameras]]
        self.titles = chosen[:cameras]
        self.jpeg = jpeg
        self.preview_layout: Layout = preview_layout
        self.archive_forms = frozenset(archive_forms)
        self.no_frame_status = no_frame_status  # the reference leaves 404 vs 204 open
        self.ranges_shape: RangesShape = ranges_shape
        self.auth_status = auth_status
        self.session_ttl = session_ttl
        self.token_ttl = token_ttl
        self.page_limit = page_limit
        self.v3_limit = v3_limit
        self.streamer_hostname = streamer_hostname
        self.https = https
        self.range_support = range_support
        self.archive_fps = archive_fps
        self.snapshot_delay = snapshot_delay
        self._snapshot_slots = asyncio.Semaphore(snapshot_concurrency)
        self._key = hashlib.sha256(f"flussonic-sim\n{self.seed}\n{self.password}".encode()).digest()
        self._token_epoch = 0  # bumped by expire_tokens()
        self.sessions: dict[str, float] = {}  # session -> expiry (monotonic)
        self.logins = 0
        self.failed_logins = 0
        # The latest request paths (no query: no tokens) and Range headers of archive
        # downloads, for tests.
        self.seen: deque[str] = deque(maxlen=1000)
        self.range_headers: deque[str | None] = deque(maxlen=1000)
        self._checked: dict[tuple[str, str], int] = {}  # (stream, token) -> expiry
        self._started = time.monotonic()
        self._cache_dir: Path | None = None
        self._previews: OrderedDict[tuple[int, int, bool], bytes] = OrderedDict()
        self._exports: OrderedDict[tuple[int, int, int], Path] = OrderedDict()
        self._pending: dict[tuple[object, ...], asyncio.Future[Any]] = {}
        self._tls_port: int | None = None

    # -- identity ----------------------------------------------------------------------------

    def _stream_name(self, title: str) -> str:
        """Watcher's camera names: a slug of the title and ten hex digits."""
        slug = re.sub(r"[^a-z0-9]+", "", title.lower()) or "camera"
        digest = hashlib.sha256(f"{self.seed}:{title}".encode()).hexdigest()[:10]
        return f"{slug}-{digest}"

    @property
    def system_key(self) -> str:
        """The Watcher's system API key (super-admin rights)."""
        return hashlib.sha256(self._key + b"system").hexdigest()[:32]

    @property
    def user_key(self) -> str:
        """The API key of the simulated Watcher user (sent with ``x-vsaas-user``)."""
        return hashlib.sha256(self._key + b"user").hexdigest()[:32]

    def token_for(self, stream: str, *, ttl: float | None = None) -> str:
        """A playback token for ``stream``, valid for ``ttl`` seconds (``token_ttl``)."""
        expires = int(time.time() + (self.token_ttl if ttl is None else ttl))
        stamp = expires.to_bytes(6, "big")
        raw = stamp + self._token_mac(stamp, stream)
        return "2." + base64.urlsafe_b64encode(raw).decode("ascii")

    def token_valid(self, stream: str, token: str | None) -> bool:
        if not token or not token.startswith("2."):
            return False
        now = int(time.time())
        known = self._checked.get((stream, token))
        if known is not None:
            return known > now
        try:
            raw = base64.urlsafe_b64decode(token[2:].encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return False
        if len(raw) != _TOKEN_BYTES:
            return False
        stamp, mac = raw[:6], raw[6:]
        if not hmac.compare_digest(mac, self._token_mac(stamp, stream)):
            return False
        if len(self._checked) > 10000:
            self._checked.clear()
        expires = self._checked[(stream, token)] = int.from_bytes(stamp, "big")
        return expires > now

    def _token_mac(self, stamp: bytes, stream: str) -> bytes:
        key = self._key + self._token_epoch.to_bytes(4, "big")
        return hmac.new(key, stamp + stream.encode(), hashlib.sha256).digest()[: _TOKEN_BYTES - 6]

    def expire_tokens(self) -> None:
        """Invalidate every playback token issued so far, as if all had run out."""
        self._token_epoch += 1
        self._checked.clear()

    def expire_sessions(self) -> None:
        """End every Watcher session now, as a Watcher does when they time out."""
        for session in self.sessions:
            self.sessions[session] = 0.0

    # -- presentation ------------------------------------------------------------------------

    @property
    def tls_port(self) -> int | None:
        return self._tls_port

    def describe(self) -> str:
        count = len(self.streams)
        what = (
            f"Flussonic Watcher with {count} camera{'s' if count > 1 else ''} "
            "(streamer on the same server)"
            if self.watcher
            else f"Flussonic Media Server with {count} stream{'s' if count > 1 else ''}"
        )
        tls = f", HTTPS {self.host}:{self._tls_port}" if self._tls_port else ""
        lines = [f"Simulated {what}, clock {self.tz_name}: HTTP {self.host}:{self.port}{tls}"]
        if not self.watcher:
            if len(self.streams) > 1:
                lines.append(
                    f"  streams {', '.join(self.streams)}: each has a token of its own "
                    "(the URL below is the first; --watcher lists them all with tokens)"
                )
            lines.append(
                "  admin API v3 (search via dvr/ranges): add "
                f"{self.username}:<password>@ before the host"
            )
        return "\n".join(lines)

    def url_options(self) -> dict[str, str]:
        options = {"tz": self.tz_name}
        if self.https:
            options["verify"] = "0"  # the streamer's certificate is self-signed
        return options

    def stream_url(self, channel: int = 1, *, reveal: bool = True, admin: bool = False) -> str:
        """``flussonic://host:port/<stream>?token=…`` for one stream (token masked unless
        ``reveal``); ``admin`` adds the admin user and password for the v3 API."""
        name = self.streams[channel - 1]
        token = self.token_for(name, ttl=365 * 86400.0) if reveal else "***"
        user = ""
        if admin:
            secret = quote(self.password, safe="") if reveal else "***"
            user = f"{quote(self.username, safe='')}:{secret}@"
        options = {"token": token, **self.url_options()}
        query = "&".join(f"{k}={quote(v, safe='/*')}" for k, v in options.items())
        return f"flussonic://{user}{self._netloc()}/{quote(name)}?{query}"

    def device_url(self, *, reveal_password: bool | None = None) -> str:
        reveal = self.password == DEFAULT_PASSWORD if reveal_password is None else reveal_password
        if not self.watcher:
            return self.stream_url(1, reveal=reveal)
        secret = quote(self.password, safe="") if reveal else "***"
        query = "&".join(f"{k}={quote(v, safe='/')}" for k, v in self.url_options().items())
        return f"watcher://{quote(self.username, safe='')}:{secret}@{self._netloc()}?{query}"

    def _netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def snapshot_request(self, channel: int = 1) -> BareRequest:
        name = self.streams[channel - 1]
        kind = "jpg" if self.jpeg else "mp4"
        token = quote(self.token_for(name, ttl=365 * 86400.0), safe="")
        url = f"http://{self._netloc()}/{quote(name)}/preview.{kind}?token={token}"
        return BareRequest(url, "none")

    def command_of(self, request: web.Request) -> str:
        path = request.path
        if path.startswith(_WATCHER + "/auth/"):
            return path.rsplit("/", 1)[-1]  # login, whoami
        if path.startswith(_WATCHER + "/cameras"):
            return "cameras"
        if path.startswith(_V3):
            return "dvr_ranges"
        leaf = path.rpartition("/")[2]
        if leaf == "preview.jpg":
            return "preview.jpg"
        if leaf == "preview.mp4":
            return "archive_preview" if "from" in request.query else "preview.mp4"
        if leaf == "recording_status.json":
            return "recording_status"
        if leaf.startswith("archive-"):
            return "archive"
        if leaf.endswith("-preview.mp4"):
            return "archive_preview"
        return "other"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start_extra(self) -> None:
        self._cache_dir = Path(tempfile.mkdtemp(prefix="camfetch-flussonic-"))
        if self.https:
            assert self._runner is not None
            context, _ = await asyncio.to_thread(self_signed, self.host)
            site = web.TCPSite(self._runner, self.host, 0, ssl_context=context)
            await site.start()
            self._tls_port = int(self._runner.addresses[-1][1])

    async def stop_extra(self) -> None:
        if self._cache_dir is not None:
            await asyncio.to_thread(shutil.rmtree, self._cache_dir, True)
            self._cache_dir = None

    async def warm_up(self) -> None:
        """Make channel 1's live picture now (JPEG, or the preview MP4 when JPEGs are off)."""
        await super().warm_up()
        if not self.jpeg:
            await self._preview(1, self.live_moment())

    # -- routes ------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(_WATCHER + "/auth/login", self.login)
        app.router.add_get(_WATCHER + "/auth/whoami", self.whoami)
        app.router.add_get(_WATCHER + "/cameras", self.cameras)
        app.router.add_get(_WATCHER + "/cameras/{name}", self.camera)
        app.router.add_get(_V3 + "{name:.+}/dvr/ranges", self.dvr_ranges)
        app.router.add_get("/{tail:.+}", self.streamer)

    # -- Watcher API v2 ----------------------------------------------------------------------

    def _denied(self) -> web.Response:
        return web.json_response(
            {"error": "unauthorized", "message": "invalid or expired credentials"},
            status=self.auth_status,
        )

    def _authorized(self, request: web.Request) -> bool:
        session = request.headers.get("x-vsaas-session")
        if session is not None:
            return self.sessions.get(session, 0.0) > time.monotonic()
        key = request.headers.get("x-vsaas-api-key")
        if key is None:
            return False
        if hmac.compare_digest(key, self.system_key):
            return True
        user = request.headers.get("x-vsaas-user")
        return user == self.username and hmac.compare_digest(key, self.user_key)

    async def login(self, request: web.Request) -> web.StreamResponse:
        if not self.watcher:
            return web.Response(status=404, text="not found\n")
        fields: dict[str, Any] = {}
        if request.content_type == "application/json":
            try:
                loaded = json.loads(await request.read())
            except ValueError:
                return web.json_response({"error": "bad_request"}, status=400)
            fields = loaded if isinstance(loaded, dict) else {}
        else:
            fields = dict(await request.post())  # form-encoded works too [3P]
        login, password = fields.get("login"), fields.get("password")
        if not (
            isinstance(login, str)
            and isinstance(password, str)
            and login == self.username
            and hmac.compare_digest(password.encode(), self.password.encode())
        ):
            self.failed_logins += 1
            return self._denied()
        self.logins += 1
        session = secrets.token_urlsafe(20)
        now = time.monotonic()
        self.sessions = {s: t for s, t in self.sessions.items() if t > now}
        self.sessions[session] = now + self.session_ttl
        return web.json_response({"session": session, **self._user()})

    def _user(self) -> dict[str, Any]:
        return {"login": self.username, "is_admin": False, "notification_email": None}

    async def whoami(self, request: web.Request) -> web.StreamResponse:
        if not self.watcher:
            return web.Response(status=404, text="not found\n")
        if not self._authorized(request):
            return self._denied()
        return web.json_response(self._user())

    async def cameras(self, request: web.Request) -> web.StreamResponse:
        if not self.watcher:
            return web.Response(status=404, text="not found\n")
        if not self._authorized(request):
            return self._denied()
        try:
            offset = max(0, int(request.query.get("offset", "0")))
            limit = int(request.query.get("limit", str(len(self.streams))))
        except ValueError:
            return web.json_response({"error": "bad_request"}, status=400)
        if self.page_limit is not None:
            limit = min(limit, self.page_limit)
        numbers = range(offset + 1, min(len(self.streams), offset + max(0, limit)) + 1)
        return web.json_response([self.camera_object(n) for n in numbers])

    async def camera(self, request: web.Request) -> web.StreamResponse:
        if not self.watcher:
            return web.Response(status=404, text="not found\n")
        if not self._authorized(request):
            return self._denied()
        name = request.match_info["name"]
        if name not in self.streams:
            return web.json_response({"error": "not_found"}, status=404)
        return web.json_response(self.camera_object(self.streams.index(name) + 1))

    def camera_object(self, number: int) -> dict[str, Any]:
        """A camera as Watcher v2 lists it: every field of the documented example."""
        name, title = self.streams[number - 1], self.titles[number - 1]
        depth = max(1, math.ceil(self.archive.retention.total_seconds() / 86400))
        obj: dict[str, Any] = {
            "agent_key": None, "agent_id": None, "thumbnails_url": "",
            "motion_detector_enabled": False, "static": True, "onvif_profile": None,
            "groups": [], "precise_thumbnails": False, "enabled": True, "dvr_space": None,
            "folder_id": 7, "precise_thumbnails_days": 0, "dvr_lock_days": 1,
            "agent_model": None, "user_attributes": {},
            "playback_config": {"token": self.token_for(name)},
            "thumbnails": self.jpeg, "folder_coordinates": None, "substream_url": "",
            "preset": {
                "vision_alg": None, "vision_params": {}, "vision_areas": None,
                "is_adjustable": True, "vision_enabled": None, "dvr_depth": depth,
                "domain_id": 1, "dvr_space": None, "vision_gpu": None, "id": 8,
                "is_default": True, "dvr_lock_days": 1, "title": f"{depth}+1days_adjustable",
                "is_deleted": False,
            },
            "comment": "", "vision_alg": None,
            "last_change": {
                "object_type": "Camera", "created_at": 1623922927, "object_id": name,
                "user": "admin",
            },
            "streamer_id": 1, "onvif_ptz": False, "preset_id": 8, "dvr_path": "/dvr",
            "coordinates": "",
            "permissions": {"dvr": True, "ptz": True, "edit": True, "view": True, "actions": True},
            "postal_address": "", "agent_serial": None, "dvr_depth": depth,
            "organization_id": 6, "video_only": False, "external_id": None,
            # the documented example has a trailing space in stream_url
            "stream_url": f"rtsp://10.0.0.{10 + number}/stream1 ",
            "agent_status": None, "vision_areas": None, "onvif_url": None,
            "vision_enabled": None, "last_event_time": None,
            "stream_status": {
                "alive": True,
                "lifetime": int((time.monotonic() - self._started) * 1000),
                "source_error": None,
                "http_port": self.port,
                "https_port": self._tls_port,
                "bitrate": 4294,
                "server": "localhost",  # Watcher's own view of a streamer on the same box
            },
            "name": name, "has_actions": False, "vision_gpu": None, "title": title,
        }  # fmt: skip
        if self.streamer_hostname:
            obj["streamer_hostname"] = self.host  # newer Watcher builds [3P]
        return obj

    # -- admin API v3 ------------------------------------------------------------------------

    @staticmethod
    def _v3_error(status: int, code: str, title: str, parameter: str | None = None) -> web.Response:
        error: dict[str, Any] = {"status": str(status), "code": code, "title": title}
        if parameter is not None:
            error["source"] = {"parameter": parameter}
        headers = {"WWW-Authenticate": 'Basic realm="Flussonic"'} if status == 401 else None
        return web.json_response({"errors": [error]}, status=status, headers=headers)

    async def dvr_ranges(self, request: web.Request) -> web.StreamResponse:
        """``GET /streamer/api/v3/streams/<name>/dvr/ranges``: every recorded range,
        oldest first, ``limit`` per answer, opaque ``cursor`` (``$position_gt=N``)."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        given = basic_credentials(token) if scheme.lower() == "basic" else None
        if given is None or not (
            given[0] == self.username
            and hmac.compare_digest(given[1].encode(), self.password.encode())
        ):
            return self._v3_error(401, "unauthorized", "authorization required")
        name = request.match_info["name"]
        if name not in self.streams:
            return self._v3_error(404, "not_found", f"stream {name} not found")
        try:
            limit = min(self.v3_limit, max(1, int(request.query.get("limit", self.v3_limit))))
            position, reverse = _cursor(request.query.get("cursor"))
        except ValueError:
            return self._v3_error(400, "invalid_parameter", "bad limit or cursor", "cursor")
        channel = self.streams.index(name) + 1
        spans = self.ranges(channel, 0, int(time.time()) + 1)
        indices = list(range(len(spans)))
        if reverse:
            chosen = [i for i in reversed(indices) if i < position][:limit]
            chosen.reverse()
        else:
            chosen = [i for i in indices if i > position][:limit]
        items = [
            {
                "closed_at": end * 1000,
                "duration": end - start,
                "from": start,
                "opened_at": start * 1000,
            }
            for start, end in (spans[i] for i in chosen)
        ]
        more = bool(chosen) and chosen[-1] < len(spans) - 1
        earlier = bool(chosen) and chosen[0] > 0
        return web.json_response(
            {
                "estimated_count": len(spans),
                "next": _encode_cursor({"$position_gt": chosen[-1]}) if more else None,
                "prev": (
                    _encode_cursor({"$position_lt": chosen[0] + 1, "$reversed": "true"})
                    if earlier
                    else None
                ),
                "ranges": items,
            }
        )

    # -- streamer ----------------------------------------------------------------------------

    async def streamer(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info["tail"]
        self.seen.append("/" + tail)
        name, _, leaf = tail.rpartition("/")
        if leaf == "preview.jpg":
            return await self._guarded(request, name, self.live_jpeg)
        if leaf == "preview.mp4":
            since = request.query.get("from")
            if since is None:
                return await self._guarded(request, name, self.live_mp4)
            if "query" not in self.archive_forms or not since.isdigit():
                return _not_found()
            moment = int(since)
            return await self._guarded(request, name, lambda ch: self.past(ch, moment))
        if leaf == "recording_status.json":
            return await self._guarded(request, name, lambda ch: self.recording_status(request, ch))
        if (match := _ARCHIVE_PATH.match(tail)) is not None:
            start, seconds = int(match["start"]), int(match["seconds"])
            return await self._guarded(
                request, match["name"], lambda ch: self.export(request, ch, start, seconds)
            )
        dated = _DATED_PREVIEW.match(tail)
        if dated is not None and dated["name"] in self.streams and "path" in self.archive_forms:
            y, mo, d, h, mi, sec = (int(dated[k]) for k in ("y", "mo", "d", "h", "mi", "s"))
            try:
                when = int(datetime(y, mo, d, h, mi, sec, tzinfo=UTC).timestamp())
            except ValueError:
                return _not_found()
            return await self._guarded(request, dated["name"], lambda ch: self.past(ch, when))
        if (match := _UNIX_PREVIEW.match(tail)) is not None and "unix" in self.archive_forms:
            ts = int(match["ts"])
            return await self._guarded(request, match["name"], lambda ch: self.past(ch, ts))
        return _not_found()

    async def _guarded(
        self,
        request: web.Request,
        name: str,
        answer: Callable[[int], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """404 for an unknown stream, 403 without its valid token, else the answer."""
        if name not in self.streams:
            return _not_found()
        if not self.token_valid(name, request.query.get("token")):
            return web.Response(status=403, text="403 Forbidden\n")
        return await answer(self.streams.index(name) + 1)

    async def live_jpeg(self, channel: int) -> web.StreamResponse:
        if not self.jpeg:
            return _not_found()  # JPEG thumbnails are not enabled on this stream [3P]
        async with self._snapshot_slots:
            if self.snapshot_delay:
                await asyncio.sleep(self.snapshot_delay)
            moment = self.live_moment()
            jpeg = await self.frames.jpeg_async(channel, moment)
        return web.Response(body=jpeg, content_type="image/jpeg")

    async def live_mp4(self, channel: int) -> web.StreamResponse:
        async with self._snapshot_slots:
            if self.snapshot_delay:
                await asyncio.sleep(self.snapshot_delay)
            data = await self._preview(channel, self.live_moment())
        return web.Response(body=data, content_type="video/mp4")

    async def past(self, channel: int, ts: int) -> web.StreamResponse:
        """An archive preview: the frame closest to ``ts`` within 10 minutes, else 404."""
        frame = nearest_frame(self.ranges(channel, ts - NEAREST_FRAME_SECONDS, ts + 601), ts)
        if frame is None:
            if self.no_frame_status == 204:
                return web.Response(status=204)
            return _not_found()
        shown = datetime.fromtimestamp(frame, UTC) + self.clock.skew
        async with self._snapshot_slots:
            data = await self._preview(channel, shown.astimezone(self.clock.tz))
        return web.Response(body=data, content_type="video/mp4")

    async def recording_status(self, request: web.Request, channel: int) -> web.StreamResponse:
        """Ranges overlapping [from, to], whole (the documented example starts before
        ``from``); ``to`` may be ``now``; ``request=ranges,locks`` adds an empty lock list."""
        now = int(time.time())
        try:
            start = int(request.query.get("from", "0"))
            to_text = request.query.get("to", "now")
            end = now if to_text == "now" else int(to_text)
        except ValueError:
            return web.Response(status=400, text="bad from or to\n")
        spans = self.ranges(channel, start, end)
        name = self.streams[channel - 1]
        if self.ranges_shape == "object":  # the shape a SmartYard fork reads [3P]
            body: Any = {name: {"from": spans[0][0], "to": spans[-1][1]} if spans else {}}
            return web.json_response(body)
        entry: dict[str, Any] = {
            "stream": name,
            "ranges": [{"duration": b - a, "from": a} for a, b in spans],
        }
        if "locks" in request.query.get("request", "").split(","):
            entry["locks"] = []
        return web.json_response([entry])

    # -- recorded ranges ---------------------------------------------------------------------

    def ranges(self, channel: int, start: int, end: int) -> list[tuple[int, int]]:
        """Continuous recorded spans overlapping [start, end) as whole seconds, not clipped.

        Flussonic keeps no recording types: consecutive archive segments merge.
        """
        lo = datetime.fromtimestamp(start, UTC) - timedelta(hours=2)
        hi = datetime.fromtimestamp(end, UTC) + timedelta(hours=2)
        merged: list[tuple[int, int]] = []
        for rec in self.archive.segments(channel, lo, hi):
            a, b = int(rec.start.timestamp()), int(rec.end.timestamp())
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            elif b > a:
                merged.append((a, b))
        return [(a, b) for a, b in merged if b > start and a < end]

    # -- pictures ----------------------------------------------------------------------------

    async def _preview(self, channel: int, when: datetime) -> bytes:
        """The single-frame MP4 of ``channel`` at ``when`` (device time), cached per second."""
        faststart = self.preview_layout == "faststart"
        key = (channel, int(when.timestamp()), faststart)
        found = self._previews.get(key)
        if found is not None:
            self._previews.move_to_end(key)
            return found

        async def make() -> bytes:
            image = await asyncio.to_thread(self.frames.image, channel, when)
            data = await single_frame_mp4(image, self._work_dir(), faststart=faststart)
            self._previews[key] = data
            while len(self._previews) > _PREVIEW_CACHE:
                self._previews.popitem(last=False)
            return data

        result: bytes = await self._once(("preview", *key), make)
        return result

    def _work_dir(self) -> Path:
        if self._cache_dir is None:
            raise RuntimeError("simulator not started")
        return self._cache_dir

    async def _once(self, key: tuple[object, ...], make: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``make`` once for concurrent askers of the same ``key``."""
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            result = await make()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without other askers
            raise
        finally:
            del self._pending[key]
        future.set_result(result)
        return result

    # -- archive export ----------------------------------------------------------------------

    async def export(
        self, request: web.Request, channel: int, start: int, seconds: int
    ) -> web.StreamResponse:
        """``archive-<from>-<duration>.mp4``: the recorded part of the range, from the first
        recorded frame, gaps kept in the timestamps; the same bytes every time (Range-able)."""
        self.range_headers.append(request.headers.get("Range"))
        if not 0 < seconds <= _MAX_EXPORT_SECONDS:
            return web.Response(status=400, text="bad duration\n")
        path = await self._export_file(channel, start, seconds)
        if path is None:
            return _not_found()
        size = path.stat().st_size
        headers = {"Content-Type": "video/mp4"}
        if self.range_support:
            headers["Accept-Ranges"] = "bytes"
        try:
            wanted = _byte_range(request.headers.get("Range"), size) if self.range_support else None
        except _Unsatisfiable:
            headers["Content-Range"] = f"bytes */{size}"
            return web.Response(status=416, headers=headers)
        if wanted is None:
            return web.Response(body=await asyncio.to_thread(path.read_bytes), headers=headers)
        first, last = wanted
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        body = await asyncio.to_thread(_read_slice, path, first, last + 1)
        return web.Response(status=206, body=body, headers=headers)

    async def _export_file(self, channel: int, start: int, seconds: int) -> Path | None:
        key = (channel, start, seconds)
        found = self._exports.get(key)
        if found is not None and found.exists():
            self._exports.move_to_end(key)
            return found
        lo = datetime.fromtimestamp(start, UTC)
        spans = [
            (rec.start, rec.end)
            for rec in _merge(self.archive.segments(channel, lo, lo + timedelta(seconds=seconds)))
        ]
        if not spans:
            return None

        async def make() -> Path:
            target = self._work_dir() / f"archive-{channel}-{start}-{seconds}.mp4"
            skew, tz = self.clock.skew, self.clock.tz

            def render(when: datetime) -> Image.Image:
                return self.frames.image(channel, (when + skew).astimezone(tz))

            fmt = VideoFormat(self.frames.width & ~1, self.frames.height & ~1, fps=self.archive_fps)
            await recording_mp4(render, spans, fmt, target)
            self._exports[key] = target
            while len(self._exports) > _EXPORT_CACHE:
                _, old = self._exports.popitem(last=False)
                old.unlink(missing_ok=True)
            return target

        path: Path = await self._once(("export", *key), make)
        return path


# -- helpers -------------------------------------------------------------------------------------


def nearest_frame(spans: Sequence[tuple[int, int]], ts: int) -> int | None:
    """The recorded second closest to ``ts`` within 10 minutes (the earlier one on a tie).

    ``spans`` are [from, to) in whole seconds; a span's frames are its seconds.
    """
    best: tuple[int, int] | None = None
    for start, end in spans:
        if start <= ts < end:
            return ts
        candidate = start if start > ts else end - 1
        distance = abs(candidate - ts)
        if distance <= NEAREST_FRAME_SECONDS and (best is None or (distance, candidate) < best):
            best = (distance, candidate)
    return None if best is None else best[1]


def _merge(recordings: Iterable[Recording]) -> list[Recording]:
    """Adjacent archive segments joined: Flussonic's ranges do not split by kind."""
    out: list[Recording] = []
    for rec in recordings:
        if out and rec.start <= out[-1].end:
            out[-1] = Recording(out[-1].start, max(out[-1].end, rec.end), out[-1].kind)
        else:
            out.append(rec)
    return out


def _not_found() -> web.Response:
    return web.Response(status=404, text="404 Not Found\n")


def _encode_cursor(fields: dict[str, object]) -> str:
    """v3 cursors as Flussonic makes them: base64 of ``%24position_gt=N`` and the like."""
    return base64.b64encode(urlencode(fields).encode()).decode("ascii")


def _cursor(text: str | None) -> tuple[int, bool]:
    """(position, reversed) of a v3 cursor; no cursor starts before the first item."""
    if not text:
        return -1, False
    try:
        fields = dict(parse_qsl(base64.b64decode(text, validate=True).decode("ascii")))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("bad cursor") from None
    if "$position_gt" in fields:
        return int(fields["$position_gt"]), False
    if "$position_lt" in fields and fields.get("$reversed") == "true":
        return int(fields["$position_lt"]), True
    raise ValueError("bad cursor")


class _Unsatisfiable(Exception):
    """A Range header no byte of the file satisfies (answered 416)."""


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The single byte range a Range header asks for as (first, last), or None to answer
    the whole file (no header, or one this server ignores); _Unsatisfiable if none fits."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first_text, sep, last_text = header[6:].strip().partition("-")
    if not sep or not (first_text.isdigit() or last_text.isdigit()):
        return None
    if not first_text:  # bytes=-N: the last N bytes
        count = int(last_text)
        if not count:
            raise _Unsatisfiable
        return max(0, size - count), size - 1
    first = int(first_text)
    last = min(size - 1, int(last_text)) if last_text.isdigit() else size - 1
    if first >= size or last < first:
        raise _Unsatisfiable
    return first, last


def _read_slice(path: Path, start: int, stop: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(start)
        return fh.read(stop - start)


async def single_frame_mp4(image: Image.Image, work_dir: Path, *, faststart: bool) -> bytes:
    """One picture as an H.264 MP4 with a single key frame and no audio (``preview.mp4``).

    ``faststart`` puts the ``moov`` box first; without it, it follows the ``mdat``,
    as ffmpeg writes by default.
    """
    width, height = image.width & ~1, image.height & ~1
    raw = await asyncio.to_thread(
        lambda: image.convert("RGB").crop((0, 0, width, height)).tobytes()
    )
    target = work_dir / f"preview-{secrets.token_hex(6)}.mp4"
    try:
        await run_ffmpeg(
            [
                "-loglevel", "error",
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-i", "pipe:0",
                "-frames:v", "1", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                "-an", *(["-movflags", "+faststart"] if faststart else []),
                "-f", "mp4", "-y", str(target),
            ],
            input_data=raw,
            timeout=30,
            what="making a preview.mp4",
        )  # fmt: skip
        return await asyncio.to_thread(target.read_bytes)
    finally:
        target.unlink(missing_ok=True)


async def recording_mp4(
    render: Callable[[datetime], Image.Image],
    spans: Sequence[tuple[datetime, datetime]],
    fmt: VideoFormat,
    target: Path,
    *,
    timeout: float = 600.0,
) -> None:
    """Encode recorded ``spans`` to an MP4 at ``target``: frames every 1/fps inside each
    span, each span starting with a key frame, the gaps between spans kept in the
    timestamps. The file is written under a temporary name and renamed when complete.
    """
    origin = spans[0][0]
    instants: list[datetime] = []
    offsets: list[tuple[int, float]] = []  # (first frame index, seconds from origin)
    for start, end in spans:
        count = max(1, math.ceil((end - start).total_seconds() * fmt.fps - 1e-9))
        offsets.append((len(instants), (start - origin).total_seconds()))
        instants += [start + timedelta(seconds=k / fmt.fps) for k in range(count)]
    # Frame N of span k plays at offset_k + (N - first_k) / fps: N / fps plus a step per span.
    shifts = [offset - first / fmt.fps for first, offset in offsets]
    terms = [
        f"+gte(N,{first})*{shifts[k] - shifts[k - 1]:.6f}"
        for k, (first, _) in enumerate(offsets)
        if k > 0
    ]
    setpts = f"setpts='(N/{fmt.fps:g}{''.join(terms)})/TB'"
    keyframes = ",".join(f"{offset:.6f}" for _, offset in offsets)
    partial = target.with_name(target.name + ".part")
    args = [
        "-hide_banner", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{fmt.width}x{fmt.height}",
        "-r", fmt.rate, "-i", "pipe:0",
        "-vf", setpts, "-fps_mode", "passthrough",
        "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", str(fmt.gop_frames),
        "-force_key_frames", keyframes, "-pix_fmt", "yuv420p", "-an",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
        "-movflags", "+faststart", "-f", "mp4", "-y", str(partial),
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        ffmpeg_exe(),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stderr is not None
    stderr_task = asyncio.create_task(proc.stderr.read())

    def raw_frame(when: datetime) -> bytes:
        picture = render(when).convert("RGB")
        if picture.size != fmt.size:
            picture = picture.resize(fmt.size)
        return picture.tobytes()

    async def feed() -> int:
        assert proc.stdin is not None
        try:
            for when in instants:
                proc.stdin.write(await asyncio.to_thread(raw_frame, when))
                await proc.stdin.drain()
            proc.stdin.close()
            await proc.stdin.wait_closed()
        except ConnectionError:
            pass  # ffmpeg stopped early: its exit code and stderr say why
        return await proc.wait()

    try:
        code = await asyncio.wait_for(feed(), timeout)
        stderr = await stderr_task
    except BaseException:
        stderr_task.cancel()
        await kill(proc)
        partial.unlink(missing_ok=True)
        raise
    if code != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"encoding the archive export failed: {error_tail(stderr, ())}")
    partial.replace(target)


def _fleet_member(
    number: int, *, latency: float, size: tuple[int, int], jpeg: bool
) -> FlussonicSimulator:
    return FlussonicSimulator(
        name=f"Stream {number:03d}",
        titles=[f"Camera {number:03d}"],
        jpeg=jpeg,
        tz="UTC",
        size=size,
        frame_period=3600.0,
        snapshot_concurrency=1,
        snapshot_delay=latency,
    )


def fleet_member_jpeg(number: int, *, latency: float, size: tuple[int, int]) -> FlussonicSimulator:
    """One stream of a benchmark fleet with JPEG thumbnails: snapshots are ``preview.jpg``."""
    return _fleet_member(number, latency=latency, size=size, jpeg=True)


def fleet_member_mp4(number: int, *, latency: float, size: tuple[int, int]) -> FlussonicSimulator:
    """One stream of a benchmark fleet without JPEG thumbnails: ``preview.mp4`` only."""
    return _fleet_member(number, latency=latency, size=size, jpeg=False)
