"""What every simulated device has: an HTTP server, a clock, pictures, an archive, faults.

A vendor simulator subclasses :class:`SimulatedDevice`, adds its routes and
its authentication, and, if it serves recorded video, an RTSP server. It runs
inside any asyncio loop (tests) or as ``camfetch sim <vendor>`` (a process).

Conditions can be changed while a simulator runs (tests and demos script them):
:meth:`SimulatedDevice.set_condition` makes pictures black or frozen, answers
slow, the clock wrong, or the device go offline and come back.
"""

from __future__ import annotations

import asyncio
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Middleware

from camfetch import timeutil
from camfetch.sim.archive import RecordingArchive
from camfetch.sim.clock import DeviceClock
from camfetch.sim.faults import FaultPlan, fault_middleware
from camfetch.sim.frames import FrameGenerator, PictureMode
from camfetch.sim.rtsp import MediaSource, RtspAuth, RtspRequest, RtspServer

DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "s1mul8"  # noqa: S105 - the documented password of simulated devices


class Listener(Protocol):
    """A server a simulator runs besides HTTP (RTSP): it stops and starts on its own port."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class BareRequest:
    """How a plain HTTP client fetches a live snapshot from a simulator (benchmarks).

    ``auth`` is ``basic``, ``digest`` or ``none`` (credentials in the URL, a token).
    """

    url: str
    auth: str
    username: str = ""
    password: str = field(default="", repr=False)


class SimulatedDevice(ABC):
    scheme: ClassVar[str]

    def __init__(
        self,
        *,
        name: str,
        username: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        tz: str = "Europe/Berlin",
        skew: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        size: tuple[int, int] = (1280, 720),
        seed: str | None = None,
        retention_days: float = 3.0,
        frame_period: float = 1.0,
    ) -> None:
        self.name = name
        self.username = username
        self.password = password
        self.host = host
        self.requested_port = port
        self.clock = DeviceClock(timeutil.zone(tz), timedelta(seconds=skew))
        self.tz_name = tz
        self.frames = FrameGenerator(name, tz=self.clock.tz, width=size[0], height=size[1])
        self.seed = seed or name
        self.archive = RecordingArchive(self.seed, retention=timedelta(days=retention_days))
        self.faults = FaultPlan()
        self.frame_period = frame_period  # seconds a live picture stays the same
        self.requests = 0
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self.offline = False  # go_offline() / come_back()

    # -- identity ----------------------------------------------------------------------------

    def identity(self, length: int = 12) -> str:
        """A stable serial-number-like hex string derived from the seed."""
        return hashlib.sha256(self.seed.encode()).hexdigest()[:length].upper()

    def mac(self, prefix: str) -> str:
        tail = hashlib.sha256(("mac" + self.seed).encode()).hexdigest()[:6]
        return prefix + ":" + ":".join(tail[i : i + 2] for i in range(0, 6, 2))

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("simulator not started")
        return self._port

    async def start(self) -> None:
        app = web.Application(
            middlewares=[
                self._count,
                fault_middleware(self.faults, self.command_of),
                *self.middlewares(),
            ],
            client_max_size=4 * 1024 * 1024,
        )
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port, reuse_address=True)
        await site.start()
        self._port = int(self._runner.addresses[0][1])  # the real port when 0 was asked
        await self.start_extra()

    async def stop(self) -> None:
        await self.stop_extra()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def live_moment(self) -> datetime:
        """The device time the live picture shows (held for ``frame_period`` seconds)."""
        now = self.clock.now()
        if self.frame_period > 1.0:
            stamp = int(now.timestamp() // self.frame_period * self.frame_period)
            now = datetime.fromtimestamp(stamp, now.tzinfo)
        return now

    async def warm_up(self) -> None:
        """Render channel 1's live picture now, so a benchmark measures the network path."""
        await asyncio.to_thread(self.frames.jpeg, 1, self.live_moment())

    async def start_extra(self) -> None:  # noqa: B027 - an optional hook
        """Start more servers (RTSP) after HTTP is up."""

    async def stop_extra(self) -> None:  # noqa: B027 - an optional hook
        """Stop what start_extra started."""

    # -- conditions: how a device fails, changeable while it runs ------------------------------

    async def go_offline(self) -> None:
        """Stop answering, as a device that lost power or network: connections are refused.

        The listening socket closes, open connections are cut, and the extra
        servers (RTSP) stop too. :meth:`come_back` listens again on the same ports.
        """
        if self._runner is None or self.offline:
            return
        for site in list(self._runner.sites):
            await site.stop()
        server = self._runner.server
        if server is not None:
            for connection in server.connections:
                if connection.transport is not None:
                    connection.transport.abort()
        for extra in self.extra_servers():
            await extra.stop()
        self.offline = True

    async def come_back(self) -> None:
        """Answer again after :meth:`go_offline`, on the same HTTP and extra ports."""
        if self._runner is None or not self.offline:
            return
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        for extra in self.extra_servers():
            await extra.start()
        self.offline = False

    async def outage(self, duration: float, *, after: float = 0.0) -> None:
        """Wait ``after`` seconds, go offline for ``duration`` seconds, come back.

        Run it as a task (a demo script, ``camfetch sim --offline-after``); cancelling
        it during the outage leaves the device offline.
        """
        await asyncio.sleep(after)
        await self.go_offline()
        await asyncio.sleep(duration)
        await self.come_back()

    def extra_servers(self) -> list[Listener]:
        """Servers besides HTTP that go offline with the device: every RTSP server it holds."""
        return [value for value in vars(self).values() if isinstance(value, RtspServer)]

    def set_picture(self, mode: PictureMode | str, channel: int | None = None) -> None:
        """Make the live picture of ``channel`` (None: every channel) normal, black or frozen.

        Takes effect at the live moment: a frozen channel holds the frame shown now.
        """
        self.frames.set_mode(mode, channel, since=self.live_moment())

    async def set_condition(
        self,
        *,
        picture: PictureMode | str | None = None,
        channel: int | None = None,
        offline: bool | None = None,
        latency: float | None = None,
        skew: float | None = None,
    ) -> None:
        """Change how the device behaves; what is not given stays as it is.

        ``picture`` applies to ``channel`` (None: every channel); ``latency`` is
        seconds added to every answer; ``skew`` is the device clock minus true
        time, in seconds; ``offline`` stops or restarts answering.
        """
        if skew is not None:
            self.clock.skew = timedelta(seconds=skew)
        if latency is not None:
            if latency < 0:
                raise ValueError("latency cannot be negative")
            self.faults.latency = latency
        if picture is not None:
            self.set_picture(picture, channel)
        if offline is True:
            await self.go_offline()
        elif offline is False:
            await self.come_back()

    def condition(self) -> dict[str, Any]:
        """How the device behaves now: offline, latency, clock skew, pictures not normal."""
        pictures = {
            "*" if ch is None else str(ch): mode.value for ch, mode in self.frames.modes().items()
        }
        return {
            "offline": self.offline,
            "latency": self.faults.latency,
            "skew": self.clock.skew.total_seconds(),
            "pictures": pictures,
        }

    # -- what subclasses provide -------------------------------------------------------------

    @abstractmethod
    def add_routes(self, app: web.Application) -> None: ...

    @abstractmethod
    def snapshot_request(self, channel: int = 1) -> BareRequest:
        """The raw request for a live snapshot, for comparing camfetch with a bare client."""

    def middlewares(self) -> list[Middleware]:
        return []

    def command_of(self, request: web.Request) -> str:
        """The command a request invokes, as fault plans name it."""
        return request.path.strip("/").split("/", 1)[0]

    def describe(self) -> str:
        """One line for people: what this is and where it listens."""
        return f"Simulated {self.scheme} device {self.name!r} on http://{self.host}:{self.port}"

    def url_options(self) -> dict[str, str]:
        """Query options a client needs for this simulator (e.g. a time zone)."""
        return {}

    # -- presentation ------------------------------------------------------------------------

    def device_url(self, *, reveal_password: bool | None = None) -> str:
        """The URL to give camfetch. The password is shown only if it is the public default."""
        reveal = self.password == DEFAULT_PASSWORD if reveal_password is None else reveal_password
        user = quote(self.username, safe="")
        secret = quote(self.password, safe="") if reveal else "***"
        options = self.url_options()
        query = (
            ("?" + "&".join(f"{k}={quote(v, safe='/')}" for k, v in options.items()))
            if options
            else ""
        )
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{user}:{secret}@{host}:{self.port}{query}"

    def secret_url(self) -> str:
        """The URL with the password in it, for programs (tests, benchmarks) to use."""
        return self.device_url(reveal_password=True)

    @web.middleware
    async def _count(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.requests += 1
        return await handler(request)


class RtspPlaybackDevice(SimulatedDevice):
    """A simulated device that also serves its recordings over RTSP playback, on a port of
    its own that starts and stops with the HTTP server."""

    rtsp_server_name: ClassVar[str]
    requested_rtsp_port: int = 0  # 0: any free port
    rtsp_server: RtspServer | None = None
    _rtsp_port: int | None = None

    @abstractmethod
    def rtsp_auth(self) -> RtspAuth:
        """How the RTSP server checks credentials."""

    @abstractmethod
    async def playback(self, request: RtspRequest) -> MediaSource:
        """The recording an RTSP playback request names (raises RtspError)."""

    @property
    def rtsp_port(self) -> int:
        if self._rtsp_port is None:
            raise RuntimeError("RTSP server not started")
        return self._rtsp_port

    def rtsp_described(self) -> str:
        """``, RTSP host:port`` for :meth:`describe` once the server runs, else nothing."""
        return f", RTSP {self.host}:{self._rtsp_port}" if self._rtsp_port else ""

    async def start_extra(self) -> None:
        self.rtsp_server = RtspServer(
            self.playback,
            auth=self.rtsp_auth(),
            host=self.host,
            port=self.requested_rtsp_port,
            server_name=self.rtsp_server_name,
        )
        await self.rtsp_server.start()
        self._rtsp_port = self.rtsp_server.port

    async def stop_extra(self) -> None:
        if self.rtsp_server is not None:
            await self.rtsp_server.stop()
            self.rtsp_server = None
