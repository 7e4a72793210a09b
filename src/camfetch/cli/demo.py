"""``camfetch demo``: the whole tour against simulated devices, no hardware needed.

Starts a Viewtron IPC on API v1.9 and a 4-channel Viewtron NVR on API v2.0 (each
with its own clock zone, recordings of the last days and RTSP playback), then
does what a user would: device info, live snapshots of every channel, the frame
at a past moment, a recording search, and a clip export with its manifest.
"""

from __future__ import annotations

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
from camfetch.files import safe_name, write_atomic
from camfetch.http import HttpPool
from camfetch.jobs.capture import save_snapshot, snapshot_filename
from camfetch.jobs.evidence import export_evidence
from camfetch.models import Capability, RecordingKind
from camfetch.registry import open_device
from camfetch.sim.base import SimulatedDevice
from camfetch.sim.viewtron import ViewtronSimulator


def demo(
    out: Annotated[
        Path, typer.Option("-o", "--output", help="Directory for the demo's files.")
    ] = Path("camfetch-demo"),
    seconds: Annotated[
        int, typer.Option("--seconds", min=1, max=120, help="Length of the exported clips.")
    ] = 10,
) -> None:
    """Run the tour against a simulated Viewtron IPC (v1.9) and NVR (v2.0)."""
    run(_demo(out, seconds))


def demo_fleet() -> list[SimulatedDevice]:
    return [
        ViewtronSimulator(
            api="1.9", kind="ipc", name="Front Door", tz="America/New_York",
            snapshot_by_time="h264",
        ),
        ViewtronSimulator(
            api="2.0", kind="nvr", channels=4, name="Warehouse NVR", tz="Europe/Berlin",
        ),
    ]  # fmt: skip


async def _demo(out: Path, seconds: int) -> None:
    fleet = demo_fleet()
    pool = HttpPool()
    try:
        for sim in fleet:
            await sim.start()
        say(f"camfetch demo: {len(fleet)} simulated devices, files go to {out.resolve()}")
        for sim in fleet:
            say("")
            say(sim.describe())
            async with open_device(sim.device_url(), pool=pool) as device:
                await _tour(device, out / safe_name(sim.name), seconds)
    finally:
        await pool.close()
        for sim in fleet:
            await sim.stop()
    say("")
    say(f"Done. Everything the tour wrote is under {out.resolve()}")


async def _tour(device: Device, folder: Path, seconds: int) -> None:
    details = await device.info()
    channels = await device.channels()
    caps = await device.capabilities()
    tz = await device.timezone()
    say(
        f"  info: {details.vendor} {details.model} '{details.name}', {details.kind.value}, "
        f"firmware {details.firmware}, API {details.api_version or 'v1.x'}, "
        f"{len(channels)} channel(s), clock {details.time_zone}"
    )
    if Capability.SNAPSHOT in caps:
        for ch in channels:
            now = timeutil.utcnow().astimezone(tz)
            path = folder / "live" / snapshot_filename(details.name, ch.number, now)
            saved = await save_snapshot(device, ch.number, path)
            snap = saved.snapshot
            say(f"  snapshot ch{ch.number}: {snap.width}x{snap.height}, {snap.size} bytes → {path}")
    if Capability.SEARCH not in caps:
        return
    end = timeutil.utcnow()
    start = end - timedelta(hours=24)
    found = [seg async for seg in device.search(1, start, end)]
    kinds = Counter(seg.kind.value for seg in found)
    recorded = sum(seg.duration for seg in found)
    summary = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
    say(
        f"  search ch1, last 24 h: {len(found)} segments ({summary}), "
        f"{recorded / 3600:.1f} h recorded"
    )
    listing = {
        "channel": 1,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "segments": [seg.to_json() for seg in found],
    }
    write_atomic(folder / "search-ch1.json", (json.dumps(listing, indent=2) + "\n").encode())
    if not found:
        return
    if Capability.SNAPSHOT_AT in caps:
        past = next((s for s in reversed(found) if s.start < end - timedelta(hours=1)), found[0])
        moment = past.start + timedelta(seconds=min(5.0, past.duration / 2))
        path = folder / "past" / snapshot_filename(details.name, 1, moment.astimezone(tz))
        saved = await save_snapshot(device, 1, path, at=moment)
        say(
            f"  frame at {moment.astimezone(tz):%Y-%m-%d %H:%M:%S} (device time): "
            f"from {saved.snapshot.original_format} → {path}"
        )
    if Capability.PLAYBACK in caps:
        long_enough = [s for s in found if s.duration >= seconds and s.end < end]
        motion = [s for s in long_enough if s.kind is RecordingKind.MOTION]
        chosen = (motion or long_enough or found)[-1]
        clip_start = chosen.start
        clip = folder / f"{snapshot_filename(details.name, 1, clip_start.astimezone(tz))[:-4]}.mp4"
        with output.progress_bar(f"  exporting {seconds} s", seconds) as bar:
            evidence = await export_evidence(
                device, 1, clip_start, clip_start + timedelta(seconds=seconds), clip,
                progress=lambda t: bar.update(bar.task_ids[0], completed=min(t, seconds)),
            )  # fmt: skip
        result = evidence.result
        say(
            f"  export {chosen.vendor_kind} clip from {clip_start.astimezone(tz):%H:%M:%S}: "
            f"{result.codec.upper()} {result.width}x{result.height}, {result.duration:.1f} s, "
            f"{result.size / 1e6:.1f} MB → {clip}"
        )
        note(f"  manifest {evidence.manifest}, sha256 {result.sha256[:16]}…")
