"""2N IP intercoms (2N IP Verso, Vario, Force, Solo …) through the 2N HTTP API.

URL: ``2n://user:password@host[:port]`` with options

- ``https=1``: talk TLS (port 443 unless given); ``verify=0`` accepts the
  self-signed certificate these devices ship with (verification is on by default);
- ``auth=auto|digest|basic``: ``auto`` (default) answers the device's challenge,
  Digest being the device default; ``basic`` sends credentials preemptively;
- ``size=WxH``: the picture size to ask for when a command names none
  (default: the largest the device lists);
- ``tz=``, ``timeout=10``, ``max_requests=1``, ``password_env=``, ``password_file=``.

Wire facts follow ``protocols/2n.md``: every JSON answer is the envelope
``{"success": true, "result": …}`` or ``{"success": false, "error": {code,
param, description}}``, with HTTP 200 or 401, so ``success`` decides, not the
status. ``/api/camera/snapshot`` executes only a width/height pair that
``/api/camera/caps`` lists; this driver never sends another one. Channels are
the camera sources: 1 ``internal``, 2 ``external``. Past frames come from the
intercom's 30 s memory (``time`` −30…0, at most 1280x960), the MJPEG stream is
the same function with ``fps`` ≥ 1, and events are the device log, long-polled.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, ClassVar, TypeVar

import aiohttp

from camfetch import timeutil
from camfetch.address import DeviceAddress
from camfetch.device import Device, StatusCallback
from camfetch.errors import (
    AuthenticationError,
    CamfetchError,
    CorruptImageError,
    DeviceRefusedError,
    DeviceTimeoutError,
    MalformedResponseError,
    NothingFoundError,
    ResponseTooLargeError,
    UnreachableError,
    UnsupportedError,
    UsageError,
)
from camfetch.http import DeviceHttp, HttpPool, HttpSettings, Reply
from camfetch.http.client import MiB
from camfetch.http.multipart import boundary_of, iter_parts
from camfetch.media.jpeg import JpegInfo, inspect_jpeg, is_jpeg
from camfetch.models import (
    Capability,
    Channel,
    DeviceEvent,
    DeviceInfo,
    DeviceKind,
    EventAction,
    Snapshot,
)

JSON_CAP = 1 * MiB
SNAPSHOT_CAP = 16 * MiB
#: How far back the intercom remembers pictures, seconds (the snapshot page) [V].
MEMORY_SECONDS = 30
#: The largest picture a ``time`` request returns (the snapshot page) [V].
PAST_LIMIT = (1280, 960)
#: Push-stream rates integrations use [3P]; faster requests are asked at this rate.
MAX_FPS = 15
DEFAULT_FPS = 5.0
#: Long-poll length of /api/log/pull and the life of a subscription nobody pulls, seconds.
PULL_SECONDS = 25
SUBSCRIPTION_SECONDS = 90
BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)

T = TypeVar("T")


# -- errors ---------------------------------------------------------------------------------


class ApiRefusedError(DeviceRefusedError):
    """The device answered ``success: false``; ``param`` is the parameter it names."""

    def __init__(
        self,
        message: str,
        *,
        code: int,
        param: str | None,
        text: str,
        http_status: int,
        device: str | None = None,
    ) -> None:
        super().__init__(message, code=str(code), text=text, http_status=http_status, device=device)
        self.param = param


#: Every 2N error code: its description (1–4, 7, 8, 12 from the wiki; the rest after
#: py2n's names) and what camfetch makes of it.
ERRORS: dict[int, tuple[str, type[CamfetchError]]] = {
    1: ("function is not supported", UnsupportedError),
    2: ("invalid request path", UnsupportedError),
    3: ("invalid request method", ApiRefusedError),
    4: ("function is disabled", ApiRefusedError),
    7: ("invalid connection type", ApiRefusedError),
    8: ("invalid authentication method", AuthenticationError),
    9: ("authorization required", AuthenticationError),
    10: ("insufficient user privileges", ApiRefusedError),
    11: ("missing mandatory parameter", ApiRefusedError),
    12: ("invalid parameter value", ApiRefusedError),
    13: ("parameter data too big", ApiRefusedError),
    14: ("request processing failed", ApiRefusedError),
    15: ("no data available", NothingFoundError),
    17: ("parameter collision", ApiRefusedError),
    18: ("request rejected", ApiRefusedError),
    19: ("file version unsupported", ApiRefusedError),
}
_HINTS: dict[int, str] = {
    4: "enable it in the device's web interface (Services > HTTP API)",
    7: "this service accepts HTTPS only: add https=1 to the URL "
    "(and verify=0 for the device's self-signed certificate)",
    8: "this service wants the other authentication method: try auth=digest or auth=basic",
    9: "wrong user name or password",
}
#: The privilege each API group needs (wiki: services security, user accounts).
PRIVILEGES: dict[str, str] = {
    "camera": "Camera Monitoring",
    "system": "System Monitoring",
    "log": "monitoring privileges for the events",
}


@dataclass(frozen=True, slots=True)
class ApiError:
    """The ``error`` object of a failed answer."""

    code: int
    param: str | None
    description: str | None


def error_for(
    function: str, error: ApiError, *, http_status: int, account: str | None
) -> CamfetchError:
    """The typed error an error envelope stands for; its message names the parameter."""
    known, kind = ERRORS.get(error.code, ("unknown error", ApiRefusedError))
    text = error.description or known
    about = f", parameter {error.param!r}" if error.param else ""
    message = f"{function}: {text} (error {error.code}{about})"
    if error.code == 10:
        if account is None:
            return AuthenticationError(
                f"{message}: the device asks for credentials; put a user in the URL"
            )
        group = function.split("/", 1)[0]
        needed = PRIVILEGES.get(group, "needed")
        message += f": the API account {account!r} lacks the {needed} privilege"
    elif error.code in _HINTS:
        message += ": " + _HINTS[error.code]
    if kind is ApiRefusedError:
        return ApiRefusedError(
            message, code=error.code, param=error.param, text=text, http_status=http_status
        )
    return kind(message)


def _json_document(body: bytes) -> object | None:
    """The JSON value of a body, or None if it is not JSON.

    Tolerates the trailing comma the wiki prints in its examples (``{ "success" : true, }``).
    """
    if body.lstrip()[:1] not in (b"{", b"["):
        return None
    for candidate in (body, _TRAILING_COMMA.sub(rb"\1", body)):
        try:
            document: object = json.loads(candidate)
            return document
        except (ValueError, RecursionError):
            continue
    return None


_TRAILING_COMMA = re.compile(rb",\s*([}\]])")


def read_envelope(reply: Reply, function: str, *, account: str | None) -> dict[str, Any]:
    """The ``result`` of a successful answer ({} when there is none); typed errors otherwise."""
    document = _json_document(reply.body)
    if document is None:
        raise _not_json(reply, function, account=account)
    if not isinstance(document, dict) or not isinstance(document.get("success"), bool):
        raise MalformedResponseError(f"{function}: a JSON answer without the 'success' field")
    if document["success"]:
        result = document.get("result", {})
        if not isinstance(result, dict):
            raise MalformedResponseError(f"{function}: 'result' is not an object")
        return result
    raw = document.get("error")
    if not isinstance(raw, dict):
        raise MalformedResponseError(f"{function}: failed, without an 'error' object")
    raw_code = raw.get("code")
    try:
        if isinstance(raw_code, bool) or not isinstance(raw_code, int | str):
            raise ValueError
        code = int(raw_code)
    except ValueError:
        raise MalformedResponseError(f"{function}: failed with error code {raw_code!r}") from None
    param, description = raw.get("param"), raw.get("description")
    error = ApiError(
        code,
        str(param) if param not in (None, "") else None,
        str(description) if description not in (None, "") else None,
    )
    raise error_for(function, error, http_status=reply.status, account=account)


def _not_json(reply: Reply, function: str, *, account: str | None) -> CamfetchError:
    if reply.status == 401:
        if account is not None:
            return AuthenticationError(f"{function}: wrong user name or password (HTTP 401)")
        return AuthenticationError(
            f"{function}: the device asks for credentials; put a user in the URL"
        )
    if reply.status >= 400:
        return DeviceRefusedError(
            f"{function} failed: HTTP {reply.status}",
            code=f"HTTP {reply.status}",
            http_status=reply.status,
        )
    kind = reply.content_type or "no content type"
    start = reply.body.lstrip()[:15].lower()
    if "html" in kind or start.startswith((b"<!doctype", b"<html")):
        return MalformedResponseError(f"{function}: the device answered an HTML page ({kind})")
    return MalformedResponseError(
        f"{function}: expected a JSON answer, got {kind} ({len(reply.body)} bytes)"
    )


def picture_of(reply: Reply, function: str, *, account: str | None) -> bytes:
    """The JPEG of a snapshot answer; its error envelope (or anything else) as typed errors."""
    body = reply.body
    if reply.status == 200 and is_jpeg(body):
        return body
    if _json_document(body) is not None or reply.status >= 400:
        read_envelope(reply, function, account=account)
        raise MalformedResponseError(f"{function}: answered success without a picture")
    kind = reply.content_type or "no content type"
    if "html" in kind or body.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
        raise MalformedResponseError(f"{function}: the device answered an HTML page ({kind})")
    raise MalformedResponseError(
        f"{function}: not an image ({kind}, {len(body)} bytes starting {body[:8]!r})"
    )


# -- camera caps and picture sizes -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CameraCaps:
    """What /api/camera/caps lists: JPEG sizes (smallest first) and video sources."""

    sizes: tuple[tuple[int, int], ...]
    sources: tuple[str, ...]


def parse_caps(result: Mapping[str, Any]) -> CameraCaps:
    """Sizes and sources of a caps answer; entries that do not read as such are skipped."""
    sizes: set[tuple[int, int]] = set()
    entries = result.get("jpegResolution")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        try:
            width, height = int(entry["width"]), int(entry["height"])
        except (KeyError, TypeError, ValueError):
            continue
        if width > 0 and height > 0:
            sizes.add((width, height))
    sources: list[str] = []
    listed = result.get("sources")
    for entry in listed if isinstance(listed, list) else []:
        name = entry.get("source") if isinstance(entry, dict) else entry
        if isinstance(name, str) and name and name not in sources:
            sources.append(name)
    return CameraCaps(
        tuple(sorted(sizes, key=lambda s: (s[0] * s[1], s))),
        tuple(sources) or (("internal",) if sizes else ()),  # none listed: its own camera
    )


def size_distance(size: tuple[int, int], wanted: tuple[int, int]) -> float:
    """How far ``size`` is from ``wanted``: |ln(w/W)| + |ln(h/H)|.

    Scale-free (twice as wide counts as much as half as wide) and counting each
    dimension, so a listed size of the asked shape wins over one of similar area.
    """
    return abs(math.log(size[0] / wanted[0])) + abs(math.log(size[1] / wanted[1]))


@functools.lru_cache(maxsize=256)
def closest_size(
    sizes: tuple[tuple[int, int], ...],
    wanted: tuple[int, int] | None,
    *,
    limit: tuple[int, int] | None = None,
) -> tuple[int, int]:
    """The listed size to ask for: the closest to ``wanted`` (ties: the larger), or the largest.

    With ``limit``, only sizes within it count (the smallest listed if none is).
    Pure, and asked on every snapshot: answers are remembered.
    """
    listed = list(sizes)
    if not listed:
        raise ValueError("no sizes to choose from")
    pool = [s for s in listed if limit is None or (s[0] <= limit[0] and s[1] <= limit[1])]
    pool = pool or [min(listed, key=lambda s: s[0] * s[1])]
    if wanted is None:
        return max(pool, key=lambda s: (s[0] * s[1], s))
    return min(pool, key=lambda s: (round(size_distance(s, wanted), 9), -(s[0] * s[1])))


def parse_size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or not int(width) or not int(height):
        raise UsageError(f"option size={text!r}: expected WIDTHxHEIGHT, e.g. 1280x960")
    return int(width), int(height)


#: Channel numbers and titles of the sources 2N documents; others follow them.
_SOURCES: dict[str, tuple[int, str]] = {
    "internal": (1, "Internal camera"),
    "external": (2, "External IP camera"),
}


def source_channels(sources: Iterable[str], *, status: str | None = None) -> list[Channel]:
    """Channels for camera sources: ``internal`` is 1, ``external`` 2, any other after them."""
    channels: list[Channel] = []
    extra = max(number for number, _ in _SOURCES.values())
    for name in sources:
        if name in _SOURCES:
            number, title = _SOURCES[name]
        else:
            extra += 1
            number, title = extra, f"Camera source {name}"
        channels.append(Channel(number, name, status=status, kind="camera", title=title))
    return sorted(channels, key=lambda c: c.number)


class Pacer:
    """Which frames of a push stream to keep for ``rate`` frames per second.

    The device pushes whole frame rates only, so a rate of 2.5 is asked as 3
    and 0.5 as 1; the pacer keeps a frame when one is due and schedules the next
    from the due time (not the arrival), so the kept rate averages ``rate``.
    """

    SLACK = 0.02  # seconds of arrival jitter still counted as on time

    def __init__(self, rate: float, wire: int) -> None:
        self.gap = 1.0 / rate if rate < wire else 0.0
        self.due = -math.inf

    def keep(self, now: float) -> bool:
        if not self.gap:
            return True
        if now < self.due - self.SLACK:
            return False
        # From the due time while on schedule; from now after a stall (or at the start).
        start = self.due if now - self.due < self.gap else now
        self.due = start + self.gap
        return True


# -- the log --------------------------------------------------------------------------------

#: 2N log event names (wiki: Status > Events, 5.10.2) and camfetch's kinds for them.
EVENT_KINDS: dict[str, str] = {
    "MotionDetected": "motion",
    "NoiseDetected": "smart",
    "CallStateChanged": "call",
    "CallSessionStateChanged": "call",
    "DtmfEntered": "call",
    "DtmfPressed": "call",
    "DtmfSent": "call",
    "SwitchStateChanged": "door",
    "DoorStateChanged": "door",
    "DoorOpenTooLong": "door",
    "UnauthorizedDoorOpen": "door",
    "RexActivated": "door",
    "SwitchesBlocked": "door",
    "CodeEntered": "access",
    "CardEntered": "access",
    "CardHeld": "access",
    "FingerEntered": "access",
    "MobKeyEntered": "access",
    "AccessTaken": "access",
    "AccessLimited": "access",
    "AccessBlocked": "access",
    "UserAuthenticated": "access",
    "LoginBlocked": "access",
    "TamperSwitchActivated": "tamper",
    "InputChanged": "alarm",
    "OutputChanged": "alarm",
    "VirtualInputChanged": "alarm",
    "VirtualOutputChanged": "alarm",
    "SilentAlarm": "alarm",
    "RegistrationStateChanged": "network",
    "DeviceState": "system",
    "AudioLoopTest": "system",
    "ConfigurationChanged": "system",
    "CapabilitiesChanged": "system",
    "HardwareChanged": "system",
    "ErrorStateChanged": "system",
    "ExtCameraStateChanged": "system",
}
_STARTS = frozenset({"in", "ringing", "opened", "open", "on", "active"})
_STOPS = frozenset({"out", "terminated", "closed", "off", "inactive"})
#: Events about a camera source: the channel they belong to.
_EVENT_CHANNELS = {"MotionDetected": 1, "ExtCameraStateChanged": 2}


def event_kind(name: str, params: Mapping[str, Any]) -> str:
    """camfetch's kind of a 2N event; a key press is a call button (``%1``) or keypad entry."""
    if name in {"KeyPressed", "KeyReleased"}:
        return "call" if str(params.get("key", "")).startswith("%") else "access"
    return EVENT_KINDS.get(name, "other")


def event_action(name: str, params: Mapping[str, Any]) -> EventAction:
    """Start/stop from the ``state`` parameter (in/out, true/false, ringing/terminated …)."""
    if name == "KeyPressed":
        return EventAction.START
    if name == "KeyReleased":
        return EventAction.STOP
    state = params.get("state")
    if isinstance(state, bool):
        return EventAction.START if state else EventAction.STOP
    word = str(state).lower() if state is not None else ""
    if word in _STARTS or word == "true":
        return EventAction.START
    if word in _STOPS or word == "false":
        return EventAction.STOP
    return EventAction.PULSE


def parse_event(raw: object, tz: tzinfo) -> DeviceEvent | None:
    """One /api/log/pull entry as a DeviceEvent (None for an entry without an event name).

    ``utcTime`` is the device clock in Unix seconds; it is shown in the device's zone.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("event"), str):
        return None
    name: str = raw["event"]
    params = raw.get("params")
    details: dict[str, Any] = dict(params) if isinstance(params, dict) else {}
    try:
        when = datetime.fromtimestamp(int(raw["utcTime"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        when = timeutil.utcnow()
    return DeviceEvent(
        time=when.astimezone(tz),
        code=name,
        kind=event_kind(name, details),
        action=event_action(name, details),
        channel=_EVENT_CHANNELS.get(name),
        data=details,
    )


def zone_of(result: Mapping[str, Any]) -> tuple[tzinfo, str] | None:
    """The zone /api/system/timezone reports: an IANA name written with spaces
    (``America/Los Angeles``) or ``custom`` with ``UTC+02:00``."""
    zone = result.get("zone")
    if zone == "custom":
        custom = str(result.get("custom", "")).strip().upper()
        offset = custom.removeprefix("UTC").removeprefix("GMT").replace("±", "+")
        if not offset:
            return UTC, "UTC"
        if re.fullmatch(r"[+-]\d{1,2}(:\d{2})?", offset):
            sign, rest = offset[0], offset[1:]
            hours, _, minutes = rest.partition(":")
            text = f"{sign}{int(hours):02d}:{minutes or '00'}"
            return timeutil.zone(text), text
        return None
    if isinstance(zone, str) and zone.strip():
        name = zone.strip().replace(" ", "_")
        try:
            return timeutil.zone(name), name
        except UsageError:
            return None
    return None


# -- the device -----------------------------------------------------------------------------


class TwoNDevice(Device):
    """A 2N IP intercom: its system info, camera sources, past 30 s, push stream and log."""

    schemes: ClassVar[tuple[str, ...]] = ("2n",)
    vendor: ClassVar[str] = "2N"
    options: ClassVar[frozenset[str]] = frozenset({"https", "verify", "size"})

    def __init__(self, address: DeviceAddress, pool: HttpPool | None = None) -> None:
        super().__init__(address, pool)
        settings = HttpSettings.from_address(address, max_body=JSON_CAP)
        self.http = DeviceHttp.for_address(self.pool, address, label=self.label, settings=settings)
        size = address.option("size")
        self.size = parse_size(size) if size else None
        self._lock = asyncio.Lock()
        self._caps: CameraCaps | None = None
        self._sources: dict[int, str] = {}  # channel number -> camera source
        self._caps_problem: str | None = None  # why caps were refused, for channels()
        self._channels: list[Channel] | None = None
        self._skew: float | None = None
        self._clock_read = False

    # -- the device interface ------------------------------------------------------------

    async def capabilities(self) -> frozenset[Capability]:
        caps = {Capability.EVENTS}
        camera = await self._camera_caps_if_allowed()
        if camera is None or camera.sizes:  # a refused caps call: the snapshot will say why
            caps |= {
                Capability.SNAPSHOT,
                Capability.SNAPSHOT_SIZE,
                Capability.SNAPSHOT_AT,
                Capability.MJPEG,
            }
        return frozenset(caps)

    async def info(self) -> DeviceInfo:
        system = await self._call("system/info")
        if not self._clock_read:
            await self._read_clock()
        channels = await self.channels()

        def text(key: str) -> str | None:
            value = system.get(key)
            return (str(value).strip() or None) if value is not None else None

        extra = {
            key: value
            for key, name in (
                ("build_type", "buildType"),
                ("device_type", "devType"),
                ("variant_id", "variantId"),
                ("firmware_package", "firmwarePackage"),
            )
            if (value := text(name))
        }
        if self._caps is not None:
            extra["jpeg_sizes"] = " ".join(f"{w}x{h}" for w, h in self._caps.sizes)
        variant = text("variant")
        return DeviceInfo(
            vendor=self.vendor,
            model=variant or "2N intercom",
            name=text("deviceName") or variant or self.address.host,
            kind=DeviceKind.INTERCOM,
            channel_count=len(channels),
            serial=text("serialNumber"),
            firmware=text("swVersion"),
            mac=text("macAddr"),
            hardware=text("hwVersion"),
            time_zone=self._tz_name,
            clock_skew_seconds=self._skew,
            extra=extra,
        )

    async def channels(self) -> list[Channel]:
        if self._channels is None:
            camera = await self._camera_caps_if_allowed()
            if camera is None:  # the documented sources, whose state the device did not tell
                self._channels = source_channels(_SOURCES, status=self._caps_problem)
            else:
                self._channels = source_channels(camera.sources)
        return self._channels

    async def device_zone(self) -> tuple[tzinfo, str]:
        with contextlib.suppress(DeviceRefusedError, UnsupportedError, MalformedResponseError):
            found = zone_of(await self._call("system/timezone"))
            if found is not None:
                return found
        return await super().device_zone()

    async def _read_clock(self) -> None:
        """The device's zone and, from /api/system/time, its clock skew (if it tells)."""
        await self.timezone()
        self._clock_read = True
        try:
            result = await self._call("system/time")
            utc_time = float(result["utcTime"])
        except (DeviceRefusedError, UnsupportedError, MalformedResponseError):
            return  # older firmware, or an account without System privilege: skew unknown
        except (KeyError, TypeError, ValueError):
            return  # an answer without a readable utcTime: skew unknown
        # The device counts whole seconds: its clock is half a second further on average.
        self._skew = float(round(utc_time - timeutil.utcnow().timestamp() + 0.5))

    async def snapshot(self, channel: int = 1, *, size: tuple[int, int] | None = None) -> Snapshot:
        cached = self._caps is not None
        camera = await self._camera_caps()
        source = await self._source(channel)
        wanted = size or self.size
        params = _picture_params(closest_size(camera.sizes, wanted), source)
        try:
            data = await self._picture(params)
        except ApiRefusedError as exc:
            if not (cached and exc.code == "12" and exc.param in {"width", "height"}):
                raise
            # caps may have changed since they were read (settings, another camera): reread once
            camera = await self._camera_caps(refresh=True)
            params = _picture_params(closest_size(camera.sizes, wanted), source)
            data = await self._picture(params)
        return await self._frame(channel, data)

    async def snapshot_at(self, channel: int, when: datetime) -> Snapshot:
        if when.tzinfo is None:
            raise ValueError("snapshot_at needs an aware datetime")
        camera = await self._camera_caps()
        source = await self._source(channel)
        if not self._clock_read:
            await self._read_clock()
        tz = await self.timezone()
        now = await self._device_now()
        ago = (now - when).total_seconds()
        if ago < -2:
            raise UsageError(
                f"{when.astimezone(tz):%Y-%m-%d %H:%M:%S} is {-ago:.0f} s ahead of "
                "the device clock",
                device=self.label,
            )
        offset = -max(0, round(ago))
        if offset < -MEMORY_SECONDS:
            raise NothingFoundError(
                f"the intercom keeps only the last {MEMORY_SECONDS} s of pictures; "
                f"{when.astimezone(tz):%Y-%m-%d %H:%M:%S} is {-offset} s ago (device clock)",
                device=self.label,
            )
        params = _picture_params(closest_size(camera.sizes, self.size, limit=PAST_LIMIT), source)
        params["time"] = str(offset)
        try:
            data = await self._picture(params)
        except ApiRefusedError as exc:
            if exc.param != "time":
                raise
            raise NothingFoundError(
                f"the intercom no longer holds the picture of {-offset} s ago: it keeps less "
                f"than the documented {MEMORY_SECONDS} s (error 12, parameter 'time')",
                device=self.label,
            ) from None
        info = self._inspect(data)
        return Snapshot(
            channel=channel,
            data=data,
            content_type="image/jpeg",
            device_time=now + timedelta(seconds=offset),
            width=info.width,
            height=info.height,
            requested_time=when,
            source="archive",
        )

    async def mjpeg(self, channel: int = 1, *, fps: float | None = None) -> AsyncIterator[Snapshot]:
        """The push stream at ``fps`` (default 5): whole rates up to 15 are asked of the
        device, others are asked rounded up and thinned here (see :class:`Pacer`)."""
        rate = fps if fps is not None and fps > 0 else DEFAULT_FPS
        camera = await self._camera_caps()
        source = await self._source(channel)
        wire = min(MAX_FPS, max(1, math.ceil(rate)))
        params = _picture_params(closest_size(camera.sizes, self.size), source)
        params["fps"] = str(wire)
        pacer = Pacer(rate, wire)
        loop = asyncio.get_running_loop()
        async with self.http.stream(
            "GET",
            "/api/camera/snapshot",
            params=params,
            idle_timeout=self.http.settings.timeout + 1.0 / wire,
            accept_401=True,
        ) as reply:
            content_type = reply.headers.get("Content-Type", "")
            boundary = boundary_of(content_type)
            if "multipart" not in content_type.lower() or boundary is None:
                body = await _read_limited(reply.response.content, SNAPSHOT_CAP, self.label)
                single = self._checked(
                    lambda: picture_of(
                        Reply(reply.status, reply.headers, body),
                        "camera/snapshot",
                        account=self.address.username,
                    )
                )
                yield await self._frame(channel, single)  # a device that ignored fps
                return
            async for part in iter_parts(reply.content, boundary, max_part=SNAPSHOT_CAP):
                if pacer.keep(loop.time()):
                    yield await self._frame(channel, part.body)

    async def events(
        self, *, on_status: StatusCallback | None = None
    ) -> AsyncIterator[DeviceEvent]:
        """The device log, long-polled; resubscribed when forgotten, unsubscribed at the end.

        A log that cannot be followed at all fails at once; one that was followed and
        then fails is retried with backoff.
        """
        say: StatusCallback = on_status or (lambda message: None)
        tz = await self.timezone()
        subscription: int | None = None
        followed = False
        failures = 0
        try:
            while True:
                try:
                    if subscription is None:
                        subscription = await self._subscribe()
                        followed = True
                        say(
                            f"following the device log (subscription {subscription}, "
                            f"long polls of {PULL_SECONDS} s)"
                        )
                    batch = await self._pull(subscription)
                except ApiRefusedError as exc:
                    if subscription is None or exc.param != "id":
                        raise
                    say(
                        f"the device no longer knows subscription {subscription} (restarted, "
                        "or the subscription lapsed); subscribing again"
                    )
                    subscription = None
                    continue
                except CamfetchError as exc:
                    if not (followed and _transient(exc)):
                        raise
                    delay = BACKOFF[min(failures, len(BACKOFF) - 1)]
                    failures += 1
                    say(f"event log: {exc.message}; trying again in {delay:g} s")
                    await asyncio.sleep(delay)
                    continue
                failures = 0
                for raw in batch:
                    event = parse_event(raw, tz)
                    if event is not None:
                        yield event
        finally:
            if subscription is not None:
                with contextlib.suppress(CamfetchError):
                    await self._call(
                        "log/unsubscribe",
                        {"id": str(subscription)},
                        timeout=min(3.0, self.http.settings.timeout),
                    )

    # -- requests and answers --------------------------------------------------------------

    async def _call(
        self,
        function: str,
        params: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """``GET /api/<function>``: the result of its envelope, or a typed error."""
        reply = await self.http.request(
            "GET", f"/api/{function}", params=params, accept_401=True, timeout=timeout
        )
        return self._checked(lambda: read_envelope(reply, function, account=self.address.username))

    def _checked(self, read: Callable[[], T]) -> T:
        """Run a pure reader; name the device in its error and stop resending bad credentials."""
        try:
            return read()
        except AuthenticationError as exc:
            self.http.reject_credentials()
            raise exc.with_device(self.label) from None
        except CamfetchError as exc:
            raise exc.with_device(self.label) from None

    async def _picture(self, params: Mapping[str, str]) -> bytes:
        reply = await self.http.request(
            "GET", "/api/camera/snapshot", params=params, accept_401=True, max_body=SNAPSHOT_CAP
        )
        return self._checked(
            lambda: picture_of(reply, "camera/snapshot", account=self.address.username)
        )

    def _inspect(self, data: bytes) -> JpegInfo:
        try:
            return inspect_jpeg(data)
        except CorruptImageError as exc:
            raise exc.with_device(self.label) from None

    async def _frame(self, channel: int, data: bytes) -> Snapshot:
        """A live snapshot of ``data``, a JPEG checked here."""
        info = self._inspect(data)
        return Snapshot(
            channel=channel,
            data=data,
            content_type="image/jpeg",
            device_time=await self._device_now(),
            width=info.width,
            height=info.height,
            source="live",
        )

    async def _camera_caps(self, *, refresh: bool = False) -> CameraCaps:
        """/api/camera/caps, read once per device (again with ``refresh``)."""
        if self._caps is None or refresh:
            async with self._lock:
                if self._caps is None or refresh:
                    try:
                        self._caps = parse_caps(await self._call("camera/caps"))
                    except UnsupportedError:
                        self._caps = CameraCaps((), ())  # a model without camera (error 1 or 2)
                    self._channels = source_channels(self._caps.sources)
                    self._sources = {ch.number: ch.name for ch in self._channels}
        if not self._caps.sizes:
            raise UnsupportedError(
                "the device lists no JPEG resolution in /api/camera/caps "
                "(a model without camera, or the camera is off)",
                device=self.label,
            )
        return self._caps

    async def _camera_caps_if_allowed(self) -> CameraCaps | None:
        """Caps, or None when the device refuses them to this account or transport
        (no privilege, HTTPS only, service disabled): the picture calls then say why."""
        try:
            await self._camera_caps()
        except ApiRefusedError as exc:
            if exc.code == "10":
                self._caps_problem = "unknown: no Camera Monitoring privilege"
            else:
                self._caps_problem = f"unknown: camera/caps refused ({exc.text}, error {exc.code})"
            return None
        except UnsupportedError:
            pass  # no sizes: the caller sees an empty list
        return self._caps

    async def _source(self, channel: int) -> str:
        """The camera source of a channel (caps read); UsageError naming the real ones."""
        source = self._sources.get(channel)
        if source is not None:
            return source
        await self.check_channel(channel)  # names the channels that exist
        raise UsageError(f"channel {channel} does not exist on this device", device=self.label)

    async def _subscribe(self) -> int:
        result = await self._call(
            "log/subscribe", {"include": "new", "duration": str(SUBSCRIPTION_SECONDS)}
        )
        try:
            return int(result["id"])
        except (KeyError, TypeError, ValueError):
            raise MalformedResponseError(
                "log/subscribe: no subscription id in the answer", device=self.label
            ) from None

    async def _pull(self, subscription: int) -> list[Any]:
        """One long poll: events as they arrive, or [] after PULL_SECONDS.

        A stream, so the poll does not hold one of the device's request slots,
        bounded as a whole by PULL_SECONDS plus twice the request timeout.
        """
        limit = PULL_SECONDS + 2 * self.http.settings.timeout
        params = {"id": str(subscription), "timeout": str(PULL_SECONDS)}
        try:
            async with asyncio.timeout(limit):
                async with self.http.stream(
                    "GET",
                    "/api/log/pull",
                    params=params,
                    idle_timeout=PULL_SECONDS + self.http.settings.timeout,
                    accept_401=True,
                ) as reply:
                    body = await _read_limited(reply.response.content, JSON_CAP, self.label)
                    status, headers = reply.status, reply.headers
        except TimeoutError:
            raise DeviceTimeoutError(
                f"log/pull: no complete answer within {limit:g} s", device=self.label
            ) from None
        result = self._checked(
            lambda: read_envelope(
                Reply(status, headers, body), "log/pull", account=self.address.username
            )
        )
        events = result.get("events", [])
        if not isinstance(events, list):
            raise MalformedResponseError("log/pull: 'events' is not a list", device=self.label)
        return events

    async def _device_now(self) -> datetime:
        tz = await self.timezone()
        return (timeutil.utcnow() + timedelta(seconds=self._skew or 0.0)).astimezone(tz)


def _transient(error: CamfetchError) -> bool:
    """A failure worth trying again later: the network, a garbled answer, a server error."""
    if isinstance(error, UnreachableError | MalformedResponseError):
        return True
    return isinstance(error, DeviceRefusedError) and str(error.code).startswith("HTTP 5")


def _picture_params(size: tuple[int, int], source: str) -> dict[str, str]:
    return {"width": str(size[0]), "height": str(size[1]), "source": source}


async def _read_limited(content: aiohttp.StreamReader, cap: int, label: str) -> bytes:
    """A whole streamed body, but never more than ``cap`` bytes."""
    buffer = bytearray()
    while True:
        chunk = await content.read(cap + 1 - len(buffer))
        if not chunk:
            return bytes(buffer)
        buffer += chunk
        if len(buffer) > cap:
            raise ResponseTooLargeError(f"answer is over the {cap // 1024} KiB limit", device=label)
