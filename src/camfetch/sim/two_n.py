"""A simulated 2N IP intercom: the HTTP API's envelope, service security, camera and log.

Wire facts follow ``protocols/2n.md`` (the 2N wiki, the seed page on
``/api/camera/snapshot``, and what py2n sends and parses):

- Every JSON answer is the envelope ``{"success": true[, "result": {…}]}`` or
  ``{"success": false, "error": {"code", "param", "description"}}`` with
  ``Content-Type: application/json`` (py2n refuses anything else) and
  ``Server: HIP<firmware>``. Authentication failures come with HTTP 401 and a
  challenge, every other error with HTTP 200: a client must read ``success``.
- Services (System, Camera, Logging) each have a transport (``http``: plain
  and TLS accepted; ``https``: TLS only, error 7 over plain HTTP) and an
  authentication mode (``none``, ``basic`` or ``digest``; Digest is the
  device default). Plain HTTP and HTTPS listen on two ports, the latter with a
  freshly generated self-signed certificate.
- Up to five API accounts with privileges; ``/api/camera/*`` needs Camera
  Monitoring (error 10 without it), ``/api/system/info`` needs none, the log
  hands each subscriber only the events its privileges allow.
- ``/api/camera/caps`` lists a configurable set of JPEG sizes and sources;
  ``/api/camera/snapshot`` refuses a width/height pair caps does not list
  (11 for a missing one, 12 naming ``width`` or ``height``), answers ``time``
  (−30…0 s) from the memory of the last 30 s at most 1280×960, and with
  ``fps`` ≥ 1 pushes ``multipart/x-mixed-replace`` at that rate.
- ``/api/log/subscribe``, ``/api/log/pull`` (long poll, batches of 128) and
  ``/api/log/unsubscribe`` over an event history that grows as the simulated
  intercom sees visitors, cards, codes, motion and tampering.

Where the sources are silent or disagree, the variant is a constructor knob and
the default says which source it follows (see each knob's comment).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import random
import secrets
import ssl
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Any, ClassVar, Literal

from aiohttp import web

from camfetch.sim.base import BareRequest, Listener, SimulatedDevice
from camfetch.sim.httpauth import basic_credentials, digest_response, parse_digest
from camfetch.sim.multipart import part, serve_parts
from camfetch.sim.tls import self_signed

#: The documented caps example (wiki 5.8.1) [V].
DOCUMENTED_SIZES: tuple[tuple[int, int], ...] = (
    (160, 120),
    (176, 144),
    (320, 240),
    (352, 272),
    (352, 288),
    (640, 480),
)
#: Sizes third-party integrations ask newer models for [3P].
NEWER_SIZES: tuple[tuple[int, int], ...] = ((1280, 720), (1280, 960), (1920, 1080))
#: The largest picture a ``time`` request gives (seed page) [V].
PAST_LIMIT = (1280, 960)
#: How far back the intercom's memory reaches, in seconds (seed page) [V].
MEMORY_SECONDS = 30

#: Error codes and descriptions: 1–4, 7, 8, 12 [V]; the rest named after py2n's ApiError [R].
ERRORS: dict[int, str] = {
    1: "function is not supported",
    2: "invalid request path",
    3: "invalid request method",
    4: "function is disabled",
    7: "invalid connection type",
    8: "invalid authentication method",
    9: "authorization required",
    10: "insufficient user privileges",
    11: "missing mandatory parameter",
    12: "invalid parameter value",
    13: "parameter data too big",
    14: "request processing failed",
    15: "no data available",
    17: "parameter collision",
    18: "request rejected",
    19: "file version unsupported",
}

Transport = Literal["http", "https"]
AuthMode = Literal["none", "basic", "digest"]


class Privilege(StrEnum):
    """API account privileges, as the web interface names them."""

    SYSTEM = "system"  # System monitoring
    CAMERA = "camera"  # Camera monitoring
    IO = "io"  # I/O monitoring
    CALL = "call"  # Call/phone monitoring
    KEYPAD = "keypad"  # Keypad monitoring
    UID = "uid"  # UID monitoring (cards/Wiegand)


ALL_PRIVILEGES = frozenset(Privilege)

#: Log events a subscriber sees only with a privilege (wiki 5.10.2); others need none.
EVENT_PRIVILEGE: dict[str, Privilege] = {
    "KeyPressed": Privilege.KEYPAD,
    "KeyReleased": Privilege.KEYPAD,
    "CodeEntered": Privilege.KEYPAD,
    "CardEntered": Privilege.UID,
    "InputChanged": Privilege.IO,
    "OutputChanged": Privilege.IO,
    "SwitchStateChanged": Privilege.IO,
    "CallStateChanged": Privilege.CALL,
    "RegistrationStateChanged": Privilege.CALL,
}
#: What /api/log/caps lists: the events this simulated intercom can generate.
LOG_EVENTS = (
    "DeviceState",
    "MotionDetected",
    "NoiseDetected",
    "KeyPressed",
    "KeyReleased",
    "CodeEntered",
    "CardEntered",
    "InputChanged",
    "OutputChanged",
    "SwitchStateChanged",
    "CallStateChanged",
    "RegistrationStateChanged",
    "TamperSwitchActivated",
    "DoorOpenTooLong",
    "UnauthorizedDoorOpen",
)


@dataclass(frozen=True, slots=True)
class ApiUser:
    """One HTTP API account: its name, password and privileges."""

    name: str
    password: str = field(repr=False)
    privileges: frozenset[Privilege] = ALL_PRIVILEGES


@dataclass(frozen=True, slots=True)
class ServiceSecurity:
    """How one API service is protected: transport and authentication (Digest by default)."""

    transport: Transport = "http"
    auth: AuthMode = "digest"


class ApiFailure(Exception):
    """An error envelope to answer with: a 2N error code and the parameter it is about."""

    def __init__(self, code: int, param: str | None = None) -> None:
        super().__init__(f"error {code}" + (f" ({param})" if param else ""))
        self.code = code
        self.param = param


# -- accounts and login ----------------------------------------------------------------------


class Login(Enum):
    OK = "ok"
    MISSING = "missing"  # no Authorization header
    WRONG = "wrong"  # unknown user or wrong password
    STALE = "stale"  # right password, expired nonce
    OTHER_SCHEME = "other-scheme"  # Basic sent to a Digest service or the reverse


class ApiAccounts:
    """The intercom's API accounts and their login: Basic, or Digest (MD5, ``qop="auth"``).

    Several accounts share one realm and one nonce table, so a challenge can be
    issued before the client says who it is.
    """

    MAX_USERS = 5

    def __init__(
        self, users: Iterable[ApiUser], *, realm: str = "HTTP API", nonce_lifetime: float = 300.0
    ) -> None:
        self.users = {user.name: user for user in users}
        if not 1 <= len(self.users) <= self.MAX_USERS:
            raise ValueError(f"a 2N intercom has 1 to {self.MAX_USERS} API accounts")
        self.realm = realm
        self.nonce_lifetime = nonce_lifetime
        self._nonces: OrderedDict[str, float] = OrderedDict()

    def check(self, method: str, header: str | None, scheme: AuthMode) -> tuple[Login, ApiUser]:
        """Who sent ``header`` (the Authorization value), if the service's ``scheme`` accepts it."""
        anonymous = ApiUser("", "", frozenset())
        if not header:
            return Login.MISSING, anonymous
        kind, _, value = header.partition(" ")
        if kind.lower() != scheme:
            return Login.OTHER_SCHEME, anonymous
        if scheme == "basic":
            pair = basic_credentials(value)
            user = self.users.get(pair[0]) if pair else None
            if pair is None or user is None or not hmac.compare_digest(pair[1], user.password):
                return Login.WRONG, anonymous
            return Login.OK, user
        fields = parse_digest(value)
        user = self.users.get(fields.get("username", ""))
        if user is None or fields.get("realm") != self.realm or fields.get("qop") != "auth":
            return Login.WRONG, anonymous
        expected = digest_response(method, fields, self.realm, user.password)
        if expected is None or not hmac.compare_digest(expected, fields.get("response", "")):
            return Login.WRONG, anonymous
        issued = self._nonces.get(fields.get("nonce", ""))
        if issued is None or time.monotonic() - issued > self.nonce_lifetime:
            return Login.STALE, user
        return Login.OK, user

    def challenge(self, scheme: AuthMode, *, stale: bool = False) -> str:
        """A WWW-Authenticate value for ``scheme``; Digest ones carry a fresh nonce."""
        if scheme == "basic":
            return f'Basic realm="{self.realm}"'
        now = time.monotonic()
        while self._nonces and (
            len(self._nonces) >= 1024
            or now - next(iter(self._nonces.values())) > self.nonce_lifetime
        ):
            self._nonces.popitem(last=False)  # oldest first: a flood cannot grow the table
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = now
        value = (
            f'Digest realm="{self.realm}", qop="auth", algorithm=MD5, '
            f'nonce="{nonce}", opaque="{secrets.token_hex(8)}"'
        )
        return value + (", stale=TRUE" if stale else "")


# -- the log --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One entry of the intercom's event log, as /api/log/pull shows it (wiki 5.10.4)."""

    id: int
    utc_time: int  # the device clock, Unix seconds
    up_time: int  # seconds since boot
    tz_shift: int  # local time minus UTC, minutes
    event: str
    params: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tzShift": self.tz_shift,
            "utcTime": self.utc_time,
            "upTime": self.up_time,
            "event": self.event,
            "params": dict(self.params),
        }


@dataclass
class Subscription:
    """A log channel: its own queue, closed when not pulled for ``duration`` seconds."""

    id: int
    user: ApiUser | None  # None: the Logging service needs no authentication
    names: frozenset[str] | None  # the subscriber's filter; None: every event
    duration: float
    last_access: float
    queue: deque[LogEvent]
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def wants(self, event: LogEvent) -> bool:
        if self.names is not None and event.event not in self.names:
            return False
        needed = EVENT_PRIVILEGE.get(event.event)
        return needed is None or self.user is None or needed in self.user.privileges


class EventLog:
    """The event history (the newest ``history`` events) and the subscription channels."""

    BATCH = 128  # events per pull answer (wiki 5.10.4)
    MAX_WAIT = 3600  # longest pull timeout honoured, seconds

    def __init__(self, *, history: int, clock: Callable[[], datetime], boot: datetime) -> None:
        self.history: deque[LogEvent] = deque(maxlen=history)
        self.subscriptions: dict[int, Subscription] = {}
        self.clock = clock
        self.boot = boot
        self.closing = False
        self._next_id = 1

    def emit(self, event: str, params: Mapping[str, Any]) -> LogEvent:
        """Record an event now and queue it for every subscriber allowed to see it."""
        now = self.clock()
        offset = now.utcoffset() or timedelta()
        entry = LogEvent(
            id=self._next_id,
            utc_time=int(now.timestamp()),
            up_time=int((now - self.boot).total_seconds()),
            tz_shift=int(offset.total_seconds() // 60),
            event=event,
            params=dict(params),
        )
        self._next_id += 1
        self.history.append(entry)
        self._expire()
        for sub in self.subscriptions.values():
            if sub.wants(entry):
                sub.queue.append(entry)
                sub.arrived.set()
        return entry

    def subscribe(
        self, user: ApiUser | None, include: str, duration: float, names: frozenset[str] | None
    ) -> Subscription:
        self._expire()
        while True:
            number = secrets.randbelow(2**31 - 1) + 1  # uint32, never 0
            if number not in self.subscriptions:
                break
        sub = Subscription(
            number,
            user,
            names,
            duration,
            time.monotonic(),
            deque(maxlen=self.history.maxlen),
        )
        if include == "all":
            sub.queue.extend(e for e in self.history if sub.wants(e))
        elif include.startswith("-"):
            since = int(self.clock().timestamp()) - int(include[1:])
            sub.queue.extend(e for e in self.history if e.utc_time >= since and sub.wants(e))
        self.subscriptions[number] = sub
        return sub

    async def pull(self, sub: Subscription, timeout: float) -> list[LogEvent] | None:
        """Up to BATCH queued events; waits up to ``timeout`` s while the queue is empty.

        None when the subscription is closed while waiting (unsubscribed, forgotten).
        """
        sub.last_access = time.monotonic()
        deadline = sub.last_access + min(timeout, self.MAX_WAIT)
        while not sub.queue and not self.closing:
            if self.subscriptions.get(sub.id) is not sub:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sub.arrived.clear()
            try:
                async with asyncio.timeout(remaining):
                    await sub.arrived.wait()
            except TimeoutError:
                break
        batch = [sub.queue.popleft() for _ in range(min(self.BATCH, len(sub.queue)))]
        sub.last_access = time.monotonic()
        return batch

    def find(self, number: int) -> Subscription | None:
        """A subscription still open (lapsed ones are closed first)."""
        self._expire()
        return self.subscriptions.get(number)

    def forget(self) -> None:
        """Close every subscription, as a restart does; waiting pulls answer error 12."""
        closed = list(self.subscriptions.values())
        self.subscriptions.clear()
        for sub in closed:
            sub.arrived.set()

    def close(self) -> None:
        """Wake every waiting pull: the device is going down."""
        self.closing = True
        for sub in self.subscriptions.values():
            sub.arrived.set()

    def _expire(self) -> None:
        now = time.monotonic()
        for number in [
            n for n, s in self.subscriptions.items() if now - s.last_access > s.duration
        ]:
            del self.subscriptions[number]


# -- the picture memory ----------------------------------------------------------------------


class FrameMemory:
    """The intercom's memory of the last ``seconds`` of pictures, per source.

    A ring of capture slots (``fps`` per second) over the last ``seconds``:
    slots older than that are dropped, and a ``time`` request older than that
    is refused. Pictures are pure functions of their moment (the frame
    generator draws the device clock and a moving object), so each slot is
    encoded when first asked for: the very picture the camera showed then,
    without an idle simulator (or a 200-device fleet) encoding frames nobody
    asks for.
    """

    def __init__(
        self,
        render: Callable[[int, datetime, tuple[int, int]], bytes],
        *,
        seconds: float = MEMORY_SECONDS,
        fps: float = 1.0,
        max_pictures: int = 256,
    ) -> None:
        self.render = render
        self.seconds = seconds
        self.fps = fps
        self.max_pictures = max_pictures
        self._pictures: OrderedDict[tuple[int, int, tuple[int, int]], bytes] = OrderedDict()

    def slot(self, now: datetime, offset: float) -> int | None:
        """The capture slot ``offset`` seconds (≤ 0) before ``now``, if still remembered."""
        stamp = now.timestamp()
        wanted = math.floor((stamp + offset) * self.fps)
        return wanted if wanted >= self.oldest(stamp) else None

    def oldest(self, stamp: float) -> int:
        """The oldest slot remembered at ``stamp``: the one holding the moment ``seconds`` ago."""
        return math.floor((stamp - self.seconds) * self.fps)

    def moment(self, slot: int, now: datetime) -> datetime:
        return datetime.fromtimestamp(slot / self.fps, now.tzinfo)

    async def picture(
        self, channel: int, now: datetime, offset: float, size: tuple[int, int]
    ) -> tuple[datetime, bytes] | None:
        found = self.slot(now, offset)
        if found is None:
            return None
        moment = self.moment(found, now)
        key = (channel, found, size)
        jpeg = self._pictures.get(key)
        if jpeg is None:
            jpeg = await asyncio.to_thread(self.render, channel, moment, size)
            self._pictures[key] = jpeg
        self._pictures.move_to_end(key)
        oldest = self.oldest(now.timestamp())
        for stale in [k for k in self._pictures if k[1] < oldest]:
            del self._pictures[stale]
        while len(self._pictures) > self.max_pictures:
            self._pictures.popitem(last=False)
        return moment, jpeg


class TlsListener:
    """The HTTPS port: a second site of the simulator's aiohttp runner with its certificate.

    It stops and starts on its own port, so it goes offline and comes back with the
    device (:meth:`SimulatedDevice.extra_servers`).
    """

    def __init__(
        self, runner: web.AppRunner, host: str, port: int, context: ssl.SSLContext
    ) -> None:
        self.runner = runner
        self.host = host
        self.port = port  # 0 until started on a free port
        self.context = context
        self._site: web.TCPSite | None = None

    async def start(self) -> None:
        if self._site is not None and self._site in self.runner.sites:
            return
        before = set(self.runner.addresses)
        self._site = web.TCPSite(
            self.runner, self.host, self.port, ssl_context=self.context, reuse_address=True
        )
        await self._site.start()
        if not self.port:
            (address,) = set(self.runner.addresses) - before
            self.port = int(address[1])

    async def stop(self) -> None:
        if self._site is not None and self._site in self.runner.sites:
            await self._site.stop()
        self._site = None


# -- the device ------------------------------------------------------------------------------


Handler = Callable[[web.Request, dict[str, str], ApiUser | None], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    service: str  # "system", "camera" or "logging"
    privilege: Privilege | None
    handler: Handler


class TwoNSimulator(SimulatedDevice):
    """A 2N IP intercom (2N IP Verso by default) with an internal and an external camera."""

    scheme: ClassVar[str] = "2n"
    SOURCES: ClassVar[tuple[str, ...]] = ("internal", "external")

    def __init__(
        self,
        *,
        name: str | None = None,
        variant: str = "2N IP Verso",
        firmware: str = "2.35.0.45.0",  # the current wiki example
        hardware: str = "570v1",
        resolutions: Iterable[tuple[int, int]] | None = None,
        listed_resolutions: Iterable[tuple[int, int]] | None = None,
        external_camera: bool = True,
        default_source: str = "internal",
        auth: AuthMode = "digest",  # the device default [V]
        https_only: bool = False,
        services: Mapping[str, ServiceSecurity] | None = None,
        users: Iterable[ApiUser] | None = None,
        https: bool = True,
        https_port: int = 0,
        clock_api: bool = True,
        max_fps: int = 15,  # the 1–15 range integrations state [3P]
        boundary: str = "2n-push-boundary",  # undocumented; clients must read the header
        part_length: bool = True,  # parts carry Content-Length (undocumented either way)
        past_size: Literal["fit", "refuse"] = "fit",
        memory_seconds: float = MEMORY_SECONDS,
        memory_fps: float = 1.0,
        event_interval: float = 12.0,
        history: int = 500,  # the event history of older firmware (newer: 10000)
        trailing_comma: bool = False,
        snapshot_concurrency: int = 1,
        snapshot_delay: float = 0.0,
        uptime: float = 3 * 86400.0,
        **common: Any,
    ) -> None:
        """Knobs for variants the sources leave open:

        ``resolutions``: sizes the camera makes (default: the documented six plus
        1280x720, 1280x960 and 1920x1080 as newer models accept, and the picture
        ``size`` if it is none of them); ``listed_resolutions``: what
        /api/camera/caps says, when it disagrees with the camera (a misbehaving
        device; default: the same). ``past_size``: a ``time`` request for more
        than 1280x960 gets the picture scaled to fit (``fit``: the docs' "higher
        requests will be ignored") or error 12 (``refuse``). ``trailing_comma``:
        bare successes as the docs print them (``{ "success" : true, }``);
        default: valid JSON, as real devices are assumed to send. ``clock_api``:
        /api/system/time and /api/system/timezone exist (newer firmware; off:
        error 2). ``event_interval``: seconds between generated visits, card
        reads and alarms (0: only :meth:`emit`).
        """
        super().__init__(name=name or variant, **common)
        self.variant = variant
        self.firmware = firmware
        self.hardware = hardware
        sizes = list(resolutions or (*DOCUMENTED_SIZES, *NEWER_SIZES))
        if resolutions is None and (self.frames.width, self.frames.height) not in sizes:
            sizes.append((self.frames.width, self.frames.height))
        self.resolutions: list[tuple[int, int]] = sorted(set(sizes), key=lambda s: (s[0] * s[1], s))
        self.listed_resolutions = (
            list(listed_resolutions) if listed_resolutions is not None else None
        )
        self.sources = self.SOURCES if external_camera else self.SOURCES[:1]
        if default_source not in self.sources:
            raise ValueError(f"default source {default_source!r} is not one of {self.sources}")
        self.default_source = default_source
        base = ServiceSecurity("https" if https_only else "http", auth)
        self.services: dict[str, ServiceSecurity] = {
            "system": base,
            "camera": base,
            "logging": base,
            **(services or {}),
        }
        self.accounts = ApiAccounts(
            users or [ApiUser(self.username, self.password)], realm="HTTP API"
        )
        self.https = https
        self.requested_https_port = https_port
        self.clock_api = clock_api
        self.max_fps = max_fps
        self.boundary = boundary
        self.part_length = part_length
        self.past_size = past_size
        self.event_interval = event_interval
        self.trailing_comma = trailing_comma
        self.snapshot_delay = snapshot_delay
        self.boot = self.clock.now() - timedelta(seconds=uptime)
        self.log = EventLog(history=history, clock=self.clock.now, boot=self.boot)
        self.memory = FrameMemory(self._render, seconds=memory_seconds, fps=memory_fps)
        self.certificate: bytes | None = None  # PEM of the HTTPS certificate, once started
        self.pushes = 0  # MJPEG streams being served now (tests)
        self.push_rates: list[int] = []  # the fps of every push stream asked for (tests)
        self._snapshot_slots = asyncio.Semaphore(snapshot_concurrency)
        self._tls: TlsListener | None = None
        self._events_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._random = random.Random(self.seed)
        self._endpoints: dict[str, Endpoint] = {
            "/api/system/info": Endpoint("system", None, self.system_info),
            "/api/system/status": Endpoint("system", Privilege.SYSTEM, self.system_status),
            "/api/camera/caps": Endpoint("camera", Privilege.CAMERA, self.camera_caps),
            "/api/camera/snapshot": Endpoint("camera", Privilege.CAMERA, self.camera_snapshot),
            "/api/log/caps": Endpoint("logging", None, self.log_caps),
            "/api/log/subscribe": Endpoint("logging", None, self.log_subscribe),
            "/api/log/pull": Endpoint("logging", None, self.log_pull),
            "/api/log/unsubscribe": Endpoint("logging", None, self.log_unsubscribe),
        }
        if clock_api:
            self._endpoints["/api/system/time"] = Endpoint(
                "system", Privilege.SYSTEM, self.system_time
            )
            self._endpoints["/api/system/timezone"] = Endpoint(
                "system", Privilege.SYSTEM, self.system_timezone
            )

    # -- persona -----------------------------------------------------------------------------

    @property
    def version(self) -> tuple[int, ...]:
        parts = []
        for piece in self.firmware.split("."):
            if not piece.isdigit():
                break
            parts.append(int(piece))
        return tuple(parts)

    @property
    def build_type(self) -> str:
        """Empty for official releases up to 2.32.1, ``release`` from 2.33.2 on [V]."""
        return "release" if self.version >= (2, 33) else ""

    @property
    def serial(self) -> str:
        digits = str(int(self.identity(10), 16) % 10**10).zfill(10)
        return f"{digits[:2]}-{digits[2:6]}-{digits[6:]}"

    @property
    def mac_address(self) -> str:
        """With dashes, as 2N writes it (the wiki's prefix)."""
        return self.mac("FC:1E:B3").replace(":", "-").upper()

    @property
    def needs_https(self) -> bool:
        """A service is HTTPS-only: clients must use the HTTPS port."""
        return self.https and any(s.transport == "https" for s in self.services.values())

    @property
    def https_port(self) -> int:
        if self._tls is None:
            raise RuntimeError("HTTPS is not listening")
        return self._tls.port

    def describe(self) -> str:
        tls = f", HTTPS {self.host}:{self._tls.port} (self-signed)" if self._tls else ""
        security = ", ".join(
            f"{name} {s.auth}{'/HTTPS only' if s.transport == 'https' else ''}"
            for name, s in self.services.items()
        )
        users = ", ".join(
            f"{u.name} ({_privileges(u.privileges)})" for u in self.accounts.users.values()
        )
        return (
            f"Simulated {self.variant} (firmware {self.firmware}), device clock {self.tz_name}: "
            f"HTTP {self.host}:{self.port}{tls}; services: {security}; users: {users}"
        )

    def device_url(self, *, reveal_password: bool | None = None, https: bool | None = None) -> str:
        """The camfetch URL; over HTTPS (``https=1&verify=0``) when a service demands it."""
        url = super().device_url(reveal_password=reveal_password)
        if not (self.needs_https if https is None else https):
            return url
        host = f"[{self.host}]" if ":" in self.host else self.host
        url = url.replace(f"@{host}:{self.port}", f"@{host}:{self.https_port}", 1)
        return url + ("&" if "?" in url else "?") + "https=1&verify=0"

    def secret_url(self, *, https: bool | None = None) -> str:
        return self.device_url(reveal_password=True, https=https)

    def snapshot_request(self, channel: int = 1) -> BareRequest:
        """The largest listed size, as camfetch asks when no size is given."""
        width, height = self.resolutions[-1]
        source = self.sources[channel - 1]
        url = (
            f"http://{self.host}:{self.port}/api/camera/snapshot"
            f"?width={width}&height={height}&source={source}"
        )
        return BareRequest(url, self.services["camera"].auth, self.username, self.password)

    def command_of(self, request: web.Request) -> str:
        """``camera/snapshot``, ``log/pull`` …: what ``--fault-on`` names."""
        return request.path.removeprefix("/api/").strip("/")

    # -- lifecycle ---------------------------------------------------------------------------

    async def start_extra(self) -> None:
        self._stopping = False
        self.log.closing = False
        if self.https:
            assert self._runner is not None
            context, self.certificate = await asyncio.to_thread(
                self_signed, self.host, organization="camfetch simulated 2N intercom"
            )
            self._tls = TlsListener(self._runner, self.host, self.requested_https_port, context)
            await self._tls.start()
        if not self.log.history:
            self.log.emit("DeviceState", {"state": "startup"})
            self.log.emit("RegistrationStateChanged", {"sipAccount": 1, "state": "registered"})
        if self.event_interval > 0:
            self._events_task = asyncio.create_task(self._happenings())

    async def stop_extra(self) -> None:
        self._stopping = True
        self.log.close()
        if self._events_task is not None:
            self._events_task.cancel()
            try:
                await self._events_task
            except asyncio.CancelledError:
                pass
            self._events_task = None

    def extra_servers(self) -> list[Listener]:
        """The HTTPS port goes offline and comes back with the device."""
        return [*super().extra_servers(), *([self._tls] if self._tls else [])]

    # -- HTTP plumbing -----------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.on_response_prepare.append(self._server_header)
        app.router.add_route("*", "/{path:.*}", self._dispatch)

    async def _server_header(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Server"] = f"HIP{self.firmware}"

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        endpoint = self._endpoints.get(request.path.rstrip("/"))
        if endpoint is None:
            return self.failure(2)
        security = self.services[endpoint.service]
        if security.transport == "https" and not request.secure:
            return self.failure(7)
        user: ApiUser | None = None
        if security.auth != "none":
            login, user = self.accounts.check(
                request.method, request.headers.get("Authorization"), security.auth
            )
            if login is not Login.OK:
                return self._unauthorized(security.auth, login)
        if request.method not in {"GET", "POST"}:
            return self.failure(3)
        needed = endpoint.privilege
        if needed is not None and user is not None and needed not in user.privileges:
            return self.failure(10)
        params = dict(request.query)
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        try:
            result = await endpoint.handler(request, params, user)
        except ApiFailure as exc:
            return self.failure(exc.code, exc.param)
        if isinstance(result, web.StreamResponse):
            return result
        return self.success(result)

    def _unauthorized(self, scheme: AuthMode, login: Login) -> web.Response:
        code = 8 if login is Login.OTHER_SCHEME else 9
        response = self.failure(code, status=401)
        response.headers["WWW-Authenticate"] = self.accounts.challenge(
            scheme, stale=login is Login.STALE
        )
        return response

    def _json(self, document: Mapping[str, Any], *, status: int = 200) -> web.Response:
        if self.trailing_comma and document == {"success": True}:
            text = '{ "success" : true, }'  # as the wiki prints it (2.3)
        else:
            text = json.dumps(document, indent=2, separators=(",", " : "))
        return web.Response(
            status=status, body=text.encode(), headers={"Content-Type": "application/json"}
        )

    def success(self, result: Mapping[str, Any] | None) -> web.Response:
        document: dict[str, Any] = {"success": True}
        if result is not None:
            document["result"] = dict(result)
        return self._json(document)

    def failure(self, code: int, param: str | None = None, *, status: int = 200) -> web.Response:
        error: dict[str, Any] = {"code": code}
        if param is not None:
            error["param"] = param
        error["description"] = ERRORS[code]
        return self._json({"success": False, "error": error}, status=status)

    # -- system ------------------------------------------------------------------------------

    async def system_info(
        self, request: web.Request, params: dict[str, str], user: ApiUser | None
    ) -> dict[str, Any]:
        """The current wiki example's fields, or the older firmware example's before 2.33."""
        if self.version < (2, 33):
            return {
                "variant": self.variant,
                "serialNumber": self.serial,
                "hwVersion": self.hardware,
                "swVersion": self.firmware,
                "buildType": self.build_type,
                "deviceName": self.name,
            }
        return {
            "devType": "2-14-0-0",
            "variant": self.variant,
            "variantId": 14,
            "customerId": 0,
            "serialNumber": self.serial,
            "macAddr": self.mac_address,
            "hwVersion": self.hardware,
            "swVersion": self.firmware,
            "buildType": self.build_type,
            "deviceName": self.name,
        }

    async def system_status(
        self, request: web.Request, params: dict[str, str], user: ApiUser | None
    ) -> dict[str, Any]:
        now = self.clock.now()
        return {
            "systemTime": int(now.timestamp()),
            "upTime": int((now - self.boot).total_seconds()),
        }

    async def system_time(
        self, request: web.Request, params: dict[str, str], user: ApiUser | None
    ) -> dict[str, Any]:
        return {"utcTime": int(self.clock.now().timestamp()), "source": "ntp", "automatic": True}

    async def system_timezone(
        self, request: web.Request, params: dict[str, str], user: ApiUser | None
    ) -> dict[str, Any]:
        """IANA names with spaces (``America/Los Angeles``), or a custom ``UTC+02:00``."""
        if "/" in self.tz_name:
            return {"automatic": False, "zone": self.tz_name.replace("_", " ")}
        offset = self.clock.now().utcoffset() or timedelta()
        minutes = int(offset.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        hours, rest = divmod(abs(minutes), 60)
        return {"automatic": False, "zone": "custom", "custom": f"UTC{sign}{hours:02d}:{rest:02d}"}

    # -- camera ------------------------------------------------------------------------------

    async def camera_caps(
        self, request: web.Request, params: dict[str, str], user: ApiUser | None
    ) -> dict[str, Any]:
        listed = self.listed_resolutions or self.resolutions
        return {
            "jpegResolution": [{"width": w, "height": h} for w, h in listed],
            "sources": [{"source": s} for s in self.sources],
        }

    async def camera_snapshot(
        self, request: web.Request, params: dict[str, str], user: ApiUser | None
    ) -> web.StreamResponse:
        size = self._size(params)
        source = params.get("source") or self.default_source
        if source not in self.sources:
            raise ApiFailure(12, "source")
        channel = self.SOURCES.index(source) + 1
        if "time" in params:
            return await self._past(params["time"], channel, size)
        fps = _whole(params.get("fps", "0"), "fps", minimum=0)
        if fps >= 1:
            return await self._push(request, channel, size, min(fps, self.max_fps))
        async with self._snapshot_slots:  # one picture at a time, like a small device
            if self.snapshot_delay:
                await asyncio.sleep(self.snapshot_delay)
            moment = self.live_moment()
            jpeg = await self.frames.jpeg_async(channel, moment, size=size)
        return web.Response(body=jpeg, headers={"Content-Type": "image/jpeg"})

    def _size(self, params: dict[str, str]) -> tuple[int, int]:
        """The asked pair, which must be one the camera makes (11 or 12 naming the parameter)."""
        for name in ("width", "height"):
            if not params.get(name):
                raise ApiFailure(11, name)
        size = (_whole(params["width"], "width"), _whole(params["height"], "height"))
        if size not in self.resolutions:
            widths = {w for w, _ in self.resolutions}
            raise ApiFailure(12, "height" if size[0] in widths else "width")
        return size

    async def _past(self, text: str, channel: int, size: tuple[int, int]) -> web.Response:
        try:
            offset = float(text)
        except ValueError:
            raise ApiFailure(12, "time") from None
        # "within the intercom memory range: <-30, 0>": the range is what the memory holds
        if not -self.memory.seconds <= offset <= 0 or math.isnan(offset):
            raise ApiFailure(12, "time")
        width, height = size
        if width > PAST_LIMIT[0] or height > PAST_LIMIT[1]:
            if self.past_size == "refuse":
                raise ApiFailure(12, "width" if width > PAST_LIMIT[0] else "height")
            scale = min(PAST_LIMIT[0] / width, PAST_LIMIT[1] / height)
            size = (int(width * scale), int(height * scale))
        found = await self.memory.picture(channel, self.clock.now(), offset, size)
        if found is None:
            raise ApiFailure(12, "time")  # just dropped out of the memory
        return web.Response(body=found[1], headers={"Content-Type": "image/jpeg"})

    async def _push(
        self, request: web.Request, channel: int, size: tuple[int, int], fps: int
    ) -> web.StreamResponse:
        self.pushes += 1
        self.push_rates.append(fps)
        try:
            return await serve_parts(
                request, self._pictures(channel, size, fps), boundary=self.boundary
            )
        finally:
            self.pushes -= 1

    async def _pictures(
        self, channel: int, size: tuple[int, int], fps: int
    ) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not self._stopping:
            moment = self.clock.now()
            jpeg = await self.frames.jpeg_async(channel, moment, size=size)
            if self.part_length:
                yield part(jpeg, boundary=self.boundary)
            else:
                head = f"--{self.boundary}\r\nContent-Type: image/jpeg\r\n\r\n".encode()
                yield head + jpeg + b"\r\n"
            due += 1 / fps
            await asyncio.sleep(max(0.0, due - loop.time()))

    def _render(self, channel: int, moment: datetime, size: tuple[int, int]) -> bytes:
        return self.frames.jpeg(channel, moment, size=size)

    # -- log ---------------------------------------------------------------------------------

    async def log_caps(
        self, request: web.Request, params: dict[str, str], user: ApiUser | None
    ) -> dict[str, Any]:
        return {"events": list(LOG_EVENTS)}

    async def log_subscribe(
        self, request: web.Request, params: dict[str, str], user: ApiUser | None
    ) -> dict[str, Any]:
        include = params.get("include", "new")
        if include not in {"new", "all"} and not (
            include.startswith("-") and include[1:].isdigit()
        ):
            raise ApiFailure(12, "include")
        duration = _whole(params.get("duration", "90"), "duration", minimum=1)
        names = frozenset(n for n in params.get("filter", "").split(",") if n) or None
        sub = self.log.subscribe(user, include, float(duration), names)
        return {"id": sub.id}

    def _subscription(self, params: dict[str, str]) -> Subscription:
        if not params.get("id"):
            raise ApiFailure(11, "id")
        sub = self.log.find(_whole(params["id"], "id"))
        if sub is None:
            raise ApiFailure(12, "id")
        return sub

    async def log_pull(
        self, request: web.Request, params: dict[str, str], user: ApiUser | None
    ) -> dict[str, Any]:
        sub = self._subscription(params)
        timeout = _whole(params.get("timeout", "0"), "timeout", minimum=0)
        events = await self.log.pull(sub, float(timeout))
        if events is None:
            raise ApiFailure(12, "id")  # closed while this pull waited
        return {"events": [e.to_json() for e in events]}

    async def log_unsubscribe(
        self, request: web.Request, params: dict[str, str], user: ApiUser | None
    ) -> None:
        sub = self._subscription(params)
        del self.log.subscriptions[sub.id]
        sub.arrived.set()  # a pull waiting on it ends

    def emit(self, event: str, **params: Any) -> LogEvent:
        """Put an event in the log now (tests and demos; the generator uses it too)."""
        return self.log.emit(event, params)

    async def _happenings(self) -> None:
        """Life at the door: visitors who ring, cards, wrong codes, motion, tampering."""
        rnd = self._random
        while True:
            await asyncio.sleep(self.event_interval * rnd.uniform(0.5, 1.5))
            for delay, name, params in scenario(rnd):
                if delay:
                    await asyncio.sleep(delay)
                self.log.emit(name, params)


def scenario(rnd: random.Random) -> list[tuple[float, str, dict[str, Any]]]:
    """One thing that happens at the door, as (delay before it, event, params) steps."""
    what = rnd.choices(["visitor", "card", "code", "motion", "tamper"], [4, 3, 2, 3, 1])[0]
    if what == "visitor":
        peer = f"sip:{rnd.choice(['reception', 'flat12', 'porter'])}@10.0.0.20"
        return [
            (0.0, "MotionDetected", {"state": "in"}),
            (0.4, "KeyPressed", {"key": "%1"}),
            (0.1, "KeyReleased", {"key": "%1"}),
            (0.1, "CallStateChanged", {"direction": "outgoing", "state": "ringing", "peer": peer}),
            (
                1.0,
                "CallStateChanged",
                {"direction": "outgoing", "state": "connected", "peer": peer},
            ),
            (1.0, "SwitchStateChanged", {"switch": 1, "state": True, "originator": "dtmf"}),
            (
                0.5,
                "CallStateChanged",
                {"direction": "outgoing", "state": "terminated", "peer": peer},
            ),
            (1.5, "SwitchStateChanged", {"switch": 1, "state": False}),
            (1.0, "MotionDetected", {"state": "out"}),
        ]
    if what == "card":
        uid = f"{rnd.getrandbits(32):08X}"
        valid = rnd.random() < 0.8
        steps: list[tuple[float, str, dict[str, Any]]] = [
            (
                0.0,
                "CardEntered",
                {"direction": "in", "reader": "internal", "uid": uid, "valid": valid},
            )
        ]
        if valid:
            steps += [
                (0.1, "SwitchStateChanged", {"switch": 1, "state": True, "originator": "card"}),
                (2.0, "SwitchStateChanged", {"switch": 1, "state": False}),
            ]
        return steps
    if what == "code":
        code = "".join(rnd.choice("0123456789") for _ in range(4))
        return [(0.0, "CodeEntered", {"code": code, "valid": False})]
    if what == "motion":
        return [
            (0.0, "MotionDetected", {"state": "in"}),
            (rnd.uniform(1.0, 3.0), "MotionDetected", {"state": "out"}),
        ]
    return [
        (0.0, "TamperSwitchActivated", {"state": "in"}),
        (1.0, "TamperSwitchActivated", {"state": "out"}),
    ]


def _privileges(granted: frozenset[Privilege]) -> str:
    if granted == ALL_PRIVILEGES:
        return "all privileges"
    return "privileges: " + " ".join(sorted(granted)) if granted else "no privileges"


def _whole(text: str, name: str, *, minimum: int | None = None) -> int:
    """A whole-number parameter; error 12 naming it otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise ApiFailure(12, name) from None
    if minimum is not None and value < minimum:
        raise ApiFailure(12, name)
    return value


def fleet_member(number: int, *, latency: float, size: tuple[int, int]) -> TwoNSimulator:
    """One intercom of a benchmark fleet: Digest auth, ``latency`` s per snapshot, one at a time."""
    return TwoNSimulator(
        name=f"Intercom {number:03d}",
        tz="UTC",
        size=size,
        resolutions=(*DOCUMENTED_SIZES, size),
        frame_period=3600.0,
        https=False,
        event_interval=0.0,
        snapshot_concurrency=1,
        snapshot_delay=latency,
    )
