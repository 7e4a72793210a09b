"""``camfetch tour``: what camfetch does, device by device, on the simulated fleet.

For every simulated device (one or more of every vendor) the tour asks what it
can do and then does it: device info, live snapshots of every channel, the
frame at a past moment, a recording search, a clip export with its manifest,
a few events and a few MJPEG frames. It is written against the device
interface only, as every job is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from camfetch import timeutil
from camfetch.cli import output
from camfetch.cli.output import note, run, say
from camfetch.device import Device
from camfetch.errors import CamfetchError
from camfetch.files import write_atomic
from camfetch.http import HttpPool
from camfetch.jobs.capture import save_snapshot, save_stream, snapshot_filename
from camfetch.jobs.evidence import export_evidence
from camfetch.models import Capability, RecordingKind
from camfetch.registry import open_device
from camfetch.sim import demo_fleet


def tour(
    out: Annotated[
        Path, typer.Option("-o", "--output", help="Directory for the tour's files.")
    ] = Path("camfetch-tour"),
    seconds: Annotated[
        int, typer.Option("--seconds", min=1, max=120, help="Length of the exported clips.")
    ] = 10,
) -> None:
    """Show every capability of every vendor on the simulated fleet, writing real files."""
    run(_tour(out, seconds))


async def _tour(out: Path, seconds: int) -> None:
    fleet = demo_fleet.demo_fleet()
    pool = HttpPool()
    try:
        await demo_fleet.start(fleet)
        say(f"camfetch tour: {len(fleet)} simulated devices, files go to {out.resolve()}")
        for member in fleet:
            say("")
            say(member.device.describe())
            async with open_device(demo_fleet.url(member), pool=pool) as device:
                try:
                    await visit(device, out / member.key, seconds)
                except CamfetchError as exc:
                    output.warn(f"{member.key}: {exc}")
    finally:
        await pool.close()
        await demo_fleet.stop(fleet)
    say("")
    say(f"Done. Everything the tour wrote is under {out.resolve()}")


async def visit(device: Device, folder: Path, seconds: int) -> None:
    """Everything ``device`` can do, once."""
    details = await device.info()
    channels = await device.channels()
    caps = await device.capabilities()
    tz = await device.timezone()
    say(
        f"  info: {details.vendor} {details.model} '{details.name}', {details.kind.value}, "
        f"firmware {details.firmware or '-'}, API {details.api_version or '-'}, "
        f"{len(channels)} channel(s), clock {details.time_zone}; "
        f"can: {', '.join(sorted(c.value for c in caps))}"
    )
    if Capability.SNAPSHOT in caps:
        for ch in channels:
            now = timeutil.utcnow().astimezone(tz)
            path = folder / "live" / snapshot_filename(details.name, ch.number, now)
            snap = (await save_snapshot(device, ch.number, path)).snapshot
            say(f"  snapshot ch{ch.number}: {snap.width}x{snap.height}, {snap.size} bytes → {path}")
    found = []
    if Capability.SEARCH in caps:
        end = timeutil.utcnow()
        start = end - timedelta(hours=24)
        found = [seg async for seg in device.search(1, start, end)]
        kinds = Counter(seg.kind.value for seg in found)
        summary = ", ".join(f"{n} {k}" for k, n in kinds.most_common()) or "nothing"
        say(f"  search ch1, last 24 h: {len(found)} segments ({summary})")
        listing = {
            "channel": 1,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "segments": [seg.to_json() for seg in found],
        }
        write_atomic(folder / "search-ch1.json", (json.dumps(listing, indent=2) + "\n").encode())
    if Capability.SNAPSHOT_AT in caps:
        if found:
            earlier = [s for s in found if s.start < timeutil.utcnow() - timedelta(hours=1)]
            segment = (earlier or found)[-1]
            moment = segment.start + timedelta(seconds=min(5.0, segment.duration / 2))
        else:  # no recordings to search (2N keeps only the last 30 s)
            moment = timeutil.utcnow() - timedelta(seconds=10)
        path = folder / "past" / snapshot_filename(details.name, 1, moment.astimezone(tz))
        saved = await save_snapshot(device, 1, path, at=moment)
        say(
            f"  frame at {moment.astimezone(tz):%Y-%m-%d %H:%M:%S} (device time) from "
            f"{saved.snapshot.original_format} → {path}"
        )
    if Capability.PLAYBACK in caps and found:
        await _export(device, folder, found, seconds)
    if Capability.EVENTS in caps:
        await _events(device)
    if Capability.MJPEG in caps:
        frames = await save_stream(device, 1, folder / "mjpeg", name=details.name, count=5)
        say(f"  MJPEG ch1: {frames.frames} frames → {frames.folder}")


async def _export(device: Device, folder: Path, found: list, seconds: int) -> None:  # type: ignore[type-arg]
    tz = await device.timezone()
    details = await device.info()
    end = timeutil.utcnow()
    long_enough = [s for s in found if s.duration >= seconds and s.end < end]
    motion = [s for s in long_enough if s.kind is RecordingKind.MOTION]
    chosen = (motion or long_enough or found)[-1]
    start = chosen.start
    clip = folder / f"{snapshot_filename(details.name, 1, start.astimezone(tz))[:-4]}.mp4"
    with output.progress_bar(f"  exporting {seconds} s", seconds) as bar:
        evidence = await export_evidence(
            device, 1, start, start + timedelta(seconds=seconds), clip,
            progress=lambda t: bar.update(bar.task_ids[0], completed=min(t, seconds)),
        )  # fmt: skip
    result = evidence.result
    say(
        f"  export {chosen.vendor_kind} clip from {start.astimezone(tz):%H:%M:%S} "
        f"({evidence.source.protocol}): {result.codec.upper()} {result.width}x{result.height}, "
        f"{result.duration:.1f} s, {result.size / 1e6:.1f} MB → {clip}"
    )
    note(f"  manifest {evidence.manifest}, sha256 {result.sha256[:16]}…")


async def _events(device: Device, count: int = 2, wait: float = 10.0) -> None:
    seen: list[str] = []

    async def follow() -> None:
        async for event in device.events():
            seen.append(f"{event.kind} {event.action.value} ({event.code})")
            if len(seen) >= count:
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(follow(), wait)
    say(f"  events: {'; '.join(seen) if seen else f'none within {wait:g} s'}")
