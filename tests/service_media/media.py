"""Helpers for the timelapse and grid tests: pictures, catalogs, configs, decoded video."""

from __future__ import annotations

import hashlib
import socket
import subprocess
from datetime import datetime, tzinfo
from pathlib import Path

from PIL import Image

from camfetch.device import Device
from camfetch.jobs.capture import save_snapshot
from camfetch.media.ffmpeg import ffmpeg_exe
from camfetch.service.catalog import Catalog
from camfetch.service.storage import LocalStorage, picture_key
from camfetch.sim.viewtron import ViewtronSimulator


async def capture(
    device: Device,
    catalog: Catalog,
    storage: LocalStorage,
    name: str,
    channel: int,
    times: list[datetime],
    tz: tzinfo,
    *,
    source: int | None = None,
) -> list[int]:
    """Snapshots from ``device`` stored and catalogued as if taken at ``times``; their ids.

    ``source`` is the device channel to take them from when it is not ``channel``.
    """
    device_id = await catalog.ensure_device(name, url=device.label, labels={})
    channel_id = await catalog.ensure_channel(device_id, channel, f"{name} channel {channel}")
    ids = []
    for when in times:
        key = picture_key(name, channel, when)
        saved = await save_snapshot(device, source or channel, storage.path(key), durable=False)
        snap = saved.snapshot
        capture_id = await catalog.add_capture(
            channel_id, job="timelapse", path=key,
            sha256=hashlib.sha256(snap.data).hexdigest(), size=snap.size,
            width=snap.width, height=snap.height, utc=when, device_time=when.astimezone(tz),
        )  # fmt: skip
        ids.append(capture_id)
    return ids


def video_frames(path: Path, size: tuple[int, int]) -> list[Image.Image]:
    """Every frame of an MP4, decoded by the real ffmpeg."""
    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24",
         "pipe:1"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    step = size[0] * size[1] * 3
    return [Image.frombytes("RGB", size, raw[i : i + step]) for i in range(0, len(raw), step)]


def mean(image: Image.Image) -> float:
    """Mean brightness (0-255)."""
    histogram = image.convert("L").histogram()
    return sum(i * n for i, n in enumerate(histogram)) / max(1, sum(histogram))


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two pictures of one size (0-255)."""
    from PIL import ImageChops

    return mean(ImageChops.difference(a, b))


def dead_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def device_entry(name: str, sim: ViewtronSimulator, *, channels: list[int] | None = None) -> str:
    """A YAML device entry for a simulator; the password comes from ${CAM_PW}."""
    entry = (
        f"  - name: {name}\n"
        f'    url: "viewtron://admin@127.0.0.1:{sim.port}?tz={sim.tz_name}"\n'
        f'    password: "${{CAM_PW}}"\n'
    )
    if channels:
        entry += f"    channels: {channels}\n"
    return entry


def offline_entry(name: str, *, channels: list[int] | None = None) -> str:
    entry = (
        f"  - name: {name}\n"
        f'    url: "viewtron://admin@127.0.0.1:{dead_port()}?timeout=2"\n'
        f'    password: "${{CAM_PW}}"\n'
    )
    if channels:
        entry += f"    channels: {channels}\n"
    return entry


def write_config(folder: Path, entries: list[str]) -> Path:
    path = folder / "camfetch.yaml"
    path.write_text("storage:\n  root: data\ndevices:\n" + "".join(entries), encoding="utf-8")
    return path
