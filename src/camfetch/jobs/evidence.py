"""Evidence retrieval: a recorded clip exported to MP4 with a manifest beside it.

The manifest records what was asked (channel, time range in UTC and on the
device's clock), where it came from (device identity, masked source URL),
how (stream copy, no re-encoding, tool versions) and what came out (size,
SHA-256, codec, frame size, duration), so the file can be checked later by
anyone who holds it. It never contains credentials.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from camfetch import __version__, timeutil
from camfetch.device import Device, DownloadProgress
from camfetch.errors import NothingFoundError
from camfetch.files import write_atomic
from camfetch.media.export import ExportResult, Progress, export_clip
from camfetch.models import Capability, PlaybackSource, RecordingSegment

MANIFEST_FORMAT = "camfetch-evidence/1"


@dataclass(frozen=True, slots=True)
class Evidence:
    result: ExportResult
    source: PlaybackSource
    manifest: Path | None

    def to_json(self) -> dict[str, Any]:
        out = self.result.to_json()
        out["channel"] = self.source.channel
        out["start"] = self.source.start.isoformat()
        out["end"] = self.source.end.isoformat()
        out["manifest"] = str(self.manifest) if self.manifest else None
        return out


def manifest_path(output: Path) -> Path:
    return output.with_name(output.stem + ".manifest.json")


async def export_evidence(
    device: Device,
    channel: int,
    start: datetime,
    end: datetime,
    output: Path,
    *,
    progress: Progress | None = None,
    time_limit: float | None = None,
    io_timeout: float = 10.0,
    manifest: bool = True,
    method: str | None = None,
) -> Evidence:
    """Export [start, end) of ``channel`` to ``output``; write the manifest unless asked not to.

    ``method`` (``rtsp`` or ``download``) forces how the video is read where the
    device offers several ways; by default the driver chooses.
    """
    info = await device.info()
    tz = await device.timezone()
    recorded = await _recorded(device, channel, start, end)
    expected: float | None = None
    if recorded is not None:
        if not recorded:
            raise NothingFoundError(
                f"nothing recorded on channel {channel} between {start.isoformat()} "
                f"and {end.isoformat()}",
                device=device.label,
            )
        # Playback starts at the first recorded frame and keeps gaps in the timestamps.
        expected = (min(end, recorded[-1].end) - max(start, recorded[0].start)).total_seconds()
    source = await device.playback_source(channel, start, end, method=method)

    async def fetch(target: Path, progress: DownloadProgress) -> None:
        await device.download(source, target, progress=progress)

    started = datetime.now(UTC)
    result = await export_clip(
        source,
        output,
        fetch=fetch,
        secrets=device.address.secrets(),
        progress=progress,
        time_limit=time_limit,
        io_timeout=io_timeout,
        expect_duration=expected,
    )
    finished = datetime.now(UTC)
    written: Path | None = None
    if manifest:
        document = {
            "format": MANIFEST_FORMAT,
            "file": {
                "name": output.name,
                "size": result.size,
                "sha256": result.sha256,
                "codec": result.codec,
                "width": result.width,
                "height": result.height,
                "duration": round(result.duration, 3),
                "frames": result.frames,
            },
            "requested": {
                "channel": channel,
                "start_utc": source.start.astimezone(UTC).isoformat(),
                "end_utc": source.end.astimezone(UTC).isoformat(),
                "start_device": timeutil.format_wall(source.start, tz),
                "end_device": timeutil.format_wall(source.end, tz),
                "device_time_zone": info.time_zone or timeutil.zone_name(tz),
                "duration": round(source.duration, 3),
                "complete": result.complete,
                "recorded_segments": None
                if recorded is None
                else [seg.to_json() for seg in recorded],
            },
            "device": {
                "url": device.address.masked(),
                "vendor": info.vendor,
                "model": info.model,
                "name": info.name,
                "serial": info.serial,
                "firmware": info.firmware,
                "api_version": info.api_version,
                "mac": info.mac,
                "clock_skew_seconds": info.clock_skew_seconds,
            },
            "source": {
                "protocol": source.protocol,
                "url": source.display_url,
                "container": source.container,
                "method": "stream copy (no re-encoding), audio dropped"
                if source.container != "mp4" or source.protocol == "rtsp"
                else "the device's MP4, unchanged",
            },
            "export": {
                "started_utc": started.isoformat(),
                "finished_utc": finished.isoformat(),
                "elapsed_seconds": round(result.elapsed, 3),
                "tool": f"camfetch {__version__}",
                "ffmpeg": result.ffmpeg_version,
                "host": platform.node(),
            },
        }
        written = manifest_path(output)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        write_atomic(written, text.encode("utf-8"))
    return Evidence(result, source, written)


async def _recorded(
    device: Device, channel: int, start: datetime, end: datetime
) -> list[RecordingSegment] | None:
    """What the device holds for the range, or None if it cannot search."""
    if Capability.SEARCH not in await device.capabilities():
        return None
    return [seg async for seg in device.search(channel, start, end)]
