"""The ``camfetch`` command: info, snapshot, search, export, sim, demo.

The command names and flags are a contract; docs/cli.md describes each one,
its output and its ``--json`` form. Exit codes: 0 ok, 2 bad usage,
3 authentication, 4 device refused, 5 nothing found, 6 unreachable or timed
out, 7 malformed answer, 8 unsupported, 9 media (ffmpeg) failure, 1 internal.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from camfetch import __version__, timeutil
from camfetch.address import DeviceAddress
from camfetch.cli import output
from camfetch.cli.output import note, print_json, run, say
from camfetch.device import Device
from camfetch.errors import NothingFoundError, UnsupportedError, UsageError
from camfetch.jobs.capture import save_snapshot, save_stream, snapshot_filename
from camfetch.jobs.evidence import export_evidence
from camfetch.models import Capability, RecordingSegment
from camfetch.registry import open_device

app = typer.Typer(
    name="camfetch",
    help="Pictures and video out of IP cameras, NVRs, intercoms and video servers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DeviceArg = Annotated[
    str,
    typer.Argument(
        metavar="DEVICE",
        help="Device URL, e.g. viewtron://admin@192.0.2.10?tz=Europe/Berlin "
        "(password from the URL, password_env=VAR, password_file=PATH or CAMFETCH_PASSWORD).",
    ),
]
ChannelOpt = Annotated[
    str, typer.Option("--channel", "-c", help="Channel: its number (from 1) or its name.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (see docs/cli.md).")]


def _version(value: bool) -> None:
    if value:
        say(f"camfetch {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """camfetch: one interface to Viewtron, Amcrest/Dahua, 2N and Flussonic devices."""


def _open(url: str) -> Device:
    address = DeviceAddress.parse(url)
    output.remember_secrets(address.secrets())
    return open_device(address)


async def _time(device: Device, text: str) -> datetime:
    """A TIME argument as an aware datetime; naive input is the device's local time."""
    return timeutil.resolve(timeutil.parse_user_time(text), await device.timezone())


def _target(out: str | None, default_name: Callable[[], Awaitable[str]]) -> Awaitable[Path]:
    """The file to write: ``-o FILE``, or the default name inside ``-o DIR/`` or here.

    A directory is an existing one or any path written with a trailing slash.
    """

    async def resolve() -> Path:
        if out is not None and not out.endswith(("/", "\\")) and not Path(out).is_dir():
            return Path(out)
        return Path(out or ".") / await default_name()

    return resolve()


def _fmt_duration(seconds: float) -> str:
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# -- info ------------------------------------------------------------------------------------


@app.command()
def info(device: DeviceArg, as_json: JsonOpt = False) -> None:
    """Show what the device is: vendor, model, firmware, API version, channels, capabilities."""
    run(_info(device, as_json))


async def _info(url: str, as_json: bool) -> None:
    async with _open(url) as device:
        details = await device.info()
        channels = await device.channels()
        caps = sorted(c.value for c in await device.capabilities())
    if as_json:
        print_json(
            {
                "device": device.address.masked(),
                "info": details.to_json(),
                "channels": [c.to_json() for c in channels],
                "capabilities": caps,
            }
        )
        return
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("Device", device.address.masked()),
        ("Vendor", details.vendor),
        ("Kind", details.kind.value),
        ("Model", details.model),
        ("Name", details.name),
        ("Serial", details.serial or "-"),
        ("Firmware", details.firmware or "-"),
        ("API version", details.api_version or "not reported"),
        ("MAC", details.mac or "-"),
        ("Time zone", details.time_zone or "-"),
        (
            "Clock skew",
            "-" if details.clock_skew_seconds is None else f"{details.clock_skew_seconds:+.0f} s",
        ),
        ("Capabilities", ", ".join(caps)),
    ]
    rows += [(f"  {k}", v) for k, v in sorted(details.extra.items())]
    for key, value in rows:
        table.add_row(key, output.clean(value))
    output.out.print(table)
    say(f"Channels ({len(channels)}):")
    for ch in channels:
        state = "" if ch.online is None else (" online" if ch.online else " OFFLINE")
        title = f" ({ch.title})" if ch.title and ch.title != ch.name else ""
        say(f"  {ch.number:>3}  {ch.name}{title}{state}")


# -- snapshot --------------------------------------------------------------------------------


@app.command()
def snapshot(
    device: DeviceArg,
    channel: ChannelOpt = "1",
    at: Annotated[
        str | None,
        typer.Option("--at", metavar="TIME", help="The frame at this past moment instead of live."),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option("-o", "--output", help="File to write, or a directory for the default name."),
    ] = None,
    size: Annotated[
        str | None,
        typer.Option("--size", metavar="WxH", help="Ask for this picture size (closest offered)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Save a live JPEG (or, with --at, the recorded frame at a past moment). Prints the path."""
    wanted = _parse_size(size) if size else None
    run(_snapshot(device, channel, at, out, wanted, as_json))


def _parse_size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or not int(width) or not int(height):
        raise typer.BadParameter(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 1280x720")
    return int(width), int(height)


async def _snapshot(
    url: str,
    channel_text: str,
    at_text: str | None,
    out: str | None,
    size: tuple[int, int] | None,
    as_json: bool,
) -> None:
    async with _open(url) as device:
        channel = await device.channel_number(channel_text)
        tz = await device.timezone()
        at = await _time(device, at_text) if at_text else None
        caps = await device.capabilities()
        needed = Capability.SNAPSHOT_AT if at else Capability.SNAPSHOT
        if needed not in caps:
            raise UnsupportedError(
                f"this device does not offer {needed.value}", device=device.label
            )
        if size and Capability.SNAPSHOT_SIZE not in caps:
            raise UnsupportedError("this device does not take a picture size", device=device.label)
        if at is not None and at > timeutil.utcnow() + timedelta(seconds=5):
            raise UsageError(f"--at {at_text}: that moment has not happened yet")

        async def default_name() -> str:
            details = await device.info()
            moment = (at or timeutil.utcnow()).astimezone(tz)
            return snapshot_filename(details.name, channel, moment)

        path = await _target(out, default_name)
        saved = await save_snapshot(device, channel, path, at=at, size=size)
    if as_json:
        data = saved.to_json()
        data["device"] = device.address.masked()
        print_json(data)
        return
    say(str(saved.path))
    snap = saved.snapshot
    if size and (snap.width, snap.height) != size:
        asked, got = f"{size[0]}x{size[1]}", f"{snap.width}x{snap.height}"
        note(f"the device offers no {asked}; took the closest, {got}")
    if at is not None and snap.requested_time is not None:
        shown = snap.device_time.isoformat()
        off = (snap.device_time - snap.requested_time).total_seconds()
        if abs(off) >= 1:
            asked = snap.requested_time.astimezone(snap.device_time.tzinfo).isoformat()
            side = "later" if off > 0 else "earlier"
            note(f"no frame at {asked}: the nearest is {abs(off):.0f} s {side}")
        note(
            f"frame at {shown} (device clock), "
            f"{snap.width}x{snap.height}, {snap.size} bytes from {snap.original_format}"
        )


# -- search ----------------------------------------------------------------------------------


@app.command()
def search(
    device: DeviceArg,
    start: Annotated[str, typer.Option("--from", metavar="TIME", help="Start of the range.")],
    end: Annotated[str, typer.Option("--to", metavar="TIME", help="End of the range.")],
    channel: ChannelOpt = "1",
    kinds: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            metavar="KIND",
            help="Recording type: schedule, motion, alarm, smart, manual, network, or the "
            "device's own name. Repeat for several; default all.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List recorded segments in a time range. Exit code 5 when nothing is recorded."""
    run(_search(device, channel, start, end, kinds, as_json))


async def _search(
    url: str,
    channel_text: str,
    start_text: str,
    end_text: str,
    kinds: list[str] | None,
    as_json: bool,
) -> int:
    async with _open(url) as device:
        channel = await device.channel_number(channel_text)
        start = await _time(device, start_text)
        end = await _time(device, end_text)
        tz = await device.timezone()
        if Capability.SEARCH not in await device.capabilities():
            raise UnsupportedError("this device cannot search recordings", device=device.label)
        found: list[RecordingSegment] = []
        with output.progress_bar("Searching", None) as bar:
            async for segment in device.search(channel, start, end, kinds):
                found.append(segment)
                bar.update(bar.task_ids[0], detail=f"{len(found)} segments")
    recorded = sum(s.duration for s in found)
    if as_json:
        print_json(
            {
                "device": device.address.masked(),
                "channel": channel,
                "from": start.astimezone(tz).isoformat(),
                "to": end.astimezone(tz).isoformat(),
                "types": kinds or [],
                "count": len(found),
                "recorded_seconds": round(recorded, 3),
                "segments": [s.to_json() for s in found],
            }
        )
    else:
        for seg in found:
            local_start = seg.start.astimezone(tz)
            local_end = seg.end.astimezone(tz)
            say(
                f"{local_start:%Y-%m-%d %H:%M:%S} – {local_end:%H:%M:%S}  "
                f"{_fmt_duration(seg.duration):>8}  {seg.vendor_kind}"
            )
        if found:
            span = (end - start).total_seconds()
            say(
                f"{len(found)} segments, {_fmt_duration(recorded)} recorded "
                f"({100 * recorded / span:.0f}% of the range), device time {timeutil.zone_name(tz)}"
            )
    if not found:
        raise NothingFoundError(
            f"nothing recorded on channel {channel} between {start.isoformat()} and "
            f"{end.isoformat()}",
            device=device.label,
        )
    return 0


# -- export ----------------------------------------------------------------------------------


@app.command()
def export(
    device: DeviceArg,
    start: Annotated[str, typer.Option("--from", metavar="TIME", help="Start of the clip.")],
    end: Annotated[
        str | None, typer.Option("--to", metavar="TIME", help="End of the clip.")
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option("--duration", metavar="SECONDS", min=0.001, help="Length instead of --to."),
    ] = None,
    channel: ChannelOpt = "1",
    out: Annotated[
        str | None,
        typer.Option("-o", "--output", help="MP4 file to write, or a directory."),
    ] = None,
    time_limit: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds of wall time (default: 2x length + 30)."),
    ] = None,
    manifest: Annotated[
        bool, typer.Option(help="Write <name>.manifest.json beside the clip.")
    ] = True,
    method: Annotated[
        str | None,
        typer.Option(
            "--method", help="rtsp or download, where the device offers both (default: its choice)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export a recorded clip to MP4 without re-encoding, verify it, and write a manifest."""
    if (end is None) == (duration is None):
        raise typer.BadParameter("give exactly one of --to and --duration")
    if method not in (None, "rtsp", "download"):
        raise typer.BadParameter("--method must be rtsp or download")
    run(_export(device, channel, start, end, duration, out, time_limit, manifest, method, as_json))


async def _export(
    url: str,
    channel_text: str,
    start_text: str,
    end_text: str | None,
    duration: float | None,
    out: str | None,
    time_limit: float | None,
    manifest: bool,
    method: str | None,
    as_json: bool,
) -> None:
    async with _open(url) as device:
        channel = await device.channel_number(channel_text)
        start = await _time(device, start_text)
        end = (
            await _time(device, end_text) if end_text else start + timedelta(seconds=duration or 0)
        )
        if end <= start:
            raise UsageError("--to must be after --from")
        if Capability.PLAYBACK not in await device.capabilities():
            raise UnsupportedError("this device offers no recorded video", device=device.label)
        tz = await device.timezone()
        length = (end - start).total_seconds()

        async def default_name() -> str:
            details = await device.info()
            stem = snapshot_filename(details.name, channel, start.astimezone(tz))
            return f"{stem.removesuffix('.jpg')}_{round(length)}s.mp4"

        path = await _target(out, default_name)
        with output.progress_bar("Exporting", length) as bar:
            task = bar.task_ids[0]

            def advance(seconds: float) -> None:
                bar.update(
                    task, completed=min(seconds, length), detail=f"{seconds:.1f}/{length:g} s"
                )

            evidence = await export_evidence(
                device, channel, start, end, path, progress=advance, time_limit=time_limit,
                manifest=manifest, method=method,
            )  # fmt: skip
    result = evidence.result
    if as_json:
        data = evidence.to_json()
        data["device"] = device.address.masked()
        print_json(data)
        return
    say(str(result.path))
    note(
        f"{result.codec.upper()} {result.width}x{result.height}, {result.duration:.1f} s "
        f"(asked {result.requested_duration:g} s), {result.frames} frames, "
        f"{result.size / 1e6:.1f} MB in {result.elapsed:.1f} s, sha256 {result.sha256[:16]}…"
    )
    if not result.complete:
        output.warn(
            f"the device had only {result.duration:.1f} s of video for the "
            f"{result.requested_duration:g} s asked (a gap or the end of the recording)"
        )
    if evidence.manifest:
        note(f"manifest: {evidence.manifest}")


# -- events ----------------------------------------------------------------------------------


@app.command()
def events(
    device: DeviceArg,
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Stop after this many events.")
    ] = None,
    seconds: Annotated[
        float | None, typer.Option("--duration", min=0.1, help="Stop after this many seconds.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Follow the device's events, one per line, until Ctrl-C (or --count / --duration)."""
    run(_events(device, count, seconds, as_json))


async def _events(url: str, count: int | None, seconds: float | None, as_json: bool) -> None:
    async with _open(url) as device:
        if Capability.EVENTS not in await device.capabilities():
            raise UnsupportedError("this device offers no event stream", device=device.label)
        tz = await device.timezone()
        seen = 0

        async def follow() -> None:
            nonlocal seen
            async for event in device.events(on_status=note):
                seen += 1
                if as_json:
                    output.print_json_line(event.to_json())
                else:
                    channel = f"ch{event.channel}" if event.channel is not None else "-"
                    data = json.dumps(event.data, ensure_ascii=False) if event.data else ""
                    say(
                        f"{event.time.astimezone(tz):%Y-%m-%d %H:%M:%S}  {channel:>4}  "
                        f"{event.kind:<8} {event.action.value:<5}  {event.code}  {data}".rstrip()
                    )
                if count is not None and seen >= count:
                    return

        with contextlib.suppress(TimeoutError):
            await output.until_interrupted(follow(), seconds)
    if not as_json:
        note(f"{seen} event{'s' if seen != 1 else ''}")


# -- stream ----------------------------------------------------------------------------------


@app.command()
def stream(
    device: DeviceArg,
    out: Annotated[Path, typer.Option("-o", "--output", help="Directory for the frames.")],
    channel: ChannelOpt = "1",
    fps: Annotated[
        float | None, typer.Option("--fps", min=0.1, help="Frames per second to ask for.")
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Stop after this many frames.")
    ] = None,
    seconds: Annotated[
        float | None, typer.Option("--duration", min=0.1, help="Stop after this many seconds.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Save the device's live MJPEG frames into a directory, until Ctrl-C (or a limit)."""
    run(_stream(device, channel, out, fps, count, seconds, as_json))


async def _stream(
    url: str,
    channel_text: str,
    out: Path,
    fps: float | None,
    count: int | None,
    seconds: float | None,
    as_json: bool,
) -> int:
    async with _open(url) as device:
        channel = await device.channel_number(channel_text)
        if Capability.MJPEG not in await device.capabilities():
            raise UnsupportedError("this device offers no MJPEG stream", device=device.label)
        details = await device.info()
        stop = output.interrupt_event()
        with output.progress_bar("Recording", count) as bar:
            summary = await save_stream(
                device, channel, out, name=details.name, fps=fps, count=count,
                seconds=seconds, stop=stop,
                on_frame=lambda saved: bar.advance(bar.task_ids[0]),
            )  # fmt: skip
    if as_json:
        data = summary.to_json()
        data["device"] = device.address.masked()
        data["channel"] = channel
        print_json(data)
    else:
        say(str(summary.folder))
        note(
            f"{summary.frames} frames, {summary.size / 1e6:.1f} MB, "
            f"{summary.fps:.1f} frames/s over {summary.seconds:.1f} s"
        )
    if summary.frames == 0:
        raise NothingFoundError("the stream delivered no frames", device=device.label)
    return 0


def _register_subcommands() -> None:
    from camfetch.cli import commands
    from camfetch.cli.demo import demo
    from camfetch.cli.sim import load_vendor_commands, sim_app
    from camfetch.cli.tour import tour

    load_vendor_commands()
    app.add_typer(sim_app, name="sim")
    app.command()(demo)
    app.command()(tour)
    commands.load(app)


_register_subcommands()


def main() -> None:
    app()
