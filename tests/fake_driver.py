"""A driver with no wire protocol, for testing the jobs and CLI around the interface."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, tzinfo
from typing import ClassVar

from PIL import Image

from camfetch import timeutil
from camfetch.device import Device, StatusCallback
from camfetch.models import (
    Capability,
    Channel,
    DeviceEvent,
    DeviceInfo,
    DeviceKind,
    EventAction,
    Snapshot,
)


def jpeg(shade: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (shade, shade, shade)).save(buf, "JPEG")
    return buf.getvalue()


class FakeDevice(Device):
    schemes: ClassVar[tuple[str, ...]] = ("fake",)
    vendor: ClassVar[str] = "Fake"

    async def capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.SNAPSHOT, Capability.EVENTS, Capability.MJPEG})

    async def info(self) -> DeviceInfo:
        return DeviceInfo("Fake", "F1", "Fake Cam", DeviceKind.CAMERA, 2)

    async def channels(self) -> list[Channel]:
        return [Channel(1, "Gate", title="Front gate"), Channel(2, "Yard")]

    async def timezone(self) -> tzinfo:
        return UTC

    async def snapshot(self, channel: int = 1, *, size: tuple[int, int] | None = None) -> Snapshot:
        data = jpeg(40 * channel)
        return Snapshot(channel, data, "image/jpeg", timeutil.utcnow(), 64, 48)

    async def events(
        self, *, on_status: StatusCallback | None = None
    ) -> AsyncIterator[DeviceEvent]:
        if on_status:
            on_status("event stream open")
        for n, code in enumerate(("VideoMotion", "VideoMotion", "CrossLineDetection")):
            action = EventAction.START if n != 1 else EventAction.STOP
            yield DeviceEvent(timeutil.utcnow(), code, "motion", action, channel=1, data={"n": n})
        await asyncio.sleep(3600)

    async def mjpeg(self, channel: int = 1, *, fps: float | None = None) -> AsyncIterator[Snapshot]:
        shade = 0
        while True:
            shade = (shade + 10) % 250
            yield Snapshot(channel, jpeg(shade), "image/jpeg", timeutil.utcnow(), 64, 48)
            await asyncio.sleep(1 / (fps or 20))
