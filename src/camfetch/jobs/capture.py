"""Saving pictures: fetch from a device, write atomically, describe what was saved."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from camfetch.device import Device
from camfetch.files import BackgroundWriter, safe_name
from camfetch.models import Snapshot


@dataclass(frozen=True, slots=True)
class SavedSnapshot:
    path: Path
    snapshot: Snapshot

    def to_json(self) -> dict[str, Any]:
        snap = self.snapshot
        return {
            "path": str(self.path),
            "channel": snap.channel,
            "device_time": snap.device_time.isoformat(),
            "requested_time": snap.requested_time.isoformat() if snap.requested_time else None,
            "source": snap.source,
            "width": snap.width,
            "height": snap.height,
            "size": snap.size,
            "content_type": snap.content_type,
            "original_format": snap.original_format,
        }


#: File writes of every job: two threads, in batches (see :class:`BackgroundWriter`).
WRITER = BackgroundWriter()


def snapshot_filename(device_name: str, channel: int, when: datetime) -> str:
    """``<device>_ch<N>_<YYYYmmdd-HHMMSS>.jpg`` in the device's own clock."""
    return f"{safe_name(device_name)}_ch{channel}_{when:%Y%m%d-%H%M%S}.jpg"


async def save_snapshot(
    device: Device,
    channel: int,
    path: Path,
    *,
    at: datetime | None = None,
    size: tuple[int, int] | None = None,
    durable: bool = True,
) -> SavedSnapshot:
    """Take a live snapshot (or the frame at ``at``) and write it atomically to ``path``.

    Drivers hand back checked JPEGs; the write happens in a writer thread so a
    slow disk never stalls other devices. ``durable`` also flushes the file to
    disk before the rename (costly at fleet rates; atomicity does not need it).
    """
    if at is None:
        snap = await device.snapshot(channel, size=size)
    else:
        snap = await device.snapshot_at(channel, at)
    await WRITER.write(path, snap.data, durable=durable)
    return SavedSnapshot(path, snap)


@dataclass(frozen=True, slots=True)
class StreamSummary:
    folder: Path
    frames: int
    size: int  # bytes written
    seconds: float  # wall time from the first frame to the last
    first: Path | None
    last: Path | None

    @property
    def fps(self) -> float:
        return (self.frames - 1) / self.seconds if self.frames > 1 and self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "frames": self.frames,
            "size": self.size,
            "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 2),
            "first": str(self.first) if self.first else None,
            "last": str(self.last) if self.last else None,
        }


async def save_stream(
    device: Device,
    channel: int,
    folder: Path,
    *,
    name: str,
    fps: float | None = None,
    count: int | None = None,
    seconds: float | None = None,
    stop: asyncio.Event | None = None,
    on_frame: Callable[[SavedSnapshot], None] | None = None,
) -> StreamSummary:
    """Save frames of the device's MJPEG stream into ``folder``.

    Ends after ``count`` frames, after ``seconds``, or when ``stop`` is set
    (Ctrl-C), whichever comes first. Files are
    ``<name>_ch<N>_<YYYYmmdd-HHMMSS>-<ms>_<seq>.jpg`` in the device's clock, each
    written atomically, so every file already named is complete.
    """
    loop = asyncio.get_running_loop()
    frames = size = 0
    first: Path | None = None
    last: Path | None = None
    started = ended = 0.0
    stem = f"{safe_name(name)}_ch{channel}"
    deadline = None if seconds is None else loop.time() + seconds
    stream = device.mjpeg(channel, fps=fps)
    stopped = asyncio.ensure_future(stop.wait()) if stop is not None else None
    try:
        while count is None or frames < count:
            arrival = asyncio.ensure_future(anext(stream))
            waiting = {arrival} if stopped is None else {arrival, stopped}
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            done, _ = await asyncio.wait(waiting, timeout=timeout, return_when="FIRST_COMPLETED")
            if arrival not in done:
                arrival.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await arrival
                break
            try:
                snap = arrival.result()
            except StopAsyncIteration:
                break
            when = snap.device_time
            stamp = f"{when:%Y%m%d-%H%M%S}-{when.microsecond // 1000:03d}"
            path = folder / f"{stem}_{stamp}_{frames:06d}.jpg"
            await WRITER.write(path, snap.data)
            frames += 1
            size += snap.size
            ended = loop.time()
            if first is None:
                first, started = path, ended
            last = path
            if on_frame is not None:
                on_frame(SavedSnapshot(path, snap))
    finally:
        if stopped is not None:
            stopped.cancel()
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()
    return StreamSummary(folder, frames, size, ended - started, first, last)
