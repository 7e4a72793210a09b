"""The device interface every vendor driver implements and every job uses.

A job never imports a vendor module: it opens a device by URL
(:func:`camfetch.registry.open_device`), asks :meth:`Device.capabilities`, and
calls the methods below. A method a device does not support raises
:class:`~camfetch.errors.UnsupportedError`; the capabilities say so beforehand.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime, tzinfo
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from camfetch import timeutil
from camfetch.address import DeviceAddress
from camfetch.errors import UnsupportedError, UsageError
from camfetch.http import HttpPool
from camfetch.models import (
    Capability,
    Channel,
    DeviceEvent,
    DeviceInfo,
    PlaybackSource,
    RecordingKind,
    RecordingSegment,
    Snapshot,
)

#: Receives one-line notes about a long-running stream ("lost, reconnecting in 2 s").
StatusCallback = Callable[[str], None]
#: Receives (bytes so far, total bytes or None) while a download runs.
DownloadProgress = Callable[[int, int | None], None]


class Device(ABC):
    """One camera, NVR, intercom or video server, reached through its native API."""

    #: URL schemes this driver answers to, e.g. ``("viewtron",)``.
    schemes: ClassVar[tuple[str, ...]] = ()
    #: Vendor name shown to users.
    vendor: ClassVar[str] = ""
    #: URL query options this driver understands beyond the common ones.
    options: ClassVar[frozenset[str]] = frozenset()

    _tz: tzinfo | None = None
    _tz_name: str | None = None

    def __init__(self, address: DeviceAddress, pool: HttpPool | None = None) -> None:
        address.check_options(self.options)
        self.address = address
        self._own_pool = pool is None
        self.pool = pool if pool is not None else HttpPool()

    @property
    def label(self) -> str:
        """The device as shown in messages and logs: no credentials."""
        return self.address.label

    async def close(self) -> None:
        if self._own_pool:
            await self.pool.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- what every device answers ---------------------------------------------------------

    @abstractmethod
    async def capabilities(self) -> frozenset[Capability]:
        """What this device supports; may ask the device (version detection)."""

    @abstractmethod
    async def info(self) -> DeviceInfo: ...

    @abstractmethod
    async def channels(self) -> list[Channel]: ...

    async def timezone(self) -> tzinfo:
        """The zone of the device's wall clock: the ``tz=`` option, else :meth:`device_zone`.
        Asked once; :attr:`_tz_name` says where it came from."""
        if self._tz is None:
            option = self.address.option("tz")
            if option:
                self._tz, self._tz_name = timeutil.zone(option), option
            else:
                self._tz, self._tz_name = await self.device_zone()
        return self._tz

    async def device_zone(self) -> tuple[tzinfo, str]:
        """The zone the device reports (or that its clock implies) and how to name it, for a
        URL without ``tz=``. Host local time unless a driver knows better."""
        return timeutil.local_zone(), "host local time (the device did not say)"

    # -- optional, announced by capabilities ----------------------------------------------

    async def snapshot(self, channel: int = 1, *, size: tuple[int, int] | None = None) -> Snapshot:
        """A live JPEG. ``size`` asks for a picture size; devices without
        :attr:`Capability.SNAPSHOT_SIZE` refuse it with UnsupportedError."""
        raise UnsupportedError(f"{self.vendor} driver has no live snapshot")

    async def snapshot_at(self, channel: int, when: datetime) -> Snapshot:
        raise UnsupportedError(f"{self.vendor} devices cannot give the frame at a past time")

    async def recording_kinds(self, channel: int = 1) -> list[str]:
        """The device's own names for the recording types it can search."""
        raise UnsupportedError(f"{self.vendor} devices cannot search recordings")

    def search(
        self,
        channel: int,
        start: datetime,
        end: datetime,
        kinds: Iterable[str] | None = None,
    ) -> AsyncIterator[RecordingSegment]:
        """Recorded segments overlapping [start, end], oldest first, clipped to the window.

        ``kinds`` holds camfetch kinds (``motion``) or the device's own names;
        None means every kind the device records.
        """
        raise UnsupportedError(f"{self.vendor} devices cannot search recordings")

    async def playback_source(
        self, channel: int, start: datetime, end: datetime, *, method: str | None = None
    ) -> PlaybackSource:
        """Where to read [start, end) of recorded video from.

        ``method`` forces a way (``rtsp`` or ``download``) where a device has
        several; None lets the driver choose.
        """
        raise UnsupportedError(f"{self.vendor} devices offer no recorded video")

    async def download(
        self,
        source: PlaybackSource,
        target: Path,
        *,
        progress: DownloadProgress | None = None,
    ) -> None:
        """Fetch an ``http`` playback source into ``target``.

        When ``target`` already holds the beginning of the file (an earlier,
        interrupted download) and the device allows byte ranges, the download
        resumes where it stopped.
        """
        raise UnsupportedError(f"{self.vendor} devices offer no downloads")

    def events(self, *, on_status: StatusCallback | None = None) -> AsyncIterator[DeviceEvent]:
        """The device's events as they happen, until cancelled.

        A stream that dies is reopened with backoff; ``on_status`` hears about it.
        """
        raise UnsupportedError(f"{self.vendor} devices offer no event stream")

    def mjpeg(self, channel: int = 1, *, fps: float | None = None) -> AsyncIterator[Snapshot]:
        """Live JPEG frames from a motion-JPEG stream, until cancelled."""
        raise UnsupportedError(f"{self.vendor} devices offer no MJPEG stream")

    # -- helpers for drivers ---------------------------------------------------------------

    async def channel_number(self, text: str) -> int:
        """A channel given by number or by name (case-insensitive), as users type it."""
        value = text.strip()
        if value.isdigit():
            number = int(value)
            await self.check_channel(number)
            return number
        channels = await self.channels()
        for ch in channels:
            if value.casefold() in {ch.name.casefold(), (ch.title or "").casefold()}:
                return ch.number
        names = ", ".join(f"{c.number} {c.name!r}" for c in channels)
        raise UsageError(f"no channel named {value!r} (channels: {names})", device=self.label)

    async def check_channel(self, channel: int) -> None:
        """Raise UsageError for a channel number the device does not have."""
        if channel < 1:
            raise UsageError(f"channel {channel}: channels are numbered from 1")
        known = [c.number for c in await self.channels()]
        if known and channel not in known:
            raise UsageError(
                f"channel {channel} does not exist on this device (channels: {_ranges(known)})",
                device=self.label,
            )

    @staticmethod
    def check_window(start: datetime, end: datetime) -> None:
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be aware datetimes")
        if end <= start:
            raise UsageError("the end of the time range must be after its start")


def wanted_kinds(
    requested: Iterable[str] | None,
    offered: dict[str, RecordingKind],
) -> list[str]:
    """Map requested kinds (camfetch or vendor names) to the vendor names a device offers.

    ``offered`` maps each vendor name the device listed to its camfetch kind.
    """
    if requested is None:
        return list(offered)
    names: list[str] = []
    for raw in requested:
        want = raw.strip()
        lowered = want.lower()
        matches = [
            vendor
            for vendor, kind in offered.items()
            if vendor.lower() == lowered or kind.value == lowered
        ]
        if not matches:
            choices = sorted({k.value for k in offered.values()} | set(offered))
            raise UsageError(
                f"recording type {want!r} is not offered by this device "
                f"(it offers: {', '.join(choices)})"
            )
        names += [m for m in matches if m not in names]
    return names


def _ranges(numbers: list[int]) -> str:
    nums = sorted(set(numbers))
    parts: list[str] = []
    start = prev = nums[0]
    for n in [*nums[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(parts)
