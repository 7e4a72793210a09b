"""Domain types shared by every driver and job.

Times are always timezone-aware datetimes here; drivers convert to and from
the device's local wall clock at the edge. Channel numbers are 1-based, as
camfetch shows them to users, whatever the device uses on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Capability(StrEnum):
    """What a device can do; ask ``Device.capabilities()`` rather than guess."""

    SNAPSHOT = "snapshot"  # live JPEG
    SNAPSHOT_SIZE = "snapshot_size"  # the device makes snapshots at a size asked for
    SNAPSHOT_AT = "snapshot_at"  # the frame at a past moment
    SEARCH = "search"  # recording search by time range and kind
    PLAYBACK = "playback"  # a source for clip export (RTSP playback or download)
    EVENTS = "events"  # an event stream
    MJPEG = "mjpeg"  # a live MJPEG stream


class DeviceKind(StrEnum):
    CAMERA = "camera"
    NVR = "nvr"
    INTERCOM = "intercom"
    MEDIA_SERVER = "media-server"


class RecordingKind(StrEnum):
    """camfetch's names for recording types; drivers map vendor names onto them."""

    SCHEDULE = "schedule"
    MOTION = "motion"
    ALARM = "alarm"  # alarm input / sensor
    SMART = "smart"  # intelligent detection (person, vehicle, line crossing …)
    MANUAL = "manual"
    NETWORK = "network"  # recorded to local storage while the network was down
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    vendor: str
    model: str
    name: str
    kind: DeviceKind
    channel_count: int
    serial: str | None = None
    firmware: str | None = None
    api_version: str | None = None
    mac: str | None = None
    hardware: str | None = None
    time_zone: str | None = None
    clock_skew_seconds: float | None = None  # device clock minus host clock
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "model": self.model,
            "name": self.name,
            "kind": self.kind.value,
            "channel_count": self.channel_count,
            "serial": self.serial,
            "firmware": self.firmware,
            "api_version": self.api_version,
            "mac": self.mac,
            "hardware": self.hardware,
            "time_zone": self.time_zone,
            "clock_skew_seconds": self.clock_skew_seconds,
            "extra": dict(self.extra),
        }


@dataclass(frozen=True, slots=True)
class Channel:
    number: int  # 1-based
    name: str
    online: bool | None = None
    status: str | None = None  # the device's own word for it
    kind: str | None = None
    title: str | None = None  # a second, human name where devices have one (Watcher)

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "name": self.name,
            "title": self.title,
            "online": self.online,
            "status": self.status,
            "kind": self.kind,
        }


@dataclass(frozen=True, slots=True)
class Snapshot:
    channel: int
    data: bytes = field(repr=False)
    content_type: str
    device_time: datetime  # the moment the picture shows, aware
    width: int | None = None
    height: int | None = None
    requested_time: datetime | None = None  # for pictures from the past
    source: str = "live"  # "live" or "archive"
    original_format: str = "jpeg"  # what the device sent before any conversion

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class RecordingSegment:
    channel: int
    start: datetime
    end: datetime
    kind: RecordingKind
    vendor_kind: str

    @property
    def duration(self) -> float:
        return (self.end - self.start).total_seconds()

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "duration": round(self.duration, 3),
            "kind": self.kind.value,
            "vendor_kind": self.vendor_kind,
        }


@dataclass(frozen=True, slots=True)
class PlaybackSource:
    """Where recorded video for a time range can be read from.

    ``url`` carries credentials for the reading process (ffmpeg) and must never
    be shown; ``display_url`` is the same with the credentials masked.
    """

    channel: int
    start: datetime
    end: datetime
    url: str = field(repr=False)
    display_url: str
    protocol: str = "rtsp"  # "rtsp" (ffmpeg reads it) or "http" (the driver downloads it)
    container: str | None = None  # what a download holds: "dhav", "mp4"; None: autodetect
    realtime: bool = True  # the device sends at playback speed
    size_hint: int | None = None  # bytes, when the device says how big a download is
    resumable: bool = False  # a download can continue where it stopped (HTTP ranges)
    offset: float = 0.0  # seconds into a downloaded file where the range begins

    @property
    def duration(self) -> float:
        return (self.end - self.start).total_seconds()


class EventAction(StrEnum):
    START = "start"
    STOP = "stop"
    PULSE = "pulse"  # an event without duration (a log entry, a button press)


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """Something a device reported: motion began, a door opened, a call came in.

    ``code`` is the device's own name (``VideoMotion``, ``MotionDetected``);
    ``kind`` is camfetch's word for it (``motion``, ``smart``, ``alarm``,
    ``tamper``, ``call``, ``door``, ``access``, ``storage``, ``network``,
    ``system``, ``other``). ``channel`` is 1-based, None when the event is not
    about a channel. ``data`` carries the device's details as it sent them.
    """

    time: datetime  # aware
    code: str
    kind: str
    action: EventAction
    channel: int | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(),
            "code": self.code,
            "kind": self.kind,
            "action": self.action.value,
            "channel": self.channel,
            "data": self.data,
        }
