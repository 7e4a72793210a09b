"""Saving pictures: fetch from a device, write atomically, describe what was saved."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from camfetch.device import Device
from camfetch.files import safe_name, write_atomic
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


@functools.cache
def _writers() -> ThreadPoolExecutor:
    """Two threads for file writes: a slow disk queues work instead of spawning threads,
    and never takes the default executor away from other work."""
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="camfetch-write")


def snapshot_filename(device_name: str, channel: int, when: datetime) -> str:
    """``<device>_ch<N>_<YYYYmmdd-HHMMSS>.jpg`` in the device's own clock."""
    return f"{safe_name(device_name)}_ch{channel}_{when:%Y%m%d-%H%M%S}.jpg"


async def save_snapshot(
    device: Device,
    channel: int,
    path: Path,
    *,
    at: datetime | None = None,
    durable: bool = True,
) -> SavedSnapshot:
    """Take a live snapshot (or the frame at ``at``) and write it atomically to ``path``.

    Drivers hand back checked JPEGs; the write happens in a writer thread so a
    slow disk never stalls other devices. ``durable`` also flushes the file to
    disk before the rename (costly at fleet rates; atomicity does not need it).
    """
    snap = await (device.snapshot(channel) if at is None else device.snapshot_at(channel, at))
    write = functools.partial(write_atomic, path, snap.data, durable=durable)
    await asyncio.get_running_loop().run_in_executor(_writers(), write)
    return SavedSnapshot(path, snap)
