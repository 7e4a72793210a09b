"""``camfetch sim flussonic``: a Flussonic Media Server, with ``--watcher`` a Watcher too."""

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


@sim_app.command("flussonic")
def flussonic(
    watcher: Annotated[
        bool,
        typer.Option("--watcher", help="Put a Watcher (API v2) in front: watcher:// URL."),
    ] = False,
    cameras: Annotated[
        int | None,
        typer.Option(
            "--cameras", min=1, max=64, help="Streams (default 1, with --watcher 4 cameras)."
        ),
    ] = None,
    port: PortOpt = 0,
    user: UserOpt = DEFAULT_USER,
    password: PasswordOpt = DEFAULT_PASSWORD,
    name: Annotated[str, typer.Option("--name", help="Server name shown in pictures.")] = (
        "Flussonic"
    ),
    tz: TzOpt = "Europe/Berlin",
    skew: SkewOpt = 0.0,
    host: HostOpt = "127.0.0.1",
    jpeg: Annotated[
        bool,
        typer.Option("--jpeg/--no-jpeg", help="JPEG thumbnails (preview.jpg); off: 404."),
    ] = True,
    preview_layout: Annotated[
        str,
        typer.Option("--preview-layout", help="preview.mp4 index: faststart or moov-last."),
    ] = "faststart",
    archive_forms: Annotated[
        list[str] | None,
        typer.Option(
            "--archive-form",
            metavar="FORM",
            help="Archive preview URL forms served: query, unix, path (repeat; default all).",
        ),
    ] = None,
    no_frame_status: Annotated[
        int, typer.Option("--no-frame-status", help="No frame within 10 minutes: 404 or 204.")
    ] = 404,
    ranges_shape: Annotated[
        str, typer.Option("--ranges-shape", help="recording_status.json: array or object.")
    ] = "array",
    auth_status: Annotated[
        int, typer.Option("--auth-status", help="Watcher's bad login/session answer: 401 or 403.")
    ] = 401,
    session_ttl: Annotated[
        float, typer.Option("--session-ttl", min=1, help="Watcher session lifetime, seconds.")
    ] = 3600.0,
    token_ttl: Annotated[
        float, typer.Option("--token-ttl", min=1, help="Playback token lifetime, seconds.")
    ] = 86400.0,
    page_limit: Annotated[
        int | None, typer.Option("--page-limit", min=1, help="Most cameras per list answer.")
    ] = None,
    v3_limit: Annotated[
        int, typer.Option("--v3-limit", min=1, help="Most ranges per dvr/ranges answer.")
    ] = 100,
    streamer_hostname: Annotated[
        bool,
        typer.Option(
            "--streamer-hostname/--no-streamer-hostname",
            help="Cameras carry streamer_hostname (newer Watcher builds).",
        ),
    ] = True,
    https: Annotated[
        bool, typer.Option("--https", help="The streamer also on HTTPS (self-signed).")
    ] = False,
    range_support: Annotated[
        bool, typer.Option("--ranges/--no-ranges", help="HTTP Range on archive exports.")
    ] = True,
    latency: LatencyOpt = 0.0,
    fault: FaultOpt = Fault.NONE,
    fault_rate: FaultRateOpt = 1.0,
    fault_on: FaultOnOpt = None,
) -> None:
    """A Flussonic Media Server (flussonic:// per stream) or, with --watcher, a Watcher."""
    from camfetch.sim.flussonic import ARCHIVE_FORMS, FlussonicSimulator

    forms = archive_forms or list(ARCHIVE_FORMS)
    check_choices(
        ("--preview-layout", preview_layout, {"faststart", "moov-last"}),
        *(("--archive-form", form, ARCHIVE_FORMS) for form in forms),
        ("--ranges-shape", ranges_shape, {"array", "object"}),
        ("--no-frame-status", str(no_frame_status), {"404", "204"}),
        ("--auth-status", str(auth_status), {"401", "403"}),
    )
    device = FlussonicSimulator(
        watcher=watcher,
        cameras=cameras or (4 if watcher else 1),
        name=name,
        jpeg=jpeg,
        preview_layout=preview_layout,  # type: ignore[arg-type]
        archive_forms=forms,  # type: ignore[arg-type]
        no_frame_status=no_frame_status,
        ranges_shape=ranges_shape,  # type: ignore[arg-type]
        auth_status=auth_status,
        session_ttl=session_ttl,
        token_ttl=token_ttl,
        page_limit=page_limit,
        v3_limit=v3_limit,
        streamer_hostname=streamer_hostname,
        https=https,
        range_support=range_support,
        username=user,
        password=password,
        tz=tz,
        skew=skew,
        host=host,
        port=port,
    )
    apply_faults(device.faults, fault, fault_rate, fault_on, latency)

    run(serve_until_stopped([device]))
