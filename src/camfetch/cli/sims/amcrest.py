"""``camfetch sim amcrest``: an Amcrest / Dahua camera or NVR (HTTP CGI API, RTSP playback)."""

from __future__ import annotations

from typing import Annotated

import typer

from camfetch.cli.output import run
from camfetch.cli.sim import (
    FaultOnOpt,
    FaultOpt,
    FaultRateOpt,
    HostOpt,
    LatencyOpt,
    PasswordOpt,
    PortOpt,
    SkewOpt,
    TzOpt,
    UserOpt,
    apply_faults,
    check_choices,
    serve_until_stopped,
    sim_app,
)
from camfetch.sim.base import DEFAULT_PASSWORD, DEFAULT_USER
from camfetch.sim.faults import Fault


@sim_app.command("amcrest")
def amcrest(
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            help="legacy: 2016 Amcrest firmware (Basic and Digest, errors as 200 + ErrorID); "
            "modern: current Dahua firmware (Digest only, 400/501 errors).",
        ),
    ] = "modern",
    channels: Annotated[
        int, typer.Option("--channels", min=1, max=64, help="Video inputs; more than 1: an NVR.")
    ] = 1,
    port: PortOpt = 0,
    rtsp_port: Annotated[int, typer.Option("--rtsp-port", min=0, max=65535)] = 0,
    user: UserOpt = DEFAULT_USER,
    password: PasswordOpt = DEFAULT_PASSWORD,
    name: Annotated[str | None, typer.Option("--name", help="Machine name.")] = None,
    tz: TzOpt = "Europe/Berlin",
    skew: SkewOpt = 0.0,
    host: HostOpt = "127.0.0.1",
    auth: Annotated[
        str | None,
        typer.Option(
            "--auth", help="Schemes accepted: basic, digest or both (default: profile's)."
        ),
    ] = None,
    nonce_lifetime: Annotated[
        float, typer.Option("--nonce-lifetime", min=0.1, help="Seconds a Digest nonce is valid.")
    ] = 60.0,
    lock_after: Annotated[
        int, typer.Option("--lock-after", min=0, help="Wrong passwords before a lock (0: never).")
    ] = 5,
    find_channel_base: Annotated[
        int,
        typer.Option("--find-channel-base", min=0, max=1, help="condition.Channel of channel 1."),
    ] = 1,
    finder_capacity: Annotated[
        int, typer.Option("--finder-capacity", min=1, help="File finders open at once.")
    ] = 4,
    empty_search: Annotated[
        str, typer.Option("--empty-search", help="A search without results: found0 or error.")
    ] = "found0",
    search_end: Annotated[
        str, typer.Option("--search-end", help="Paging past the last file: found0 or error.")
    ] = "found0",
    item_style: Annotated[
        str,
        typer.Option("--item-style", help="compact (items[0].Channel=0) or spec (. Channel =0)."),
    ] = "compact",
    snapshot_busy: Annotated[
        str, typer.Option("--snapshot-busy", help="A second snapshot meanwhile: wait or drop.")
    ] = "wait",
    events_per_hour: Annotated[
        float, typer.Option("--events-per-hour", min=0, help="How busy the recordings are.")
    ] = 12.0,
    pack_minutes: Annotated[
        int,
        typer.Option("--pack-minutes", min=1, max=120, help="A new recording file every N min."),
    ] = 60,
    event_interval: Annotated[
        float, typer.Option("--event-interval", min=0.01, help="Seconds between live events.")
    ] = 5.0,
    stray_header: Annotated[
        bool,
        typer.Option(
            "--stray-header", help="Repeat the HTTP header block inside the event stream."
        ),
    ] = False,
    playback_speed: Annotated[
        float,
        typer.Option("--playback-speed", min=0, help="RTSP playback: 1 = real time, 0 = unpaced."),
    ] = 0.0,
    latency: LatencyOpt = 0.0,
    fault: FaultOpt = Fault.NONE,
    fault_rate: FaultRateOpt = 1.0,
    fault_on: FaultOnOpt = None,
) -> None:
    """An Amcrest / Dahua IP camera or NVR: snapshots, MJPEG, file search, DHAV downloads,
    RTSP playback and the event stream. --fault-on takes e.g. snapshot, magicBox.getSerialNo,
    mediaFileFind.findNextFile, RPC_Loadfile, eventManager.attach."""
    from camfetch.sim.amcrest import AmcrestSimulator

    check_choices(
        ("--profile", profile, {"legacy", "modern"}),
        ("--auth", auth or "both", {"basic", "digest", "both"}),
        ("--empty-search", empty_search, {"found0", "error"}),
        ("--search-end", search_end, {"found0", "error"}),
        ("--item-style", item_style, {"compact", "spec"}),
        ("--snapshot-busy", snapshot_busy, {"wait", "drop"}),
    )
    device = AmcrestSimulator(
        profile=profile,  # type: ignore[arg-type]
        channels=channels,
        name=name,
        auth=auth,  # type: ignore[arg-type]
        nonce_lifetime=nonce_lifetime,
        lock_after=lock_after,
        find_channel_base=find_channel_base,
        finder_capacity=finder_capacity,
        empty_search=empty_search,  # type: ignore[arg-type]
        search_end=search_end,  # type: ignore[arg-type]
        item_style=item_style,  # type: ignore[arg-type]
        snapshot_busy=snapshot_busy,  # type: ignore[arg-type]
        events_per_hour=events_per_hour,
        pack_minutes=pack_minutes,
        event_interval=event_interval,
        stray_header=stray_header,
        playback_speed=playback_speed,
        rtsp_port=rtsp_port,
        username=user,
        password=password,
        tz=tz,
        skew=skew,
        host=host,
        port=port,
    )
    apply_faults(device.faults, fault, fault_rate, fault_on, latency)

    run(serve_until_stopped([device]))
